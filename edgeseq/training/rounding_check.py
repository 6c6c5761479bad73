"""After training a char model: does it amplify float rounding? Export's test, run early.

Export refuses a model whose ONNX and TensorFlow logits differ by more than the tolerance,
by amounts that grow with the sequence length (edgeseq.evaluation.rounding). Training has
no ONNX graph yet; the same amplification shows between the float32 model and a float64
copy of its weights. They are compared on export's kind of input (random ids from random
states, batch 3) and on a few windows of the training text's validation part, from a zero
state, at export's lengths (1, the window, the window + 7); the verdict is one log line.
"""
from __future__ import annotations

import numpy as np

from edgeseq.evaluation.rounding import LOGIT_TOLERANCE, by_length, grows
from edgeseq.training.char_network import CharModelConfig, build_training_model, step_forward
from edgeseq.training.tf_setup import keras, tf

#: Sequences of each kind compared at each length.
ROWS = 3


def rounding_verdict(model: keras.Model, config: CharModelConfig, window: int, ids: np.ndarray,
                     lr: float) -> tuple[bool, str]:
    """(chaotic, the line to print) for ``model`` with a training window of ``window``,
    judged also on windows cut from ``ids`` (part of its text)."""
    by_time = differences(model, config, window, ids)
    largest = max(by_time.values())
    if largest > LOGIT_TOLERANCE and grows(by_time):
        return True, (f"warning: the model amplifies float rounding step by step (float32 vs float64 logits: "
                      f"{by_length(by_time)}), as a chaotic model does: export will refuse it; train again with a "
                      f"lower --lr (say {lr / 2:g})")
    growing = " and growing with the length" if grows(by_time) else ""
    return False, (f"rounding check: float32 and float64 logits differ by at most {largest:.1e}{growing} "
                   f"({by_length(by_time)}; export allows {LOGIT_TOLERANCE:.0e}): not chaotic")


def differences(model: keras.Model, config: CharModelConfig, window: int, ids: np.ndarray) -> dict[int, float]:
    """The largest |float32 - float64| logit at each length, over both kinds of input."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float64")
    try:
        twin = build_training_model(config)
    finally:
        keras.config.set_dtype_policy(previous)
    twin.set_weights([w.astype(np.float64) for w in model.get_weights()])
    single, double = step_forward(model, config), step_forward(twin, config)
    rng = np.random.default_rng(0)
    longest = window + 7
    starts = np.linspace(0, max(len(ids) - longest, 0), ROWS).astype(int)
    text = np.stack([np.resize(ids[s:], longest) for s in starts]).astype(np.int32)  # short texts repeat
    by_time = {}
    for time in (1, window, longest):
        random_ids = rng.integers(0, config.vocab_size, (ROWS, time), dtype=np.int32)
        random_state = (rng.standard_normal((ROWS, config.state_count, config.hidden)) * 0.5).astype(np.float32)
        cases = [(random_ids, random_state), (text[:, :time], np.zeros_like(random_state))]
        by_time[time] = max(_gap(single, double, x, state) for x, state in cases)
    return by_time


def _gap(single, double, ids: np.ndarray, state: np.ndarray) -> float:
    low = single(tf.constant(ids), tf.constant(state, tf.float32))["logits"].numpy()
    high = double(tf.constant(ids), tf.constant(state, tf.float64))["logits"].numpy()
    return float(np.abs(low.astype(np.float64) - high).max())
