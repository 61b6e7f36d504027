"""Evaluation speed: ours vs lm-evaluation-harness (5-shot CMMLU) and vs the official padded-batch domain loss.

1. 5-shot CMMLU on the subjects in ../shared/data, same model, same prompts: our ``evaluate_mcq`` (few-shot
   prefix encoded once per subject, KV cache shared, batched questions) against lm-eval 0.4's ``hf`` backend
   scoring the identical (prompt, answer-letter) pairs. Goal: >= 3x faster with identical predictions.
2. Domain loss on the official eval_loss files: our length-sorted batches (LM head only on scored positions)
   against a re-implementation of the official ``eval_loss.py`` loop (file order, batches of 16 right-padded with
   EOS, full logits, masked CE). Goal: >= 1.5x tokens/s, same loss within 1e-4.

The model is randomly initialised (speed and agreement do not depend on the weights); the tokenizer is the tiny
test tokenizer. Default is a subset so the bench takes a few minutes on 2 CPU cores; --full runs everything.

    python bench/eval_speed.py [--subjects 4] [--limit 40] [--loss-docs 24] [--preset skywork-tiny] [--full]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from _common import report  # noqa: E402
from skywork.eval.lm_eval_export import choice_continuations  # noqa: E402
from skywork.eval.loss import evaluate_loss  # noqa: E402
from skywork.eval.mcq import (  # noqa: E402
    _csv_path,
    evaluate_mcq,
    few_shot_prefix,
    format_example,
    list_subjects,
    load_subject_tables,
    read_questions,
)
from skywork.testing import build_tiny_model, build_tiny_tokenizer, shared_data_dir  # noqa: E402


@torch.no_grad()
def official_padded_loss(model, tokenizer, texts: list[str], batch_size: int = 16) -> tuple[float, int]:
    """The official eval_loss.py loop: file order, right padding with EOS, full logits, masked summed CE."""
    total_loss, total_tokens = 0.0, 0
    eos = tokenizer.eos_token_id
    loss_fn = torch.nn.CrossEntropyLoss(reduction="none")
    for start in range(0, len(texts), batch_size):
        batch = [
            tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts[start : start + batch_size]
        ]
        width = max(len(b) for b in batch)
        ids = torch.full((len(batch), width), eos, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for r, b in enumerate(batch):
            ids[r, : len(b)] = torch.tensor(b)
            mask[r, : len(b)] = 1
        logits = model(input_ids=ids, attention_mask=mask).logits
        shift_logits = logits[:, :-1].contiguous().float()
        shift_labels = ids[:, 1:].contiguous()
        shift_mask = mask[:, 1:].contiguous()
        loss = loss_fn(shift_logits.view(-1, shift_logits.size(-1)), shift_labels.view(-1))
        total_loss += float((loss * shift_mask.view(-1)).sum())
        total_tokens += int(mask.sum()) - len(batch)
    return total_loss / total_tokens, total_tokens


def _lm_eval_loglikelihoods(lm, tokenizer, data_dir: Path, subjects: list[str], limit: int | None):
    """lm-eval's scores for the very prompts we build: (prompt, answer-letter continuation) pairs."""
    from lm_eval.api.instance import Instance

    tables = load_subject_tables("cmmlu")
    continuations = choice_continuations(tokenizer)
    requests, owners = [], []
    for subject in subjects:
        dev = read_questions(_csv_path(data_dir, "cmmlu", "dev", subject), "cmmlu")
        questions = read_questions(_csv_path(data_dir, "cmmlu", "test", subject), "cmmlu")[:limit]
        prefix = few_shot_prefix("cmmlu", dev[:5], subject, tables)
        for qi, q in enumerate(questions):
            prompt = prefix + format_example("cmmlu", q, subject, tables, False)
            for k, cont in enumerate(continuations):
                requests.append(Instance("loglikelihood", doc={}, arguments=(prompt, cont), idx=k))
                owners.append((subject, qi))
    lls = [ll for ll, _ in lm.loglikelihood(requests, disable_tqdm=True)]
    return lls, owners


