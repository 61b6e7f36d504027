"""HF tokenizer classes for Skywork's SentencePiece vocabulary.

``SkyworkTokenizer`` wraps the SentencePiece model directly, as the official code does (``use_fast=False``):
ids are identical to raw ``sentencepiece`` and ``decode(encode(x)) == x``. transformers 5's generic conversion
of a SentencePiece BPE into a ``tokenizers`` BPE does *not* reproduce SentencePiece's merge order (measured:
different ids on plain English), so the exact class is the default. ``SkyworkTokenizerFast`` is the
``tokenizers``-backed class that loads ``tokenizer.json`` as written (no rebuilt pipeline); the trainer
(:mod:`skywork.tokenizer.export`) names it only when that file's ids were verified identical to SentencePiece.

Both apply the chat template with special tokens recognised even when the directory sets
``split_special_tokens`` (ours do, so that text containing ``</s>`` or ``[USER]`` encodes as text).
"""

from __future__ import annotations

from transformers.tokenization_utils_sentencepiece import SentencePieceBackend
from transformers.tokenization_utils_tokenizers import TokenizersBackend


class _ChatTemplateSpecialTokens:
    """The rendered chat template contains the markers on purpose: tokenize it with special tokens recognised."""

    def apply_chat_template(self, conversation, *args, tokenizer_kwargs: dict | None = None, **kwargs):
        tokenizer_kwargs = {"split_special_tokens": False, **(tokenizer_kwargs or {})}
        return super().apply_chat_template(conversation, *args, tokenizer_kwargs=tokenizer_kwargs, **kwargs)


class SkyworkTokenizer(_ChatTemplateSpecialTokens, SentencePieceBackend):
    """LLaMA-style SentencePiece tokenizer: ``<unk>``=0, ``<s>``=1, ``</s>``=2, BOS added, EOS not."""

    vocab_files_names = {"vocab_file": "tokenizer.model"}
    model_input_names = ["input_ids", "attention_mask"]

    def __init__(
        self,
        vocab_file: str,
        unk_token: str = "<unk>",
        bos_token: str = "<s>",
        eos_token: str = "</s>",
        pad_token: str | None = None,
        add_bos_token: bool = True,
        add_eos_token: bool = False,
        legacy: bool = True,
        clean_up_tokenization_spaces: bool = False,
        **kwargs,
    ):
        self.add_bos_token = add_bos_token
        self.add_eos_token = add_eos_token
        super().__init__(
            vocab_file=vocab_file,
            unk_token=unk_token,
            bos_token=bos_token,
            eos_token=eos_token,
            pad_token=pad_token,
            add_bos_token=add_bos_token,
            add_eos_token=add_eos_token,
            legacy=legacy,
            clean_up_tokenization_spaces=clean_up_tokenization_spaces,
            **kwargs,
        )

    def build_inputs_with_special_tokens(self, token_ids_0: list[int], token_ids_1: list[int] | None = None):
        bos = [self.bos_token_id] if self.add_bos_token else []
        eos = [self.eos_token_id] if self.add_eos_token else []
        out = bos + token_ids_0 + eos
        if token_ids_1 is not None:
            out += bos + token_ids_1 + eos
        return out

    def get_special_tokens_mask(self, token_ids_0, token_ids_1=None, already_has_special_tokens=False):
        if already_has_special_tokens:
            return [1 if t in self.all_special_ids else 0 for t in token_ids_0]
        bos = [1] if self.add_bos_token else []
        eos = [1] if self.add_eos_token else []
        mask = bos + [0] * len(token_ids_0) + eos
        if token_ids_1 is not None:
            mask += bos + [0] * len(token_ids_1) + eos
        return mask

    def num_special_tokens_to_add(self, pair: bool = False) -> int:
        return (int(self.add_bos_token) + int(self.add_eos_token)) * (2 if pair else 1)

    def _decode(self, token_ids, skip_special_tokens: bool = False, **kwargs) -> str:
        """Decode with SentencePiece itself (byte fallback, spaces) between added tokens: lossless."""
        if isinstance(token_ids, int):
            token_ids = [token_ids]
        special = set(self.all_special_ids)
        base = self.sp_model.get_piece_size()
        pieces: list[str] = []
        run: list[int] = []
        for tid in token_ids:
            tid = int(tid)
            if skip_special_tokens and tid in special:
                continue
            added = self._added_tokens_decoder.get(tid)
            if added is not None or tid >= base:
                if run:
                    pieces.append(self.sp_model.decode(run))
                    run = []
                pieces.append(added.content if added is not None else "")
            else:
                run.append(tid)
        if run:
            pieces.append(self.sp_model.decode(run))
        return "".join(pieces)


class SkyworkTokenizerFast(_ChatTemplateSpecialTokens, TokenizersBackend):
    """``tokenizers``-backed variant (``tokenizer.json`` as written); use only when its ids are verified identical."""

    vocab_files_names = {"tokenizer_file": "tokenizer.json", "vocab_file": "tokenizer.model"}
    model_input_names = ["input_ids", "attention_mask"]

    def _decode(self, token_ids, skip_special_tokens: bool = False, **kwargs) -> str:
        """Decode the runs between added tokens separately, as SentencePiece does (each run drops its ``▁``)."""
        if isinstance(token_ids, int):
            token_ids = [token_ids]
        if isinstance(token_ids, dict):
            token_ids = token_ids["input_ids"]
        added = self._tokenizer.get_added_tokens_decoder()
        pieces: list[str] = []
        run: list[int] = []
        for tid in token_ids:
            tid = int(tid)
            token = added.get(tid)
            if token is None:
                run.append(tid)
                continue
            if run:
                pieces.append(self._tokenizer.decode(run, skip_special_tokens=False))
                run = []
            if not (skip_special_tokens and token.special):
                pieces.append(token.content)
        if run:
            pieces.append(self._tokenizer.decode(run, skip_special_tokens=False))
        return "".join(pieces)
