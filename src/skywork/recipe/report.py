"""The run report: ``RUN_DIR/report.html`` and ``RUN_DIR/report.md``, assembled from what the stages wrote.

Every stage leaves a ``summary.json`` (the stage contract, :mod:`skywork.utils.summary`) and its plots in its own
directory; the report finds each stage by its kind, lays its summary out as a :class:`~skywork.recipe.render.Section`
and links the stage's plots instead of redrawing them, so any recipe gets a report. A part whose stage did not
complete is left out with a note. The report is a stage too: it writes its own ``summary.json`` (kind
``report``: the files written and the section titles) and its one plot, the time per stage.
"""

from __future__ import annotations

import html
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from skywork.recipe.render import Section, render_html, render_markdown
from skywork.recipe.report_parts import (
    capability_sections,
    fmt,
    pct,
    stage_plot,
    stage_summary,
    stages_by_kind,
)
from skywork.recipe.runner import StageContext, read_state
from skywork.utils.config import field
from skywork.utils.io import InputError, atomic_write_text, save_figure
from skywork.utils.plotting import pyplot
from skywork.utils.summary import plot_path, read_summary, write_summary

SUMMARY_VERSION = 1  # of the report's own summary.json: {html, markdown, sections, images}


@dataclass
class ReportConfig:
    """The run report: RUN_DIR/report.html and RUN_DIR/report.md, plots under RUN_DIR/<report stage>/."""

    title: str = field("Skywork recipe report", help="Title of the report.")
    defect_labels: str | None = field(
        None,
        help="labels.jsonl of planted defects ({id, defect}); the report shows how many the cleaning caught.",
    )


def report_path(run_dir: str | Path) -> Path:
    """Where a run's HTML report is written."""
    return Path(run_dir) / "report.html"


def _overview(ctx: StageContext) -> Section:
    """Every stage of the recipe with its status, time, attempts and log."""
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
                fmt(seconds, 3) if seconds else "–",
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
    """The report's own plot: seconds per completed stage (None when no stage has a time yet)."""
    names, seconds = [], []
    for stage in ctx.recipe.stages:
        state = read_state(ctx.run_dir, stage.name) or {}
        if state.get("seconds") and stage.name != ctx.name:
            names.append(stage.name)
            seconds.append(state["seconds"])
    if not names:
        return None
    fig, ax = pyplot().subplots(figsize=(7, 0.45 * len(names) + 1.2))
    ax.barh(names[::-1], seconds[::-1], color="#4c72b0")
    ax.set_xlabel("seconds")
    ax.set_title("time per stage")
    fig.tight_layout()
    save_figure(fig, out)
    return out.name


def _corpus(ctx: StageContext, names: list[str]) -> Section | None:
    summary = stage_summary(ctx, names[0], "corpus") if names else None
    if summary is None:
        return None
    files = summary.get("training_text", {})
    rows = [[name, fmt(info["documents"]), f"{info['text_bytes'] / 1e6:.2f}"] for name, info in files.items()]
    blocks: list[tuple[str, Any]] = [
        (
            "p",
            "The embedded demo corpus (generated, no downloads): general text in English and Chinese from "
            "bilingual templates and standard-library docstrings, code from the standard library, and GSM8K-style "
            "STEM problems with calculator annotations. Defects were planted in the web files with labels kept aside.",
        ),
        ("table", (["file", "documents", "MB"], rows)),
    ]
    defects = summary.get("defects", {})
    if defects:
        blocks.append(("table", (["planted defect", "documents"], [[k, fmt(v)] for k, v in defects.items()])))
    return Section("Corpus", blocks)


