"""Linear probes on the ViT features: the classifier learns what the features hold, and every kind is probed."""

from __future__ import annotations

import torch

from skywork.mm.probe import fit_probe, probe_model


def test_fit_probe_reads_a_linearly_separable_label_and_not_noise():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(400, 32, generator=generator)
    y = (x[:, 3] > 0).long() + 2 * (x[:, 7] > 0).long()
    assert fit_probe(x[:300], y[:300], x[300:], y[300:]) > 0.7  # chance: 0.25
    noise = torch.randint(0, 4, (400,), generator=generator)
    assert fit_probe(x[:300], noise[:300], x[300:], noise[300:]) < 0.5


def test_probe_model_reports_each_kind_with_its_chance_floor(mm_model_dir, mm_data):
    result = probe_model(str(mm_model_dir), str(mm_data), train_limit=40, test_limit=10)
    assert {"color", "count", "reading", "digit"} <= set(result)
    for row in result.values():
        assert 0.0 <= row["probe"] <= 1.0 and 0.0 < row["majority"] <= 1.0 and row["n"] > 0
    fresh = probe_model(f"fresh:{mm_model_dir}", str(mm_data), train_limit=40, test_limit=10)
    assert set(fresh) == set(result)


def test_probe_command_prints_one_row_per_kind_and_writes_json(mm_model_dir, mm_data, tmp_path):
    import json

    from typer.testing import CliRunner

    from skywork.cli import app

    out = tmp_path / "probe.json"
    args = ["eval", "mm-probe", str(mm_model_dir), "--data", str(mm_data), "-o", str(out)]
    result = CliRunner().invoke(app, [*args, "--train-images", "30", "--test-images", "8"])
    assert result.exit_code == 0, result.output
    assert "linear probes" in result.output
    assert all(kind in result.output for kind in ("color", "count", "reading", "tens", "units"))
    saved = json.loads(out.read_text())
    assert saved["data"] == str(mm_data) and set(saved["models"]) == {str(mm_model_dir)}
    assert "reading" in saved["models"][str(mm_model_dir)]
