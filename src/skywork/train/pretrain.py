"""``run_pretraining``, the public entry point of a pretraining stage; the loop itself is :mod:`skywork.train.loop`."""

from skywork.train.loop import TrainingDiverged, run_pretraining

__all__ = ["TrainingDiverged", "run_pretraining"]
