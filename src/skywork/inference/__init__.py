"""Using a model: the generation engine (batched, KV-cached, greedy or sampled, streamed) and chat on top of it.

Later: int8 quantization, an OpenAI-compatible server.
"""

from skywork.inference.engine import Completion, GenerationEngine
from skywork.inference.sampling import SamplingParams

__all__ = ["Completion", "GenerationEngine", "SamplingParams"]
