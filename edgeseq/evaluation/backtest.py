"""The walk-forward backtest: forecasts in price units beside what happened and the naive forecasts.

``backtest(predictor, series)`` scores any predictor with a window, a horizon and
``predict_rows``, as darts' ``historical_forecasts`` does; training scores its test part
through ``score_forecasts``, so both print the same table.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from edgeseq.contract.meta import Baselines
from edgeseq.data.series import Series
from edgeseq.contract.memory import require_memory
from edgeseq.errors import InputError
from edgeseq.evaluation.baselines import check_season, naive_forecasts
from edgeseq.evaluation.forecast_metrics import evaluate, format_steps, format_table, json_ready
from edgeseq.evaluation.intervals import format_interval, interval_report


#: why a forecast is left out of a backtest, as its headline says it
SKIPPED = {"filled_actual": "whose actual value was filled forward (--fill ffill), not read",
           "unreadable_window": "whose window holds a value the model cannot read"}


@dataclass(frozen=True, eq=False)
class Predictions:
    """A predictor's forecasts [n, horizon] in price units, and its interval when it gives one."""

    y: np.ndarray
    lower: np.ndarray | None = None
    upper: np.ndarray | None = None
    level: float | None = None


class Predictor(Protocol):
    """What ``backtest`` scores: forecasts of ``horizon`` values from the ``window`` rows before each row."""

    window: int
    horizon: int
    baselines: Baselines | None  # the drift and MASE scale of its training part
    fallback: bool  # it forecasts persistence

    def frame(self, rows: Any) -> Series: ...  # rows checked and put in the predictor's column order

    def readable(self, frame: Series) -> np.ndarray: ...  # bool [n]: the rows it can forecast from

    def predict_rows(self, frame: Series, target_row: np.ndarray) -> Predictions: ...


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
    skipped: dict[str, int] = field(default_factory=dict)  # forecasts left out, by SKIPPED reason

    def __len__(self) -> int:
        return int(self.target_row.shape[0])

    @property
    def horizon(self) -> int:
        return int(self.actual.shape[1])

    def headline(self) -> str:
        """The line above the table: how many forecasts of what, over which dates."""
        span = f" from {self.dates[0]} to {self.dates[-1]}" if self.dates else ""
        pooled = f", figures pooled over the {self.horizon} steps" if self.horizon > 1 else ""
        left_out = "".join(f"; left out {count} forecast{'s' * (count > 1)} {SKIPPED[reason]}"
                           for reason, count in self.skipped.items() if count)
        return (f"walk-forward backtest: {len(self)} forecasts of {self.target}{span}, "
                f"horizon {self.horizon}, price units{pooled}{left_out}")

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
        if any(self.skipped.values()):
            doc["skipped"] = {reason: count for reason, count in self.skipped.items() if count}
        return json_ready(doc)


def forecast_rows(n_rows: int, window: int, horizon: int, first_row: int, source: str = "the rows") -> np.ndarray:
    """The first predicted row of every complete forecast from ``first_row`` on (each after a full window)."""
    needed = window + horizon
    if n_rows < needed:
        raise InputError(f"{source}: window {window} + horizon {horizon} needs at least {needed} rows; "
                         f"the series has {n_rows}")
    rows = np.arange(max(first_row, window), n_rows - horizon + 1)
    if not rows.size:
        raise InputError(f"{source}: no complete {horizon}-step forecast starts at row {first_row + 1} "
                         f"or later (the file has {n_rows} rows)")
    return rows


def scored_rows(frame: Series, target_row: np.ndarray, window: int, horizon: int,
                readable: np.ndarray | None = None) -> tuple[np.ndarray, dict[str, int]]:
    """The forecasts of ``target_row`` worth scoring, and how many were left out and why: those
    whose actual value was filled forward (a filled day is not a real flat day), and those whose
    window holds a row the predictor cannot read (``readable``, bool [n])."""
    target_row = np.asarray(target_row, np.int64)
    steps = target_row[:, None] + np.arange(horizon)
    filled = frame.filled_target()[steps].any(axis=1)
    unreadable = np.zeros(len(target_row), bool)
    if readable is not None:
        unreadable = ~np.asarray(readable, bool)[target_row[:, None] - window + np.arange(window)].all(axis=1)
    skipped = {"filled_actual": int(np.count_nonzero(filled)),
               "unreadable_window": int(np.count_nonzero(unreadable & ~filled))}
    kept = target_row[~filled & ~unreadable]
    if not kept.size:
        raise InputError(f"{frame.source}: each of the {len(target_row)} forecasts is left out (" + ", ".join(
            f"{count} {SKIPPED[reason]}" for reason, count in skipped.items() if count) + "); nothing to score")
    return kept, skipped


def backtest(predictor: Predictor, rows: Any, first_row: int = 0, season: int | None = None) -> Backtest:
    """Score one forecast of ``predictor`` from every window of ``rows`` whose first predicted row
    is ``first_row`` or later, beside the naive forecasts with the predictor's baselines
    (``season`` sets, or replaces, the period of the seasonal naive forecast)."""
    check_season(season)
    frame = predictor.frame(rows)
    target_row = forecast_rows(len(frame.values), predictor.window, predictor.horizon, first_row, frame.source)
    # every window is cut at once: its row indices (int64), float64 values and float32 copy
    require_memory(len(target_row) * predictor.window * (8 + 12 * frame.values.shape[1]),
                   f"{frame.source}: {len(target_row):,} forecasts over windows of {predictor.window:,} rows"
                   + (f" of {predictor.name}" if getattr(predictor, "name", None) else ""),
                   "backtest fewer rows (--from a later date, or a shorter file)")
    if season is not None and season > target_row[0]:
        raise InputError(f"--season {season}: the seasonal naive forecast needs the value one season before "
                         f"each scored forecast, and the first one (data row {target_row[0] + 1}) has "
                         f"{target_row[0]} rows before it; give --season {target_row[0]} or less")
    target_row, skipped = scored_rows(frame, target_row, predictor.window, predictor.horizon,
                                      predictor.readable(frame))
    out = predictor.predict_rows(frame, target_row)
    baselines = predictor.baselines
    if season is not None:
        baselines = replace(baselines or Baselines(), season=season)
    interval = (out.lower, out.upper, out.level) if out.lower is not None else None
    return score_forecasts(frame, target_row, out.y, baselines, interval, fallback=predictor.fallback,
                           skipped=skipped)


def score_forecasts(series: Series, target_row: np.ndarray, predicted: np.ndarray,
                    baselines: Baselines | None = None, interval: tuple | None = None,
                    fallback: bool = False, skipped: dict[str, int] | None = None) -> Backtest:
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
                    fallback, dict(skipped or {}))
