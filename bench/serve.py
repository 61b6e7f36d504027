"""Serving throughput through the official ``openai`` client: each engine present vs transformers' ``generate``.

For every engine found (``builtin`` always; ``vllm`` when its environment exists, ``make serve-setup``) a real
server is started in its own process on one model, and 1, 4 and 16 concurrent streams each ask for
``--max-tokens`` greedy tokens (``ignore_eos``, so every stream generates exactly that many). Figures: aggregate
generated tokens/s (all streams' tokens over the wall time of the round) and the mean time to first token. The
peer is ``model.generate(do_sample=False)`` in the same process on the same model: sequential batch 1 and one
left-padded batch of 16. Goals (issue 16): at 16 streams at least 10x sequential ``generate``; one stream at
least 2x. The peer runs right before each engine's server starts, and each round runs ``--repeats`` times (the
median counts): on a shared 2-core machine both speeds drift 20-40% within minutes. Also the int8 weight memory of the 13B preset against bf16 (meta device; goal at most 0.55x).

The model: ``--model DIR`` (e.g. the demo's ``runs/demo/model``), else skywork-small widths (heads of 64, which
vLLM's CPU attention supports) with ``--layers`` layers, random weights and the tiny test tokenizer. Wall clock:
the servers are other processes.

    python bench/serve.py [--model DIR] [--layers 8] [--max-tokens 64] [--streams 1,4,16] [--dtype bf16] \
        [--engines builtin,builtin-compile,vllm,builtin-int8] [--repeats 3] [--vllm-eager] [--vllm-arg=--stream-interval=4 ...]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from _common import report, tiny_model_dir  # noqa: E402
from skywork.serve.vllm import VLLMServer, check_extra_args, find_vllm_python, free_port  # noqa: E402

SERVED = "bench"
PROMPTS = [f"def function_{i}(x, y):\n    " for i in range(64)]


class BuiltinProcess:
    """``skywork serve --engine builtin`` in its own process (the client must not share its interpreter)."""

    def __init__(self, model: Path, dtype: str, log: Path, extra: tuple[str, ...] = ()):
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "skywork.cli", "serve", str(model), "--engine", "builtin"]
        command += ["--port", str(self.port), "--served-model-name", SERVED, "--dtype", dtype, *extra]
        self.log = open(log, "wb")
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT)

    def __enter__(self):
        import httpx

        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if httpx.get(self.base_url + "/health", timeout=5).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.5)
        raise RuntimeError(f"the builtin server did not start (see {self.log.name})")

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.wait(60)
        self.log.close()


async def one_stream(client, prompt: str, max_tokens: int) -> tuple[int, float]:
    """(completion tokens, seconds to the first text) of one streamed completion."""
    start, first = time.perf_counter(), None
    stream = await client.completions.create(
        model=SERVED,
        prompt=prompt,
        max_tokens=max_tokens,
        temperature=0.0,
        stream=True,
        stream_options={"include_usage": True},
        extra_body={"ignore_eos": True},
    )
    tokens = 0
    async for chunk in stream:
        if first is None and chunk.choices and chunk.choices[0].text:
            first = time.perf_counter() - start
        if chunk.usage is not None:
            tokens = chunk.usage.completion_tokens
    return tokens, first if first is not None else time.perf_counter() - start


async def measure(base_url: str, streams: int, max_tokens: int) -> dict:
    import openai

    async with openai.AsyncOpenAI(
        base_url=base_url + "/v1", api_key="unused", max_retries=0, timeout=900
    ) as client:
        await one_stream(client, PROMPTS[-1], 4)  # warm-up
        start = time.perf_counter()
        results = await asyncio.gather(*(one_stream(client, PROMPTS[i], max_tokens) for i in range(streams)))
        wall = time.perf_counter() - start
    tokens = sum(t for t, _ in results)
    assert tokens == streams * max_tokens, (tokens, streams, max_tokens)
    return {"tokens_per_s": tokens / wall, "ttft_s": sum(f for _, f in results) / streams, "wall_s": wall}


def generate_peer(model_dir: Path, dtype: str, max_tokens: int, sequential: int) -> dict:
    """transformers' greedy ``generate``: ``sequential`` prompts one by one, then one left-padded batch of 16."""
    from skywork.model import load_model
    from skywork.tokenizer import load

    model = load_model(model_dir, dtype=dtype)
    tokenizer = load(model_dir)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    kwargs = dict(
        do_sample=False,
        max_new_tokens=max_tokens,
        min_new_tokens=max_tokens,
        pad_token_id=tokenizer.pad_token_id,
    )
    with torch.no_grad():
        model.generate(**tokenizer([PROMPTS[-1]], return_tensors="pt"), max_new_tokens=4, do_sample=False)
        start = time.perf_counter()
        for prompt in PROMPTS[:sequential]:
            model.generate(**tokenizer([prompt], return_tensors="pt"), **kwargs)
        batch1 = sequential * max_tokens / (time.perf_counter() - start)
        start = time.perf_counter()
        model.generate(**tokenizer(PROMPTS[:16], return_tensors="pt", padding=True), **kwargs)
        batch16 = 16 * max_tokens / (time.perf_counter() - start)
    return {"batch1": batch1, "batch16": batch16}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--model", type=Path, help="model directory (default: skywork-small widths, random weights)"
    )
    ap.add_argument(
        "--layers", type=int, default=8, help="depth of the generated model (8: the demo's 42M model)"
    )
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--streams", default="1,4,16")
    ap.add_argument(
        "--dtype", default="bf16", choices=["fp32", "bf16"], help="builtin and generate (vLLM: bf16)"
    )
    ap.add_argument(
        "--engines",
        default="builtin,builtin-compile,vllm",
        help="any of vllm and builtin[-int8][-compile] (skywork serve --quantize int8 / --compile)",
    )
    ap.add_argument("--sequential", type=int, default=4, help="prompts run one by one through generate")
    ap.add_argument("--repeats", type=int, default=3, help="rounds per stream count; the median is reported")
    ap.add_argument("--vllm-eager", action="store_true", help="vLLM without torch.compile (faster start)")
    ap.add_argument(
        "--vllm-arg",
        action="append",
        default=[],
        help="extra vLLM server argument, repeatable (as skywork serve)",
    )
    args = ap.parse_args()
    streams = [int(s) for s in args.streams.split(",")]
    work = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    model_dir = args.model or tiny_model_dir(work, args.layers)

    engines = [e for e in args.engines.split(",") if e != "vllm" or find_vllm_python() is not None]
    results = []
    for engine in engines:
        # the peer right before this engine's server starts (while no server runs: vLLM's idle engine polls):
        # on this shared 2-core machine the speed of both drifts by 20-40% within minutes
        peer = generate_peer(model_dir, args.dtype, args.max_tokens, args.sequential)
        print(f"generate: batch 1 {peer['batch1']:.1f} tokens/s, batch 16 {peer['batch16']:.1f} tokens/s")
        if not results:
            results.append(
                {"name": "generate_tokens_per_s_batch16", "ours": peer["batch16"], "peer": peer["batch1"],
                 "goal": "info"}
            )  # fmt: skip
        start = time.perf_counter()
        if engine.startswith("builtin"):  # builtin[-int8][-compile]
            flags = engine.split("-")[1:]
            if set(flags) - {"int8", "compile"}:
                raise SystemExit(f"unknown engine {engine!r}: builtin[-int8][-compile] or vllm")
            extra = ("--quantize", "int8") if "int8" in flags else ()  # our int8 weight-only, online
            extra += ("--compile",) if "compile" in flags else ()  # the decoding step compiled
            server = BuiltinProcess(model_dir, args.dtype, work / f"{engine}.log", extra)
        else:
            from skywork.serve.prepare import prepare_vllm_dir

            prepared = prepare_vllm_dir(model_dir, cache_root=work / "cache")
            server = VLLMServer(
                prepared, SERVED, port=0, kvcache_gib=1, log_path=work / "vllm.log",
                extra_args=(["--enforce-eager"] if args.vllm_eager else []) + check_extra_args(args.vllm_arg),
            )  # fmt: skip
        with server:
            started = time.perf_counter() - start
            print(f"{engine}: started in {started:.0f} s")
            for n in streams:
                rounds = [
                    asyncio.run(measure(server.base_url, n, args.max_tokens)) for _ in range(args.repeats)
                ]
                m = sorted(rounds, key=lambda r: r["tokens_per_s"])[len(rounds) // 2]  # the median round
                spread = ", ".join(f"{r['tokens_per_s']:.1f}" for r in rounds)
                print(
                    f"{engine}: {n:2d} streams {m['tokens_per_s']:7.1f} tokens/s (rounds {spread}), "
                    f"first token {m['ttft_s']:.3f} s"
                )
                label = "1_stream" if n == 1 else f"{n}_streams"
                goal = ">=2x" if n == 1 else ">=10x" if n == 16 else "info"
                results.append(
                    {"name": f"serve_tokens_per_s_{label}_{engine.replace('-', '_')}", "ours": m["tokens_per_s"],
                     "peer": peer["batch1"], "goal": goal, "unit": "tokens/s", "peer_name": "generate batch 1",
                     "ttft_s": m["ttft_s"], "start_s": started, "rounds": [r["tokens_per_s"] for r in rounds]}
                )  # fmt: skip
    from skywork.model.config import make_config
    from skywork.model.quantize import memory_row

    row = memory_row(make_config("skywork-13b"), "skywork-13b")
    results.append(
        {
            "name": "int8_weight_memory",
            "ours": row["int8_gib"],
            "peer": row["bf16_gib"],
            "goal": "<=0.55x",
            "unit": "GiB",
        }
    )
    report("serve", results)
    shutil.rmtree(work, ignore_errors=True)
    for r in results:
        if "ttft_s" in r:
            print(f"TTFT {r['name']}: {r['ttft_s']:.3f} s")


if __name__ == "__main__":
    main()
