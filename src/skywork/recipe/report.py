"""The run report: ``RUN_DIR/report.html`` and ``RUN_DIR/report.md``, plots as PNGs under the report stage.

It reads what the stages left behind (their state files under ``RUN_DIR/.recipe``, the data stage's
``summary.json`` and kept/excluded outputs, the pretraining ``metrics.jsonl`` files, the evaluation results) and
finds each stage by its kind, so any recipe gets a report. A part whose stage is missing is left out with a note.
"""

from __future__ import annotations

import html
import json
import math
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from skywork.recipe.runner import StageContext, read_state
from skywork.utils.io import atomic_write_text, read_jsonl, save_figure


@dataclass
class Section:
    title: str
    blocks: list[
        tuple[str, Any]
    ]  # ("p", text) | ("table", (header, rows)) | ("img", (path, alt)) | ("pre", text)


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        # large values as grouped integers (21,150 tok/s, not 2.115e+04); small ones keep significant digits
        return f"{value:,.{digits}g}" if abs(value) < 10**digits else f"{value:,.0f}"
    return str(value)


def _pct(fraction: float | None) -> str:
    """An accuracy as a percentage with one decimal (``_fmt`` counts significant digits: 20% would read 2e+01%)."""
    return "–" if fraction is None else f"{100 * fraction:.1f}%"


# ------------------------------------------------------------------------------------------------ parts


def _stages_by_kind(ctx: StageContext) -> dict[str, list[str]]:
    found: dict[str, list[str]] = defaultdict(list)
    for stage in ctx.recipe.stages:
        state = read_state(ctx.run_dir, stage.name)
        if state and state.get("status") == "done" and stage.name != ctx.name:
            found[stage.kind].append(stage.name)
    return found


def _overview(ctx: StageContext) -> Section:
    rows, total = [], 0.0
    for stage in ctx.recipe.stages:
        state = read_state(ctx.run_dir, stage.name) or {}
        seconds = state.get("seconds")
        if stage.name == ctx.name:
            status, seconds = "running (this report)", None
        else:
            status = state.get("status", "not run")
        total += seconds or 0.0
        log = Path(state["log"]).relative_to(ctx.run_dir).as_posix() if state.get("log") else "–"
        rows.append(
            [
                stage.name,
                stage.kind,
                status,
                _fmt(seconds, 3) if seconds else "–",
                state.get("attempts", "–"),
                log,
            ]
        )
    blocks: list[tuple[str, Any]] = []
    if ctx.recipe.description:
        blocks.append(("p", ctx.recipe.description))
    blocks.append(
        (
            "p",
            f"Recipe <code>{html.escape(str(ctx.recipe.path))}</code>, run directory "
            f"<code>{html.escape(str(ctx.run_dir))}</code>, report written {time.strftime('%Y-%m-%d %H:%M:%S')}.",
        )
    )
    blocks.append(("table", (["stage", "kind", "status", "seconds", "attempts", "log"], rows)))
    blocks.append(("p", f"Total time of the completed stages: {total:.1f} s ({total / 60:.1f} min)."))
    return Section("Run overview", blocks)


def _time_plot(ctx: StageContext, out: Path) -> str | None:
    import matplotlib.pyplot as plt

    names, seconds = [], []
    for stage in ctx.recipe.stages:
        state = read_state(ctx.run_dir, stage.name) or {}
        if state.get("seconds") and stage.name != ctx.name:
            names.append(stage.name)
            seconds.append(state["seconds"])
    if not names:
        return None
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(names) + 1.2))
    ax.barh(names[::-1], seconds[::-1], color="#4c72b0")
    ax.set_xlabel("seconds")
    ax.set_title("time per stage")
    fig.tight_layout()
    save_figure(fig, out)
    return out.name


