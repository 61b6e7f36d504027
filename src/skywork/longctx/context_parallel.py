"""Context parallelism for long sequences: PyTorch's own ring attention over DTensor (as torchtitan), on the one loop.

A 13B model at 100K-200K tokens does not hold one sequence's activations on one GPU. With ``context_parallel: C``
(``long_cpt`` stage, under torchrun with WORLD_SIZE divisible by C) the world is a (data, context) mesh of
``W / C x C`` ranks: the C ranks of a context group take the same rows, and inside
``torch.distributed.tensor.experimental.context_parallel`` each keeps 1/C of every sequence (input ids, position
ids and the already shifted labels are sharded along the sequence); SDPA is replaced by PyTorch's ring attention,
which passes K/V blocks around the group. No home-made ring: this module only lays out rows, shards the buffers
and scales the loss.

- Rows: :class:`ContextParallelRows` wraps any batch source; each data group's rows are repeated C times in the
  global batch, so ``rows(own_rows)`` hands the C ranks of a group the same rows (the loop stays as it is).
- Loss: :func:`context_parallel_loss_sum` is the loop's ``loss_sum`` hook. Labels are shifted before sharding
  (a shard's last token predicts the next shard's first), so every token's loss is computed on exactly one rank.
  The result is multiplied by C: the loop divides by the global number of predicted tokens, which counts each
  row C times, and the gradient wrapper averages over all W ranks; so the gradient is exactly the one-process
  gradient (docs/longctx.md, "Context parallel").
- Positions: sequences must be one causal stream per row (``cross_document_attention: true``; a packed
  block-diagonal mask is not something the ring kernel takes). Position ids ``0..S-1`` are sharded with the
  inputs, so RoPE sees the global positions. Load balancing (PyTorch's round-robin of causal chunks) is off:
  transformers would read its non-monotonic position ids as packed documents; the cost is the causal imbalance
  (the last rank computes the most).

Where it runs: PyTorch 2.13's ring attention dispatches only the CUDA SDPA kernels (flash, efficient, cuDNN). On
CPU ``aten._scaled_dot_product_flash_attention_for_cpu`` has no sharding strategy and the first attention call
raises ``NotImplementedError`` (measured with 2 gloo processes; tests/longctx/test_context_parallel.py keeps that
fact checked), so :func:`check_supported` refuses CPU before training starts; on CPU the dry-run plan
(``skywork train pretrain CONFIG --dry-run``, ``plan.context_parallel``) is what is tested.
"""

from __future__ import annotations

import torch

from skywork.train.batches import IGNORE_INDEX, Batch
from skywork.utils.io import InputError

CPU_UNSUPPORTED = (
    "PyTorch's context parallel (ring attention) has no CPU kernel: "
    "aten._scaled_dot_product_flash_attention_for_cpu has no sharding strategy (torch {version}); "
    "run context_parallel > 1 on CUDA, or plan it with --dry-run"
)


def check_supported(degree: int, world: int, seq_len: int, device: torch.device) -> None:
    """Refuse a layout context parallel cannot run, before any weight loads."""
    if degree <= 1:
        return
    if device.type != "cuda":
        raise InputError(CPU_UNSUPPORTED.format(version=torch.__version__), field="context_parallel")
    if world % degree:
        raise InputError(
            f"WORLD_SIZE {world} is not a multiple of context_parallel {degree}", field="context_parallel"
        )
    if seq_len % degree:
        raise InputError(
            f"seq_len {seq_len} is not a multiple of context_parallel {degree}", field="data.seq_len"
        )


def context_mesh(world: int, degree: int, device_type: str):
    """The (data, context) device mesh; ranks d*C .. d*C + C-1 form context group d."""
    from torch.distributed.device_mesh import init_device_mesh

    return init_device_mesh(device_type, (world // degree, degree), mesh_dim_names=("data", "context"))


class ContextParallelRows:
    """A batch source whose global batches repeat each data group's rows for the C ranks of its context group."""

    def __init__(self, source, degree: int, micro_batch_size: int):
        self.source, self.degree, self.micro = source, degree, micro_batch_size

    def next_batch(self, rows: int) -> Batch:
        distinct = rows // self.degree
        batch = self.source.next_batch(distinct)
        order = [
            group * self.micro + i
            for group in range(distinct // self.micro)
            for _ in range(self.degree)
            for i in range(self.micro)
        ]
        index = torch.as_tensor(order)
        return Batch(
            batch.input_ids[index],
            batch.labels[index],
            None if batch.position_ids is None else batch.position_ids[index],
            [batch.sources[i] for i in order],
            None if batch.attention_mask is None else batch.attention_mask[index],
        )

    def validation_sets(self) -> dict[str, Batch]:
        return self.source.validation_sets()

    def log_fields(self) -> dict:
        return self.source.log_fields()

    def state_dict(self) -> dict:
        return self.source.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.source.load_state_dict(state)


def shift_labels(labels: torch.Tensor) -> torch.Tensor:
    """Label t+1 moved to position t (the last position predicts nothing): what sharding needs."""
    shifted = torch.full_like(labels, IGNORE_INDEX)
    shifted[:, :-1] = labels[:, 1:]
    return shifted


def make_loss_sum(mesh, degree: int):
    """The loop's ``loss_sum`` hook: the model's loss over this rank's 1/C of each sequence, times C."""
    from torch.distributed.tensor.experimental import context_parallel
    from torch.distributed.tensor.experimental._attention import _cp_options

    _cp_options.enable_load_balance = False  # see the module docstring (positions stay monotonic)
    context_group = mesh["context"]

    def loss_sum(model, batch: Batch, device: torch.device, loss_fn=None) -> tuple[torch.Tensor, int]:
        if batch.attention_mask is not None or batch.position_ids is not None:
            raise InputError(
                "context parallel needs one causal sequence per row: set data.cross_document_attention: true",
                field="data.cross_document_attention",
            )
        input_ids = batch.input_ids.to(device)
        labels = shift_labels(batch.labels.to(device))
        positions = torch.arange(input_ids.shape[1], device=device).expand_as(input_ids).contiguous()
        with context_parallel(
            context_group, buffers=[input_ids, labels, positions], buffer_seq_dims=[1, 1, 1]
        ):
            logits = model(input_ids=input_ids, position_ids=positions, use_cache=False).logits
            loss = torch.nn.functional.cross_entropy(
                logits.float().reshape(-1, logits.shape[-1]),
                labels.reshape(-1),
                ignore_index=IGNORE_INDEX,
                reduction="sum",
            )
        return loss * degree, batch.predicted_tokens()

    return loss_sum
