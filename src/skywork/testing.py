"""Builders for tiny tokenizers and models, used by the test suite and the benchmarks (never by production code).

Nothing here downloads: the tokenizer is a real SentencePiece BPE trained in about a second on text taken from
Python's own standard library plus a few generated Chinese sentences.
"""

from __future__ import annotations

import copy
import json
import sysconfig
from pathlib import Path

import sentencepiece as spm
import torch

from skywork.model.checkpoint import save_model_dir
from skywork.model.config import make_config
from skywork.model.modeling import SkyworkForCausalLM
from skywork.utils.paths import shared_data_dir

__all__ = [
    "build_tiny_model",
    "build_tiny_tokenizer",
    "shared_data_dir",  # re-exported for the tests; production code imports skywork.utils.paths
    "stdlib_text",
    "write_official_checkpoint",
]

_ZH = [
    "今天天气很好，我们一起去公园散步。",
    "机器学习是人工智能的一个重要分支。",
    "他在北京大学学习数学和物理。",
    "这本书讲述了一个关于友谊的故事。",
    "中国的长江是亚洲最长的河流。",
    "请把窗户打开，房间里太热了。",
    "小明有3个苹果，又买了5个，一共有8个苹果。",
    "数据清洗是训练大模型的第一步。",
]


def stdlib_text(max_files: int = 30, max_chars: int = 400_000) -> str:
    """Source text from the running Python's standard library (always on the machine, deterministic order)."""
    lib = Path(sysconfig.get_paths()["stdlib"])
    chunks, total = [], 0
    for path in sorted(lib.glob("*.py"))[:max_files]:
        text = path.read_text(encoding="utf-8", errors="replace")
        chunks.append(text)
        total += len(text)
        if total > max_chars:
            break
    return "\n".join(chunks)


def build_tiny_tokenizer(
    out_dir: str | Path,
    vocab_size: int = 1000,
    official_style: bool = True,
    texts: list[str] | None = None,
    character_coverage: float = 0.9995,
) -> Path:
    """Train a small LLaMA-recipe SentencePiece BPE (byte fallback, split digits, identity normalisation).

    ``official_style`` writes the tokenizer_config.json the released Skywork model ships (``SkyworkTokenizer``
    with a remote-code ``auto_map``), which ``import skywork`` must load without remote code. ``texts`` replaces
    the default training text (standard-library source plus some Chinese), e.g. a bench's own problems.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = texts if texts is not None else [ln for ln in stdlib_text().splitlines() if ln.strip()] + _ZH * 20
    corpus = out_dir / "corpus.txt"
    corpus.write_text("\n".join(lines), encoding="utf-8")
    from skywork.tokenizer.train import LLAMA_BPE_ARGS

    spm.SentencePieceTrainer.train(
        input=str(corpus),
        model_prefix=str(out_dir / "tokenizer"),
        vocab_size=vocab_size,
        character_coverage=character_coverage,
        **LLAMA_BPE_ARGS,
        num_threads=2,
        minloglevel=2,
        max_sentence_length=100_000,
    )
    corpus.unlink()
    (out_dir / "tokenizer.vocab").unlink()
    config = {
        "add_bos_token": True,
        "add_eos_token": False,
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "pad_token": None,
        "clean_up_tokenization_spaces": False,
        "legacy": True,
        "sp_model_kwargs": {},
        "tokenizer_class": "SkyworkTokenizer",
    }
    if official_style:
        config["auto_map"] = {"AutoTokenizer": ["tokenization_skywork.SkyworkTokenizer", None]}
    (out_dir / "tokenizer_config.json").write_text(json.dumps(config, indent=2))
    return out_dir


def build_tiny_model(
    vocab_size: int, seed: int = 0, preset: str = "skywork-tiny", **overrides
) -> SkyworkForCausalLM:
    """A randomly initialised model (fp32, eval mode) with deterministic weights."""
    torch.manual_seed(seed)
    model = SkyworkForCausalLM(make_config(preset, vocab_size=vocab_size, **overrides))
    return model.eval()


def write_tiny_model_dir(
    out_dir: str | Path, model: SkyworkForCausalLM, tokenizer_dir: str | Path | None = None
) -> Path:
    """``model`` (and the tokenizer files of ``tokenizer_dir``) as one of our model directories."""
    return save_model_dir(
        out_dir,
        model.config,
        model.state_dict(),
        architecture="SkyworkForCausalLM",
        tokenizer_dir=tokenizer_dir,
    )


def write_official_checkpoint(
    model: SkyworkForCausalLM, out_dir: str | Path, fmt: str = "bin", max_shard_bytes: int = 200_000
) -> Path:
    """Write ``model`` the way the official Skywork release is laid out (sharded .bin + index, remote auto_map)."""
    out_dir = Path(out_dir)
    config = copy.deepcopy(
        model.config
    )  # save_model_dir sets architectures; leave the model's own config alone
    save_model_dir(
        out_dir,
        config,
        model.state_dict(),
        architecture="SkyworkForCausalLM",
        fmt=fmt,
        max_shard_bytes=max_shard_bytes,
    )
    # The release's config.json predates transformers 5: flat rope_theta, a remote-code auto_map.
    official = config.to_dict()
    official.update(
        {
            "model_type": "skywork",
            "auto_map": {
                "AutoConfig": "configuration_skywork.SkyworkConfig",
                "AutoModelForCausalLM": "modeling_skywork.SkyworkForCausalLM",
            },
            "torch_dtype": "float32",
        }
    )
    rope = official.pop("rope_parameters", None) or {}
    official["rope_theta"] = rope.get("rope_theta", 10000.0)
    official["rope_scaling"] = None
    for key in ("dtype", "transformers_version", "_name_or_path"):
        official.pop(key, None)
    (out_dir / "config.json").write_text(json.dumps(official, indent=2))
    return out_dir
