"""A ``tokenizers`` BPE that gives exactly SentencePiece's ids, built from the SentencePiece model itself.

SentencePiece BPE encodes by repeatedly merging the adjacent pair whose concatenation is a vocabulary piece with
the highest score (ties: leftmost). It has no merge list: *any* split of a piece into two vocabulary pieces is a
valid merge. A ``tokenizers`` BPE merges listed pairs by rank (ties: leftmost). So the equivalent merge list holds
every pair ``(a, b)`` with ``a``, ``b`` and ``a + b`` normal pieces, ranked by the score of ``a + b``. Generic
converters list only some pairs (or rank them by the pieces' ids), which is why they can disagree.

Normalisation is SentencePiece's legacy LLaMA behaviour with identity rules: spaces become ``▁`` and a ``▁`` is
prepended to every text segment (also after a special token, as the slow tokenizer does).
"""

from __future__ import annotations

from collections.abc import Iterable

from sentencepiece import sentencepiece_model_pb2 as sp_pb2

NORMAL = sp_pb2.ModelProto.SentencePiece.NORMAL
CONTROL = sp_pb2.ModelProto.SentencePiece.CONTROL
UNKNOWN = sp_pb2.ModelProto.SentencePiece.UNKNOWN


def merges_from_proto(proto: sp_pb2.ModelProto) -> list[tuple[str, str]]:
    """Every pair of normal pieces whose concatenation is a normal piece, best merged piece first."""
    normal = {p.piece: (i, p.score) for i, p in enumerate(proto.pieces) if p.type == NORMAL}
    ranked = []
    for piece, (index, score) in normal.items():
        for cut in range(1, len(piece)):
            left, right = piece[:cut], piece[cut:]
            if left in normal and right in normal:
                ranked.append((-score, index, cut, left, right))
    ranked.sort()
    return [(left, right) for *_, left, right in ranked]


def build_fast_tokenizer(proto: sp_pb2.ModelProto, special_tokens: Iterable[str]):
    """A ``tokenizers.Tokenizer`` equivalent to the SentencePiece model (BOS added, as LLaMA/Skywork do)."""
    from tokenizers import AddedToken, Tokenizer, decoders, normalizers, processors
    from tokenizers.models import BPE

    vocab = {p.piece: i for i, p in enumerate(proto.pieces)}
    unk = next(p.piece for p in proto.pieces if p.type == UNKNOWN)
    model = BPE(
        vocab=vocab,
        merges=merges_from_proto(proto),
        unk_token=unk,
        fuse_unk=True,
        byte_fallback=True,
        dropout=None,
    )
    tokenizer = Tokenizer(model)
    tokenizer.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tokenizer.pre_tokenizer = None
    tokenizer.decoder = decoders.Sequence(
        [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)]
    )
    bos = proto.pieces[1].piece
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos}:0 $A:0", pair=f"{bos}:0 $A:0 {bos}:1 $B:1", special_tokens=[(bos, 1)]
    )
    tokenizer.add_special_tokens(
        [
            AddedToken(t, special=True, normalized=False, single_word=False, lstrip=False, rstrip=False)
            for t in special_tokens
        ]
    )
    return tokenizer


def compare_with_sentencepiece(tokenizer, sp, texts: Iterable[str], limit: int = 20) -> dict:
    """Encode ``texts`` with both (special tokens as text); count mismatches and keep the first few."""
    tokenizer.encode_special_tokens = True
    texts = list(texts)
    fast_ids = [e.ids for e in tokenizer.encode_batch(texts, add_special_tokens=False)]
    sp_ids = sp.encode(texts)
    mismatches = []
    for text, ours, ref in zip(texts, fast_ids, sp_ids, strict=True):
        if ours != ref:
            mismatches.append(text)
    return {
        "texts": len(texts),
        "chars": sum(len(t) for t in texts),
        "mismatches": len(mismatches),
        "examples": [t[:200] for t in mismatches[:limit]],
    }
