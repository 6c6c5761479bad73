"""Importing TensorFlow quietly, and choosing where training runs.

The one module that imports TensorFlow, with file descriptor 2 pointed at /dev/null while
it loads. ``mirrored`` spreads a batch over the GPUs or logical CPUs; ``multi-worker`` is
MultiWorkerMirroredStrategy over the cluster TF_CONFIG describes.
"""
from __future__ import annotations

import functools
import os
from contextlib import contextmanager

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@contextmanager
def native_stderr_silenced():
    """Point file descriptor 2 at /dev/null for the block (Python's own errors still raise)."""
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


with native_stderr_silenced():
    import tensorflow as tf
    import keras

    tf.config.list_physical_devices("GPU")  # the GPU probe logs once; let it do so here


def seed_everything(seed: int) -> None:
    """Same seed, same weights, same batches, same result (op determinism on)."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


@functools.cache
def distribution_strategy(name: str) -> tf.distribute.Strategy:
    """The strategy named by ``TrainSettings.strategy`` (one of choices.STRATEGIES, checked there).

    Made before anything else runs in TensorFlow: a multi-worker strategy configures the
    runtime's collective ops, which only works before the runtime starts. One per process:
    a second strategy over the same devices would number its collective ops from the same
    start as the first and abort them (a second training in one process reuses it)."""
    if name == "multi-worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        return tf.distribute.MirroredStrategy(devices=devices)
    return tf.distribute.get_strategy()


def describe_devices() -> str:
    gpus = tf.config.list_physical_devices("GPU")
    return f"{len(gpus)} GPU(s)" if gpus else "CPU (no GPU visible to TensorFlow)"


def _cluster(strategy: tf.distribute.Strategy):
    resolver = getattr(strategy, "cluster_resolver", None)
    return resolver if resolver is not None and resolver.cluster_spec().as_dict() else None


def worker_count(strategy: tf.distribute.Strategy) -> int:
    """Processes training together: 1, or the tasks of a multi-worker cluster."""
    resolver = _cluster(strategy)
    return 1 if resolver is None else resolver.cluster_spec().num_tasks("worker") + len(
        resolver.cluster_spec().as_dict().get("chief", []))


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes the run: always, except for the workers other than the
    chief of a multi-worker cluster (task "chief", or worker 0 when there is none)."""
    resolver = _cluster(strategy)
    if resolver is None:
        return True
    if resolver.task_type == "chief":
        return True
    return resolver.task_type == "worker" and resolver.task_id == 0 and "chief" not in resolver.cluster_spec().jobs