def _collected(ctx: StageContext, names: list[str]) -> Section | None:
    """What the collect stages gathered, per source (documents, characters, skipped lines by reason)."""
    rows = []
    for name in names:
        sources = (stage_summary(ctx, name, "collect") or {}).get("sources") or {}
        for source, info in sources.items():
            skipped = ", ".join(f"{k}: {v}" for k, v in (info.get("skipped") or {}).items()) or "–"
            rows.append(
                [
                    source,
                    fmt(info.get("documents")),
                    fmt(info.get("chars")),
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


def _rules(by_rule: list) -> str:
    return ", ".join(f"{rule} ({n})" for rule, n in by_rule) or "–"


def _data(ctx: StageContext, names: list[str], labels_path: str | None, img_dir: Path) -> Section | None:
    """The data stage's funnel and plot; with ``labels_path`` (the report's defect_labels) the catch rate of the
    planted defects that the stage measured."""
    summary = stage_summary(ctx, names[0], "data") if names else None
    if summary is None:
        return None
    blocks: list[tuple[str, Any]] = []
    n_in, kept = summary.get("input"), summary.get("kept")
    steps = [(row["step"], row["removed"]) for row in summary.get("funnel", []) if "removed" in row]
    rows = [["input", fmt(n_in), "100%"]]
    for step, removed in steps:
        rows.append([f"− {step}", fmt(removed), f"{100 * removed / n_in:.2f}%" if n_in else "–"])
    rows.append(["kept", fmt(kept), f"{100 * kept / n_in:.2f}%" if n_in and kept is not None else "–"])
    blocks.append(
        (
            "p",
            f"Documents removed by each step of the data pipeline, in order (from <code>{names[0]}/summary.json</code>).",
        )
    )
    blocks.append(("table", (["step", "documents", "share of input"], rows)))
    by_reason = summary.get("excluded") or {}
    if by_reason and len(by_reason) != len(steps):
        reason_rows = [[r, fmt(c)] for r, c in sorted(by_reason.items(), key=lambda kv: -kv[1])]
        blocks.append(("table", (["removal reason (rule)", "documents"], reason_rows)))
    funnel = stage_plot(ctx, names[0], summary, "funnel", "data funnel", "data_funnel.png")
    if funnel:
        blocks.append(funnel)
    defects = summary.get("defects")
    if labels_path and defects:
        rows = [
            [
                defect,
                fmt(d["planted"]),
                fmt(d["removed"]),
                pct(d["removed"] / d["planted"]),
                _rules(d["by_rule"]),
            ]
            for defect, d in defects["by_defect"].items()
        ]
        clean = defects["clean"]
        rows.append(
            [
                "clean documents removed",
                fmt(clean["documents"]),
                fmt(clean["removed"]),
                pct(clean["removed"] / clean["documents"] if clean["documents"] > 0 else None),
                _rules(clean["by_rule"]),
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
    """The tokenizer stage's composition, its compression on held-out files and its training report.

    ``domain_files`` is no longer read: the tokenizer stage measured compression on these files itself.
    """
    summary = stage_summary(ctx, names[0], "tokenizer") if names else None
    if summary is None:
        return None
    blocks: list[tuple[str, Any]] = []
    composition = summary.get("composition")
    if isinstance(composition, dict):
        rows = [[k, fmt(v)] for k, v in composition.items()]
        blocks.append(("table", (["vocabulary part", "entries"], rows)))
    compression = summary.get("compression")
    if compression and "error" in compression:
        blocks.append(("p", f"Compression not measured: {compression['error']}."))
    elif compression:
        rows = [
            [domain, fmt(m["documents"]), fmt(m["chars_per_token"], 3), fmt(m["bytes_per_token"], 3)]
            for domain, m in compression["domains"].items()
        ]
        blocks.append(
            (
                "p",
                f"Compression on the held-out validation sets (vocabulary {compression['tokenizer_size']:,}).",
            )
        )
        blocks.append(("table", (["domain", "documents", "characters / token", "UTF-8 bytes / token"], rows)))
    training = summary.get("training")
    if training:
        blocks.append(
            (
                "details",
                (
                    "tokenizer training report (JSON)",
                    json.dumps(training, indent=2, ensure_ascii=False, default=str),
                ),
            )
        )
    return Section("Tokenizer", blocks)


def _training(ctx: StageContext, names: list[str], img_dir: Path) -> Section | None:
    """The pretraining stages' own summary.json and plots (a stage continuing another plots the whole chain)."""
    if not names:
        return None
    import shutil

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
            fmt(s["steps"]),
            fmt(s["tokens"]),
            fmt(s["last_train_loss"]),
            ", ".join(f"{d} {v:.3f}" for d, v in sorted(s["last_val_loss"].items())) or "–",
            fmt(s["mean_tokens_per_s"], 4),
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


def _evaluation(ctx: StageContext, names: list[str]) -> Section | None:
    """The evaluation stage's ``summary.json`` (``skywork.eval/v1``) laid out as tables, with its plots."""
    if not names:
        return None

    stage_dir = ctx.stage_dir_of(names[0])
    try:
        summary = read_summary(stage_dir, kind="eval", max_version=1)
    except InputError as err:
        return Section("Evaluation", [("p", html.escape(f"No evaluation summary: {err}"))])
    models = summary.get("models") or {}
    blocks: list[tuple[str, Any]] = []
    loss_rows, header_domains = [], []
    for label, entry in models.items():
        if "domains" not in entry:
            continue
        per_domain = entry["domains"]
        header_domains = header_domains or list(per_domain)
        row = [label]
        for d in header_domains:
            v = per_domain.get(d, {})
            row.append(f"{fmt(v.get('loss'), 4)} / {fmt(v.get('ppl'), 4)}")
        pooled = entry.get("pooled") or {}
        row.append(f"{fmt(pooled.get('loss'), 4)} / {fmt(pooled.get('ppl'), 4)}")
        loss_rows.append(row)
    if loss_rows:
        blocks.append(
            (
                "p",
                "Table 6-style: loss / perplexity per held-out domain (each text cut to its first "
                f"{summary.get('max_chars', 1365)} characters, as the official "
                "eval_loss.py); the average pools all documents. Lower is better.",
            )
        )
        blocks.append(("table", (["model", *header_domains, "average"], loss_rows)))
    leak_rows = []
    for label, entry in models.items():
        leak = entry.get("leakage")
        if leak:
            leak_rows.append(
                [
                    label,
                    *[fmt(leak.get(k), 4) for k in ("L_test", "L_train", "L_ref", "delta1", "delta2")],
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
    benches = sorted({bench for entry in models.values() for bench in entry.get("benchmarks") or {}})
    if benches:
        mcq_rows = []
        for label, entry in models.items():
            row = [label]
            for bench in benches:
                r = (entry.get("benchmarks") or {}).get(bench) or {}
                row.append(f"{pct(r['accuracy'])} (n={r.get('n')})" if "accuracy" in r else "–")
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
        [label, pct(g["accuracy"]), str(g.get("n")), str(g.get("no_answer", "–"))]
        for label, entry in models.items()
        if (g := entry.get("gsm8k"))
    ]
    if gsm_rows:
        blocks.append(
            ("p", "GSM8K: greedy generation with the official few-shot prompt; exact match of the answer.")
        )
        blocks.append(("table", (["model", "accuracy", "n", "no answer"], gsm_rows)))
    if not blocks:
        blocks.append(("p", "The evaluation stage returned no loss or leakage results."))
    for name, rel in (summary.get("plots") or {}).items():
        src = (stage_dir / rel).relative_to(ctx.run_dir).as_posix()
        blocks.append(("img", (src, name.replace("_", " "))))
    return Section("Evaluation", blocks)


def _configs(ctx: StageContext) -> Section:
    """The exact config of every stage that ran, with the run directory written as $RUN_DIR."""
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


def build_report(config: ReportConfig, ctx: StageContext) -> dict:
    """The report stage: assemble the sections, write report.html, report.md and the report's summary.json."""
    img_dir = ctx.stage_dir
    kinds = stages_by_kind(ctx)
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
    for capability in capability_sections():
        names = [name for kind in capability.kinds for name in kinds.get(kind, [])]
        part = capability.build(ctx, names, img_dir) if names else None
        if part is not None:
            sections.append(part)
    reported = {name for names in kinds.values() for name in names}
    missing = [s.name for s in ctx.recipe.stages if s.name != ctx.name and s.name not in reported]
    if missing:
        sections[0].blocks.append(("p", f"Not in this report (stage not completed): {', '.join(missing)}."))
    sections.append(_configs(ctx))
    html_path, md_path = report_path(ctx.run_dir), ctx.run_dir / "report.md"
    atomic_write_text(html_path, render_html(config.title, sections))
    atomic_write_text(md_path, render_markdown(config.title, sections))
    images = sorted(p.name for p in img_dir.glob("*.png"))
    result = {
        "html": str(html_path),
        "markdown": str(md_path),
        "images": images,
        "sections": [s.title for s in sections],
    }
    plots = {"time_per_stage": img_dir / time_png} if time_png else {}
    write_summary(ctx.stage_dir, "report", result, version=SUMMARY_VERSION, plots=plots)
    ctx.console.print(f"report written: {html_path}")
    return result
