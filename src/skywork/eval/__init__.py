"""Evaluation: domain loss (cross-tokenizer normalised), C-Eval / CMMLU / MMLU, GSM8K and the leakage test.

``suite`` runs several models on all of them (``skywork eval run SUITE.yaml``, the recipe's evaluate stage);
each benchmark builds ``requests`` that one ``adapter.ModelAdapter`` answers (lm-evaluation-harness's split).

Every protocol follows the official Skywork evaluation scripts (spec section 3.6) exactly; the speed comes from
how the work is batched (length-sorted batches, a shared few-shot KV cache), never from changing what is computed.
The public functions are imported lazily so ``skywork eval --help`` does not load torch.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "run_suite": "skywork.eval.suite",
    "SuiteConfig": "skywork.eval.suite",
    "ModelAdapter": "skywork.eval.adapter",
    "evaluate_loss": "skywork.eval.loss",
    "leakage_test": "skywork.eval.leakage",
    "evaluate_mcq": "skywork.eval.mcq",
    "evaluate_gsm8k": "skywork.eval.gsm8k",
    "ngram_overlap": "skywork.eval.overlap",
    "export_lm_eval": "skywork.eval.lm_eval_export",
}


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'skywork.eval' has no attribute {name!r}")


__all__ = list(_EXPORTS)
