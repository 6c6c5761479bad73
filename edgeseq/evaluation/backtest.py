"""The walk-forward backtest: forecasts in price units beside what happened and beside persistence.

Training reports its test part through it and ``edgeseq run stock --backtest`` replays a
file through it, so both print the same table. Actual and last-observed values come
straight from the series in price units, never from unscaled float32.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from edgeseq.data.series import Series
from edgeseq.evaluation.forecast import evaluate, format_table


@dataclass(frozen=True, eq=False)
class Backtest:
    """Walk-forward forecasts in price units; row i was made from the rows before ``target_row[i]``."""

    target: str
    target_row: np.ndarray  # int [n]: series row of each forecast's first value
    dates: tuple[str, ...] | None  # the date of each target_row, when the series has dates
    actual: np.ndarray  # [n, horizon]
    predicted: np.ndarray  # [n, horizon]
    last: np.ndarray  # [n]: last observed value, which is also the persistence forecast
    evaluation: dict

    def __len__(self) -> int:
        return int(self.target_row.shape[0])

    def headline(self) -> str:
        """The line above the table: how many forecasts of what, over which dates."""
        span = f" from {self.dates[0]} to {self.dates[-1]}" if self.dates else ""
        return (f"walk-forward backtest: {len(self)} forecasts of {self.target}{span}, "
                f"horizon {self.actual.shape[1]}, price units")

    def table(self) -> str:
        return format_table(self.evaluation)

    def to_json(self) -> dict[str, Any]:
        return {"target": self.target, "forecasts": len(self), "horizon": int(self.actual.shape[1]),
                "first": self.dates[0] if self.dates else int(self.target_row[0]),
                "last": self.dates[-1] if self.dates else int(self.target_row[-1]),
                "evaluation": self.evaluation}


def score_forecasts(series: Series, target_row: np.ndarray, predicted: np.ndarray) -> Backtest:
    """Put price-unit forecasts [n, horizon] beside what happened and beside persistence."""
    predicted = np.asarray(predicted, np.float64)
    truth = series.target_values
    target_row = np.asarray(target_row, np.int64)
    actual = truth[target_row[:, None] + np.arange(predicted.shape[1])]
    last = truth[target_row - 1]
    dates = tuple(series.dates[i] for i in target_row) if series.dates else None
    return Backtest(series.target, target_row, dates, actual, predicted, last,
                    evaluate(actual, predicted, last))
