"""The report's document model and its two renderings: a :class:`Section` is a title and a list of blocks.

Blocks are ``("p", text)`` (a paragraph written by the report, may hold ``<code>``), ``("table", (header, rows))``,
``("img", (src, alt))`` with ``src`` relative to the run directory, and ``("details", (summary, text))`` (a
collapsed preformatted text). :func:`render_html` and :func:`render_markdown` lay out the same sections.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

Block = tuple[str, Any]  # (kind, payload), kind one of "p", "table", "img", "details"


@dataclass
class Section:
    """One part of the report: a heading and its blocks."""

    title: str
    blocks: list[Block]


_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1060px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}
h1{border-bottom:2px solid #4c72b0;padding-bottom:.3em}h2{margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:1em 0;font-size:.92em}th,td{border:1px solid #ccc;padding:.3em .6em;
text-align:left}th{background:#f0f3f8}tr:nth-child(even) td{background:#fafafa}img{max-width:100%;
border:1px solid #eee;margin:.5em 0}pre{background:#f6f8fa;padding:.8em;overflow-x:auto;font-size:.85em}
code{background:#f0f0f0;padding:0 .2em}details{margin:.4em 0}summary{cursor:pointer}
nav a{margin-right:1em}
"""


def render_html(title: str, sections: list[Section]) -> str:
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        "<nav>"
        + "".join(f'<a href="#s{i}">{html.escape(s.title)}</a>' for i, s in enumerate(sections))
        + "</nav>",
    ]
    for i, section in enumerate(sections):
        out.append(f'<h2 id="s{i}">{html.escape(section.title)}</h2>')
        for kind, payload in section.blocks:
            if kind == "p":
                out.append(f"<p>{payload}</p>")  # paragraphs are written by this module (may hold <code>)
            elif kind == "table":
                header, rows = payload
                out.append(
                    "<table><thead><tr>"
                    + "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
                    + "</tr></thead><tbody>"
                )
                for row in rows:
                    out.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>")
                out.append("</tbody></table>")
            elif kind == "img":
                src, alt = payload
                out.append(f'<p><img src="{html.escape(src)}" alt="{html.escape(alt)}"></p>')
            elif kind == "details":
                summary, text = payload
                out.append(
                    f"<details><summary>{html.escape(summary)}</summary><pre>{html.escape(text)}</pre></details>"
                )
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _md_text(text: str) -> str:
    return text.replace("<code>", "`").replace("</code>", "`")


def render_markdown(title: str, sections: list[Section]) -> str:
    out = [f"# {title}", ""]
    for section in sections:
        out += [f"## {section.title}", ""]
        for kind, payload in section.blocks:
            if kind == "p":
                out += [_md_text(payload), ""]
            elif kind == "table":
                header, rows = payload
                out.append("| " + " | ".join(str(h) for h in header) + " |")
                out.append("|" + "---|" * len(header))
                out += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
                out.append("")
            elif kind == "img":
                src, alt = payload
                out += [f"![{alt}]({src})", ""]
            elif kind == "details":
                summary, text = payload
                out += [
                    f"<details><summary>{html.escape(summary)}</summary>",
                    "",
                    "```",
                    text.rstrip(),
                    "```",
                    "",
                    "</details>",
                    "",
                ]
    return "\n".join(out) + "\n"
