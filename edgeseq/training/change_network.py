"""The scale-free forecaster of ``--target-mode change``, and the graph export converts.

The network sees each window divided by its own scale and forecasts the next changes in
typical changes; with its drift, head and skip at zero it is exactly persistence.
``forecast_function`` adds the transform and its inverse, with an interval, around it.
The formulas are in docs/design.md, "Training".
"""
from __future__ import annotations

from edgeseq.training.tf_setup import keras
import numpy as np
from edgeseq.training.tf_setup import tf

from edgeseq.training.layers import recurrent_layer

SCALE_FLOOR = 1e-3  # in typical changes: the scale of a window that did not move


@keras.saving.register_keras_serializable(package="edgeseq")
class WindowScale(keras.layers.Layer):
    """z [batch, time, features] -> each column's mean absolute step, floored: [batch, features]."""

    def call(self, z):
        steps = keras.ops.abs(z[:, 1:, :] - z[:, :-1, :])
        return keras.ops.maximum(keras.ops.mean(steps, axis=1), SCALE_FLOOR)


@keras.saving.register_keras_serializable(package="edgeseq")
class DivideByScale(keras.layers.Layer):
    """(z [batch, time, features], S [batch, features]) -> z / S."""

    def call(self, inputs):
        z, scale = inputs
        return z / scale[:, None, :]


@keras.saving.register_keras_serializable(package="edgeseq")
class DriftPlusScaled(keras.layers.Layer):
    """(f [batch, horizon], S [batch, features]) -> b + S[:, target] * f, b trainable [horizon],
    starting at ``drift`` (one value per step)."""

    def __init__(self, horizon: int, target_index: int, drift: list[float] | None = None, **kwargs):
        super().__init__(**kwargs)
        self.horizon, self.target_index = horizon, target_index
        self.drift = [float(v) for v in drift] if drift is not None else [0.0] * horizon

    def build(self, input_shape):
        start = np.asarray(self.drift, np.float32)
        self.b = self.add_weight(shape=(self.horizon,), initializer=lambda shape, dtype=None: start, name="b")

    def call(self, inputs):
        f, scale = inputs
        return self.b + scale[:, self.target_index:self.target_index + 1] * f

    def get_config(self):
        return {**super().get_config(), "horizon": self.horizon, "target_index": self.target_index,
                "drift": self.drift}


def build_change_model(config, window: int, drift: list[float]) -> keras.Model:
    """z [batch, window, features] -> change [batch, horizon]; ``config``: a SeriesModelConfig;
    ``drift``: b's starting value (the mean training target: an untrained model is drift)."""
    z = keras.Input(shape=(window, config.features), name="x")
    scale = WindowScale(name="window_scale")(z)
    inner = DivideByScale(name="scaled")([z, scale])
    sequence = inner
    for i in range(config.layers):
        sequence, last_output, *_ = recurrent_layer(config.cell, config.hidden, name=f"rnn_{i}")(sequence)
    head = keras.layers.Dense(config.horizon, kernel_initializer="zeros", use_bias=False, name="head")(last_output)
    skip = keras.layers.Dense(config.horizon, kernel_initializer="zeros", use_bias=False,
                              name="skip")(keras.layers.Flatten(name="flat")(inner))
    f = keras.layers.Add(name="f")([head, skip])
    change = DriftPlusScaled(config.horizon, config.target_index, drift, name="drift")([f, scale])
    return keras.Model(z, change, name=f"change_{config.cell}")


def persistence_weights(model: keras.Model) -> list[np.ndarray]:
    """The model's weights with b, head and skip zeroed: its forecast is exactly the last value."""
    zeroed = {id(w) for name in ("head", "skip", "drift") for w in model.get_layer(name).weights}
    return [np.zeros_like(v) if id(w) in zeroed else v for w, v in zip(model.weights, model.get_weights())]


def forecast_function(model: keras.Model, config, transform: dict, time: int | None = None):
    """A tf.function x [batch, time, features] (price units) -> {"y", "lower", "upper", "change"}.

    ``transform``: the run's ``{"modes", "typical_change", "window", "quantiles"}``; y, lower
    and upper are [batch, horizon] in the target's units, ``change`` in its typical changes."""
    window, target = int(transform["window"]), config.target_index
    modes, s = transform["modes"], np.asarray(transform["typical_change"], np.float32)
    q = np.asarray(transform["quantiles"], np.float32)[None, :]
    signature = [tf.TensorSpec((None, time, config.features), tf.float32, name="x")]

    @tf.function(input_signature=signature)
    def forecast(x):
        x = x[:, -window:, :]
        last = x[:, -1:, :]
        columns = [tf.math.log(x[:, :, c] / last[:, :, c]) if mode == "log"
                   else tf.math.log((x[:, :, c] + 1.0) / (last[:, :, c] + 1.0)) if mode == "log1p"
                   else x[:, :, c] - last[:, :, c] for c, mode in enumerate(modes)]
        z = tf.stack(columns, axis=-1) / s
        change = model(z, training=False)
        steps = tf.abs(z[:, 1:, target] - z[:, :-1, target])
        scale = tf.maximum(tf.reduce_mean(steps, axis=1, keepdims=True), SCALE_FLOOR)
        x_last, s_target = last[:, :, target], float(s[target])

        def price(c):
            return x_last * tf.exp(s_target * c) if modes[target] == "log" else x_last + s_target * c

        return {"y": tf.identity(price(change), name="y"),
                "lower": tf.identity(price(change - q * scale), name="lower"),
                "upper": tf.identity(price(change + q * scale), name="upper"),
                "change": tf.identity(change, name="change")}

    return forecast, signature


__all__ = ["build_change_model", "forecast_function", "persistence_weights", "SCALE_FLOOR"]