def _corpus(ctx: StageContext, names: list[str]) -> Section | None:
    if not names:
        return None
    state = read_state(ctx.run_dir, names[0]) or {}
    result = state.get("result", {})
    files = result.get("files", {})
    rows = [[name, _fmt(info["records"]), f"{info['bytes'] / 1e6:.2f}"] for name, info in files.items()]
    blocks: list[tuple[str, Any]] = [
        (
            "p",
            "The embedded demo corpus (generated, no downloads): general text in English and Chinese from "
            "bilingual templates and standard-library docstrings, code from the standard library, and GSM8K-style "
            "STEM problems with calculator annotations. Defects were planted in the web files with labels kept aside.",
        ),
        ("table", (["file", "documents", "MB"], rows)),
    ]
    defects = result.get("defects", {})
    if defects:
        blocks.append(
            ("table", (["planted defect", "documents"], [[k, _fmt(v)] for k, v in defects.items()]))
        )
    return Section("Corpus", blocks)


def _collected(ctx: StageContext, names: list[str]) -> Section | None:
    """What the collect stages gathered, per source (documents, characters, skipped lines by reason)."""
    rows = []
    for name in names:
        sources = ((read_state(ctx.run_dir, name) or {}).get("result") or {}).get("sources") or {}
        for source, info in sources.items():
            skipped = ", ".join(f"{k}: {v}" for k, v in (info.get("skipped") or {}).items()) or "–"
            rows.append(
                [
                    source,
                    _fmt(info.get("documents")),
                    _fmt(info.get("chars")),
                    str(len(info.get("files", []))),
                    skipped,
                ]
            )
    if not rows:
        return None
    blocks: list[tuple[str, Any]] = [
        ("p", "Input sources brought into JSONL documents by the collect stage, before cleaning."),
        ("table", (["source", "documents", "characters", "files", "skipped"], rows)),
    ]
    return Section("Collected sources", blocks)


def _read_ids(path: Path) -> dict[str, str]:
    """id -> filter reason of the documents under a data stage's excluded/ directory."""
    from skywork.recipe.stages import capability

    read_documents = capability("skywork.data.io", "read_documents")
    reasons: dict[str, str] = {}
    if not path.exists():
        return reasons
    for step_dir in sorted(p for p in path.iterdir() if p.is_dir()):
        for doc in read_documents(step_dir):
            meta = doc.get("metadata") or {}
            reasons[str(doc.get("id"))] = str(meta.get("filter_reason") or step_dir.name)
    return reasons


def _data(ctx: StageContext, names: list[str], labels_path: str | None, img_dir: Path) -> Section | None:
    if not names:
        return None
    import matplotlib.pyplot as plt

    data_dir = ctx.run_dir / names[0]
    summary_file = data_dir / "summary.json"
    summary = json.loads(summary_file.read_text()) if summary_file.exists() else {}
    blocks: list[tuple[str, Any]] = []
    n_in, kept = summary.get("input"), summary.get("kept")
    # The pipeline's own funnel (steps in order) when it wrote one, else the per-reason counts.
    funnel = summary.get("funnel") or [
        {"step": r, "removed": c} for r, c in (summary.get("excluded") or {}).items()
    ]
    steps = [(row["step"], row.get("removed", 0)) for row in funnel if "removed" in row]
    rows = [["input", _fmt(n_in), "100%"]]
    for step, removed in steps:
        rows.append([f"− {step}", _fmt(removed), f"{100 * removed / n_in:.2f}%" if n_in else "–"])
    rows.append(["kept", _fmt(kept), f"{100 * kept / n_in:.2f}%" if n_in and kept is not None else "–"])
    blocks.append(
        (
            "p",
            f"Documents removed by each step of the data pipeline, in order (from <code>{names[0]}/summary.json</code>).",
        )
    )
    blocks.append(("table", (["step", "documents", "share of input"], rows)))
    by_reason = summary.get("excluded") or {}
    if by_reason and len(by_reason) != len(steps):
        reason_rows = [[r, _fmt(c)] for r, c in sorted(by_reason.items(), key=lambda kv: -kv[1])]
        blocks.append(("table", (["removal reason (rule)", "documents"], reason_rows)))
    if steps:
        fig, ax = plt.subplots(figsize=(7, 0.4 * len(steps) + 1.5))
        labels = ["input", *(s for s, _ in steps), "kept"]
        values = [n_in or 0, *(c for _, c in steps), kept or 0]
        colors = ["#4c72b0"] + ["#dd8452"] * len(steps) + ["#55a868"]
        ax.barh(labels[::-1], values[::-1], color=colors[::-1])
        ax.set_xlabel("documents")
        ax.set_title("data funnel: documents removed per step")
        fig.tight_layout()
        save_figure(fig, img_dir / "data_funnel.png")
        blocks.append(("img", (f"{img_dir.name}/data_funnel.png", "data funnel")))
    if labels_path and Path(labels_path).exists():
        labels = list(read_jsonl(labels_path, required=("id", "defect")))
        reasons = _read_ids(data_dir / "excluded")
        by_defect: dict[str, list[str]] = defaultdict(list)
        for row in labels:
            by_defect[row["defect"]].append(str(row["id"]))
        rows = []
        for defect, ids in by_defect.items():
            caught = [reasons[i] for i in ids if i in reasons]
            rules = ", ".join(f"{r} ({n})" for r, n in Counter(caught).most_common(3))
            rows.append(
                [
                    defect,
                    _fmt(len(ids)),
                    _fmt(len(caught)),
                    _pct(len(caught) / len(ids)),
                    rules or "–",
                ]
            )
        labelled = {str(row["id"]) for row in labels}
        false_pos = Counter(r for i, r in reasons.items() if i not in labelled)
        clean_total = (n_in or 0) - len(labelled)
        fp = sum(false_pos.values())
        rows.append(
            [
                "clean documents removed",
                _fmt(clean_total),
                _fmt(fp),
                _pct(fp / clean_total if clean_total > 0 else None),
                ", ".join(f"{r} ({n})" for r, n in false_pos.most_common(3)) or "–",
            ]
        )
        blocks.append(
            (
                "p",
                "Catch rate of the planted defects: the share of each kind found among the excluded "
                "documents (by id), and which rules removed them. The last row is the price: clean "
                "documents the rules removed too.",
            )
        )
        blocks.append(
            ("table", (["planted defect", "planted", "removed", "caught", "by rule (count)"], rows))
        )
    return Section("Data cleaning", blocks)


