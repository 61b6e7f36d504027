"""Synthetic data generators: seeded, deterministic, JSONL files plus a ``manifest.json`` (see :mod:`.base`).

Generators:

- :mod:`.demo_corpus` (``DemoCorpus``, ``generate_corpus``): the bilingual SkyPile-shaped demo corpus with planted
  defects, validation sets and leakage splits (the ``demo_corpus`` recipe stage); it draws on :mod:`.lexicon`
  (bilingual templates and vocabulary) and :mod:`.stem` (GSM8K-style word problems).

The coming generators (instruction data for fine-tuning, long tables for long context, math problems for SkyMath,
images for the multimodal model) subclass :class:`.base.SyntheticGenerator` beside it.
"""

from skywork.data.synth.base import GeneratorConfig, JsonlFile, SyntheticGenerator

__all__ = ["GeneratorConfig", "JsonlFile", "SyntheticGenerator"]
