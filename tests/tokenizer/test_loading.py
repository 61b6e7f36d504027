import sentencepiece as spm
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from transformers import AutoTokenizer

from skywork.tokenizer import CHAT_TEMPLATE, SkyworkTokenizer, encode_chat, encode_turn, load

SAMPLES = [
    "Hello world 12345",
    "  def f(x):\n\treturn x  ",
    "今天天气很好，我们一起去公园散步。",
    "emoji 😀 and 𠀀 (CJK ext B)",
    "mixed 中文 and English 2023年",
    "\n\nA",
    " leading space",
]


def test_official_style_directory_loads_without_remote_code(tiny_tokenizer_dir):
    tok = AutoTokenizer.from_pretrained(tiny_tokenizer_dir)  # auto_map present, trust_remote_code not given
    assert isinstance(tok, SkyworkTokenizer)
    assert tok.add_bos_token is True and tok.add_eos_token is False
    assert tok.convert_tokens_to_ids(["<unk>", "<s>", "</s>"]) == [0, 1, 2]


def test_ids_identical_to_raw_sentencepiece(tiny_tokenizer_dir, tiny_tokenizer):
    sp = spm.SentencePieceProcessor(model_file=str(tiny_tokenizer_dir / "tokenizer.model"))
    for text in SAMPLES:
        assert tiny_tokenizer.encode(text) == [1] + sp.encode(text), text
        assert tiny_tokenizer.decode(tiny_tokenizer.encode(text), skip_special_tokens=True) == sp.decode(
            sp.encode(text)
        )


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40))
def test_decode_matches_sentencepiece(tiny_tokenizer_dir, text):
    sp = spm.SentencePieceProcessor(model_file=str(tiny_tokenizer_dir / "tokenizer.model"))
    tok = load(tiny_tokenizer_dir)
    # Added chat markers and special tokens match inside text by design (the official client's add_tokens).
    assume(not any(m in text for m in ("[USER]", "[BOT]", "[SEP]", "<s>", "</s>", "<unk>")))
    assert tok.encode(text, add_special_tokens=False) == sp.encode(text)
    assert tok.decode(sp.encode(text)) == sp.decode(sp.encode(text))


def test_chat_encoding_is_the_official_construction(tiny_tokenizer):
    tok = tiny_tokenizer
    prompt = "  你好，请介绍一下北京。\r\n"
    sep = tok.convert_tokens_to_ids("[SEP]")
    expected = (
        [2, 1] + tok.encode("[USER]" + prompt.replace("\r", "").strip())[1:] + [sep] + tok.encode("[BOT]")[1:]
    )
    assert encode_turn(tok, prompt) == expected
    assert len(tok.encode("[USER]")) == 2, "[USER] must be a single added token, as in the official client"
    via_template = tok.apply_chat_template(
        [{"role": "user", "content": prompt}], tokenize=True, add_generation_prompt=True
    )
    if not isinstance(via_template, list):
        via_template = via_template["input_ids"]
    assert list(via_template) == expected
    assert tok.chat_template == CHAT_TEMPLATE


def test_multi_turn_template_matches_encode_chat(tiny_tokenizer):
    messages = [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello there"},
        {"role": "user", "content": "1+1?"},
    ]
    ids = encode_chat(tiny_tokenizer, messages)
    rendered = tiny_tokenizer.apply_chat_template(messages, tokenize=False)
    assert rendered == "</s><s>[USER]You are helpful.\nhi[SEP][BOT]hello there</s><s>[USER]1+1?[SEP][BOT]"
    assert tiny_tokenizer.encode(rendered, add_special_tokens=False) == ids
