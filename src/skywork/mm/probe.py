"""Linear probes on the vision encoder's features: does the ViT still hold what a question kind asks?

When the model answers a kind badly, the information was lost either in the ViT (its patch features cannot tell
the answers apart) or later (projector, LLM, training diet). A linear classifier per question kind, trained on the
ViT features of training images and scored on held-out images, tells which: a high probe accuracy with a low
answer accuracy points past the encoder.

    skywork eval mm-probe runs/mm-demo/encoder/final runs/mm-demo/instruct/final --data runs/mm-demo/mm_data
    python -m skywork.mm.probe ...   (the same, without the CLI)
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict

import torch

from skywork.mm.data import read_image_rows
from skywork.mm.processor import pixels

PROBED_KINDS = ("color", "count", "shape", "position", "size", "reading", "chart", "digit", "tens", "units")
# tens / units: the two digits of the two-digit numbers of reading images, each probed alone (which one is lost?)


@torch.no_grad()
def vit_features(model, images: torch.Tensor, batch: int = 128) -> torch.Tensor:
    """The last ViT layer's patch features (what the projector reads), flattened per image: (n, patches * width)."""
    model.eval()
    out = []
    device = next(model.parameters()).device
    for start in range(0, len(images), batch):
        chunk = images[start : start + batch].to(device)
        hidden = model.model.vision_tower(pixel_values=chunk).last_hidden_state
        out.append(hidden.flatten(1).float().cpu())
    return torch.cat(out)


def labelled(rows: list[dict], limit: int) -> dict[str, list[tuple[int, str]]]:
    """kind -> [(row index, English answer)] (the first English question of the kind per image; a two-digit
    reading answer also gives its tens and units digits)."""
    found: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for index, row in enumerate(rows):
        seen = set()
        for qa in row["qa"]:
            kind = qa["kind"]
            if qa["lang"] == "en" and kind in PROBED_KINDS and kind not in seen and len(found[kind]) < limit:
                found[kind].append((index, qa["answer"]))
                seen.add(kind)
                if kind == "reading" and qa["answer"].isdigit() and len(qa["answer"]) == 2:
                    found["tens"].append((index, qa["answer"][0]))
                    found["units"].append((index, qa["answer"][1]))
    return found


def fit_probe(train_x, train_y, test_x, test_y, steps: int = 300, seed: int = 0) -> float:
    """Held-out accuracy of a softmax-regression probe (standardised features, L2, full-batch Adam)."""
    torch.manual_seed(seed)
    mean, std = train_x.mean(0), train_x.std(0) + 1e-5
    train_x, test_x = (train_x - mean) / std, (test_x - mean) / std
    classes = int(max(train_y.max(), test_y.max())) + 1
    probe = torch.nn.Linear(train_x.shape[1], classes)
    optimizer = torch.optim.Adam(probe.parameters(), lr=1e-2, weight_decay=1e-3)
    for _ in range(steps):
        loss = torch.nn.functional.cross_entropy(probe(train_x), train_y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        return float((probe(test_x).argmax(-1) == test_y).float().mean())


def _xy(pairs, feats, position, code) -> tuple[torch.Tensor, torch.Tensor]:
    return feats[[position[i] for i, _ in pairs]], torch.tensor([code[a] for _, a in pairs])


def probe_model(
    model_dir: str, data_dir: str, train_limit: int = 1500, test_limit: int = 300, device: str = "auto"
) -> dict:
    """Probe accuracy per question kind, and the share of the most common answer (the chance floor)."""
    from skywork.mm.model import load_mm_model
    from skywork.utils.device import resolve_device

    fresh = model_dir.startswith("fresh:")
    model = load_mm_model(model_dir.removeprefix("fresh:"))
    if fresh:  # the same ViT shape, untrained: what the pixels give a linear probe before any learning
        from transformers import AutoModel

        torch.manual_seed(0)
        model.model.vision_tower = AutoModel.from_config(model.config.vision_config)
    model.to(resolve_device(device))
    size = model.config.vision_config.image_size
    splits = {}
    for split, limit in (("train", train_limit), ("heldout", test_limit)):
        rows = read_image_rows([f"{data_dir}/{split}/images.jsonl"]) + read_image_rows(
            [f"{data_dir}/{split}/digits.jsonl"]
        )
        items = labelled(rows, limit)
        wanted = sorted({i for pairs in items.values() for i, _ in pairs})
        feats = vit_features(model, pixels([rows[i]["image"] for i in wanted], size))
        position = {row: k for k, row in enumerate(wanted)}
        splits[split] = (items, feats, position)
    result = {}
    (train_items, train_feats, train_pos), (test_items, test_feats, test_pos) = (
        splits["train"],
        splits["heldout"],
    )
    for kind in PROBED_KINDS:
        if kind not in train_items or kind not in test_items:
            continue
        answers = sorted({a for _, a in train_items[kind] + test_items[kind]})
        code = {a: k for k, a in enumerate(answers)}
        tx, ty = _xy(train_items[kind], train_feats, train_pos, code)
        hx, hy = _xy(test_items[kind], test_feats, test_pos, code)
        majority = float(torch.bincount(hy).max()) / len(hy)
        result[kind] = {
            "probe": round(fit_probe(tx, ty, hx, hy), 4),
            "majority": round(majority, 4),
            "classes": len(answers),
            "n": len(hy),
        }
    return result


def probe_table(results: dict[str, dict]):
    """A rich table: one row per question kind, one column per model (kinds grow; a few models fit any terminal)."""
    from rich.table import Table

    kinds = [k for k in PROBED_KINDS if any(k in r for r in results.values())]
    table = Table(title="linear probes on the last ViT layer (held-out accuracy; majority share)")
    table.add_column("kind")
    for model in results:
        table.add_column(model, justify="right", overflow="fold")
    for kind in kinds:
        cells = [
            f"{r[kind]['probe']:.1%} ({r[kind]['majority']:.0%})" if kind in r else "-"
            for r in results.values()
        ]
        table.add_row(kind, *cells)
    return table


def probe_command(
    models: list[str],
    data_dir: str,
    output: str | None,
    train_limit: int,
    test_limit: int,
    device: str = "auto",
):
    """`skywork eval mm-probe`: probe every model, write the results as JSON (atomically) when asked."""
    from skywork.utils.io import atomic_write_json

    results = {m: probe_model(m, data_dir, train_limit, test_limit, device) for m in models}
    if output:
        atomic_write_json(output, {"data": data_dir, "models": results})
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "models",
        nargs="+",
        help="multimodal model directories; fresh:DIR = DIR with its ViT re-initialised (untrained)",
    )
    parser.add_argument("--data", required=True, help="the mm_data directory (train/ and heldout/)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    for model_dir in args.models:
        print(json.dumps({"model": model_dir, "kinds": probe_model(model_dir, args.data)}), flush=True)


if __name__ == "__main__":
    main()
