"""Ray execution of the same four stages through datatrove's ``RayPipelineExecutor``.

The stages only exchange files (``work/``), so the Ray path needs nothing beyond a filesystem every worker sees
(a shared disk on a cluster). If no Ray runtime is connected, a local one is started (``RAY_ADDRESS`` selects
an existing cluster, as in plain ``ray.init()``). Install with ``pip install skywork[distributed]``.
"""

from __future__ import annotations

from pathlib import Path

from skywork.utils.io import InputError


def build_ray_executors(stages, work: Path, workers: int, mem_per_cpu_gb: float = 0.5):
    try:
        import ray
        from datatrove.executor.ray import RayPipelineExecutor
    except ImportError as err:
        raise InputError(
            "the ray executor needs ray[data]: pip install 'skywork[distributed]'", field="executor"
        ) from err
    if not ray.is_initialized():
        ray.init(ignore_reinit_error=True, log_to_driver=False)
    previous = None
    for name, pipeline, n in stages:
        previous = RayPipelineExecutor(
            pipeline,
            tasks=n,
            workers=min(workers, n),
            logging_dir=str(work / "logs" / name),
            depends=previous,
            cpus_per_task=1,
            mem_per_cpu_gb=mem_per_cpu_gb,
        )
    return previous
