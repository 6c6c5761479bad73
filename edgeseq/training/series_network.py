"""The series model: x [batch, time, features] -> N recurrent layers -> dense on the last step.

The lab's many-to-one forecaster for any cell, depth and horizon; ``y`` is always the next
``horizon`` target values in scaled units. A ``delta`` model adds the last observed value back,
so untrained it is the persistence forecast. ``forecast_function`` is what export converts.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from edgeseq.training.tf_setup import keras
from edgeseq.training.tf_setup import tf

from edgeseq.training.specs import SeriesModelSpec
from edgeseq.training.layers import recurrent_layer


@dataclass(frozen=True)
class SeriesModelConfig:
    """A ``SeriesModelSpec`` settled for its data: what is built, and what a run records.

    Made by ``from_spec`` (which checked the user's choices once) or read back from a run
    folder's config.json, which such a spec wrote. The window is not part of the model (the
    graph takes any length); the run records it beside.
    """

    features: int  # columns per time step
    target_index: int  # which of them is the target
    horizon: int = SeriesModelSpec.horizon
    cell: str = SeriesModelSpec.cell
    layers: int = SeriesModelSpec.layers
    hidden: int = SeriesModelSpec.hidden
    target_mode: str = SeriesModelSpec.target_mode

    @classmethod
    def from_spec(cls, spec: SeriesModelSpec, features: int, target_index: int) -> "SeriesModelConfig":
        return cls(features, target_index, spec.horizon, spec.cell, spec.layers, spec.hidden, spec.target_mode)

    def to_dict(self) -> dict:
        return asdict(self)


@keras.saving.register_keras_serializable(package="edgeseq")
class AddLastObserved(keras.layers.Layer):
    """(change [batch, horizon], x [batch, time, features]) -> change + the last scaled target."""

    def __init__(self, target_index: int, **kwargs):
        super().__init__(**kwargs)
        self.target_index = target_index

    def call(self, inputs):
        change, x = inputs
        return change + x[:, -1:, self.target_index]  # [batch, 1] broadcasts over the horizon

    def get_config(self):
        return {**super().get_config(), "target_index": self.target_index}


def build_model(config: SeriesModelConfig) -> keras.Model:
    x = keras.Input(shape=(None, config.features), name="x")
    sequence = x
    for i in range(config.layers):
        # Every cell returns (sequence, h, ...); h is the output at the last step.
        sequence, last_output, *_ = recurrent_layer(config.cell, config.hidden, name=f"rnn_{i}")(sequence)
    delta = config.target_mode == "delta"
    head = keras.layers.Dense(config.horizon, kernel_initializer="zeros" if delta else "glorot_uniform",
                              name="head")(last_output)
    y = AddLastObserved(config.target_index, name="add_last")([head, x]) if delta else head
    return keras.Model(x, y, name=f"series_{config.cell}")


def forecast_function(model: keras.Model, config: SeriesModelConfig, time: int | None = None):
    """A tf.function x [batch, time, features] -> {"y": [batch, horizon]}, scaled units.

    ``time=None`` gives the dynamic graph; an int fixes the time axis to the window. The
    batch axis stays dynamic in both: tf2onnx 1.17 fuses LSTM only then.
    """
    signature = [tf.TensorSpec((None, time, config.features), tf.float32, name="x")]

    @tf.function(input_signature=signature)
    def forecast(x):
        return {"y": tf.identity(model(x, training=False), name="y")}

    return forecast, signature
