"""The Ray path: the same stages under datatrove's RayPipelineExecutor on a local 2-CPU Ray started here."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from skywork.data.pipeline import PipelineConfig, run_pipeline

ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'skywork[distributed]')")
pytestmark = [pytest.mark.shared, pytest.mark.slow]


def _outputs(out: Path) -> dict[str, bytes]:
    files = sorted(p for p in out.rglob("*.jsonl.gz") if "work" not in p.relative_to(out).parts)
    return {str(p.relative_to(out)): gzip.decompress(p.read_bytes()) for p in files}


@pytest.fixture
def local_ray():
    """A private local Ray (own short temp dir: AF_UNIX socket paths are limited to 107 bytes)."""
    import shutil
    import tempfile

    temp_dir = tempfile.mkdtemp(prefix="skyray-", dir="/tmp")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _temp_dir=temp_dir)
    yield
    ray.shutdown()
    shutil.rmtree(temp_dir, ignore_errors=True)


def test_ray_executor_matches_local(mixed_corpus, tmp_path, local_ray):
    local = run_pipeline(PipelineConfig(inputs=mixed_corpus["paths"], output_dir=str(tmp_path / "local")))
    distributed = run_pipeline(
        PipelineConfig(inputs=mixed_corpus["paths"], output_dir=str(tmp_path / "ray_run")),
        executor="ray",
        workers=2,
    )
    assert distributed["balanced"] and distributed["input"] == mixed_corpus["records"]
    assert {k: v for k, v in distributed.items() if k != "config_hash"} == {
        k: v for k, v in local.items() if k != "config_hash"
    }
    assert _outputs(tmp_path / "ray_run") == _outputs(tmp_path / "local")
