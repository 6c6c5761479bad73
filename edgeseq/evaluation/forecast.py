"""Forecast errors in price units, always beside the persistence forecast.

On prices, "tomorrow = today" is hard to beat, and a model's RMSE means little on its own:
a small error can simply be the size of a typical daily move. Every metric is therefore
reported for the model and for persistence (prediction = last observed value), with the
ratio model / persistence: below 1 the model beats persistence, at 1 or above it does not.

All functions take arrays in price units (the caller undoes the scaling), of equal shape
([n] or [n, horizon]); ``last`` is the last observed value of each forecast, shape [n].
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

#: Row names of ``format_table``, in order.
METRIC_LABELS: dict[str, str] = {
    "rmse": "rmse",
    "mae": "mae",
    "mape": "mape (%)",
    "direction_accuracy": "direction accuracy",
}


def rmse(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Root mean squared error."""
    actual, predicted = _pair(actual, predicted)
    return float(np.sqrt(np.mean((predicted - actual) ** 2)))


def mae(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Mean absolute error."""
    actual, predicted = _pair(actual, predicted)
    return float(np.mean(np.abs(predicted - actual)))


def mape(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Mean absolute percentage error, in percent; NaN when some actual value is 0."""
    actual, predicted = _pair(actual, predicted)
    if np.any(actual == 0):
        return math.nan
    return float(100.0 * np.mean(np.abs((predicted - actual) / actual)))


def direction_accuracy(actual: np.ndarray, predicted: np.ndarray, last: np.ndarray) -> float:
    """Fraction of steps where the predicted move from ``last`` has the actual move's sign.

    "No move" is a direction of its own: sign 0 matches only sign 0. A flat actual step is
    therefore hit only by an exactly flat prediction, and a flat prediction (persistence)
    is right only on flat actual steps.
    """
    actual, predicted = _pair(actual, predicted)
    last = _broadcast_last(last, actual.shape)
    return float(np.mean(np.sign(predicted - last) == np.sign(actual - last)))


def evaluate(
    actual: np.ndarray, predicted: np.ndarray, last: np.ndarray
) -> dict[str, dict[str, Any]]:
    """Every metric for the model and for persistence, with the ratio model / persistence.

    Returns ``{metric: {"model": float|None, "persistence": float|None, "ratio": float|None}}``
    (JSON-ready: undefined values are None). The ratio is None when persistence scores 0 or
    a value is undefined. For direction accuracy, persistence always predicts "no move",
    so its score is the fraction of flat actual steps and the ratio is always None: dividing
    by that fraction would say nothing about skill.
    """
    actual, predicted = _pair(actual, predicted)
    persistence = _broadcast_last(last, actual.shape)
    scores = {
        "rmse": (rmse(actual, predicted), rmse(actual, persistence)),
        "mae": (mae(actual, predicted), mae(actual, persistence)),
        "mape": (mape(actual, predicted), mape(actual, persistence)),
    }
    evaluation = {
        name: {
            "model": _defined(model),
            "persistence": _defined(naive),
            "ratio": _ratio(model, naive),
        }
        for name, (model, naive) in scores.items()
    }
    evaluation["direction_accuracy"] = {
        "model": direction_accuracy(actual, predicted, last),
        "persistence": direction_accuracy(actual, persistence, last),
        "ratio": None,
    }
    return evaluation


def format_table(evaluation: dict[str, dict[str, Any]]) -> str:
    """A fixed-width text table: metric | model | persistence | model/persistence."""
    header = ("metric", "model", "persistence", "model/persistence")
    lines = [f"{header[0]:<20}{header[1]:>14}{header[2]:>14}{header[3]:>19}"]
    for name, row in evaluation.items():
        label = METRIC_LABELS.get(name, name)
        lines.append(
            f"{label:<20}{_cell(row['model'], 4):>14}{_cell(row['persistence'], 4):>14}"
            f"{_cell(row['ratio'], 3):>19}"
        )
    return "\n".join(lines)


def _pair(actual: np.ndarray, predicted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    actual = np.asarray(actual, dtype=np.float64)
    predicted = np.asarray(predicted, dtype=np.float64)
    if actual.shape != predicted.shape:
        raise ValueError(f"actual {actual.shape} and predicted {predicted.shape} differ in shape")
    if actual.size == 0:
        raise ValueError("metrics need at least one value")
    return actual, predicted


def _broadcast_last(last: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``last`` [n] against values [n] or [n, horizon]: one last value per forecast."""
    last = np.asarray(last, dtype=np.float64)
    if last.shape != shape[: last.ndim]:
        raise ValueError(f"last {last.shape} does not match values {shape}")
    return np.broadcast_to(last.reshape(last.shape + (1,) * (len(shape) - last.ndim)), shape)


def _defined(value: float) -> float | None:
    return None if math.isnan(value) else value


def _ratio(model: float, persistence: float) -> float | None:
    if math.isnan(model) or math.isnan(persistence) or persistence == 0:
        return None
    return model / persistence


def _cell(value: float | None, decimals: int) -> str:
    return "n/a" if value is None else f"{value:.{decimals}f}"
