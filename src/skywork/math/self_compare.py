"""Self-compare fine-tuning (our design, spec 5; docs/math.md): rounds of sample -> grade -> build -> fine-tune.

Round ``r`` (1-based) writes, each step resumable on its own (a step whose output exists is not redone)::

    OUT/round_<r>/samples.jsonl    k graded samples per training problem (solution, answer, first wrong step)
    OUT/round_<r>/data.jsonl       the built SFT rows (correct solutions + comparison examples), data_counts.json
    OUT/round_<r>/train/           the SFT run on the one loop (skywork.train.sft.run_sft; resumes mid-run)
    OUT/round_<r>/model/           the round's model (LoRA: the adapter merged into its base)
    OUT/round_<r>/eval.jsonl       greedy answers to the held-out problems, graded
    OUT/round_<r>/summary.json     kind self_compare_round: counts and accuracy
    OUT/round_0/eval.jsonl         the starting model's held-out answers (eval.before)
    OUT/summary.json               kind self_compare: every round, the final model, the accuracy plot

The next round starts from the previous round's model. ``OUT/config.json`` records the config: resuming a
directory with a different config fails (use a new ``output_dir``).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import torch

from skywork.inference import SamplingParams
from skywork.math.compare import build_round_data
from skywork.math.config import SelfCompareConfig
from skywork.math.data import MathProblem, read_problems
from skywork.math.solve import score, solve_problems
from skywork.utils.config import config_hash, from_dict, to_dict
from skywork.utils.io import InputError, atomic_write_json, read_jsonl, write_jsonl
from skywork.utils.summary import write_summary

log = logging.getLogger(__name__)

SFT_DEFAULTS = {
    "max_steps": 40,
    "micro_batch_size": 4,
    "eval_every": 1_000_000,
    "save_every": 1_000_000,
    "keep_last": 1,
    "tensorboard": False,
    "precision": "fp32",
    "optim": {"warmup_steps": 4},
    "data": {"max_seq_len": 512, "seq_len": 512, "samples": 0},
}


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        out[key] = (
            _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
        )
    return out


def sft_config(config: SelfCompareConfig, round_dir: Path, init_from: str, data_file: Path, tokenizer: str):
    """The round's SFTConfig: ``train`` over our defaults, with the round's model, data and directory."""
    from skywork.train.finetune_config import SFTConfig

    template = "raw" if config.prompt_format == "plain" else "official"
    merged = _merge(_merge(SFT_DEFAULTS, {"data": {"template": template}}), config.train)
    merged = _merge(
        merged,
        {
            "output_dir": str(round_dir / "train"),
            "tokenizer": tokenizer,
            "model": {"init_from": init_from},
            "data": {"files": [str(data_file)]},
        },
    )
    return from_dict(SFTConfig, merged, source="self-compare config", prefix="train")


def load_model(model_dir: str | Path, device: str):
    from skywork.model.loading import load_model as load
    from skywork.utils.device import resolve_device

    return load(model_dir, dtype=torch.float32, device=resolve_device(device))


def round_format(config: SelfCompareConfig, round_index: int) -> str:
    """fewshot samples the base model in round 1 only: later rounds sample the math-chat format they trained."""
    return "math-chat" if config.prompt_format == "fewshot" and round_index > 1 else config.prompt_format


class SelfCompareRun:
    """One run directory; :meth:`run` does what is missing, round by round."""

    def __init__(self, config: SelfCompareConfig, resume: str | None = "auto"):
        self.config, self.out = config, Path(config.output_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        self._check_config(resume)
        self.tokenizer_dir = config.tokenizer or config.model
        from skywork.tokenizer import load

        self.tokenizer = load(self.tokenizer_dir)
        self.problems, self.problem_counts = read_problems(
            config.problems, config.problem_limit, field="problems"
        )
        if not self.problems:
            raise InputError("no training problem with a parsable gold answer", field="problems")
        self.heldout: list[MathProblem] = []
        self.heldout_counts: dict = {}
        if config.eval.files:
            self.heldout, self.heldout_counts = read_problems(
                config.eval.files, config.eval.limit, field="eval.files"
            )
        self.fewshot = None
        if config.prompt_format == "fewshot":
            from skywork.math.prompts import load_fewshot

            self.fewshot = load_fewshot(config.fewshot_file, config.shots)

    def _check_config(self, resume: str | None) -> None:
        path = self.out / "config.json"
        record = {
            "hash": config_hash(self.config),
            "config": json.loads(json.dumps(to_dict(self.config), default=str)),
        }
        if path.exists() and resume != "never":
            previous = json.loads(path.read_text(encoding="utf-8"))
            if previous.get("hash") != record["hash"]:
                raise InputError(
                    "this directory holds a self-compare run with another config: use a new output_dir "
                    "(or delete it)",
                    path,
                )
        atomic_write_json(path, record)

    # ---------------------------------------------------------------------------------------------- steps

    def _sample(self, round_dir: Path, round_index: int, model_dir: str) -> list[dict]:
        path = round_dir / "samples.jsonl"
        if path.exists():
            return list(read_jsonl(path))
        s = self.config.sampling
        params = SamplingParams(
            max_new_tokens=s.max_new_tokens,
            temperature=s.temperature,
            top_p=s.top_p,
            top_k=s.top_k,
            n=s.k,
            seed=s.seed + 1000 * round_index,
        )
        model = load_model(model_dir, self.config.device)
        start = time.perf_counter()
        rows = solve_problems(
            model,
            self.tokenizer,
            self.problems,
            round_format(self.config, round_index),
            params,
            self.fewshot,
            s.batch_size,
        )
        seconds = time.perf_counter() - start
        tokens = sum(r["tokens"] for r in rows)
        log.info("round %d: %d samples, %d tokens in %.1fs", round_index, len(rows), tokens, seconds)
        write_jsonl(path, rows)
        atomic_write_json(
            round_dir / "sampling.json", {"seconds": seconds, "tokens": tokens, "samples": len(rows)}
        )
        return rows

    def _build(self, round_dir: Path, round_index: int, samples: list[dict]) -> dict:
        path, counts_path = round_dir / "data.jsonl", round_dir / "data_counts.json"
        if path.exists() and counts_path.exists():
            return json.loads(counts_path.read_text(encoding="utf-8"))
        rows, counts = build_round_data(
            self.problems, samples, self.config.build, self.config.sampling.seed + round_index
        )
        if not rows:
            raise InputError(
                f"round {round_index}: no training example (no correct solution and no comparison): "
                "raise sampling.k or start from a model that knows the format",
                round_dir / "samples.jsonl",
            )
        write_jsonl(path, rows)
        atomic_write_json(counts_path, counts)
        return counts

    def _train(self, round_dir: Path, model_dir: str) -> tuple[dict, str]:
        from skywork.train.sft import run_sft

        """Fine-tune on the round's data; the round's model is train/final (LoRA: merged into model/)."""
        sft = sft_config(self.config, round_dir, model_dir, round_dir / "data.jsonl", str(self.tokenizer_dir))
        final_model = round_dir / "model" if sft.lora.enabled else round_dir / "train" / "final"
        train_summary = round_dir / "train" / "summary.json"
        if train_summary.exists() and (final_model / "config.json").exists():
            return json.loads(train_summary.read_text(encoding="utf-8")), str(final_model)
        sft.data.files = [str(self._training_file(round_dir, sft))]
        summary = run_sft(sft, resume="auto")
        if sft.lora.enabled:
            from skywork.finetune.lora import merge_lora

            merge_lora(summary["final_dir"], final_model)
        return summary, str(final_model)

    def _training_file(self, round_dir: Path, sft) -> Path:
        """``data.jsonl``, repeated when it packs into fewer rows than one global batch (a weak model's round
        may keep only a few examples); the steps, hence the training tokens, stay ``train.max_steps``."""
        rows = list(read_jsonl(round_dir / "data.jsonl"))
        tokens = sum(len(self.tokenizer(r["instruction"] + r["output"])["input_ids"]) + 8 for r in rows)
        needed = (
            2 * sft.micro_batch_size * sft.grad_accum_steps * sft.data.seq_len
        )  # two batches, packing slack
        repeats = max(1, -(-needed // max(1, tokens)))
        if repeats == 1:
            return round_dir / "data.jsonl"
        path = round_dir / "train_data.jsonl"
        if not path.exists():
            log.info(
                "round data (%d rows, %d tokens) repeated %d times to fill a batch",
                len(rows),
                tokens,
                repeats,
            )
            write_jsonl(path, rows * repeats)
        return path

    def _evaluate(self, round_dir: Path, round_index: int, model_dir: str) -> dict | None:
        if not self.heldout:
            return None
        path = round_dir / "eval.jsonl"
        if path.exists():
            rows = list(read_jsonl(path))
        else:
            e = self.config.eval
            model = load_model(model_dir, self.config.device)
            params = SamplingParams(max_new_tokens=e.max_new_tokens)
            fmt = round_format(self.config, round_index + 1)  # the format the model was trained to answer in
            rows = solve_problems(
                model, self.tokenizer, self.heldout, fmt, params, self.fewshot, e.batch_size
            )
            write_jsonl(path, rows)
        return score(rows)

    # ---------------------------------------------------------------------------------------------- rounds

    def run(self) -> dict:
        config, rounds = self.config, []
        model_dir = config.model
        before = None
        if config.eval.before and self.heldout:
            round0 = self.out / "round_0"
            round0.mkdir(exist_ok=True)
            before = self._evaluate(round0, 0, model_dir)
        for r in range(1, config.rounds + 1):
            round_dir = self.out / f"round_{r}"
            round_dir.mkdir(exist_ok=True)
            start = time.perf_counter()
            samples = self._sample(round_dir, r, model_dir)
            graded = score(samples, k=config.sampling.k)
            data_counts = self._build(round_dir, r, samples)
            train_summary, model_dir = self._train(round_dir, model_dir)
            accuracy = self._evaluate(round_dir, r, model_dir)
            summary = self._round_summary(r, samples, graded, data_counts, train_summary, accuracy, model_dir)
            summary["seconds"] = (
                time.perf_counter() - start
            )  # of this session (a resumed round: what was left)
            write_summary(round_dir, "self_compare_round", summary)
            rounds.append(summary)
        return self._final_summary(rounds, before, model_dir)

    def _round_summary(self, r, samples, graded, data_counts, train_summary, accuracy, model_dir) -> dict:
        n = len(samples)
        examples = _examples(samples, self.out / f"round_{r}" / "data.jsonl", self.config.examples_in_summary)
        return {
            "round": r,
            "prompt_format": round_format(self.config, r),
            "problems": len(self.problems),
            "samples": n,
            "correct_samples": sum(s["grade"]["correct"] for s in samples),
            "correct_share": sum(s["grade"]["correct"] for s in samples) / n if n else 0.0,
            "reasons": graded.get("reasons", {}),
            "unparsable_steps": sum(s["grade"]["reason"] == "unparsable_step" for s in samples),
            "sampled_pass_at_k": graded.get(f"pass@{self.config.sampling.k}", graded.get("accuracy")),
            "data": data_counts,
            "train": {
                k: train_summary.get(k)
                for k in ("steps", "tokens", "final_loss", "final_dir", "lora")
                if k in train_summary
            }
            | {"supervised_tokens": (train_summary.get("data") or {}).get("supervised_tokens")},
            "model_dir": model_dir,
            "heldout": accuracy,
            **examples,
        }

    def _final_summary(self, rounds: list[dict], before: dict | None, model_dir: str) -> dict:
        curve = ([{"round": 0, **_acc(before)}] if before else []) + [
            {"round": s["round"], **_acc(s["heldout"])} for s in rounds if s.get("heldout")
        ]
        plots = {}
        if curve:
            plots["accuracy"] = _plot_accuracy(curve, self.out / "accuracy.png")
        payload = {
            "rounds": rounds,
            "accuracy_by_round": curve,
            "start_model": self.config.model,
            "final_model": model_dir,
            "problems": self.problem_counts,
            "heldout_problems": self.heldout_counts,
            "prompt_format": self.config.prompt_format,
            "k": self.config.sampling.k,
            "mix_ratio": self.config.build.mix_ratio,
        }
        write_summary(self.out, "self_compare", payload, plots=plots)
        return {**payload, "plots": {k: str(v) for k, v in plots.items()}}


def _acc(result: dict | None) -> dict:
    if not result:
        return {}
    return {"accuracy": result["accuracy"], "n": result["n"]} | {
        f"accuracy_{lang}": r["accuracy"] for lang, r in result.get("by_lang", {}).items() if r.get("n")
    }


def _examples(samples: list[dict], data_file: Path, count: int) -> dict:
    """A few graded samples (right and wrong) and comparison examples to quote in the summary and report."""
    wrong = [s for s in samples if not s["grade"]["correct"] and s["grade"]["first_wrong_step"]]
    right = [s for s in samples if s["grade"]["correct"]]
    picked = (right[:1] + wrong[: max(0, count - 1)]) if count else []
    graded = [
        {k: s[k] for k in ("problem_id", "lang", "solution")}
        | {
            k: s["grade"][k]
            for k in ("correct", "answer", "gold", "first_wrong_step", "reason", "explanation")
        }
        for s in picked
    ]
    comparisons = (
        [row for row in read_jsonl(data_file) if row.get("kind") == "comparison"][:count] if count else []
    )
    return {"graded_examples": graded, "comparison_examples": comparisons}


def _plot_accuracy(curve: list[dict], path: Path) -> Path:
    from skywork.utils.io import save_figure
    from skywork.utils.plotting import pyplot

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    rounds = [c["round"] for c in curve]
    for key, label in (("accuracy", "all"), ("accuracy_en", "en"), ("accuracy_zh", "zh")):
        if all(key in c for c in curve):
            ax.plot(rounds, [100 * c[key] for c in curve], marker="o", label=label)
    ax.set_xlabel("round (0: starting model)")
    ax.set_ylabel("held-out accuracy (%)")
    ax.set_xticks(rounds)
    ax.legend()
    ax.set_title("Self-compare fine-tuning")
    save_figure(fig, path)
    plt.close(fig)
    return path


def run_self_compare(config: SelfCompareConfig, resume: str | None = "auto") -> dict:
    """Run (or finish) every round of ``config``; returns the run's summary."""
    if resume == "never":
        import shutil

        for old in Path(config.output_dir).glob("round_*"):
            shutil.rmtree(old)
    return SelfCompareRun(config, resume).run()


def run_self_compare_stage(config: SelfCompareConfig, ctx) -> dict:
    """The recipe's ``self_compare`` stage (registered in skywork.recipe.kinds)."""
    summary = run_self_compare(config, resume="auto")
    return {"final_model": summary["final_model"], "accuracy_by_round": summary["accuracy_by_round"]}
