"""Skywork-MM: a SigLIP ViT + MLP projector + the Skywork LLM as transformers LLaVA (docs/mm.md)."""
