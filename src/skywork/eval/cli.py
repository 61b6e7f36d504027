"""``skywork eval``: a whole suite (``run SUITE.yaml``), or one evaluator: domain loss, C-Eval / CMMLU / MMLU, GSM8K,
the leakage test, n-gram overlap, needle in a haystack, lm-eval export.

Every single-evaluator command writes its results as JSON (``--output``, atomically) and prints a table; ``run``
writes a directory (summary.json, results.json, plots). Heavy imports happen
inside the commands so ``skywork eval --help`` stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from skywork.utils.cli_options import (
    device_option,
    dtype_option,
    legacy_option,
    limit_option,
    model_argument,
    output_option,
    pick,
    quantize_option,
    tokenizer_option,
)

app = typer.Typer(
    help="Evaluate models the official Skywork way: domain loss / perplexity (Table 6), C-Eval, CMMLU, MMLU "
    "(5-shot), GSM8K (8-shot), the benchmark-leakage test (Table 8) and 13-gram overlap; export lm-eval tasks.",
    no_args_is_help=True,
)
console = Console()

_OUTPUT = typer.Option(Path("results.json"), "--output", "-o", help="Where to write the JSON results.")
_TOKENIZER = tokenizer_option()
_DTYPE = dtype_option()
_DEVICE = device_option()
_MAX_SAMPLES = legacy_option("--max-samples")
_QUANTIZE = quantize_option()


def _load(model_dir: Path, tokenizer_dir: Path | None, dtype: str, device: str, quantize: str | None = None):
    from skywork.eval.adapter import ModelAdapter
    from skywork.model.quantize import is_quantized_dir, load_for_inference

    if quantize is not None or is_quantized_dir(model_dir):  # int8: online, or a `skywork quantize` directory
        from skywork.tokenizer import load

        return load_for_inference(model_dir, dtype, device, quantize), load(
            tokenizer_dir or model_dir, chat=False
        )
    adapter = ModelAdapter.load(model_dir, tokenizer_dir, dtype=dtype, device=device, chat=False)
    return adapter.model, adapter.tokenizer


def _write(output: Path, results: dict) -> None:
    from skywork.utils.io import atomic_write_json

    atomic_write_json(output, results)
    console.print(f"[dim]results written to {output}[/dim]")


def _fmt(value, digits: int = 4) -> str:
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


@app.command()
def run(
    suite: Path = typer.Argument(
        ..., help="Suite YAML: the keys of a recipe's evaluate stage (docs/evaluation.md)."
    ),
    output: Path = typer.Option(
        None,
        "--output",
        "-o",
        help="Output directory for summary.json, results.json, plots and GSM8K logs (default: runs/eval/SUITE).",
    ),
) -> None:
    """Run an evaluation suite: every model on every configured domain, benchmark and leakage split."""
    from skywork.eval.suite import SuiteConfig, check_inputs, run_suite
    from skywork.utils.config import load_config
    from skywork.utils.io import InputError

    try:
        config = load_config(SuiteConfig, suite)
        config.validate()
        check_inputs(config, suite)
    except InputError as error:
        Console(stderr=True).print(f"[red]invalid suite {suite}[/red]: {error}")
        raise typer.Exit(2) from None
    res = run_suite(config, output or Path("runs") / "eval" / suite.stem, console=console)
    console.print(_suite_table(suite.name, json.loads(Path(res["summary"]).read_text(encoding="utf-8"))))
    console.print(f"[dim]summary written to {res['summary']}[/dim]")


def _suite_table(title: str, summary: dict) -> Table:
    """One row per figure of the suite's summary.json, grouped by model."""
    table = Table(title=f"evaluation suite {title}")
    for col in ("model", "result", "value"):
        table.add_column(col, justify="left" if col != "value" else "right")
    for label, entry in summary["models"].items():
        rows = [
            (f"{name} loss / ppl", f"{r['loss']:.4f} / {r['ppl']:.2f}")
            for name, r in entry.get("domains", {}).items()
        ]
        if "pooled" in entry:
            rows.append(
                ("average loss / ppl", f"{entry['pooled']['loss']:.4f} / {entry['pooled']['ppl']:.2f}")
            )
        if "leakage" in entry:
            leak = entry["leakage"]
            rows.append(("leakage Δ1 / Δ2", f"{leak['delta1']:+.3f} / {leak['delta2']:+.3f}"))
            if "paired" in leak:
                rows.append(
                    (
                        "leakage paired gap / call",
                        f"{leak['paired']['gap']:+.3f} / {leak['decision']['call']}",
                    )
                )
        rows += [
            (f"{name} accuracy", f"{100 * r['accuracy']:.1f}%")
            for name, r in entry.get("benchmarks", {}).items()
        ]
        if "gsm8k" in entry:
            rows.append(("gsm8k accuracy", f"{100 * entry['gsm8k']['accuracy']:.1f}%"))
        for k, (name, value) in enumerate(rows):
            table.add_row(label if k == 0 else "", name, value)
        table.add_section()
    return table