def _tokenizer(ctx: StageContext, names: list[str], domain_files: dict[str, str]) -> Section | None:
    if not names:
        return None
    state = read_state(ctx.run_dir, names[0]) or {}
    report = (state.get("result") or {}).get("report") or {}
    blocks: list[tuple[str, Any]] = []
    composition = report.get("composition") if isinstance(report, dict) else None
    if isinstance(composition, dict):
        rows = [[k, _fmt(v if not isinstance(v, dict) else v.get("size", v))] for k, v in composition.items()]
        blocks.append(("table", (["vocabulary part", "entries"], rows)))
    tok_dir = ctx.run_dir / names[0]
    if domain_files:
        try:
            from skywork import tokenizer as tok

            tokenizer = tok.load(tok_dir)
        except Exception as err:  # noqa: BLE001 - the report still renders without this table
            blocks.append(("p", f"Compression not measured: the tokenizer did not load ({err})."))
        else:
            rows = []
            for domain, path in domain_files.items():
                texts = [row["text"] for row in read_jsonl(path, required=("text",))][:200]
                chars = sum(len(t) for t in texts)
                utf8 = sum(len(t.encode("utf-8")) for t in texts)
                tokens = sum(  # whole documents (verbose=False: no model-length warning)
                    len(tokenizer.encode(t, add_special_tokens=False, verbose=False)) for t in texts
                )
                rows.append(
                    [
                        domain,
                        _fmt(len(texts)),
                        _fmt(chars / max(tokens, 1), 3),
                        _fmt(utf8 / max(tokens, 1), 3),
                    ]
                )
            blocks.append(
                ("p", f"Compression on the held-out validation sets (vocabulary {len(tokenizer):,}).")
            )
            blocks.append(
                ("table", (["domain", "documents", "characters / token", "UTF-8 bytes / token"], rows))
            )
    if report:
        blocks.append(
            (
                "details",
                (
                    "tokenizer training report (JSON)",
                    json.dumps(report, indent=2, ensure_ascii=False, default=str),
                ),
            )
        )
    return Section("Tokenizer", blocks)


