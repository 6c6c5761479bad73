"""Importing TensorFlow quietly, and choosing where training runs.

TensorFlow prints a screenful of C++ log lines at import; users of a CLI should see their
progress bar, not oneDNN notices. The strategy helper keeps GPU use automatic: Keras uses
a visible GPU by itself, and ``mirrored`` spreads a batch over every GPU, or over the
logical CPU devices when there is no GPU (which is how the tests exercise it).
"""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402
import keras  # noqa: E402


def seed_everything(seed: int) -> None:
    """Same seed, same weights, same batches, same result (op determinism on)."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def distribution_strategy(name: str) -> tf.distribute.Strategy:
    """The strategy named by ``TrainSettings.strategy`` (one of choices.STRATEGIES, checked there)."""
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        return tf.distribute.MirroredStrategy(devices=devices)
    return tf.distribute.get_strategy()


def describe_devices() -> str:
    gpus = tf.config.list_physical_devices("GPU")
    return f"{len(gpus)} GPU(s)" if gpus else "CPU (no GPU visible to TensorFlow)"
