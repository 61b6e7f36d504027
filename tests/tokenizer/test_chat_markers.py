"""``ensure_chat_markers`` adds the official markers once, to a tokenizer that lacks them, by lookups."""

from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from skywork.tokenizer.chat import ensure_chat_markers


def test_missing_markers_are_added_once_and_found_after():
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2, "a": 3, "b": 4}
    inner = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    inner.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = PreTrainedTokenizerFast(
        tokenizer_object=inner, unk_token="<unk>", bos_token="<s>", eos_token="</s>"
    )
    ids = ensure_chat_markers(tok)
    assert len(set(ids)) == 3 and tok.unk_token_id not in ids and len(tok) == 8
    assert ensure_chat_markers(tok) == ids and len(tok) == 8  # present now: nothing added the second time
    assert tok.convert_ids_to_tokens(ids) == ["[USER]", "[BOT]", "[SEP]"]
