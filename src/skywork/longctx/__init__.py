"""LongSkywork context extension (spec section 1): RoPE scaling and chunk-interleaved pretraining data.

- ``rope``: ``extend_config`` / ``extend_model_dir``: linear, dynamic NTK, NTK-aware base change, YaRN and
  llama3-style scaling through transformers' own RoPE parameters (``skywork longctx extend``).
- ``cip``: chunk-interleaved pretraining samples (k short documents cut at sentence ends and interleaved
  round-robin) written as a token stream the pretraining mixture reads (``skywork longctx cip``).
- ``long_cpt``: the long-context continued-pretraining stage on the one loop (``skywork longctx cpt``), and
  ``context_parallel``: its sequence sharding with PyTorch's ring attention (CUDA only).
- ``stages``: the recipe stages ``longctx_extend``, ``cip``, ``synl`` and ``longctx_eval``.
- ``cli``: the ``skywork longctx`` command group (``extend``, ``cip``, ``synl``, ``cpt``); ``eval_cli``: the
  ``skywork eval longtable`` and ``position-loss`` commands.

The evaluators live with the others: ``skywork.eval.needle``, ``skywork.eval.longtable``,
``skywork.eval.position_loss``.
"""
