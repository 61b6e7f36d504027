#!/usr/bin/env bash
# GPU check: one script, under 8 minutes on one H100/H200-class GPU, printing RESULT lines for
#   1. pretraining MFU of the ~1.2B Skywork-shaped model (bf16, SDPA flash attention, torch.compile), our loop and
#      HF Trainer side by side (bench/train_throughput.py --device cuda --preset 1b);
#   2. packed-SFT tokens/s (bench/sft_throughput.py when it exists; otherwise a SKIP line says so), then QLoRA:
#      a few LoRA SFT steps on a 4-bit and an 8-bit bitsandbytes base (peak memory against a bf16 base);
#   3. bitsandbytes int8 weight memory against bf16 on the same model, and the logits' agreement;
#   4. vLLM offline serving throughput (its own venv, installed only if the GPU build installs in time) against
#      HF generate on the same random-weight model.
# A bare machine is enough: it makes its own venv and installs torch, the project and bitsandbytes from the
# registry; it assumes nothing about CUDA beyond `nvidia-smi`. Every part runs under `timeout`, inside one overall
# deadline, so a slow install or a hang costs that part only. Never part of CI: not under tests/, not in `make`.
#
#   bash bench/gpu.sh                                    # on a GPU machine (needs the registry)
#   bash bench/gpu.sh --smoke --python .venv/bin/python  # the same flow on CPU with tiny sizes, no installs
#
# Options: --smoke (CPU, tiny sizes; with --python nothing is installed), --python PY (use this interpreter: no venv),
# --venv DIR (where to make the venv; default $TMPDIR/skywork-gpu-venv), --budget S (overall seconds; default 470, smoke 600).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SMOKE=0
PY=""
VENV="${TMPDIR:-/tmp}/skywork-gpu-venv"
BUDGET=""
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) SMOKE=1 ;;
    --python) PY="$2"; shift ;;
    --venv) VENV="$2"; shift ;;
    --budget) BUDGET="$2"; shift ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
# Smoke mode's CPU may be shared and slow: it gets more seconds; the GPU run must end within 8 minutes.
[ -z "$BUDGET" ] && { [ "$SMOKE" = 1 ] && BUDGET=600 || BUDGET=470; }
START=$(date +%s)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/skywork-gpu.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export PYTHONPATH="$ROOT/src${PYTHONPATH:+:$PYTHONPATH}"
export PIP_DISABLE_PIP_VERSION_CHECK=1 TOKENIZERS_PARALLELISM=false

left() { echo $((BUDGET - ($(date +%s) - START))); }
# box CAP MIN CMD...: run CMD under timeout min(CAP, time left); skip it when under MIN seconds are left.
box() {
  local cap=$1 min=$2 t; shift 2
  t=$(left); [ "$t" -gt "$cap" ] && t=$cap
  if [ "$t" -lt "$min" ]; then echo "SKIP $*: only ${t}s left of the ${BUDGET}s budget"; return 124; fi
  timeout --kill-after=10 "$t" "$@"
}
skip() { echo "SKIP $1: $2"; }

# --- 0. the machine -------------------------------------------------------------------------------------------
if [ "$SMOKE" = 1 ]; then
  DEVICE=cpu
  echo "smoke mode: CPU, tiny sizes (checks the flow, not the speed)"
elif command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
  DEVICE=cuda
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
else
  echo "no GPU (nvidia-smi missing or failing); run with --smoke to check the flow on CPU" >&2
  exit 1
fi

# --- 1. the environment: own venv with torch + the project (+ bitsandbytes on a GPU) ------------------------
if [ -z "$PY" ]; then
  python3 -m venv "$VENV" || { echo "cannot make a venv at $VENV" >&2; exit 1; }
  PY="$VENV/bin/python"
  EXTRAS=""; [ "$DEVICE" = cuda ] && EXTRAS="[gpu]"
  # torch first, within the project's pin: the registry's Linux wheel is the CUDA build.
  box 240 60 "$PY" -m pip install -q "torch>=2.4,<2.15" \
    && box 120 30 "$PY" -m pip install -q -e "$ROOT$EXTRAS" \
    || { echo "install failed or timed out" >&2; exit 1; }
fi
"$PY" -c "import torch, skywork; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" || exit 1
echo "setup done at $(( $(date +%s) - START ))s"

# --- 2. pretraining MFU: our loop vs HF Trainer ---------------------------------------------------------------
if [ "$DEVICE" = cuda ]; then
  TRAIN_ARGS=(--device cuda --preset 1b --seq-len 2048 --micro-batch 8 --steps 8 --warmup 3); TRAIN_CAP=170
else
  TRAIN_ARGS=(--device cpu --preset 80m --seq-len 32 --micro-batch 1 --steps 1 --warmup 1 --no-compile --threads 1)
  TRAIN_CAP=360
fi
box "$TRAIN_CAP" 60 "$PY" "$ROOT/bench/train_throughput.py" "${TRAIN_ARGS[@]}" \
  || echo "SKIP train_throughput: failed or timed out (exit $?)"

