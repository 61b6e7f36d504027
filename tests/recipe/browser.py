"""Open an HTML file in headless Chromium and report what rendered (images loaded, tables)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

_CHECK = (
    '<script>window.addEventListener("load",()=>{const imgs=[...document.images];'
    "const ok=imgs.filter(i=>i.complete&&i.naturalWidth>0).length;"
    'const d=document.createElement("div");d.id="render-check";'
    'd.textContent=`images=${imgs.length} loaded=${ok} tables=${document.querySelectorAll("table").length}`;'
    "document.body.appendChild(d);});</script>"
)


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def render(html_file: Path, screenshot: Path | None = None) -> dict[str, int]:
    """Counts of images, images that loaded and tables, as the browser saw them after the load event.

    The check script is added to a copy beside the report (so relative image paths resolve the same way); the
    report itself stays free of scripts.
    """
    binary = chromium()
    assert binary, "no Chromium"
    probe = html_file.with_name(f".render-check-{html_file.name}")
    probe.write_text(
        html_file.read_text(encoding="utf-8").replace("</body>", _CHECK + "</body>"), encoding="utf-8"
    )
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--virtual-time-budget=10000",
    ]
    try:
        with tempfile.TemporaryDirectory() as profile:
            dom = subprocess.run(
                [binary, *flags, f"--user-data-dir={profile}", "--dump-dom", probe.resolve().as_uri()],
                capture_output=True,
                text=True,
                timeout=120,
            ).stdout
            if screenshot is not None:
                subprocess.run(
                    [
                        binary,
                        *flags,
                        f"--user-data-dir={profile}",
                        "--window-size=1200,3000",
                        f"--screenshot={screenshot}",
                        html_file.resolve().as_uri(),
                    ],
                    capture_output=True,
                    timeout=120,
                )
    finally:
        probe.unlink()
    match = re.search(r'render-check">images=(\d+) loaded=(\d+) tables=(\d+)', dom)
    assert match, f"the page did not finish loading in Chromium: {dom[:500]}"
    return {"images": int(match.group(1)), "loaded": int(match.group(2)), "tables": int(match.group(3))}
