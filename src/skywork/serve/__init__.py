"""Serving: vLLM's OpenAI-compatible server on a directory prepared from any of our models, or the builtin one.

- ``prepare``: ``prepare_vllm_dir``, the plain-LLaMA copy vLLM loads (tokenizer.json with our ids, the official
  chat template and sampling defaults), cached by the source's digest.
- ``vllm``: ``VLLMServer``, start / health check / logs / clean shutdown of vLLM in its own environment.
- ``builtin``: ``BuiltinServer``, the same OpenAI API from FastAPI + uvicorn on the generation engine (where
  vLLM cannot be installed); ``protocol`` (request bodies, OpenAI-shaped errors), ``scheduler`` (batching).
- ``cli``: ``skywork serve``, ``skywork quantize`` and ``skywork export gguf``.
"""

from skywork.serve.prepare import PrepareError, prepare_vllm_dir
from skywork.serve.vllm import ServeError, VLLMServer, find_vllm_python

__all__ = ["PrepareError", "ServeError", "VLLMServer", "find_vllm_python", "prepare_vllm_dir"]
