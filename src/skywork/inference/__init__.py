"""Using a model: streaming generation, chat (later: int8 quantization, an OpenAI-compatible server)."""