@app.command("keys")
def keys_command() -> None:
    """Every key of a suite YAML (``skywork eval run``) with its type, default and meaning."""
    from skywork.eval.suite import SuiteConfig
    from skywork.utils.cli_options import print_keys

    print_keys(SuiteConfig, title="evaluation suite YAML keys")


@app.command()
def loss(
    model: Path = model_argument("Model directory."),
    data: list[Path] = typer.Option(
        ..., "--data", "-d", help="JSONL files ('text' or question/answer); repeat."
    ),
    max_chars: int = typer.Option(
        1365, help="Cut each text to its first N characters (official: 4096 // 3)."
    ),
    reference_tokenizer: Path = typer.Option(
        None,
        help="Tokenizer to normalise against: adds normalized_loss (loss x tokens / reference tokens) and bits/char.",
    ),
    batch_size: int = typer.Option(16, help="Documents per batch (length-sorted, so padding is minimal)."),
    max_samples: int = limit_option("Only the first N documents of each file."),
    plot: Path = typer.Option(None, help="Also write a PNG bar chart of the per-domain perplexities."),
    tokenizer: Path = _TOKENIZER,
    dtype: str = _DTYPE,
    device: str = _DEVICE,
    quantize: str = _QUANTIZE,
    output: Path = _OUTPUT,
    legacy_max_samples: int = _MAX_SAMPLES,
) -> None:
    """Domain loss and perplexity per file and pooled (official eval_loss.py protocol: no BOS, CE over 1..n)."""
    max_samples = pick(max_samples, legacy_max_samples, "--limit", "--max-samples")
    from skywork.eval.loss import evaluate_loss
    from skywork.tokenizer import load

    lm, tok = _load(model, tokenizer, dtype, device, quantize)
    ref = load(reference_tokenizer, chat=False) if reference_tokenizer else None
    res = evaluate_loss(lm, tok, data, max_chars, batch_size, ref, max_samples, progress=True)
    res["model"] = str(model)
    table = Table(title=f"domain loss ({max_chars} chars)")
    cols = ["file", "docs", "tokens", "loss", "ppl"] + (
        ["norm. loss", "norm. ppl", "bits/char"] if ref else []
    )
    for col in cols:
        table.add_column(col, justify="left" if col == "file" else "right")
    rows = [(Path(p).name, r) for p, r in res["files"].items()] + [("pooled (Average)", res["pooled"])]
    for name, r in rows:
        cells = [name, str(r["documents"]), str(r["tokens"]), _fmt(r["loss"]), _fmt(r["ppl"], 2)]
        if ref:
            cells += [_fmt(r["normalized_loss"]), _fmt(r["normalized_ppl"], 2), _fmt(r["bits_per_char"])]
        table.add_row(*cells)
    console.print(table)
    console.print(f"[dim]{res['tokens_per_s']:.0f} tokens/s, padding {res['padding_fraction']:.1%}[/dim]")
    if plot:
        from skywork.eval.tables import plot_domain_ppl

        console.print(f"[dim]plot written to {plot_domain_ppl(res, plot)}[/dim]")
    _write(output, res)


