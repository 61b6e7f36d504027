import json

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM
from typer.testing import CliRunner

from skywork.cli import app
from skywork.testing import build_tiny_model, write_official_checkpoint


def test_export_llama_gives_identical_logits(tmp_path, tiny_tokenizer_dir):
    model = build_tiny_model(vocab_size=1000)
    src = write_official_checkpoint(model, tmp_path / "src", fmt="bin")
    for f in ("tokenizer.model", "tokenizer_config.json"):
        (src / f).write_bytes((tiny_tokenizer_dir / f).read_bytes())
    result = CliRunner().invoke(app, ["export", "llama", str(src), str(tmp_path / "llama")])
    assert result.exit_code == 0, result.output
    out = tmp_path / "llama"
    config = json.loads((out / "config.json").read_text())
    assert config["model_type"] == "llama" and config["architectures"] == ["LlamaForCausalLM"]
    assert "auto_map" not in config
    llama = AutoModelForCausalLM.from_pretrained(out)
    assert type(llama) is LlamaForCausalLM
    ids = torch.randint(0, 1000, (2, 9))
    with torch.no_grad():
        assert torch.equal(llama(ids).logits, model(ids).logits)
    tok = AutoTokenizer.from_pretrained(out)
    assert tok.decode(tok.encode("hello world"), skip_special_tokens=True).strip() == "hello world"


def test_model_dirs_are_written_with_the_kv_cache_on(tmp_path):
    """Training turns use_cache off; a saved directory must not pass that on to generate (no cache: 3x slower)."""
    from transformers import GenerationConfig

    from skywork.testing import write_tiny_model_dir

    model = build_tiny_model(300, seed=0)
    model.config.use_cache = False  # as skywork.train.build leaves it
    out = write_tiny_model_dir(tmp_path / "m", model)
    assert json.loads((out / "config.json").read_text())["use_cache"] is True
    assert model.config.use_cache is False  # the training model's own config is left alone
    assert GenerationConfig.from_model_config(LlamaForCausalLM.config_class.from_pretrained(out)).use_cache
