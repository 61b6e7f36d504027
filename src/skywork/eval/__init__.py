"""Evaluation: domain loss (cross-tokenizer normalised), C-Eval / CMMLU / MMLU, GSM8K and the leakage test.

Every protocol follows the official Skywork evaluation scripts (spec section 3.6) exactly; the speed comes from
how the work is batched (length-sorted batches, a shared few-shot KV cache), never from changing what is computed.
"""

from skywork.eval.leakage import leakage_test
from skywork.eval.loss import evaluate_loss

__all__ = ["evaluate_loss", "leakage_test"]
