"""Ray execution of the same four stages through datatrove's ``RayPipelineExecutor``.

The stages only exchange files (``work/``), so the Ray path needs nothing beyond a filesystem every worker sees
(a shared disk on a cluster). If no Ray runtime is connected, a local one is started (``RAY_ADDRESS`` selects
an existing cluster, as in plain ``ray.init()``). Install with ``pip install skywork[distributed]``.
"""

from __future__ import annotations

from skywork.utils.io import InputError


def ray_executor_class(mem_per_cpu_gb: float = 0.5) -> tuple[type, dict]:
    """datatrove's ``RayPipelineExecutor`` and its per-task options, with a Ray runtime connected."""
    try:
        import ray
        from datatrove.executor.ray import RayPipelineExecutor
    except ImportError as err:
        raise InputError(
            "the ray executor needs ray[data]: pip install 'skywork[distributed]'", field="executor"
        ) from err
    if not ray.is_initialized():
        ray.init(ignore_reinit_error=True, log_to_driver=False)
    return RayPipelineExecutor, {"cpus_per_task": 1, "mem_per_cpu_gb": mem_per_cpu_gb}