# --- 3. packed-SFT tokens/s ------------------------------------------------------------------------------------
if [ -f "$ROOT/bench/sft_throughput.py" ]; then
  SFT_ARGS=(--device "$DEVICE"); [ "$SMOKE" = 1 ] && SFT_ARGS+=(--smoke)
  box 60 20 "$PY" "$ROOT/bench/sft_throughput.py" "${SFT_ARGS[@]}" \
    || echo "SKIP sft_throughput: failed or timed out (exit $?)"
else
  skip sft_packed_tokens_per_s "bench/sft_throughput.py does not exist yet (packing lives in skywork.finetune)"
fi

# --- 3b. QLoRA: a few LoRA SFT steps on a 4-bit and an 8-bit base (bitsandbytes), against a full-precision base
if [ "$DEVICE" = cuda ]; then
  box 120 30 "$PY" - "$WORK" <<'EOF' || echo "SKIP qlora: failed or timed out"
import json, sys
from pathlib import Path

import torch
from peft import PeftModel

from skywork.model import load_model
from skywork.testing import build_tiny_model, build_tiny_tokenizer, write_tiny_model_dir
from skywork.tokenizer import load
from skywork.train.finetune_config import SFTConfig
from skywork.train.sft import run_sft
from skywork.utils.config import from_dict

work = Path(sys.argv[1]) / "qlora"
tok_dir = build_tiny_tokenizer(work / "tok", vocab_size=1000)
model = build_tiny_model(len(load(tok_dir)), preset="skywork-small", num_hidden_layers=4)
base = write_tiny_model_dir(work / "base", model, tok_dir)
rows = work / "sft.jsonl"
rows.write_text("".join(json.dumps({"instruction": f"Add {i} and {i + 1}.", "output": f"{2 * i + 1}."}) + "\n"
                        for i in range(64)))
peak = {}
for quantize in ("none", "4bit", "8bit"):
    torch.cuda.reset_peak_memory_stats()
    config = from_dict(SFTConfig, {
        "output_dir": str(work / f"run-{quantize}"), "model": {"init_from": str(base)},
        "data": {"files": [str(rows)], "max_seq_len": 64, "seq_len": 256, "heldout_examples": 8, "samples": 1},
        "lora": {"enabled": True, "r": 8, "alpha": 16, "target_modules": ["all-linear"], "quantize": quantize},
        "max_steps": 4, "eval_every": 4, "save_every": 4, "micro_batch_size": 2, "precision": "bf16",
        "device": "cuda", "progress": False, "tensorboard": False, "plots": False,
    })
    summary = run_sft(config, resume="never")
    peak[quantize] = torch.cuda.max_memory_allocated() / 2**20
    PeftModel.from_pretrained(load_model(base), str(work / f"run-{quantize}" / "final"))  # a plain PEFT adapter
    print(f"QLoRA {quantize}: loss {summary['final_loss']:.3f}, held-out {summary['val_loss']}, "
          f"peak {peak[quantize]:.0f} MiB")
for quantize in ("4bit", "8bit"):
    print(f"RESULT qlora_{quantize}_peak_mib ours={peak[quantize]:.4g} peer={peak['none']:.4g} "
          f"ratio={peak[quantize] / peak['none']:.3f} goal=<1 (the peer: LoRA on the full-precision base)")
EOF
else
  skip qlora "bitsandbytes 8/4-bit needs a CUDA GPU (the CPU refusal is tested in tests/finetune/test_lora.py)"
fi

# --- 4. a random-weight Skywork-shaped model dir (LLaMA class: vLLM and bitsandbytes load it natively),
#        its int8 memory (bitsandbytes) and HF generate's throughput (the peer of vLLM below) -------------------
SIZE=1b; [ "$SMOKE" = 1 ] && SIZE=tiny
box 90 20 "$PY" - "$ROOT" "$WORK" "$SIZE" "$DEVICE" <<'EOF' || echo "SKIP int8/hf_generate: failed or timed out"
import json, sys, time
from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM

root, work, size, device = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4]
sys.path.insert(0, str(root / "bench"))
from train_throughput import SHAPES, VOCAB  # noqa: E402

from skywork.model import make_config  # noqa: E402

shape = SHAPES["1b"] if size == "1b" else dict(
    hidden_size=128, intermediate_size=352, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4
)
vocab = VOCAB["1b"] if size == "1b" else 1024
config = make_config("skywork-small", **shape, vocab_size=vocab).to_dict()
for key in ("model_type", "architectures", "transformers_version", "auto_map"):
    config.pop(key, None)
torch.manual_seed(0)
model = LlamaForCausalLM(LlamaConfig(**config)).to(torch.bfloat16)
model_dir = work / "model"
model.save_pretrained(model_dir)
(work / "model.json").write_text(json.dumps({"vocab": vocab, "size": size}))
ids = torch.randint(3, vocab, (4, 64))

def result(name, ours, peer, goal):
    print(f"RESULT {name} ours={ours:.4g} peer={peer:.4g} ratio={ours / peer:.3f} goal={goal}")

