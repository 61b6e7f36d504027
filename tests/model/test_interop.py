"""The HF ecosystem works on our model class without glue (PEFT, accelerate's big-model loading)."""

import torch
from accelerate import init_empty_weights, load_checkpoint_and_dispatch
from peft import LoraConfig, PeftModel, get_peft_model

from skywork.model import SkyworkConfig, SkyworkForCausalLM
from skywork.testing import build_tiny_model


def test_peft_lora_trains_saves_and_reloads(tmp_path):
    base = build_tiny_model(vocab_size=300)
    base.save_pretrained(tmp_path / "base")
    lora = get_peft_model(
        base, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM")
    )
    trainable = sum(p.numel() for p in lora.parameters() if p.requires_grad)
    assert 0 < trainable < sum(p.numel() for p in lora.parameters()) / 10
    ids = torch.randint(0, 300, (2, 12))
    optim = torch.optim.AdamW([p for p in lora.parameters() if p.requires_grad], lr=1e-2)
    first = lora(input_ids=ids, labels=ids).loss
    for _ in range(5):
        loss = lora(input_ids=ids, labels=ids).loss
        loss.backward()
        optim.step()
        optim.zero_grad()
    assert loss.item() < first.item()
    lora.save_pretrained(tmp_path / "adapter")
    reloaded = PeftModel.from_pretrained(
        SkyworkForCausalLM.from_pretrained(tmp_path / "base"), tmp_path / "adapter"
    )
    with torch.no_grad():
        torch.testing.assert_close(reloaded(input_ids=ids).logits, lora(input_ids=ids).logits)


def test_accelerate_big_model_loading(tmp_path):
    model = build_tiny_model(vocab_size=300)
    model.save_pretrained(tmp_path / "m")
    with init_empty_weights():
        empty = SkyworkForCausalLM(SkyworkConfig.from_pretrained(tmp_path / "m"))
    assert empty.model.embed_tokens.weight.device.type == "meta"
    loaded = load_checkpoint_and_dispatch(empty, str(tmp_path / "m"), device_map={"": "cpu"})
    ids = torch.randint(0, 300, (1, 8))
    with torch.no_grad():
        torch.testing.assert_close(loaded(ids).logits, model(ids).logits)