@app.command()
def mcq(
    model: Path = model_argument("Model directory."),
    bench: str = typer.Option(..., help="ceval (val, macro), cmmlu (test, macro) or mmlu (test, micro)."),
    data_dir: Path = typer.Option(..., help="Benchmark folder with dev/ and val/ or test/ CSVs."),
    shots: int = typer.Option(5, help="Few-shot examples: the first rows of the dev split."),
    subjects: str = typer.Option(
        None, help="Comma-separated subset of subjects (default: all in the folder)."
    ),
    limit: int = typer.Option(None, help="First N questions per subject (quick check; not official)."),
    batch_size: int = typer.Option(8, help="Questions per forward pass (after the shared few-shot prefix)."),
    no_cache: bool = typer.Option(
        False, "--no-cache", help="Run every prompt whole (slow; for verification)."
    ),
    subjects_file: Path = typer.Option(None, help="subjects.json with Chinese names and categories."),
    tokenizer: Path = _TOKENIZER,
    dtype: str = _DTYPE,
    device: str = _DEVICE,
    quantize: str = _QUANTIZE,
    output: Path = _OUTPUT,
) -> None:
    """C-Eval / CMMLU / MMLU with the official prompts; softmax over the A/B/C/D logits at the last position."""
    from skywork.eval.mcq import evaluate_mcq, list_subjects
    from skywork.utils.progress import progress

    lm, tok = _load(model, tokenizer, dtype, device, quantize)
    chosen = [s.strip() for s in subjects.split(",") if s.strip()] if subjects else None
    total = len(chosen) if chosen else len(list_subjects(data_dir, bench))
    with progress(f"{bench} subjects", total, unit="subjects", console=console) as bar:
        res = evaluate_mcq(
            lm,
            tok,
            bench,
            data_dir,
            shots,
            chosen,
            batch_size,
            not no_cache,
            subjects_file,
            limit=limit,
            on_subject=lambda _s, _e: bar.advance(),
        )
    res["model"] = str(model)
    table = Table(title=f"{bench} {shots}-shot ({res['average']} average)")
    table.add_column("subject / category")
    table.add_column("n", justify="right")
    table.add_column("accuracy", justify="right")
    for name, r in res["subjects"].items():
        table.add_row(name, str(r["n"]), f"{100 * r['accuracy']:.2f}")
    table.add_section()
    for name, r in res["categories"].items():
        table.add_row(
            f"[bold]{name}[/bold]", str(r.get("n", r.get("subjects"))), f"{100 * r['accuracy']:.2f}"
        )
    table.add_row("[bold]Average[/bold]", str(res["n"]), f"{100 * res['accuracy']:.2f}")
    console.print(table)
    _write(output, res)


@app.command()
def gsm8k(
    model: Path = model_argument("Model directory."),
    data: Path = typer.Option(
        ..., "--data", "-d", help="GSM8K JSONL (question, answer with '#### N') or STEM text JSONL (en/zh)."
    ),
    shots: int = typer.Option(8, help="Few-shot examples from the official prompt file."),
    prompt_file: Path = typer.Option(None, help="Few-shot prompt (default: the official gsm8k_prompt.txt)."),
    max_new_tokens: int = typer.Option(256, help="Generation budget (official value NOT FOUND; see docs)."),
    batch_size: int = typer.Option(8, help="Questions generated together."),
    limit: int = typer.Option(None, help="First N questions only."),
    log: Path = typer.Option(None, help="Per-sample JSONL log (default: OUTPUT with .samples.jsonl)."),
    prompt_format: str = typer.Option(
        "fewshot",
        "--format",
        help="fewshot (the 8-shot base protocol) or math-chat (zero-shot [USER]q[SEP][BOT]).",
    ),
    samples: int = typer.Option(
        1, "--samples", help="k > 1: also sample k solutions (pass@k, majority vote)."
    ),
    temperature: float = typer.Option(0.7, help="Sampling temperature for --samples."),
    top_p: float = typer.Option(0.95, help="Nucleus mass for --samples."),
    seed: int = typer.Option(0, help="Sampling seed for --samples."),
    tokenizer: Path = _TOKENIZER,
    dtype: str = _DTYPE,
    device: str = _DEVICE,
    quantize: str = _QUANTIZE,
    output: Path = _OUTPUT,
) -> None:
    """GSM8K accuracy: official 8-shot prompt (or the math model's zero-shot chat), greedy, official extraction."""
    from skywork.eval.gsm8k import evaluate_gsm8k, print_gsm8k

    lm, tok = _load(model, tokenizer, dtype, device, quantize)
    log = log or output.with_suffix(".samples.jsonl")
    with console.status("generating ..."):
        res = evaluate_gsm8k(
            lm, tok, data, shots, prompt_file, max_new_tokens, batch_size, limit, log,
            prompt_format=prompt_format, samples=samples, temperature=temperature, top_p=top_p, seed=seed,
        )  # fmt: skip
    res.pop("samples")
    res["model"] = str(model)
    print_gsm8k(res, console)
    _write(output, res)