# HF generate: the peer of vLLM (batch 32 x 128 new tokens after 256 prompt tokens; tiny in smoke mode)
batch, prompt, new = (32, 256, 128) if size == "1b" else (2, 8, 4)
model = LlamaForCausalLM.from_pretrained(model_dir, torch_dtype=torch.bfloat16, attn_implementation="sdpa").to(device)
prompts = torch.randint(3, vocab, (batch, prompt), device=device)
model.generate(prompts[:, :8], max_new_tokens=2, do_sample=False)  # warm-up
start = time.perf_counter()
model.generate(prompts, max_new_tokens=new, min_new_tokens=new, do_sample=False)
if device == "cuda":
    torch.cuda.synchronize()
hf_rate = batch * new / (time.perf_counter() - start)
(work / "hf_generate.json").write_text(json.dumps({"tokens_per_s": hf_rate, "batch": batch, "prompt": prompt, "new": new}))
print(f"HF generate: {hf_rate:,.0f} output tokens/s (batch {batch}, prompt {prompt}, {new} new tokens)")

if device != "cuda":
    print("SKIP int8_weight_memory: bitsandbytes int8 needs a CUDA GPU")
    sys.exit(0)
reference = model(ids.to(device)).logits.float()
bf16_bytes = model.get_memory_footprint()
del model
torch.cuda.empty_cache()
try:
    from transformers import BitsAndBytesConfig
    import bitsandbytes  # noqa: F401
except ImportError as error:
    print(f"SKIP int8_weight_memory: {error}")
    sys.exit(0)
int8 = LlamaForCausalLM.from_pretrained(
    model_dir, quantization_config=BitsAndBytesConfig(load_in_8bit=True), device_map={"": 0}, torch_dtype=torch.bfloat16
)
int8_bytes = int8.get_memory_footprint()
logits = int8(ids.to("cuda")).logits.float()
agree = (logits.argmax(-1) == reference.argmax(-1)).float().mean().item()
rel = ((logits - reference).norm() / reference.norm()).item()
print(f"bitsandbytes int8: {int8_bytes / 2**30:.2f} GiB vs bf16 {bf16_bytes / 2**30:.2f} GiB; "
      f"top-1 agreement {agree:.3f}, relative logit error {rel:.3f}")
result("int8_weight_memory_gib", int8_bytes / 2**30, bf16_bytes / 2**30, "<=0.6")
result("int8_top1_agreement", agree, 1.0, ">=0.9")
EOF

# --- 5. vLLM serving throughput (guarded: own venv, its own torch; skipped when it does not install in time) ----
if [ ! -d "$WORK/model" ]; then
  skip vllm_output_tokens_per_s "no model dir (part 4 failed)"
elif [ "$SMOKE" = 1 ] && ! "$PY" -c "import vllm" 2>/dev/null; then
  skip vllm_output_tokens_per_s "smoke mode installs nothing and vllm is not importable here"
else
  VPY="$PY"
  if ! "$PY" -c "import vllm" 2>/dev/null; then
    VVENV="$VENV-vllm"
    python3 -m venv "$VVENV" && box 200 120 "$VVENV/bin/python" -m pip install -q vllm && VPY="$VVENV/bin/python"
  fi
  if "$VPY" -c "import vllm" 2>/dev/null; then
    box 150 60 "$VPY" - "$WORK" <<'EOF' || echo "SKIP vllm_output_tokens_per_s: failed or timed out"
import json, sys, time
from pathlib import Path

from vllm import LLM, SamplingParams

work = Path(sys.argv[1])
meta, hf = json.loads((work / "model.json").read_text()), json.loads((work / "hf_generate.json").read_text())
llm = LLM(model=str(work / "model"), skip_tokenizer_init=True, dtype="bfloat16", max_model_len=1024,
          gpu_memory_utilization=0.5, seed=0)
import random

random.seed(0)
n, prompt, new = 256, hf["prompt"], hf["new"]
prompts = [{"prompt_token_ids": [random.randrange(3, meta["vocab"]) for _ in range(prompt)]} for _ in range(n)]
params = SamplingParams(max_tokens=new, min_tokens=new, ignore_eos=True, temperature=0.0, detokenize=False)
llm.generate(prompts[:8], params)  # warm-up
start = time.perf_counter()
outputs = llm.generate(prompts, params)
elapsed = time.perf_counter() - start
generated = sum(len(o.outputs[0].token_ids) for o in outputs)
rate = generated / elapsed
print(f"vLLM: {rate:,.0f} output tokens/s ({n} requests, prompt {prompt}, {new} new tokens each)")
print(f"RESULT vllm_output_tokens_per_s ours={rate:.4g} peer={hf['tokens_per_s']:.4g} "
      f"ratio={rate / hf['tokens_per_s']:.3f} goal=>=5 (peer: HF generate, batch {hf['batch']})")
EOF
  else
    skip vllm_output_tokens_per_s "vllm did not install within its time box"
  fi
fi

echo "gpu check done in $(( $(date +%s) - START ))s (budget ${BUDGET}s)"
