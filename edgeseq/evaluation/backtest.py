"""The walk-forward backtest: forecasts in price units beside what happened and every naive forecast.

Training reports its test part through it and ``edgeseq run stock --backtest`` replays a
file through it, so both print the same table. Actual and last-observed values come
straight from the series in price units, never from unscaled float32. The drift and MASE
scale come from the training part (``Baselines``, stored in the model), so the runtime's
table compares with the same baselines training did. For forecasts of several steps the
figures are given pooled over every step and step by step.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgeseq.contract.meta import Baselines
from edgeseq.data.series import Series
from edgeseq.evaluation.baselines import naive_forecasts
from edgeseq.evaluation.forecast_metrics import evaluate, format_steps, format_table, json_ready
from edgeseq.evaluation.intervals import format_interval, interval_report


@dataclass(frozen=True, eq=False)
class Backtest:
    """Walk-forward forecasts in price units; row i was made from the rows before ``target_row[i]``."""

    target: str
    target_row: np.ndarray  # int [n]: series row of each forecast's first value
    dates: tuple[str, ...] | None  # the date of each target_row, when the series has dates
    actual: np.ndarray  # [n, horizon]
    predicted: np.ndarray  # [n, horizon]
    last: np.ndarray  # [n]: last observed value, which is also the persistence forecast
    evaluation: dict  # pooled over every step
    naive: dict[str, np.ndarray] = field(default_factory=dict)  # drift, seasonal: [n, horizon] each
    steps: list[dict] = field(default_factory=list)  # horizon > 1: one evaluation per step
    baselines: Baselines | None = None
    lower: np.ndarray | None = None  # [n, horizon]: the prediction interval, when the model gives one
    upper: np.ndarray | None = None
    interval: dict | None = None  # interval_report: level, coverage, mean width
    fallback: bool = False  # the model is persistence: its trained weights did not beat it

    def __len__(self) -> int:
        return int(self.target_row.shape[0])

    @property
    def horizon(self) -> int:
        return int(self.actual.shape[1])

    def headline(self) -> str:
        """The line above the table: how many forecasts of what, over which dates."""
        span = f" from {self.dates[0]} to {self.dates[-1]}" if self.dates else ""
        pooled = f", figures pooled over the {self.horizon} steps" if self.horizon > 1 else ""
        return (f"walk-forward backtest: {len(self)} forecasts of {self.target}{span}, "
                f"horizon {self.horizon}, price units{pooled}")

    def table(self) -> str:
        lines = [format_table(self.evaluation, self.fallback)]
        if self.interval is not None:
            lines.append(format_interval(self.interval))
        if self.fallback:
            lines.append("model = persistence (fallback): training did not show its weights beating persistence on "
                         "the validation windows, so it forecasts the last value")
        if self.steps:
            lines.append(f"\n{format_steps(self.steps)}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        doc = {"target": self.target, "forecasts": len(self), "horizon": self.horizon,
               "first": self.dates[0] if self.dates else int(self.target_row[0]),
               "last": self.dates[-1] if self.dates else int(self.target_row[-1]),
               "evaluation": self.evaluation}
        if self.steps:
            doc["steps"] = [{"step": number, "evaluation": step} for number, step in enumerate(self.steps, 1)]
        if self.baselines is not None:
            doc["baselines"] = self.baselines.to_json()
        if self.interval is not None:
            doc["interval"] = self.interval
        if self.fallback:
            doc["model"] = "persistence (fallback)"
        return json_ready(doc)


def score_forecasts(series: Series, target_row: np.ndarray, predicted: np.ndarray,
                    baselines: Baselines | None = None, interval: tuple | None = None,
                    fallback: bool = False) -> Backtest:
    """Put price-unit forecasts [n, horizon] beside what happened and beside the naive forecasts.

    Without ``baselines`` (drift, MASE scale, season) only persistence stands beside the model.
    ``interval``: (lower, upper, level) of the model's prediction intervals, whose coverage is
    then reported; ``fallback``: the model is persistence (its gate rejected the trained weights).
    """
    predicted = np.asarray(predicted, np.float64)
    truth = series.target_values
    target_row = np.asarray(target_row, np.int64)
    horizon = predicted.shape[1]
    actual = truth[target_row[:, None] + np.arange(horizon)]
    last = truth[target_row - 1]
    naive = naive_forecasts(truth, target_row, horizon, baselines)
    scale = baselines.mase_scale if baselines is not None else None
    steps = [] if horizon == 1 else [
        evaluate(actual[:, h], predicted[:, h], last, {k: v[:, h] for k, v in naive.items()}, scale)
        for h in range(horizon)]
    dates = tuple(series.dates[i] for i in target_row) if series.dates else None
    lower = upper = report = None
    if interval is not None:
        lower, upper = (np.asarray(a, np.float64) for a in interval[:2])
        report = interval_report(actual, lower, upper, interval[2])
    return Backtest(series.target, target_row, dates, actual, predicted, last,
                    evaluate(actual, predicted, last, naive, scale), naive, steps, baselines, lower, upper, report,
                    fallback)
