"""Tokenizer loading (official Skywork directories and ours) and the official chat format."""

from __future__ import annotations

import json
from pathlib import Path

from skywork.tokenizer.chat import CHAT_TEMPLATE, encode_chat, encode_turn, ensure_chat_markers, extract_reply
from skywork.tokenizer.hf import SkyworkTokenizer, SkyworkTokenizerFast


def load(path: str | Path, chat: bool = True):
    """Load a tokenizer directory without remote code.

    Official directories name ``SkyworkTokenizer`` with an ``auto_map``; ``import skywork`` registers that name,
    so ``AutoTokenizer`` resolves it locally. Directories whose config names ``SkyworkTokenizerFast`` (written by
    the trainer after verifying ``tokenizer.json`` id for id) load the ``tokenizers``-backed class. With ``chat=True`` the chat markers are ensured (as the official
    client does) and the chat template is set when the directory has none.
    """
    from transformers import AutoTokenizer

    import skywork  # noqa: F401  (registers the tokenizer classes)

    path = Path(path)
    if not (path / "tokenizer.model").exists() and not (path / "tokenizer.json").exists():
        raise FileNotFoundError(f"{path}: no tokenizer.model or tokenizer.json")
    cfg_file = path / "tokenizer_config.json"
    tokenizer_class = None
    if cfg_file.exists():
        try:
            tokenizer_class = json.loads(cfg_file.read_text()).get("tokenizer_class")
        except json.JSONDecodeError as err:
            raise ValueError(f"{cfg_file}: invalid JSON ({err.msg})") from None
    if tokenizer_class == "SkyworkTokenizerFast" and (path / "tokenizer.json").exists():
        # transformers 5's AutoTokenizer drops the "Fast" suffix and would pick the SentencePiece class.
        tokenizer = SkyworkTokenizerFast.from_pretrained(str(path))
    else:
        tokenizer = AutoTokenizer.from_pretrained(str(path), trust_remote_code=False)
    if chat:
        ensure_chat_markers(tokenizer)
        if not getattr(tokenizer, "chat_template", None):
            tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


__all__ = [
    "CHAT_TEMPLATE",
    "SkyworkTokenizer",
    "SkyworkTokenizerFast",
    "encode_chat",
    "encode_turn",
    "ensure_chat_markers",
    "extract_reply",
    "load",
]
