"""What training a ``change`` model adds after the fit: the persistence gate and the interval.

The trained weights are kept only if they beat persistence on the validation windows by a
paired t statistic of at least 2; otherwise the model ships as exact persistence and says so.
The interval's quantiles, per horizon step, go into the graph. docs/design.md says why.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgeseq.evaluation.intervals import conformal_quantiles
from edgeseq.training.change_network import SCALE_FLOOR, persistence_weights

GATE_T = 2.0  # the paired t statistic the trained weights must reach against persistence
#: The fewest validation windows (every ``horizon``-th) the gate judges on. With fewer, the t
#: statistic's own estimate of its spread is too unsure for GATE_T to mean much: chance alone
#: passes 2 one-sided about 15% of the time with 2 windows, under 4% with 10 (t, 9 degrees of
#: freedom; 2.3% is the large-sample figure). Below it the model ships as persistence.
GATE_MIN_WINDOWS = 10


@dataclass(frozen=True)
class Gate:
    """The outcome of the gate: kept the trained weights, or fell back to persistence."""

    kept: bool
    t: float  # paired t statistic of (persistence error - model error) on the validation windows
    gain: float  # the share of persistence's validation error the model removed
    windows: int  # validation windows the test used

    @property
    def too_few(self) -> bool:
        return self.windows < GATE_MIN_WINDOWS

    def line(self) -> str:
        if self.too_few:
            return (f"model = persistence (fallback): too few validation windows ({self.windows}, needs "
                    f"{GATE_MIN_WINDOWS}) to judge the trained weights against persistence, so the model forecasts "
                    "the last value; make --train-fraction or --validation larger")
        side = "below" if self.gain >= 0 else "above"
        figures = (f"paired t {self.t:.2f} over {self.windows} validation windows (needs {GATE_T:g}), "
                   f"validation error {100 * abs(self.gain):.1f}% {side} persistence's")
        if self.kept:
            return f"model = trained weights: they beat persistence on the validation windows ({figures})"
        return (f"model = persistence (fallback): the trained weights did not clearly beat persistence on the "
                f"validation windows ({figures}), so the model forecasts the last value")


def apply_gate(model, x: np.ndarray, y: np.ndarray) -> Gate:
    """Keep ``model``'s weights or set them to persistence, judged on validation windows (x, y);
    too few windows to judge (``GATE_MIN_WINDOWS``, counting every ``horizon``-th) is persistence."""
    horizon = y.shape[1]
    if -(-len(x) // horizon) < GATE_MIN_WINDOWS:
        model.set_weights(persistence_weights(model))
        return Gate(False, 0.0, 0.0, -(-len(x) // horizon))
    trained = model.get_weights()
    model_error = _squared_errors(model, x, y)
    model.set_weights(persistence_weights(model))
    naive_error = _squared_errors(model, x, y)
    d = (naive_error - model_error)[::horizon]
    spread = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else 0.0
    t = float(d.mean() / spread) if spread > 0 else 0.0
    gate = Gate(t >= GATE_T, t, float(d.mean() / naive_error[::horizon].mean()) if naive_error.any() else 0.0, len(d))
    if gate.kept:
        model.set_weights(trained)
    return gate


def interval_quantiles(model, x: np.ndarray, y: np.ndarray, target_index: int, level: float) -> list[float]:
    """One half-width per horizon step, in window scales, from every training window (x, y):
    the fitted ones and the held-back validation ones."""
    residual = y - _predict(model, x)
    steps = np.abs(np.diff(x[:, :, target_index].astype(np.float64), axis=1))
    return conformal_quantiles(residual, np.maximum(steps.mean(axis=1), SCALE_FLOOR), level)


def _predict(model, x: np.ndarray) -> np.ndarray:
    return np.concatenate([model(x[i:i + 4096], training=False).numpy() for i in range(0, len(x), 4096)]
                          ).astype(np.float64)


def _squared_errors(model, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Mean squared error of each window over its horizon, [n]."""
    return np.mean((_predict(model, x) - y) ** 2, axis=1)


__all__ = ["Gate", "GATE_T", "GATE_MIN_WINDOWS", "apply_gate", "interval_quantiles"]