@app.command()
def needle(
    model: Path = model_argument("Model directory."),
    lengths: str = typer.Option(
        "1024,2048,4096", help="Comma-separated context lengths in tokens (prompt + answer budget)."
    ),
    depths: str = typer.Option("0,25,50,75,100", help="Comma-separated depth percents of the first needle."),
    needles: int = typer.Option(1, help="Needles per context, each asked for in its own prompt."),
    haystack: list[Path] = typer.Option(
        None, help="Haystack text / JSONL files or folders; repeat (default: the Paul Graham essays)."
    ),
    seed: int = typer.Option(0, help="Seed of the needle values."),
    max_new_tokens: int = typer.Option(12, help="Answer budget in tokens."),
    answer_in_window: bool = typer.Option(
        True,
        help="A length counts the prompt and the answer budget, so a model trained at L answers inside its "
        "window (the reference project keeps a buffer too); --no-answer-in-window: the prompt alone fills it.",
    ),
    batch_size: int = typer.Option(8, help="Questions generated together."),
    tokenizer: Path = _TOKENIZER,
    dtype: str = _DTYPE,
    device: str = _DEVICE,
    output: Path = output_option(
        help="Output directory for summary.json, samples.jsonl and the heatmap PNG."
    ),
) -> None:
    """Needle in a haystack: accuracy over context lengths x depths, deterministic scoring, heatmap + JSON."""
    from skywork.eval.needle import NeedleConfig, run_needle, write_needle_results

    config = NeedleConfig(
        lengths=[int(x) for x in lengths.split(",") if x.strip()],
        depths=[float(x) for x in depths.split(",") if x.strip()],
        needles=needles,
        haystack=[str(p) for p in haystack or []],
        seed=seed,
        max_new_tokens=max_new_tokens,
        answer_in_window=answer_in_window,
        batch_size=batch_size,
    )
    try:
        config.validate()
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    lm, tok = _load(model, tokenizer, dtype, device)
    try:
        res = run_needle(lm, tok, config, progress=True)
    except ValueError as error:  # e.g. a length too short for the needles, question and answer budget
        raise typer.BadParameter(str(error)) from None
    table = Table(title=f"needle in a haystack ({needles} needle(s), mean {100 * res['accuracy']:.1f}%)")
    table.add_column("depth %")
    for length in res["lengths"]:
        table.add_column(str(length), justify="right")
    for depth, row in zip(res["depths"], res["grid"], strict=True):
        table.add_row(f"{depth:g}", *(f"{100 * a:.0f}" for a in row))
    console.print(table)
    summary = write_needle_results(output or Path("runs") / "needle" / model.name, res, model=str(model))
    console.print(f"[dim]summary written to {summary}[/dim]")


