"""The official Skywork chat encoding and a matching HF chat template.

Official single turn (spec 3.4, the repo's ``special_encode``): ``[2, 1]`` (``</s><s>``), then
``encode("[USER]" + prompt.strip())[1:]`` (auto-BOS dropped), the ``[SEP]`` id, then ``encode("[BOT]")[1:]``.

Multi-turn (not specified officially; our choice, documented in docs/tokenizer.md): turns are the single-turn
form repeated, each reply following its ``[BOT]`` and closed by the next turn's leading ``</s>`` (or a final
``</s>`` when a finished conversation is encoded for training). A system message, if any, is prefixed to the
first user prompt followed by a newline.
"""

from __future__ import annotations

from collections.abc import Sequence

USER, BOT, SEP = "[USER]", "[BOT]", "[SEP]"
CHAT_MARKERS = (USER, BOT, SEP)

# Jinja template producing exactly the ids of :func:`encode_chat` when tokenized without extra special tokens.
CHAT_TEMPLATE = (
    "{%- set ns = namespace(system='') -%}"
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'system' -%}{%- set ns.system = message['content'] | trim -%}"
    "{%- elif message['role'] == 'user' -%}"
    "</s><s>[USER]{{ (ns.system + '\n' if ns.system else '') + (message['content'] | replace('\r', '') | trim) }}"
    "[SEP][BOT]{%- set ns.system = '' -%}"
    "{%- elif message['role'] == 'assistant' -%}{{ message['content'] }}"
    "{%- if loop.last -%}</s>{%- endif -%}"
    "{%- endif -%}"
    "{%- endfor -%}"
)


def ensure_chat_markers(tokenizer) -> list[int]:
    """Make ``[USER]``, ``[BOT]``, ``[SEP]`` single tokens, as the official client's ``add_tokens`` does."""
    # A lookup per marker, not ``get_vocab()``: that builds the whole vocabulary dict, and this runs once per turn
    # (61 s of the mm-demo's 105 s alignment stage went there). A missing token maps to the unknown id (or None).
    ids = tokenizer.convert_tokens_to_ids(list(CHAT_MARKERS))
    missing = [m for m, i in zip(CHAT_MARKERS, ids, strict=True) if i is None or i == tokenizer.unk_token_id]
    if missing:
        tokenizer.add_tokens(missing)
        ids = tokenizer.convert_tokens_to_ids(list(CHAT_MARKERS))
    return ids


def _encode_no_bos(tokenizer, text: str) -> list[int]:
    # The construction asks for the markers as special tokens, also where the directory sets split_special_tokens.
    ids = tokenizer.encode(text, split_special_tokens=False)
    return ids[1:] if ids and ids[0] == tokenizer.bos_token_id else ids


def encode_turn(tokenizer, prompt: str) -> list[int]:
    """The official single-turn encoding, id for id."""
    ensure_chat_markers(tokenizer)
    raw = USER + prompt.replace("\r", "").strip() + SEP + BOT
    sep_id = tokenizer.convert_tokens_to_ids(SEP)
    ids = [tokenizer.eos_token_id, tokenizer.bos_token_id]
    for i, piece in enumerate(raw.split(SEP)):
        if i:
            ids.append(sep_id)
        ids.extend(_encode_no_bos(tokenizer, piece))
    return ids


def encode_chat(tokenizer, messages: Sequence[dict], add_generation_prompt: bool = True) -> list[int]:
    """Encode a conversation (``[{"role", "content"}]``); ends at ``[BOT]`` when the last message is the user's."""
    ids: list[int] = []
    system = ""
    for i, message in enumerate(messages):
        role, content = message["role"], message["content"]
        if role == "system":
            system = content.strip()
        elif role == "user":
            ids.extend(
                encode_turn(tokenizer, (system + "\n" if system else "") + content.replace("\r", "").strip())
            )
            system = ""
        elif role == "assistant":
            ids.extend(_encode_no_bos(tokenizer, content) if content else [])
            if i == len(messages) - 1:
                ids.append(tokenizer.eos_token_id)
        else:
            raise ValueError(f"message {i}: unknown role {role!r} (expected system, user or assistant)")
    return ids


def extract_reply(text: str) -> str:
    """The official ``extract_res`` post-processing of a decoded generation (without its first-char drop)."""
    if BOT in text:
        text = text.split(BOT)[-1]
    if "<s>" in text:
        text = text.split("<s>")[-1]
    if "</s>" in text:
        text = text.split("</s>")[0]
    if SEP in text:
        text = text.split(SEP)[0]
    return text.strip()
