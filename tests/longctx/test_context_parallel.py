"""Context parallel: the row layout, the shifted labels, the CPU refusal (measured with 2 gloo processes) and the
dry-run memory plan per GPU at a long length."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import torch

from skywork.longctx.context_parallel import ContextParallelRows, check_supported, shift_labels
from skywork.longctx.long_cpt import LongCPTConfig
from skywork.train.batches import IGNORE_INDEX, Batch
from skywork.train.cluster_plan import GPUS, Shape, memory, resolve_layout
from skywork.utils.io import InputError


class CountingSource:
    """Rows numbered 0, 1, 2, ... (input id = row number) so the layout can be read back."""

    def __init__(self):
        self.next_row = 0

    def next_batch(self, rows: int) -> Batch:
        ids = torch.arange(self.next_row, self.next_row + rows)[:, None].expand(rows, 8).clone()
        self.next_row += rows
        return Batch(ids, ids.clone(), None, [f"r{i}" for i in ids[:, 0].tolist()])

    def validation_sets(self):
        return {}

    def log_fields(self):
        return {"next_row": self.next_row}

    def state_dict(self):
        return {"next_row": self.next_row}

    def load_state_dict(self, state):
        self.next_row = state["next_row"]


def test_ranks_of_a_context_group_get_the_same_rows():
    world, degree, micro = 4, 2, 2
    source = ContextParallelRows(CountingSource(), degree, micro)
    batch = source.next_batch(micro * world)
    per_rank = [batch.rows(slice(r * micro, (r + 1) * micro)).input_ids[:, 0].tolist() for r in range(world)]
    assert per_rank == [[0, 1], [0, 1], [2, 3], [2, 3]]  # ranks 0,1 = context group 0; ranks 2,3 = group 1
    assert source.state_dict() == {"next_row": 4}  # only the distinct rows were drawn
    assert source.next_batch(micro * world).input_ids[0, 0].item() == 4


def test_labels_are_shifted_before_sharding():
    labels = torch.tensor([[IGNORE_INDEX, 5, 6, 7]])
    assert shift_labels(labels).tolist() == [[5, 6, 7, IGNORE_INDEX]]


def test_refuses_what_it_cannot_run():
    check_supported(1, 1, 100, torch.device("cpu"))  # off: nothing to check
    with pytest.raises(InputError, match="multiple of context_parallel"):
        check_supported(4, 6, 1024, torch.device("cuda"))
    with pytest.raises(InputError, match="seq_len"):
        check_supported(4, 8, 1022, torch.device("cuda"))
    with pytest.raises(InputError, match="_scaled_dot_product_flash_attention_for_cpu"):
        check_supported(2, 2, 1024, torch.device("cpu"))


PROBE = textwrap.dedent(
    """
    import torch, torch.distributed as dist, torch.nn.functional as F
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor.experimental import context_parallel
    dist.init_process_group("gloo")
    mesh = init_device_mesh("cpu", (2,))
    q, k, v = (torch.randn(1, 2, 16, 8) for _ in range(3))
    try:
        with context_parallel(mesh, buffers=[q, k, v], buffer_seq_dims=[2, 2, 2]):
            F.scaled_dot_product_attention(q, k, v, is_causal=True)
        print("RING_ATTENTION_RAN")
    except NotImplementedError as error:
        print("NOT_IMPLEMENTED", error)
    dist.destroy_process_group()
    """
)


@pytest.mark.slow
def test_pytorch_ring_attention_has_no_cpu_kernel(tmp_path):
    """What check_supported says, measured: 2 gloo processes on CPU, torch's own context_parallel around SDPA."""
    script = tmp_path / "probe.py"
    script.write_text(PROBE)
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        "29653",
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([*command, str(script)], capture_output=True, text=True, timeout=120, env=env)
    out = proc.stdout + proc.stderr
    assert "RING_ATTENTION_RAN" not in out, "PyTorch now runs ring attention on CPU: test it for real here"
    assert out.count("NOT_IMPLEMENTED") == 2, out[-2000:]
    assert "_scaled_dot_product_flash_attention_for_cpu" in out


def _config(seq_len: int, context: int, checkpointing: bool = True) -> LongCPTConfig:
    from skywork.utils.config import from_dict

    return from_dict(
        LongCPTConfig,
        {
            "output_dir": "unused",
            "tokenizer": "unused",
            "model": {"preset": "skywork-13b"},
            "data": {"seq_len": seq_len, "cross_document_attention": True},
            "micro_batch_size": 1,
            "activation_checkpointing": checkpointing,
            "context_parallel": context,
            "plan": {"gpu": "h100-80g", "zero_stage": 3, "param_bytes": "megatron"},
        },
    )


def test_plan_per_gpu_at_128k_tokens_with_and_without_context_parallel():
    from skywork.model import make_config

    shape = Shape.of(make_config("skywork-13b"))
    gpu = GPUS["h100-80g"]
    alone = memory(shape, resolve_layout(_config(131072, 1), world_size=64), gpu)
    layout = resolve_layout(_config(131072, 8), world_size=64)
    sharded = memory(shape, layout, gpu)
    assert layout.name == "DP8+CP8+ZeRO-3" and layout.data == 8
    assert sharded["activations"] == pytest.approx(alone["activations"] / 8)
    assert sharded["logits"] == pytest.approx(alone["logits"] / 8)
    assert sharded["ring_buffers"] > 0 and alone["ring_buffers"] == 0
    assert not alone["fits"] and sharded["fits"]  # 128K tokens of a 13B model: only with the sequence sharded
    no_ckpt = memory(shape, resolve_layout(_config(131072, 8, checkpointing=False), world_size=64), gpu)
    assert not no_ckpt["fits"]  # and only with activation checkpointing


def test_dry_run_plans_the_context_parallel_layout():
    from skywork.train.plan import plan

    result = plan(_config(131072, 8), world_size=64)
    cluster = result["cluster"]
    assert cluster["context"] == 8 and cluster["layout"] == "DP8+CP8+ZeRO-3"
    assert cluster["speed"]["context_ring_s"] > 0
    assert result["batch"]["tokens_per_step"] == 8 * 131072  # one sequence per data-parallel group
    with pytest.raises(ValueError, match="multiple of tensor x pipeline x context"):
        plan(_config(131072, 8), world_size=12)


def test_cli_plans_and_refuses_on_cpu(tmp_path):
    from typer.testing import CliRunner

    from skywork.cli import app

    config = tmp_path / "long.yaml"
    config.write_text(
        "output_dir: unused\ntokenizer: unused\nmodel: {preset: skywork-13b}\n"
        "data: {seq_len: 131072, cross_document_attention: true}\nmicro_batch_size: 1\ncontext_parallel: 8\n"
        "device: cpu\nplan: {gpu: h100-80g, zero_stage: 3, param_bytes: megatron}\n"
    )
    planned = CliRunner().invoke(app, ["longctx", "cpt", str(config), "--dry-run", "--world-size", "64"])
    assert planned.exit_code == 0, planned.output
    assert "DP8+CP8+ZeRO-3" in planned.output
    refused = CliRunner().invoke(app, ["longctx", "cpt", str(config)])
    assert refused.exit_code != 0
    assert "_scaled_dot_product_flash_attention_for_cpu" in str(refused.exception) + refused.output