@app.command()
def leakage(
    model: Path = model_argument("Model directory."),
    train: Path = typer.Option(..., help="Benchmark train split (JSONL: text, or question + answer)."),
    test: Path = typer.Option(..., help="Benchmark test split."),
    ref: Path = typer.Option(..., help="Reference set written like the benchmark but never published."),
    max_chars: int = typer.Option(1365, help="Cut each sample to its first N characters."),
    batch_size: int = typer.Option(16, help="Samples per batch."),
    max_samples: int = limit_option("First N samples of each file."),
    bootstrap: int = typer.Option(1000, help="Bootstrap resamples for the confidence intervals."),
    confidence: float = typer.Option(0.95, help="Confidence level of the intervals."),
    plot: Path = typer.Option(
        None, help="Also write a PNG bar chart of the three losses with their intervals."
    ),
    paired: Path = typer.Option(
        None,
        help="The test items rephrased, aligned 1:1 with --test (JSONL): tells exposure from familiarity.",
    ),
    paired_view: str = typer.Option(
        "auto",
        help="What both sides share: auto, text, gsm8k (question + final answer), mcq (question + answer).",
    ),
    paired_alpha: float = typer.Option(
        0.01, help="Significance level of the two-group test on the paired gaps (exposure of a subset)."
    ),
    item_threshold: float = typer.Option(
        3.0, help="Flag an item whose gap is this many sds above the style offset (or in the exposed group)."
    ),
    min_k: float = typer.Option(0.2, help="Fraction of least likely tokens behind each item's min-k% prob."),
    top: int = typer.Option(10, help="Items with the largest paired score to print."),
    tokenizer: Path = _TOKENIZER,
    dtype: str = _DTYPE,
    device: str = _DEVICE,
    output: Path = _OUTPUT,
    legacy_max_samples: int = _MAX_SAMPLES,
) -> None:
    """The report's leakage test: L_train, L_test, L_ref, delta1 = L_test - L_ref, delta2 = L_test - L_train.

    With --paired, each test item is also scored against its own rephrasing and the verdict comes from all signals.
    """
    max_samples = pick(max_samples, legacy_max_samples, "--limit", "--max-samples")
    from skywork.eval.leakage import leakage_test

    lm, tok = _load(model, tokenizer, dtype, device)
    with console.status("scoring train, test and reference sets ..."):
        res = leakage_test(
            lm,
            tok,
            train,
            test,
            ref,
            max_chars,
            batch_size,
            max_samples,
            bootstrap,
            confidence,
            paired=paired,
            paired_view=paired_view,
            paired_alpha=paired_alpha,
            item_threshold=item_threshold,
            min_k=min_k,
        )
    res["model"] = str(model)
    table = Table(title="benchmark leakage (Table 8 style)")
    for col in ("", "value", f"{int(100 * confidence)}% CI", "samples"):
        table.add_column(col, justify="right")
    for key, name in (("L_train", "train"), ("L_test", "test"), ("L_ref", "ref")):
        lo, hi = res["ci"][key]
        table.add_row(key, f"{res[key]:.3f}", f"[{lo:.3f}, {hi:.3f}]", str(res["samples"][name]))
    for key in ("delta1", "delta2"):
        lo, hi = res["ci"][key]
        table.add_row(key, f"{res[key]:+.3f}", f"[{lo:+.3f}, {hi:+.3f}]", "")
    if "paired" in res:
        pair = res["paired"]
        lo, hi = pair["ci"]
        table.add_row("paired gap", f"{pair['gap']:+.3f}", f"[{lo:+.3f}, {hi:+.3f}]", str(pair["items"]))
    console.print(table)
    if "paired" in res:
        console.print(_top_items_table(res["paired"], top))
    console.print(res["verdict"])
    if plot:
        from skywork.eval.tables import plot_leakage

        console.print(f"[dim]plot written to {plot_leakage(res, plot)}[/dim]")
    _write(output, res)


def _top_items_table(paired: dict, n: int) -> Table:
    """The items that look most exposed: largest paired score first."""
    from skywork.eval.paired import top_items

    title = f"most exposed-looking items (z > {paired['item_threshold']} or in the exposed group is flagged)"
    table = Table(title=title)
    for col in ("item", "loss orig.", "loss reph.", "score", "min-k%", "flag", "text"):
        table.add_column(col, justify="left" if col == "text" else "right")
    for it in top_items(paired["per_item"], n):
        text = it["text"].replace("\n", " ")[:60]
        flag = "yes" if it["flagged"] else ""
        cells = [str(it["index"]), f"{it['loss_original']:.3f}", f"{it['loss_rephrased']:.3f}"]
        table.add_row(*cells, f"{it['score']:+.3f}", f"{it['min_k']:.2f}", flag, text)
    return table


