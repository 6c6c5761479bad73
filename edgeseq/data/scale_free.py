"""Scale-free windows: each window seen relative to its own last value, in typical changes.

A network fed min-max scaled levels cannot forecast a price above its training range (a
tanh cell saturates). The ``change`` target mode feeds it what carries over instead: for
each column, ``u = log x`` ("log" mode: the column's steps grow with its level) or ``u = x``
("diff"), and each window row as ``z_t = (u_t - u_last) / s``, where ``s`` is the column's
mean absolute one-step change of ``u`` over the training rows. The target is the next
``horizon`` changes of the target column, ``y_h = (u_(last+h) - u_last) / s``. The model
(edgeseq.training.change_model) divides each window by its own scale on top, so neither the
level nor the volatility of a window reaches the network.

The mode is found on the training rows only and stored in the model with ``s``:

* "diff" when a value is zero or negative (no logarithm);
* else the training part is cut into 5 time blocks, and beta is the slope of log(mean
  |change|) on log(mean level) over them: steps that grow with the level (beta > 0.5) are
  multiplicative, "log"; steps that do not are additive, "diff". When the block levels span
  less than a factor 1.25 the slope cannot be measured, and a positive column gets "log".

numpy only: the runtime reads the same modes from the model file, and the graph does the
transform itself.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edgeseq.contract.meta import COLUMN_MODES  # how a column becomes ``u``: its logarithm, or itself
from edgeseq.data.series import Series, Windows, checked_split, split_windows
from edgeseq.errors import InputError

BLOCKS = 5  # time blocks of the growth test
LEVEL_RANGE_MIN = 1.25  # below this ratio of block levels the growth test cannot tell
GROWTH_BETA = 0.5  # slope of log(step) on log(level) above which steps grow with the level


def detect_mode(train: np.ndarray) -> str:
    """"log" or "diff" for one column's training values (oldest first); see the module notes."""
    train = np.asarray(train, np.float64)
    if np.min(train) <= 0:
        return "diff"
    blocks = np.array_split(np.arange(1, len(train)), BLOCKS)
    if len(train) < 2 * BLOCKS + 1:
        return "log"
    level = np.array([train[b - 1].mean() for b in blocks])
    step = np.array([np.abs(train[b] - train[b - 1]).mean() for b in blocks])
    if level.max() / level.min() < LEVEL_RANGE_MIN or not np.all(step > 0):
        return "log"
    beta = float(np.polyfit(np.log(level), np.log(step), 1)[0])
    return "log" if beta > GROWTH_BETA else "diff"


def to_u(values: np.ndarray, mode: str) -> np.ndarray:
    return np.log(values) if mode == "log" else np.asarray(values, np.float64)