def _training(ctx: StageContext, names: list[str], img_dir: Path) -> Section | None:
    """The pretraining stages' own summary.json and plots (a stage continuing another plots the whole chain)."""
    if not names:
        return None
    import shutil

    from skywork.utils.io import InputError
    from skywork.utils.summary import plot_path, read_summary

    summaries = {}
    for name in names:
        try:
            summaries[name] = read_summary(ctx.run_dir / name, "pretrain", max_version=1)
        except InputError:
            continue
    if not summaries:
        return Section("Pretraining", [("p", "No summary.json was found in the pretraining stages.")])
    rows = [
        [
            name,
            _fmt(s["steps"]),
            _fmt(s["tokens"]),
            _fmt(s["last_train_loss"]),
            ", ".join(f"{d} {v:.3f}" for d, v in sorted(s["last_val_loss"].items())) or "–",
            _fmt(s["mean_tokens_per_s"], 4),
        ]
        for name, s in summaries.items()
    ]
    blocks: list[tuple[str, Any]] = [
        (
            "p",
            "Stage 2 continues from stage 1's weights; the x axis counts tokens over both stages and the "
            "dotted line marks the stage boundary.",
        ),
        (
            "table",
            (
                ["stage", "last step", "tokens", "last train loss", "last validation loss", "mean tokens/s"],
                rows,
            ),
        ),
    ]
    continued = {Path(p).name for s in summaries.values() for p in s.get("continues", [])}
    last_stages = [name for name in summaries if name not in continued]  # their plots show the whole chain
    titles = {
        "train_loss": "training loss",
        "val_loss": "validation loss per domain",
        "mixture": "mixture share per source (the stage-2 STEM ramp)",
        "lr": "learning rate",
        "tokens_per_s": "throughput",
    }
    for name in last_stages:
        for plot, title in titles.items():
            source = plot_path(ctx.run_dir / name, summaries[name], plot)
            if source is None or not source.exists():
                continue
            target = img_dir / (f"{plot}.png" if len(last_stages) == 1 else f"{name}_{plot}.png")
            shutil.copyfile(source, target)
            blocks.append(("img", (f"{img_dir.name}/{target.name}", title)))
    return Section("Pretraining", blocks)


def _file_domain(path: str, domains: dict[str, str]) -> str:
    for name, p in domains.items():
        if Path(p).resolve() == Path(path).resolve() or Path(p).name == Path(path).name:
            return name
    return Path(path).stem


def _evaluation(ctx: StageContext, names: list[str]) -> Section | None:
    if not names:
        return None
    state = read_state(ctx.run_dir, names[0]) or {}
    results = (state.get("result") or {}).get("results") or {}
    domains = (state.get("config") or {}).get("domains") or {}
    blocks: list[tuple[str, Any]] = []
    loss_rows, header_domains = [], []
    for label, entry in results.items():
        loss = entry.get("domain_loss") or {}
        per_file = {_file_domain(p, domains): v for p, v in (loss.get("files") or {}).items()}
        header_domains = header_domains or list(per_file)
        row = [label]
        for d in header_domains:
            v = per_file.get(d, {})
            row.append(f"{_fmt(v.get('loss'), 4)} / {_fmt(v.get('ppl'), 4)}")
        pooled = loss.get("pooled") or {}
        row.append(f"{_fmt(pooled.get('loss'), 4)} / {_fmt(pooled.get('ppl'), 4)}")
        loss_rows.append(row)
    if loss_rows:
        blocks.append(
            (
                "p",
                "Table 6-style: loss / perplexity per held-out domain (each text cut to its first "
                f"{(state.get('config') or {}).get('max_chars', 1365)} characters, as the official "
                "eval_loss.py); the average pools all documents. Lower is better.",
            )
        )
        blocks.append(("table", (["model", *header_domains, "average"], loss_rows)))
    leak_rows = []
    for label, entry in results.items():
        leak = entry.get("leakage")
        if leak:
            leak_rows.append(
                [
                    label,
                    *[_fmt(leak.get(k), 4) for k in ("L_test", "L_train", "L_ref", "delta1", "delta2")],
                    str(leak.get("verdict", "–")),
                ]
            )
    if leak_rows:
        blocks.append(
            (
                "p",
                "Table 8-style leakage test on the STEM splits: Δ1 = L_test − L_ref (clearly negative "
                "suggests the test set leaked into training), Δ2 = L_test − L_train (large means the model "
                "fits its training problems better than unseen ones).",
            )
        )
        blocks.append(("table", (["model", "L_test", "L_train", "L_ref", "Δ1", "Δ2", "verdict"], leak_rows)))
    benches = sorted({bench for entry in results.values() for bench in entry.get("mcq") or {}})
    if benches:
        mcq_rows = []
        for label, entry in results.items():
            row = [label]
            for bench in benches:
                r = (entry.get("mcq") or {}).get(bench) or {}
                row.append(f"{_pct(r['accuracy'])} (n={r.get('n')})" if "accuracy" in r else "–")
            mcq_rows.append(row)
        blocks.append(
            (
                "p",
                "Multiple-choice benchmarks with the official protocol (5-shot, answer = argmax over the A-D "
                "token logits); a `limit` in the recipe evaluates only the first questions of each subject.",
            )
        )
        blocks.append(("table", (["model", *benches], mcq_rows)))
    gsm_rows = [
        [label, _pct(g["accuracy"]), str(g.get("n")), str(g.get("no_answer", "–"))]
        for label, entry in results.items()
        if (g := entry.get("gsm8k"))
    ]
    if gsm_rows:
        blocks.append(
            ("p", "GSM8K: greedy generation with the official few-shot prompt; exact match of the answer.")
        )
        blocks.append(("table", (["model", "accuracy", "n", "no answer"], gsm_rows)))
    if not blocks:
        blocks.append(("p", "The evaluation stage returned no loss or leakage results."))
    return Section("Evaluation", blocks)


