"""Moved to :mod:`skywork.inference.prefix` (the generation engine shares it); kept as a re-export for MCQ."""

from skywork.inference.prefix import PrefixCache, common_prefix_length, prefix_batches

__all__ = ["PrefixCache", "common_prefix_length", "prefix_batches"]
