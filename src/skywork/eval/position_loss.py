"""``skywork eval position-loss``: next-token loss by position over long documents (plot + JSON).

Does the loss keep falling past the training length (the model uses the far context), stay flat, or blow up
(RoPE positions it never saw)? Each document is tokenized as ``<s> text``; documents shorter than ``max_len`` are
joined with the next ones (``</s> <s>`` between them, as pretraining packs them) until a row of ``max_len`` tokens
is full, so every row covers every position; ``--no-join`` keeps documents apart and counts each position only
over the documents that reach it. The loss at position t is the cross-entropy of token t+1 given tokens 0..t,
averaged over rows and over buckets of ``bucket`` positions. The plot marks the trained length, read from the
model's ``longctx_extension.original_length`` when ``skywork longctx extend`` wrote it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from skywork.utils.config import field
from skywork.utils.io import InputError


@dataclass
class PositionLossConfig:
    """The ``position_loss`` keys (recipe ``longctx_eval`` stage)."""

    files: list[str] = field(
        help="Long documents: JSONL(.gz) with a text field, or .txt files (one document)."
    )
    max_len: int = field(4096, help="Positions evaluated (tokens per row).")
    bucket: int = field(64, help="Positions averaged per point of the curve.")
    max_rows: int = field(16, help="Rows of max_len tokens evaluated at most.")
    join: bool = field(True, help="Join short documents into full rows; false: one document per row.")
    text_field: str = field("text", help="The JSONL field holding the text.")
    batch_size: int = field(2, help="Rows per forward pass.")


def document_rows(config: PositionLossConfig, tokenizer) -> list[np.ndarray]:
    """Token rows of at most ``max_len`` tokens (see the module docstring)."""
    from skywork.train.cpt import read_documents

    docs, _ = read_documents(list(config.files), tokenizer, config.text_field)
    rows: list[np.ndarray] = []
    if not config.join:
        rows = [d[: config.max_len] for d in docs if len(d) > 1]
    else:
        stream = np.concatenate(docs)
        for start in range(0, len(stream) - config.max_len + 1, config.max_len):
            rows.append(stream[start : start + config.max_len])
        if not rows:
            raise InputError(
                f"the documents hold {len(stream)} tokens, fewer than one row of max_len {config.max_len}",
                field="files",
            )
    return rows[: config.max_rows]


def trained_length(model_config) -> int | None:
    """The length the model was trained at, when ``longctx extend`` recorded it."""
    extension = getattr(model_config, "longctx_extension", None) or {}
    return extension.get("original_length") if isinstance(extension, dict) else None


def run_position_loss(model, tokenizer, config: PositionLossConfig, progress: bool = False) -> dict:
    """Loss per position (summed over rows) -> per-bucket means, with the token counts behind each point."""
    import torch

    from skywork.utils.progress import progress as progress_bar

    rows = document_rows(config, tokenizer)
    device = next(model.parameters()).device
    positions = max(len(r) for r in rows) - 1
    loss_sum, counts = np.zeros(positions), np.zeros(positions)
    model.eval()
    with torch.no_grad(), progress_bar("position loss", len(rows), unit="rows", enabled=progress) as bar:
        for start in range(0, len(rows), config.batch_size):
            batch = rows[start : start + config.batch_size]
            groups = [batch] if len({len(r) for r in batch}) == 1 else [[r] for r in batch]
            for group in groups:  # rows of one length go together (always, when documents are joined)
                ids = torch.as_tensor(np.stack(group), dtype=torch.long, device=device)
                logits = model(input_ids=ids).logits[:, :-1].float()
                losses = torch.nn.functional.cross_entropy(
                    logits.transpose(1, 2), ids[:, 1:], reduction="none"
                ).sum(0)
                loss_sum[: len(losses)] += losses.cpu().numpy()
                counts[: len(losses)] += len(group)
            bar.advance(len(batch))
    edges = list(range(0, positions, config.bucket))
    curve = []
    for lo in edges:
        hi = min(lo + config.bucket, positions)
        n = counts[lo:hi].sum()
        curve.append({"start": lo, "end": hi, "loss": float(loss_sum[lo:hi].sum() / n), "tokens": int(n)})
    trained = trained_length(model.config)
    inside = [c["loss"] for c in curve if trained is None or c["end"] <= trained]
    beyond = [c["loss"] for c in curve if trained is not None and c["start"] >= trained]
    return {
        "files": [str(f) for f in config.files],
        "max_len": config.max_len,
        "bucket": config.bucket,
        "rows": len(rows),
        "trained_length": trained,
        "max_position_embeddings": getattr(model.config, "max_position_embeddings", None),
        "curve": curve,
        "mean_loss_within_trained": float(np.mean(inside)) if inside else None,
        "mean_loss_beyond_trained": float(np.mean(beyond)) if beyond else None,
    }


def plot_position_loss(curves: dict[str, dict], path: str | Path) -> Path:
    """One line per model (label -> results), the trained length dashed."""
    from skywork.utils.plotting import pyplot, save_figure

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    trained = set()
    for label, res in curves.items():
        mids = [(c["start"] + c["end"]) / 2 for c in res["curve"]]
        ax.plot(mids, [c["loss"] for c in res["curve"]], marker=".", label=label)
        if res.get("trained_length"):
            trained.add(res["trained_length"])
    for t in sorted(trained):
        ax.axvline(t, linestyle="--", color="grey", linewidth=1)
    ax.set_xlabel("position (tokens)")
    ax.set_ylabel("next-token loss (nats)")
    ax.set_title("loss by position" + (f" (dashed: trained length {', '.join(map(str, sorted(trained)))})"
                                       if trained else ""))  # fmt: skip
    ax.legend()
    return save_figure(fig, path)


def write_position_loss_results(out_dir: str | Path, results: dict, model: str | None = None) -> Path:
    """``summary.json`` (kind ``position_loss``) and ``position_loss.png`` in ``out_dir``."""
    from skywork.utils.summary import write_summary

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    label = Path(model).name if model else "model"
    plot = plot_position_loss({label: results}, out_dir / "position_loss.png")
    return write_summary(out_dir, "position_loss", results | {"model": model}, plots={"position_loss": plot})
