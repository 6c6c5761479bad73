"""Does a char model amplify float rounding? Export's test, run during and after training.

Export refuses a model whose ONNX and TensorFlow logits differ by more than the tolerance,
by amounts that grow with the sequence length (edgeseq.evaluation.rounding). Training has
no ONNX graph yet; the same amplification shows between a float32 and a float64 copy of
the weights. They are compared on export's kind of input (random ids from random states,
batch 3) and on a few windows of the text, from a zero state, at export's lengths (1, the
window, the window + 7). ``RoundingCheck`` builds both copies once, so the training loop
can judge the weights it would go back to (edgeseq.training.spikes) at a small cost.
"""
from __future__ import annotations

import numpy as np

from edgeseq.evaluation.rounding import LOGIT_TOLERANCE, by_length, grows
from edgeseq.training.char_network import CharModelConfig, build_training_model, step_forward
from edgeseq.training.tf_setup import keras, tf

#: Sequences compared: export's kind (random ids from random states, whose differences have
#: a long tail: export draws a few, so many are drawn here) and windows of the text.
RANDOM_ROWS = 32
TEXT_ROWS = 3


class RoundingCheck:
    """Float32 vs float64 logits of given weights, on fixed inputs cut once from ``ids``."""

    def __init__(self, config: CharModelConfig, window: int, ids: np.ndarray):
        self.single, single = _copy(config, "float32")
        self.double, double = _copy(config, "float64")
        self.times = (1, window, window + 7)
        ids, state = _inputs(config, window, ids)
        self.inputs = tf.constant(ids), state
        self.calls = {dtype: tf.function(lambda x, state, f=f: f(x, state)["logits"])
                      for dtype, f in ((tf.float32, single), (tf.float64, double))}

    def differences(self, weights: list[np.ndarray]) -> dict[int, float]:
        """The largest |float32 - float64| logit within the first 1, window and window + 7 steps."""
        self.single.set_weights(weights)
        self.double.set_weights([w.astype(np.float64) for w in weights])
        ids, state = self.inputs
        low = self.calls[tf.float32](ids, tf.constant(state, tf.float32)).numpy()
        high = self.calls[tf.float64](ids, tf.constant(state, tf.float64)).numpy()
        gaps = np.abs(low.astype(np.float64) - high).max(axis=(0, 2))  # by step
        return {time: float(gaps[:time].max()) for time in self.times}

    def refusal(self, weights: list[np.ndarray]) -> str | None:
        """Why export would refuse these weights as chaotic (for a rollback line), else None."""
        by_time = self.differences(weights)
        if not is_chaotic(by_time):
            return None
        longest = max(by_time)
        return (f"the model amplifies float rounding ({by_time[longest]:.1e} after {longest} steps; "
                "export would refuse it)")

    def verdict(self, weights: list[np.ndarray], lr: float) -> tuple[bool, str]:
        """(chaotic, the line to print after training, at learning rate ``lr``)."""
        by_time = self.differences(weights)
        if is_chaotic(by_time):
            return True, (f"warning: the model amplifies float rounding step by step (float32 vs float64 logits: "
                          f"{by_length(by_time)}), as a chaotic model does: export will refuse it; train again "
                          f"with a lower --lr (say {lr / 2:g})")
        growing = " and growing with the length" if grows(by_time) else ""
        return False, (f"rounding check: float32 and float64 logits differ by at most {max(by_time.values()):.1e}"
                       f"{growing} ({by_length(by_time)}; export allows {LOGIT_TOLERANCE:.0e}): not chaotic")


def is_chaotic(by_time: dict[int, float]) -> bool:
    """Export's rule: beyond its tolerance, by differences that grow with the length."""
    return max(by_time.values()) > LOGIT_TOLERANCE and grows(by_time)


def _copy(config: CharModelConfig, dtype: str):
    """A model of ``config`` in ``dtype``, and its step form."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(dtype)
    try:
        model = build_training_model(config)
    finally:
        keras.config.set_dtype_policy(previous)
    return model, step_forward(model, config)


def _inputs(config: CharModelConfig, window: int, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Random ids from random states, then windows of the text from zero, each window + 7
    long: a call of fewer steps gives the first steps of these logits."""
    rng = np.random.default_rng(0)
    longest = window + 7
    starts = np.linspace(0, max(len(ids) - longest, 0), TEXT_ROWS).astype(int)
    text = np.stack([np.resize(ids[s:], longest) for s in starts])  # short texts repeat
    random_ids = rng.integers(0, config.vocab_size, (RANDOM_ROWS, longest))
    random_state = rng.standard_normal((RANDOM_ROWS, config.state_count, config.hidden)) * 0.5
    state = np.concatenate([random_state, np.zeros((TEXT_ROWS, *random_state.shape[1:]))])
    return np.concatenate([random_ids, text]).astype(np.int32), state.astype(np.float32)