@dataclass(frozen=True)
class ScaleFree:
    """Each column's mode and typical change ``s`` (of ``u``), fitted on the training rows."""

    columns: tuple[str, ...]
    modes: tuple[str, ...]
    typical_change: tuple[float, ...]

    @classmethod
    def fit(cls, train: np.ndarray, columns: Sequence[str]) -> "ScaleFree":
        """Modes and typical changes of the training rows [rows, columns]; a column that never
        moves is refused (its windows would carry nothing)."""
        train = np.asarray(train, np.float64)
        modes, scales = [], []
        for i, name in enumerate(columns):
            mode = detect_mode(train[:, i])
            s = float(np.mean(np.abs(np.diff(to_u(train[:, i], mode)))))
            if not s > 0:
                raise InputError(f"column '{name}' is constant over the {len(train)} training rows; scale-free "
                                 "windows need a typical change: drop it from --features")
            modes.append(mode)
            scales.append(s)
        return cls(tuple(columns), tuple(modes), tuple(scales))

    def require_positive(self, values: np.ndarray, row_name, source: str) -> None:
        """One line naming the first row and column at or below zero in a "log" column
        (``row_name(i)`` names row i as the file does)."""
        for i, (name, mode) in enumerate(zip(self.columns, self.modes)):
            if mode != "log":
                continue
            column = np.asarray(values[:, i], np.float64)
            bad = np.flatnonzero(~(column > 0) | ~(column.astype(np.float32) > 0))
            if bad.size:
                row = int(bad[0])
                value = f"{column[row]:g} is not positive" if not column[row] > 0 else (
                    f"{column[row]:g} is 0 in the model's 32-bit floats")
                raise InputError(f"{source} {row_name(row)}, column '{name}': {value}, "
                                 f"and the model reads '{name}' as log ratios (it was positive in training)")

    def windows(self, values: np.ndarray, target_index: int, window: int, horizon: int):
        """(z [n, window, columns], y [n, horizon], target_row [n]) of every window with all its targets.

        Window i reads rows i .. i+window-1 and ``y`` holds the next ``horizon`` changes of the
        target after its last row, in the target's typical changes (float32 both)."""
        values = np.asarray(values, np.float64)
        n = len(values) - window - horizon + 1
        if n < 1:
            raise InputError(f"window {window} + horizon {horizon} needs at least {window + horizon} rows; "
                             f"the series has {len(values)}")
        u = np.column_stack([to_u(values[:, i], m) for i, m in enumerate(self.modes)])
        s = np.asarray(self.typical_change)
        starts = np.arange(n)
        last = u[starts + window - 1]  # [n, columns]
        z = (u[starts[:, None] + np.arange(window)] - last[:, None, :]) / s
        target_row = starts + window
        future = u[target_row[:, None] + np.arange(horizon), target_index]
        y = (future - last[:, target_index, None]) / s[target_index]
        return z.astype(np.float32), y.astype(np.float32), target_row.astype(np.int64)

    def to_dict(self) -> dict:
        return {"modes": list(self.modes), "typical_change": list(self.typical_change)}


def change_windows(values: np.ndarray, target_index: int, window: int, horizon: int, train_fraction: float,
                   columns: Sequence[str]) -> tuple[ScaleFree, Windows, Windows]:
    """The transform fitted on the training rows, training windows, walk-forward test windows
    (split as ``data.series.train_test_windows`` splits): x is z, y the next changes."""
    values = np.asarray(values, np.float64)
    split = checked_split(len(values), window, horizon, train_fraction)
    transform = ScaleFree.fit(values[:split], columns)
    z, y, target_row = transform.windows(values, target_index, window, horizon)
    every = Windows(x=z, y=y, last=values[target_row - 1, target_index].astype(np.float32), target_row=target_row,
                    target_mode="change")
    train, test = split_windows(every, split, horizon)
    return transform, train, test


def fitted_on_training_rows(series: Series, window: int, horizon: int, train_fraction: float) -> ScaleFree:
    """The transform ``change_windows`` fits for ``series``, checked against all of its rows:
    a column read as log ratios must stay positive after the training rows too, or training
    would take the log of a zero. One line naming the file (and the row and column); the CLI
    calls it before TensorFlow loads."""
    split = series.first_test_row(window, horizon, train_fraction)
    try:
        transform = ScaleFree.fit(series.values[:split], series.features)
    except InputError as e:  # a column that never moves
        raise InputError(f"{series.source}: {e}") from None
    transform.require_positive(series.values, series.row_name, series.source)
    return transform


def raw_windows(values: np.ndarray, target_row: np.ndarray, window: int) -> np.ndarray:
    """The ``window`` rows before each of ``target_row``, as they are: float32 [n, window, columns]."""
    rows = np.asarray(target_row)[:, None] - window + np.arange(window)
    return np.asarray(values, np.float64)[rows].astype(np.float32)


def on_exact_last(values: np.ndarray, last: np.ndarray) -> np.ndarray:
    """A change graph's float32 outputs [n, horizon] moved onto the exact (float64) last values [n].

    The graph saw each last value rounded to float32, so a forecast of "no change" comes out as
    that rounded value; adding back the rounding makes it the last value itself (persistence is
    then exactly persistence, and its direction "flat") and leaves every other forecast within
    a float32 ulp of what the graph said."""
    last = np.asarray(last, np.float64)
    rounded = last.astype(np.float32).astype(np.float64)
    return np.asarray(values, np.float64) + (last - rounded)[:, None]


__all__ = ["ScaleFree", "COLUMN_MODES", "detect_mode", "to_u", "change_windows", "fitted_on_training_rows", "raw_windows",
           "on_exact_last"]