@app.command()
def overlap(
    corpus: list[Path] = typer.Argument(
        ..., help="Corpus files or folders (.jsonl, .jsonl.gz, .txt), then BENCH."
    ),
    n: int = typer.Option(13, help="N-gram length in units (words; single characters for Chinese)."),
    output: Path = _OUTPUT,
) -> None:
    """N-gram overlap between a training corpus and a benchmark: skywork eval overlap CORPUS... BENCH."""
    from skywork.eval.overlap import ngram_overlap

    if len(corpus) < 2:
        raise typer.BadParameter("give at least one corpus path and the benchmark file")
    *sources, bench = corpus
    with console.status("scanning the corpus ..."):
        res = ngram_overlap(sources, bench, n)
    table = Table(title=f"{n}-gram overlap")
    for key in ("samples", "contaminated", "fraction", "corpus_documents", "matched_corpus_documents"):
        table.add_row(key, _fmt(res[key]))
    console.print(table)
    for ex in res["examples"][:5]:
        console.print(f"[dim]sample {ex['sample']} <- {ex['corpus_doc']}: {ex['ngram']}[/dim]")
    _write(output, res)


@app.command("export-lm-eval")
def export_lm_eval_cmd(
    bench: str = typer.Option(..., help="ceval, cmmlu or mmlu."),
    data_dir: Path = typer.Option(..., help="Benchmark folder with dev/ and val/ or test/ CSVs."),
    output: Path = output_option(help="Folder for the task YAMLs and prompt files (lm_eval --include_path)."),
    tokenizer: Path = typer.Option(
        ..., help="Tokenizer directory (decides the answer-letter continuations)."
    ),
    shots: int = typer.Option(5, help="Few-shot examples."),
    subjects: str = typer.Option(None, help="Comma-separated subset of subjects."),
    limit: int = typer.Option(None, help="First N questions per subject."),
    subjects_file: Path = typer.Option(None, help="subjects.json with Chinese names and categories."),
    out: Path = legacy_option("--out"),
) -> None:
    """Write lm-evaluation-harness task YAMLs (local JSON files, official prompts) for a benchmark."""
    out = pick(output, out, "--output", "--out", required=True)
    from skywork.eval.lm_eval_export import export_lm_eval
    from skywork.tokenizer import load

    chosen = [s.strip() for s in subjects.split(",") if s.strip()] if subjects else None
    info = export_lm_eval(
        bench, data_dir, out, load(tokenizer, chat=False), shots, chosen, subjects_file, limit=limit
    )
    console.print(f"wrote {len(info['tasks'])} tasks and group [bold]{info['group']}[/bold] to {out}")
    console.print(
        f"run: lm_eval --model hf --model_args pretrained=MODEL --include_path {out} --tasks {info['group']}"
    )


