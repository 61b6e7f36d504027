"""``SelfCompareConfig``: one YAML file for ``skywork train self-compare`` and the recipe kind ``self_compare``.

Every key is documented here (``skywork train keys self-compare`` prints them). ``train`` takes any
:class:`~skywork.train.finetune_config.SFTConfig` key for each round's fine-tuning (full or LoRA); ``output_dir``,
``model.init_from``, ``tokenizer`` and ``data.files`` are filled in by the round.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from skywork.utils.config import field


@dataclass
class SamplingSection:
    k: int = field(4, help="Solutions sampled per training problem and round.")
    temperature: float = field(0.8, help="Sampling temperature (0: greedy, then k > 1 repeats one solution).")
    top_p: float = field(0.95, help="Nucleus sampling mass (1.0: off).")
    top_k: int = field(0, help="Keep the k most likely tokens (0: off).")
    max_new_tokens: int = field(256, help="Tokens per sampled solution.")
    batch_size: int = field(16, help="Rows decoded together (prompts x k).")
    seed: int = field(
        0, help="Sampling seed; round r uses seed + 1000 * r, so rounds draw different samples."
    )


@dataclass
class BuildSection:
    dedup: Literal["none", "exact", "steps"] = field(
        "steps",
        help="Correct solutions kept once per problem: none; exact (same text up to whitespace); steps (same "
        "calculator steps and answer: rewordings of one computation count once).",
    )
    max_correct_per_problem: int = field(2, help="SFT targets kept per problem after dedup (0: all).")
    require_valid_steps: bool = field(
        True, help="An SFT target must also have sound arithmetic in every step (a lucky answer is not one)."
    )
    mix_ratio: float = field(
        0.5,
        help="Share of comparison examples in the built data (0: rejection-sampling SFT only; 1: comparisons "
        "only). With no correct solution at all, every available comparison is kept.",
    )
    comparisons_per_problem: int = field(
        1, help="Comparison examples at most per problem (wrong samples used)."
    )
    show_right_solution: bool = field(
        False, help="Also show a right solution beside the wrong one in the comparison prompt."
    )
    right_solution: Literal["self_then_gold", "gold"] = field(
        "self_then_gold",
        help="The correct solution a comparison target ends with: a correct self-sample of that problem when "
        "there is one (else the gold), or always the gold.",
    )


@dataclass
class EvalSection:
    files: list[str] = field(
        default_factory=list, help="Held-out problems (GSM8K JSONL or STEM text JSONL); empty: no evaluation."
    )
    limit: int | None = field(None, help="First N held-out problems only.")
    max_new_tokens: int = field(256, help="Tokens per greedy answer.")
    before: bool = field(True, help="Also evaluate the starting model (reported as round 0).")
    batch_size: int = field(16, help="Questions decoded together.")


@dataclass
class SelfCompareConfig:
    """Rounds of sample -> grade -> build data -> fine-tune (docs/math.md)."""

    output_dir: str = field(help="Run directory: round_<i>/ per round, summary.json, plots.")
    model: str = field(help="The model directory to start from (e.g. an SFT stage's final/).")
    problems: list[str] = field(help="Training problems: GSM8K JSONL (question, answer) or STEM text JSONL.")
    tokenizer: str | None = field(None, help="Tokenizer directory; null: the model directory's.")
    problem_limit: int | None = field(None, help="First N training problems only.")
    prompt_format: Literal["math-chat", "plain", "fewshot"] = field(
        "math-chat",
        help="How problems are put to the model: math-chat ([USER]q[SEP][BOT], the math model's format), plain "
        "(question + newline) or fewshot (the official 8-shot prompt; rounds after the first then sample the "
        "math-chat format they trained).",
    )
    fewshot_file: str | None = field(
        None, help="Few-shot prompt file for fewshot (default: the official one)."
    )
    shots: int = field(8, help="Few-shot examples for fewshot.")
    rounds: int = field(1, help="Rounds; each starts from the previous round's model.")
    device: str = field("auto", help="auto (cuda if available), cpu or cuda: for sampling and evaluation.")
    sampling: SamplingSection = field(
        default_factory=SamplingSection, help="Sampling k solutions per problem."
    )
    build: BuildSection = field(default_factory=BuildSection, help="Building the round's training data.")
    train: dict = field(
        default_factory=dict,
        help="SFTConfig keys for each round's fine-tuning (e.g. max_steps, optim.lr, lora.enabled); "
        "output_dir, model.init_from, tokenizer and data.files are set by the round.",
    )
    eval: EvalSection = field(default_factory=EvalSection, help="Held-out accuracy after each round.")
    examples_in_summary: int = field(3, help="Graded samples and comparison examples quoted in summary.json.")
