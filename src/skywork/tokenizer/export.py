"""Write a trained SentencePiece model as a tokenizer directory that HF and :func:`skywork.tokenizer.load` read.

Files: ``tokenizer.model`` (the SentencePiece model, the reference), ``tokenizer.json`` (the equivalent
``tokenizers`` BPE of :mod:`skywork.tokenizer.fast`), ``tokenizer_config.json`` (class, BOS/EOS policy, reserved
tokens, chat template) and ``special_tokens_map.json``. The config names ``SkyworkTokenizerFast`` only when the
fast tokenizer gave SentencePiece's ids on every verification text (and a built-in stress set); otherwise it
names the exact SentencePiece-backed ``SkyworkTokenizer``.

``split_special_tokens`` is true: text that merely contains ``</s>`` or ``[USER]`` encodes as text. The chat
template and :mod:`skywork.tokenizer.chat` ask for special tokens explicitly.
"""

from __future__ import annotations

import json
from pathlib import Path

import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as sp_pb2

from skywork.tokenizer.chat import CHAT_TEMPLATE
from skywork.tokenizer.fast import build_fast_tokenizer, compare_with_sentencepiece

# Texts that exercise whitespace, digits, byte fallback and special-token look-alikes.
STRESS_TEXTS = [
    "",
    " ",
    "  ",
    "\n",
    "\r\n\t",
    "Hello world",
    " leading and trailing ",
    "multiple    spaces\tand\ttabs",
    "digits 1234567890 and 3.14159",
    "def f(x):\n    return x ** 2  # comment\n",
    "今天天气很好，我们一起去公园散步。",
    "中文English混合2023年12月31日",
    "emoji 😀🎉 and 𠀀𪚥 (CJK ext B)",
    "control \x00\x01\x1f\x7f chars",
    "text with </s> and <s> and [USER] [BOT] [SEP] <pad> <unk>",
    "▁already▁has▁metaspace",
    "<0x41> looks like a byte piece",
    "ﬁ ligature，full-width！（）",
]


def tokenizer_config(tokenizer_class: str, reserved_tokens: list[str]) -> dict:
    return {
        "tokenizer_class": tokenizer_class,
        "add_bos_token": True,
        "add_eos_token": False,
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "pad_token": "<pad>",
        "legacy": True,
        "clean_up_tokenization_spaces": False,
        "split_special_tokens": True,
        "model_max_length": 4096,
        "sp_model_kwargs": {},
        "chat_template": CHAT_TEMPLATE,
        "added_tokens_decoder": {
            str(i): {
                "content": token,
                "lstrip": False,
                "rstrip": False,
                "normalized": False,
                "single_word": False,
                "special": True,
            }
            for i, token in enumerate(reserved_tokens)
        },
    }


def write_tokenizer_dir(
    proto: sp_pb2.ModelProto, out_dir: str | Path, reserved_tokens: list[str], verify_texts: list[str] = ()
) -> dict:
    """Write the four tokenizer files; returns the fast-vs-SentencePiece check."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model_bytes = proto.SerializeToString()
    (out_dir / "tokenizer.model").write_bytes(model_bytes)
    sp = spm.SentencePieceProcessor(model_proto=model_bytes)
    for i, token in enumerate(reserved_tokens):
        if sp.id_to_piece(i) != token:
            raise RuntimeError(f"reserved token {token!r} expected at id {i}, found {sp.id_to_piece(i)!r}")

    fast = build_fast_tokenizer(proto, reserved_tokens)
    check = compare_with_sentencepiece(fast, sp, list(verify_texts) + STRESS_TEXTS)
    fast.encode_special_tokens = False
    fast.save(str(out_dir / "tokenizer.json"))
    check["identical"] = check["mismatches"] == 0
    tokenizer_class = "SkyworkTokenizerFast" if check["identical"] else "SkyworkTokenizer"
    check["tokenizer_class"] = tokenizer_class
    config = tokenizer_config(tokenizer_class, reserved_tokens)
    (out_dir / "tokenizer_config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False))
    special_map = {
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "pad_token": "<pad>",
        "additional_special_tokens": reserved_tokens[3:4] + reserved_tokens[4:6],
    }
    special_map["additional_special_tokens"] = [t for t in reserved_tokens[3:] if t != "<pad>"]
    (out_dir / "special_tokens_map.json").write_text(json.dumps(special_map, indent=2))
    return check
