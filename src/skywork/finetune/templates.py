"""Conversation -> (input_ids, labels): the chat templates SFT trains with, and the label rules.

Two templates, both ending every answer with ``</s>`` so the model learns to stop:

- ``official``: the Skywork chat encoding (spec 3.4 and the multi-turn form of docs/tokenizer.md), taken from
  :func:`skywork.tokenizer.chat.encode_chat` itself, so training sees exactly what ``apply_chat_template`` and
  ``skywork chat`` produce. An answer's ``</s>`` is the token that closes it: the next turn's leading ``</s>``
  or the final one.
- ``raw``: the official ``train/build_dataset.py`` behaviour (spec 3.5): the instruction text with BOS and no
  markers, then ``answer + </s>``. Multi-turn rows repeat that per turn (the official code has no history);
  a system text is prefixed to the first prompt with a newline.

Labels are -100 on prompt tokens (unless ``train_on_prompt``) and on history answers when ``mask_history``; the
first token of an example never has a label (nothing precedes it, and in a packed row it must not be predicted
from the previous example).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from skywork.finetune.formats import Conversation
from skywork.tokenizer.chat import encode_chat

IGNORE = -100

# A template: (tokenizer, conversation) -> one (prompt ids, answer ids) pair per turn, concatenating to the
# whole encoded conversation. Answer ids include the closing </s>.
TurnEncoder = Callable[[object, Conversation], list[tuple[list[int], list[int]]]]


@dataclass
class Example:
    """One tokenized SFT example; ``labels[i]`` is the token the model should predict at position i."""

    input_ids: list[int]
    labels: list[int]
    truncated: bool = False  # cut to max_seq_len
    answer_truncated: bool = False  # the cut reached the trained answer (its </s> may be gone)
    source: str = ""

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def supervised_tokens(self) -> int:
        return sum(label != IGNORE for label in self.labels)


def official_turns(tokenizer, conversation: Conversation) -> list[tuple[list[int], list[int]]]:
    """Split ``encode_chat(conversation)`` into its turns' prompt and answer ids.

    Each piece is encoded by ``encode_chat`` on its own message(s) and the concatenation is checked against the
    whole conversation's ``encode_chat``, so this can never drift from the chat encoding.
    """
    messages = conversation.messages()
    whole = encode_chat(tokenizer, messages)
    system = [{"role": "system", "content": conversation.system}] if conversation.system else []
    turns = []
    for i, turn in enumerate(conversation.turns):
        prompt = encode_chat(tokenizer, (system if i == 0 else []) + [{"role": "user", "content": turn.user}])
        if i > 0:  # its leading </s> closes the previous answer, which already holds it
            prompt = prompt[1:]
        answer = encode_chat(tokenizer, [{"role": "assistant", "content": turn.assistant}])
        turns.append((prompt, answer))
    pieces = [token for prompt, answer in turns for token in prompt + answer]
    if pieces != whole:
        raise RuntimeError(
            "encode_chat is no longer the concatenation of its turns; update finetune.templates.official_turns"
        )
    return turns


def raw_turns(tokenizer, conversation: Conversation) -> list[tuple[list[int], list[int]]]:
    """The official build_dataset.py encoding per turn: ``encode(prompt)`` (with BOS), then
    ``encode(answer, add_special_tokens=False) + [eos]``."""
    turns = []
    for i, turn in enumerate(conversation.turns):
        text = (conversation.system + "\n" if i == 0 and conversation.system else "") + turn.user
        prompt = tokenizer.encode(text)
        answer = tokenizer.encode(turn.assistant, add_special_tokens=False) + [tokenizer.eos_token_id]
        turns.append((prompt, answer))
    return turns


TEMPLATES: dict[str, TurnEncoder] = {"official": official_turns, "raw": raw_turns}


def encode_example(
    tokenizer,
    conversation: Conversation,
    template: str = "official",
    max_seq_len: int | None = None,
    mask_history: bool = False,
    train_on_prompt: bool = False,
) -> Example:
    """Tokenize and label one conversation; cut to ``max_seq_len`` keeping the last answer where possible.

    Every answer is trained by default; ``mask_history`` trains the last only; ``train_on_prompt`` trains the
    prompts too. Too long: tokens are cut from the left (oldest context first) as long as one token stays
    before the last answer; only when the last answer alone does not fit is it cut at the right.
    """
    if template not in TEMPLATES:
        raise ValueError(f"unknown template {template!r} (known: {', '.join(TEMPLATES)})")
    turns = TEMPLATES[template](tokenizer, conversation)
    ids: list[int] = []
    labels: list[int] = []
    for i, (prompt, answer) in enumerate(turns):
        ids += prompt + answer
        labels += prompt if train_on_prompt else [IGNORE] * len(prompt)
        trained = not mask_history or i == len(turns) - 1
        labels += answer if trained else [IGNORE] * len(answer)
    truncated = answer_truncated = False
    if max_seq_len is not None and len(ids) > max_seq_len:
        truncated = True
        answer_start = len(ids) - len(turns[-1][1])
        start = len(ids) - max_seq_len
        if start > answer_start - 1:  # the last answer does not fit with one token of context: cut its end
            start, answer_truncated = max(answer_start - 1, 0), True
        ids, labels = ids[start : start + max_seq_len], labels[start : start + max_seq_len]
    if labels:
        labels[0] = IGNORE
    return Example(ids, labels, truncated, answer_truncated, conversation.source)
