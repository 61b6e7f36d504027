"""Report tables and plots from result dicts: Table 6 (domain perplexity) and Table 8 (leakage) style.

The CLI's ``--plot`` and the suite's ``summary.json`` plots use these; they only read the stable result keys.
"""

from __future__ import annotations

from pathlib import Path

from skywork.utils.plotting import pyplot, save_figure


def _domain(path: str) -> str:
    """``.../zh_finance.jsonl`` -> ``finance`` (the report's column names), else the file stem."""
    stem = Path(path).name.split(".")[0]
    return stem[3:] if stem.startswith(("zh_", "en_")) else stem


def domain_ppl_table(results: dict[str, dict], normalized: bool = False) -> str:
    """Markdown: one row per model, one column per domain file, then Avg (exp of the pooled loss).

    ``results`` maps a model name to an ``evaluate_loss`` result. ``normalized`` uses the perplexity normalised to
    the reference tokenizer (needs results computed with one).
    """
    key = "normalized_ppl" if normalized else "ppl"
    domains: list[str] = []
    for res in results.values():
        for path in res["files"]:
            if _domain(path) not in domains:
                domains.append(_domain(path))
    lines = ["| Model | " + " | ".join(d.capitalize() for d in domains) + " | Avg |"]
    lines.append("|---" * (len(domains) + 2) + "|")
    for model, res in results.items():
        by_domain = {_domain(p): r[key] for p, r in res["files"].items()}
        cells = [f"{by_domain[d]:.2f}" if d in by_domain else "–" for d in domains]
        pooled = res["pooled"][key]
        lines.append(f"| {model} | " + " | ".join(cells) + f" | {pooled:.2f} |")
    return "\n".join(lines) + "\n"


def leakage_table(results: dict[str, dict]) -> str:
    """Markdown in the report's Table 8 column order, with the delta intervals and the verdict flags."""
    lines = [
        "| Model | L_test | L_train | L_ref | Δ1 | Δ2 | Δ1 95% CI | Δ2 95% CI | flag |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for model, r in results.items():
        flags = [
            f for f, on in (("test leak", r["leak_suspected"]), ("train seen", r["overfit_suspected"])) if on
        ]
        c1, c2 = r["ci"]["delta1"], r["ci"]["delta2"]
        lines.append(
            f"| {model} | {r['L_test']:.2f} | {r['L_train']:.2f} | {r['L_ref']:.2f} | {r['delta1']:+.2f} | "
            f"{r['delta2']:+.2f} | [{c1[0]:+.2f}, {c1[1]:+.2f}] | [{c2[0]:+.2f}, {c2[1]:+.2f}] | "
            f"{', '.join(flags) or '–'} |"
        )
    return "\n".join(lines) + "\n"


def plot_leakage(result: dict, path: str | Path) -> Path:
    """Bar chart of L_train / L_test / L_ref with their bootstrap intervals (PNG)."""
    plt = pyplot()
    names = ["L_train", "L_test", "L_ref"]
    values = [result[n] for n in names]
    errors = [
        [result[n] - result["ci"][n][0] for n in names],
        [result["ci"][n][1] - result[n] for n in names],
    ]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.bar(names, values, yerr=errors, capsize=6, color=["#4c72b0", "#dd8452", "#55a868"])
    ax.set_ylabel("mean token loss (nats)")
    ax.set_title(f"Δ1 = {result['delta1']:+.3f}   Δ2 = {result['delta2']:+.3f}")
    low = min(result["ci"][n][0] for n in names)
    ax.set_ylim(max(0.0, low - 0.2 * abs(low)), None)
    fig.tight_layout()
    return save_figure(fig, path, dpi=120)


def plot_domain_ppl(result: dict, path: str | Path) -> Path:
    """Bar chart of per-domain perplexity with the pooled average (PNG)."""
    plt = pyplot()
    names = [_domain(p) for p in result["files"]] + ["Avg"]
    values = [r["ppl"] for r in result["files"].values()] + [result["pooled"]["ppl"]]
    fig, ax = plt.subplots(figsize=(max(4, 1.1 * len(names)), 3.5))
    ax.bar(names, values, color=["#4c72b0"] * (len(names) - 1) + ["#c44e52"])
    ax.set_ylabel("perplexity")
    ax.set_title(f"domain perplexity (first {result.get('max_chars')} chars)")
    fig.tight_layout()
    return save_figure(fig, path, dpi=120)


def plot_domain_comparison(ppl_by_model: dict[str, dict[str, float]], path: str | Path) -> Path:
    """Grouped bars: perplexity per domain name (and Avg, the pooled one), one bar per model (PNG)."""
    plt = pyplot()
    domains: list[str] = []
    for per_domain in ppl_by_model.values():
        domains += [d for d in per_domain if d not in domains]
    width = 0.8 / max(len(ppl_by_model), 1)
    fig, ax = plt.subplots(figsize=(max(4.5, 1.2 * len(domains)), 3.5))
    for k, (model, per_domain) in enumerate(ppl_by_model.items()):
        xs = [i + (k - (len(ppl_by_model) - 1) / 2) * width for i in range(len(domains))]
        ax.bar(xs, [per_domain.get(d, float("nan")) for d in domains], width, label=model, color=f"C{k % 10}")
    ax.set_xticks(range(len(domains)), domains)
    ax.set_ylabel("perplexity")
    ax.set_title("domain perplexity per model (lower is better)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path, dpi=120)