def _configs(ctx: StageContext) -> Section:
    blocks: list[tuple[str, Any]] = []
    for stage in ctx.recipe.stages:
        state = read_state(ctx.run_dir, stage.name) or {}
        config = state.get("config")
        if config is None:
            continue
        text = yaml.safe_dump(config, sort_keys=False, allow_unicode=True).replace(
            str(ctx.run_dir), "$RUN_DIR"
        )
        blocks.append(
            ("details", (f"{stage.name} ({stage.kind}), config hash {state.get('config_hash')}", text))
        )
    return Section("Exact configs", blocks)


# ----------------------------------------------------------------------------------------------- render


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


def build_report(config: Any, ctx: StageContext) -> dict:
    """Write the report files; returns their paths and the sections written."""
    import matplotlib

    matplotlib.use("Agg")

    img_dir = ctx.stage_dir
    kinds = _stages_by_kind(ctx)
    eval_state = read_state(ctx.run_dir, kinds["evaluate"][0]) if kinds.get("evaluate") else None
    domain_files = dict((eval_state or {}).get("config", {}).get("domains") or {})
    if not domain_files and kinds.get("demo_corpus"):
        valid = ctx.run_dir / kinds["demo_corpus"][0] / "valid"
        domain_files = {p.stem: str(p) for p in sorted(valid.glob("*.jsonl"))}
    sections = [_overview(ctx)]
    time_png = _time_plot(ctx, img_dir / "time_per_stage.png")
    if time_png:
        sections[0].blocks.append(("img", (f"{img_dir.name}/{time_png}", "time per stage")))
    for part in (
        _corpus(ctx, kinds.get("demo_corpus", [])),
        _collected(ctx, kinds.get("collect", [])),
        _data(ctx, kinds.get("data", []), config.defect_labels, img_dir),
        _tokenizer(ctx, kinds.get("tokenizer", []), domain_files),
        _training(ctx, kinds.get("pretrain", []), img_dir),
        _evaluation(ctx, kinds.get("evaluate", [])),
    ):
        if part is not None:
            sections.append(part)
    missing = [
        s.name for s in ctx.recipe.stages if s.name != ctx.name and s.name not in sum(kinds.values(), [])
    ]
    if missing:
        sections[0].blocks.append(("p", f"Not in this report (stage not completed): {', '.join(missing)}."))
    sections.append(_configs(ctx))
    html_path, md_path = ctx.run_dir / "report.html", ctx.run_dir / "report.md"
    atomic_write_text(html_path, render_html(config.title, sections))
    atomic_write_text(md_path, render_markdown(config.title, sections))
    images = sorted(p.name for p in img_dir.glob("*.png"))
    ctx.console.print(f"report written: {html_path}")
    return {
        "html": str(html_path),
        "markdown": str(md_path),
        "images": images,
        "sections": [s.title for s in sections],
    }
