"""Forecast errors in price units, always beside the naive forecasts.

Every metric is given for the model and each naive forecast, with the ratios to persistence
and to the best of them; direction accuracy stands beside its base rate.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from edgeseq.evaluation.baselines import BASELINES

#: Row names of ``format_table``, in order.
METRIC_LABELS: dict[str, str] = {
    "rmse": "rmse",
    "mae": "mae",
    "mase": "mase",
    "mape": "mape (%)",
    "direction_accuracy": "direction accuracy",
}
#: The moves direction accuracy tells apart, by the sign of (value - last).
MOVES: dict[str, int] = {"up": 1, "down": -1, "flat": 0}


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


def base_rate(actual: np.ndarray, last: np.ndarray) -> tuple[str, float]:
    """The most common actual move from ``last`` (up, down or flat) and its share of all steps:
    what "always predict that move" scores on direction accuracy."""
    actual = np.asarray(actual, np.float64)
    moves = np.sign(actual - _broadcast_last(last, actual.shape))
    shares = {name: float(np.mean(moves == sign)) for name, sign in MOVES.items()}
    majority = max(shares, key=shares.get)  # ties: the first of up, down, flat
    return majority, shares[majority]


def evaluate(
    actual: np.ndarray,
    predicted: np.ndarray,
    last: np.ndarray,
    naive: Mapping[str, np.ndarray] | None = None,
    mase_scale: float | None = None,
) -> dict[str, dict[str, Any]]:
    """Every metric for the model, persistence and the other naive forecasts in ``naive``.

    Returns ``{metric: {"model": .., "persistence": .., <each of naive>: .., "ratio": ..,
    "best_baseline": .., "ratio_to_best": ..}}``, JSON-ready: undefined values are None.
    ``ratio`` is model / persistence; ``best_baseline`` names the naive forecast with the best
    score and ``ratio_to_best`` is model / that score (None when it is 0 or undefined).
    ``mase`` (MAE / ``mase_scale``) is there when a scale is given. For direction accuracy
    the ratios are None (persistence always predicts "no move", so it scores the share of
    flat steps, and a ratio of shares says nothing about skill); instead ``base_rate`` is the
    share of the majority move (``majority``), and the best baseline may be that base rate.
    """
    actual, predicted = _pair(actual, predicted)
    forecasts = {"model": predicted, "persistence": _broadcast_last(last, actual.shape)}
    for name, values in (naive or {}).items():
        forecasts[name] = _pair(actual, values)[1]
    scores = {
        "rmse": {name: rmse(actual, f) for name, f in forecasts.items()},
        "mae": {name: mae(actual, f) for name, f in forecasts.items()},
    }
    if mase_scale:
        scores["mase"] = {name: value / mase_scale for name, value in scores["mae"].items()}
    scores["mape"] = {name: mape(actual, f) for name, f in forecasts.items()}
    evaluation = {metric: _row(row, lower_is_better=True) for metric, row in scores.items()}
    direction = {name: direction_accuracy(actual, f, last) for name, f in forecasts.items()}
    majority, rate = base_rate(actual, last)
    evaluation["direction_accuracy"] = {
        **_row({**direction, "base_rate": rate}, lower_is_better=False),
        "ratio": None, "ratio_to_best": None, "majority": majority,
    }
    return evaluation


def _row(scores: dict[str, float], lower_is_better: bool) -> dict[str, Any]:
    """One metric's row: every forecaster's score, the ratio to persistence, the best baseline."""
    row: dict[str, Any] = {name: _defined(value) for name, value in scores.items()}
    candidates = {name: value for name, value in row.items() if name != "model" and value is not None}
    best = (min if lower_is_better else max)(candidates, key=candidates.get) if candidates else None
    row["ratio"] = _ratio(scores["model"], scores["persistence"])
    row["best_baseline"] = best
    row["ratio_to_best"] = _ratio(scores["model"], scores[best]) if best is not None else None
    return row


def forecaster_names(evaluation: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The forecasters an evaluation scores, in table order."""
    present = {name for row in evaluation.values() for name in row}
    return ["model"] + [name for name in BASELINES if name in present]


def format_table(evaluation: Mapping[str, Mapping[str, Any]], fallback: bool = False) -> str:
    """A fixed-width text table: metric | model | each baseline | best baseline | model/best.

    ``fallback``: the model is persistence, so its direction accuracy (the share of flat steps)
    reads "fallback" rather than a bare score.
    """
    names = forecaster_names(evaluation)
    lines = ["".join([f"{'metric':<20}", *(f"{name:>13}" for name in names), f"{'best baseline':>15}",
                      f"{'model/best':>12}"])]
    for metric, row in evaluation.items():
        if fallback and metric == "direction_accuracy":
            row = {**row, "model": "fallback"}
        lines.append(_table_line(METRIC_LABELS.get(metric, metric), row, names))
    direction = evaluation.get("direction_accuracy", {})
    if direction.get("base_rate") is not None:
        lines.append(f"base rate {direction['base_rate']:.4f}: the share of steps that moved {direction['majority']} "
                     f"(the most common move), what always predicting it scores")
    return "\n".join(lines)


def format_steps(steps: list[Mapping[str, Mapping[str, Any]]], metric: str = "rmse") -> str:
    """One metric step by step (step 1 is the next value), for forecasts of several steps."""
    names = forecaster_names(steps[0])
    lines = ["".join([f"{METRIC_LABELS[metric] + ' by step':<20}", *(f"{name:>13}" for name in names),
                      f"{'best baseline':>15}", f"{'model/best':>12}"])]
    lines += [_table_line(f"step {number}", step[metric], names) for number, step in enumerate(steps, 1)]
    return "\n".join(lines)


def _table_line(label: str, row: Mapping[str, Any], names: list[str]) -> str:
    best = row.get("best_baseline")
    return "".join([f"{label:<20}", *(f"{_cell(row.get(name), 4):>13}" for name in names),
                    f"{(best or 'n/a').replace('_', ' '):>15}", f"{_cell(row.get('ratio_to_best'), 3):>12}"])


def json_ready(value: Any) -> Any:
    """``value`` with every NaN or infinity (also inside lists and dicts) replaced by None, so
    ``json.dumps(..., allow_nan=False)`` writes it."""
    if isinstance(value, dict):
        return {key: json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(item) for item in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


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
    return float(value) if math.isfinite(value) else None


def _ratio(model: float, baseline: float) -> float | None:
    if not (math.isfinite(model) and math.isfinite(baseline)) or baseline == 0:
        return None
    return model / baseline


def _cell(value: float | str | None, decimals: int) -> str:
    if isinstance(value, str):
        return value
    return "n/a" if value is None else f"{value:.{decimals}f}"
