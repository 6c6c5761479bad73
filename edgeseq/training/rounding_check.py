"""Would export refuse a char model as chaotic? Its test, run by training on given weights.

Export refuses a model whose ONNX and TensorFlow logits differ by more than the tolerance,
by amounts that grow with the sequence length (edgeseq.evaluation.rounding). Training has
no ONNX graph; the same amplification shows between a float32 and a float64 copy of the
weights, built once. They run on export's own random cases, on RANDOM_ROWS more of their
kind (the differences have a long tail) and on windows of the text, and are held to
LOGIT_TOLERANCE / MARGIN, since ONNX Runtime's kernels add errors of their own.
"""
from __future__ import annotations

import numpy as np

from edgeseq.evaluation.rounding import (CHAR_BATCHES, LOGIT_TOLERANCE, by_length, char_lengths, grows,
                                         parity_inputs, random_char_inputs)
from edgeseq.training.char_network import CharModelConfig, build_training_model, step_forward
from edgeseq.training.tf_setup import keras, tf

#: Random cases beyond export's own, and windows of the text (from a zero state).
RANDOM_ROWS, TEXT_ROWS = 32, 3
#: Training asks for differences MARGIN times below export's tolerance: on export's own
#: inputs, ONNX against TensorFlow differed by up to about twice float32 against float64.
MARGIN = 2
LIMIT = LOGIT_TOLERANCE / MARGIN


class RoundingCheck:
    """Float32 vs float64 logits of given weights, on inputs drawn once."""

    def __init__(self, config: CharModelConfig, window: int, ids: np.ndarray):
        self.single, single = _copy(config, "float32")
        self.double, double = _copy(config, "float64")
        self.times = tuple(char_lengths(window))
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
                "export may refuse it)")

    def verdict(self, weights: list[np.ndarray], lr: float) -> tuple[dict, str]:
        """(what a run records, the line to print after training at learning rate ``lr``)."""
        by_time = self.differences(weights)
        record = {"chaotic": is_chaotic(by_time), "differences": {str(t): d for t, d in by_time.items()}}
        if record["chaotic"]:
            return record, (f"warning: the model amplifies float rounding step by step (float32 vs float64 logits: "
                            f"{by_length(by_time)}), as a chaotic model does: export may refuse it; train again "
                            f"with a lower --lr (say {lr / 2:g})")
        growing = " and growing with the length" if grows(by_time) else ""
        return record, (f"rounding check: float32 and float64 logits differ by at most {max(by_time.values()):.1e}"
                        f"{growing} ({by_length(by_time)}; below {LIMIT:.0e}, half what export allows): not chaotic")


def is_chaotic(by_time: dict[int, float]) -> bool:
    """Export's rule, at LIMIT: beyond it, by differences that grow with the length."""
    return max(by_time.values()) > LIMIT and grows(by_time)


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
    """(ids, states) of every case, each window + 7 long: the first steps of a longer call are
    a shorter call, so a shorter case goes on with random ids."""
    longest, shape = window + 7, (config.state_count, config.hidden)

    def sample(rng, batch, time):
        return random_char_inputs(rng, config.vocab_size, shape, batch, time)

    cases = [inputs for lengths in (char_lengths(window), [window])  # the dynamic graph's, the fixed one's
             for _, _, inputs in parity_inputs(sample, CHAR_BATCHES, lengths)[1]]
    more = np.random.default_rng(1)
    cases.append(sample(more, RANDOM_ROWS, longest))
    starts = np.linspace(0, max(len(ids) - longest, 0), TEXT_ROWS).astype(int)
    text = np.stack([np.resize(ids[s:], longest) for s in starts])  # short texts repeat
    cases.append({"ids": text.astype(np.int32), "state": np.zeros((TEXT_ROWS, *shape), np.float32)})
    rows = [np.concatenate([c["ids"], sample(more, len(c["ids"]), longest - c["ids"].shape[1])["ids"]], axis=1)
            for c in cases]
    return np.concatenate(rows), np.concatenate([c["state"] for c in cases])
