"""LongSkywork context extension (spec section 1): RoPE scaling and chunk-interleaved pretraining data.

- ``rope``: ``extend_config`` / ``extend_model_dir``: linear, dynamic NTK, NTK-aware base change, YaRN and
  llama3-style scaling through transformers' own RoPE parameters (``skywork longctx extend``).
- ``cip``: chunk-interleaved pretraining samples (k short documents cut at sentence ends and interleaved
  round-robin) written as a token stream the pretraining mixture reads (``skywork longctx cip``).
- ``cli``: the ``skywork longctx`` command group (``extend``, ``cip``, and ``synl`` for the SynL tables of
  ``skywork.data.synth.long_tables``).

The needle-in-a-haystack test lives with the other evaluators (``skywork.eval.needle``).
"""
