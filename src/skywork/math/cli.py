"""The body of ``skywork train self-compare CONFIG.yaml`` (registered in :mod:`skywork.train.cli`)."""

from __future__ import annotations

from pathlib import Path


def run_self_compare_command(config_path: Path, resume: str) -> None:
    import logging

    from rich.console import Console
    from rich.table import Table

    from skywork.math.config import SelfCompareConfig
    from skywork.math.self_compare import run_self_compare
    from skywork.utils.config import load_config

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    config = load_config(SelfCompareConfig, config_path)
    summary = run_self_compare(config, resume=resume)
    table = Table(title=f"self-compare: {config.output_dir}")
    for column in ("round", "samples", "correct share", "SFT targets", "comparisons", "held-out accuracy"):
        table.add_column(column, justify="right")
    accuracy = {c["round"]: c.get("accuracy") for c in summary["accuracy_by_round"]}
    if 0 in accuracy:
        table.add_row("0", "", "", "", "", f"{100 * accuracy[0]:.1f}%")
    for r in summary["rounds"]:
        acc = accuracy.get(r["round"])
        table.add_row(
            str(r["round"]),
            str(r["samples"]),
            f"{100 * r['correct_share']:.1f}%",
            str(r["data"]["correct_examples"]),
            str(r["data"]["comparison_examples"]),
            "–" if acc is None else f"{100 * acc:.1f}%",
        )
    Console().print(table)
    Console().print(f"final model: {summary['final_model']}")
