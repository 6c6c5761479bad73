"""Next-character scores: cross-entropy in nats, and accuracy over the valid steps.

Padded steps count for nothing, so padding changes no figure.
"""
from __future__ import annotations

import numpy as np


def cross_entropy(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """-log softmax(logits)[target]: logits [..., V], integer targets [...] -> nats [...]."""
    shifted = logits.astype(np.float64) - logits.max(-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    return -np.take_along_axis(log_probs, np.asarray(targets)[..., None], -1)[..., 0]


def masked_metrics(logits: np.ndarray, y: np.ndarray, weights: np.ndarray | None) -> dict:
    """Mean cross-entropy and accuracy over the valid steps; accuracy at each row's last step."""
    weights = np.ones(y.shape, np.float64) if weights is None else weights.astype(np.float64)
    nll = cross_entropy(logits, y)
    hit = logits.argmax(-1) == y
    last = weights.shape[1] - 1 - np.argmax(weights[:, ::-1] > 0, axis=1)
    rows = np.arange(len(y))
    return {
        "loss": float((nll * weights).sum() / weights.sum()),
        "accuracy": float((hit * weights).sum() / weights.sum()),
        "last_accuracy": float(hit[rows, last].mean()),
    }
