"""Keras 3 building blocks shared by the char and series models.

The recurrent layers keep cuDNN's settings and always return their sequence and state, so
the same layers serve training and the exported step graph.
"""
from __future__ import annotations

from edgeseq.training.tf_setup import keras


def recurrent_layer(cell: str, units: int, name: str) -> keras.layers.Layer:
    """A layer of ``cell`` (one of contract.cells.CELLS, checked by the model spec).

    Never ``stateful``: training that carries the state passes it in and takes it out
    (char_model.step_forward), which works under every tf.distribute strategy and resumes.
    """
    common = dict(return_sequences=True, return_state=True, name=name)
    if cell == "lstm":
        return keras.layers.LSTM(units, **common)
    if cell == "gru":
        return keras.layers.GRU(units, reset_after=True, **common)
    if cell == "rnn":
        return keras.layers.SimpleRNN(units, **common)
    raise ValueError(f"no Keras layer for cell {cell!r}")  # a spec or run config would have refused it


@keras.saving.register_keras_serializable(package="edgeseq")
class OneHot(keras.layers.Layer):
    """ids [batch, time] -> one-hot float [batch, time, depth], as the RNN lab feeds its cells."""

    def __init__(self, depth: int, **kwargs):
        super().__init__(**kwargs)
        self.depth = depth

    def call(self, ids):
        return keras.ops.one_hot(ids, self.depth)

    def get_config(self):
        return {**super().get_config(), "depth": self.depth}