def bench_mcq(
    model, tokenizer, data_dir: Path, subjects: list[str], limit: int | None, batch_size: int, repeats: int
) -> list[dict]:
    """Both sides ``repeats`` times, interleaved; the best wall time of each counts (the machine is shared)."""
    from lm_eval.models.huggingface import HFLM

    lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=batch_size, device="cpu")
    ours_times, peer_times = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        ours = evaluate_mcq(
            model, tokenizer, "cmmlu", data_dir, subjects=subjects, limit=limit, batch_size=batch_size,
            keep_predictions=True,
        )  # fmt: skip
        ours_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        lls, owners = _lm_eval_loglikelihoods(lm, tokenizer, data_dir, subjects, limit)
        peer_times.append(time.perf_counter() - start)
    ours_s, peer_s = min(ours_times), min(peer_times)
    same, max_diff, n = 0, 0.0, 0
    for j in range(0, len(lls), 4):
        subject, qi = owners[j]
        entry = ours["subjects"][subject]
        theirs = lls[j : j + 4]
        same += "ABCD"[max(range(4), key=lambda k: theirs[k])] == entry["predictions"][qi]
        max_diff = max(
            max_diff, max(abs(a - b) for a, b in zip(entry["choice_logprobs"][qi], theirs, strict=True))
        )
        n += 1
    print(
        f"cmmlu: {len(subjects)} subjects, {n} questions: ours {ours_s:.1f}s, lm-eval {peer_s:.1f}s, "
        f"identical predictions {same}/{n}, max |logprob diff| {max_diff:.2e}, accuracy {ours['accuracy']:.4f}"
    )
    return [
        {"name": "cmmlu_5shot_speedup", "ours": peer_s / ours_s, "peer": 1.0, "goal": ">=3x", "unit": "x (wall time)",
         "peer_name": "lm-eval 0.4 hf backend", "ours_s": ours_s, "peer_s": peer_s, "questions": n},
        {"name": "cmmlu_identical_predictions", "ours": same / n, "peer": 1.0, "goal": "1.0",
         "max_logprob_diff": max_diff},
    ]  # fmt: skip


def bench_loss(model, tokenizer, files: list[Path], docs: int | None, batch_size: int = 16) -> list[dict]:
    from skywork.eval.data import read_texts

    texts = [t[:1365] for f in files for t in read_texts(f, max_samples=docs)]
    start = time.perf_counter()
    peer_loss, peer_tokens = official_padded_loss(model, tokenizer, texts, batch_size)
    peer_s = time.perf_counter() - start
    start = time.perf_counter()
    ours = evaluate_loss(model, tokenizer, files, max_chars=1365, batch_size=batch_size, max_samples=docs)
    ours_s = time.perf_counter() - start
    assert ours["pooled"]["tokens"] == peer_tokens
    diff = abs(ours["pooled"]["loss"] - peer_loss)
    print(
        f"domain loss: {len(texts)} docs, {peer_tokens} tokens: ours {ours_s:.1f}s ({peer_tokens / ours_s:.0f} tok/s, "
        f"padding {ours['padding_fraction']:.1%}), official padded {peer_s:.1f}s ({peer_tokens / peer_s:.0f} tok/s); "
        f"loss {ours['pooled']['loss']:.6f} vs {peer_loss:.6f} (|diff| {diff:.1e})"
    )
    return [
        {"name": "domain_loss_tokens_per_s", "ours": peer_tokens / ours_s, "peer": peer_tokens / peer_s,
         "goal": ">=1.5x", "unit": "tokens/s", "peer_name": "official eval_loss.py padded batches (bs 16)"},
        {"name": "domain_loss_abs_diff", "ours": diff, "peer": 1e-4, "goal": "<=1e-4 (ratio <= 1)"},
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subjects", type=int, default=4, help="CMMLU subjects (first N available)")
    parser.add_argument("--limit", type=int, default=40, help="questions per subject")
    parser.add_argument("--loss-docs", type=int, default=24, help="documents per domain file")
    parser.add_argument("--preset", default="skywork-tiny")
    parser.add_argument("--vocab", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=8, help="MCQ batch size (both sides)")
    parser.add_argument("--full", action="store_true", help="all subjects, all questions, all documents")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2, help="MCQ timing rounds (best counts)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = shared_data_dir()
    if data is None:
        raise SystemExit("../shared/data not found (set SKYWORK_SHARED_DATA)")

    from skywork.tokenizer import load

    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = load(build_tiny_tokenizer(Path(tmp) / "tok", vocab_size=args.vocab), chat=False)
    model = build_tiny_model(len(tokenizer), preset=args.preset, max_position_embeddings=8192)
    print(
        f"model {args.preset} ({sum(p.numel() for p in model.parameters()) / 1e6:.1f}M params), vocab {len(tokenizer)}"
    )

    cmmlu = data / "haonan-li+CMMLU/data"
    subjects = list_subjects(cmmlu, "cmmlu")
    if not args.full:
        subjects = subjects[: args.subjects]
    limit = None if args.full else args.limit
    results = bench_mcq(model, tokenizer, cmmlu, subjects, limit, args.batch_size, args.repeats)
    loss_dir = data / "SkyworkAI+Skywork/data/eval_loss"
    files = sorted(p for p in loss_dir.glob("zh_*.jsonl"))
    results += bench_loss(model, tokenizer, files, None if args.full else args.loss_docs)
    report("eval_speed", results)


if __name__ == "__main__":
    main()