@app.command()
def chat(
    model_dir: Path = model_argument(
        "Chat model directory, or a LoRA adapter directory (its base is loaded)."
    ),
    prompts: Path = typer.Option(
        ..., "--prompts", help="Chat eval JSONL ({content: [...], class}), e.g. skywork_13b_chat_eval.jsonl."
    ),
    output: Path = output_option(help="Output directory (answers.jsonl, answers.html, summary.json)."),
    limit: int = limit_option(),
    max_new_tokens: int = typer.Option(
        1000, "--max-new-tokens", help="Tokens per answer (official demo: 1000)."
    ),
    batch_size: int = typer.Option(8, "--batch-size", help="Prompts generated together."),
    seed: int = typer.Option(0, "--seed", help="Sampling seed (answer i uses seed + i)."),
    judge_url: str = typer.Option(
        None, "--judge-url", help="OpenAI-compatible endpoint (.../v1) grading every answer; off by default."
    ),
    judge_model: str = typer.Option(
        None, "--judge-model", help="Judge model name (default: the first listed)."
    ),
    api_key_env: str = typer.Option(
        None, "--api-key-env", help="Environment variable holding the judge's API key (default: no key)."
    ),
    tokenizer: Path = _TOKENIZER,
    dtype: str = _DTYPE,
    device: str = _DEVICE,
) -> None:
    """Creative-writing chat evaluation: answers with the official sampling settings, metrics per class."""
    from skywork.finetune.chat_eval import load_chat_model, metrics_table, run_chat_eval
    from skywork.finetune.judge import JudgeConfig

    model, tok_ = load_chat_model(model_dir, tokenizer, dtype, device)
    judge = JudgeConfig(judge_url, judge_model, api_key_env) if judge_url else None
    out = output or Path("runs/chat_eval") / model_dir.name
    result = run_chat_eval(
        model, tok_, prompts, out, limit, max_new_tokens, batch_size, seed, str(model_dir), judge=judge
    )
    console.print(metrics_table(result))
    console.print(f"[dim]answers, page and summary in {out}[/dim]")


@app.command()
def trajectory(
    run_dir: Path = typer.Argument(
        ..., help="Pretraining output directory (milestones/, final/, config.yaml)."
    ),
    suite: Path = typer.Option(
        None,
        "--suite",
        help="Suite YAML (domains, mcq, gsm8k...; models ignored). Default: the run's validation sets.",
    ),
    output: Path = typer.Option(
        None, "--output", "-o", help="Output directory (default: RUN_DIR/trajectory)."
    ),
) -> None:
    """Evaluate every milestone checkpoint of a run and plot each metric against tokens (report Fig. 3)."""
    from skywork.eval.trajectory import print_trajectory, run_trajectory_command

    result = run_trajectory_command(run_dir, suite, output or run_dir / "trajectory", console)
    print_trajectory(result, console)


@app.command("mm")
def mm_command(
    model_dir: Path = model_argument("Multimodal model directory (an mm_instruct final/)."),
    data: Path = typer.Option(..., "--data", help="mm_data output directory (holds heldout/images.jsonl)."),
    output: Path = output_option(Path("mm-eval"), help="Output directory (summary, results, examples.html)."),
    limit: int = limit_option(),
    no_baseline: bool = typer.Option(False, "--no-baseline", help="Skip the text-only baseline."),
    device: str = _DEVICE,
) -> None:
    """Image QA on held-out images: accuracy per kind and language, digits, MME-style pairs, text-only baseline."""
    from skywork.eval.mm import MMEvalConfig, evaluate_mm, results_table

    config = MMEvalConfig(
        str(model_dir), str(data), str(output), limit, baseline=not no_baseline, device=device
    )
    console.print(results_table(evaluate_mm(config)))
    console.print(f"[dim]summary, results and examples.html in {output}[/dim]")


@app.command("mm-probe")
def mm_probe_command(
    models: list[str] = typer.Argument(
        ...,
        metavar="MODEL",
        help="Multimodal model directories, one or more; fresh:DIR = DIR's ViT untrained.",
    ),
    data: Path = typer.Option(..., "--data", help="mm_data output directory (train/ and heldout/)."),
    output: Path = typer.Option(None, "--output", "-o", help="Also write the probe accuracies as JSON."),
    train_images: int = typer.Option(1500, help="Training images per kind the probe is fitted on."),
    test_images: int = typer.Option(300, help="Held-out images per kind it is scored on."),
    device: str = _DEVICE,
) -> None:
    """Linear probes per question kind on the ViT's features: is a kind lost in the encoder or after it?"""
    from skywork.mm.probe import probe_command, probe_table

    results = probe_command(models, str(data), output and str(output), train_images, test_images, device)
    console.print(probe_table(results))


# --- long context (issue 15): the commands' code lives in skywork.longctx.eval_cli
from skywork.longctx import eval_cli as _longctx_cli  # noqa: E402

app.command("longtable")(_longctx_cli.longtable)
app.command("position-loss")(_longctx_cli.position_loss)
