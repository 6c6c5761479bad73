"""Scale-free windows for ``--target-mode change``: each window relative to its last value.

Each column is read in its mode (log, log1p or diff), divided by its typical change ``s``;
modes and ``s`` come from the training rows and travel in the model. The rule for the modes
is in docs/design.md, "Data".
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edgeseq.contract.meta import COLUMN_MODES  # how a column becomes ``u``: its logarithm, or itself
from edgeseq.data.series import Series
from edgeseq.data.windows import Windows, checked_split, split_windows
from edgeseq.errors import InputError

BLOCKS = 5  # time blocks of the growth test
LEVEL_RANGE_MIN = 1.25  # below this ratio of block levels the growth test cannot tell
GROWTH_BETA = 0.5  # slope of log(step) on log(level) above which steps grow with the level


#: the values each mode reads: a row outside them cannot be windowed
READABLE = {"log": "positive", "log1p": "at least 0", "diff": "finite"}


def detect_mode(train: np.ndarray, target: bool = True) -> str:
    """"log", "log1p" or "diff" for one column's training values (oldest first); see the module notes."""
    train = np.asarray(train, np.float64)
    if np.min(train) < 0 or (target and np.min(train) == 0):
        return "diff"
    if not target and (np.min(train) == 0 or np.all(train == np.round(train))):
        return "log1p"
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
    """A column as the model reads it (NaN where the mode cannot read a value)."""
    values = np.asarray(values, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        if mode == "log":
            return np.where(values > 0, np.log(np.where(values > 0, values, 1.0)), np.nan)
        if mode == "log1p":
            return np.where(values >= 0, np.log1p(np.where(values >= 0, values, 0.0)), np.nan)
    return values


def readable(values: np.ndarray, mode: str) -> np.ndarray:
    """bool [n]: which values ``mode`` reads (log: positive, log1p: 0 or more, diff: any finite)."""
    values = np.asarray(values, np.float64)
    ok = np.isfinite(values)
    if mode == "log":  # positive also in the graph's float32: 1e-300 is 0 there
        return ok & (values > 0) & (values.astype(np.float32) > 0)
    return ok & (values >= 0) if mode == "log1p" else ok


@dataclass(frozen=True)
class ScaleFree:
    """Each column's mode and typical change ``s`` (of ``u``), fitted on the training rows."""

    columns: tuple[str, ...]
    modes: tuple[str, ...]
    typical_change: tuple[float, ...]

    @classmethod
    def fit(cls, train: np.ndarray, columns: Sequence[str], target: str | None = None) -> "ScaleFree":
        """Modes and typical changes of the training rows [rows, columns] (``target``: the column
        forecast; the others are features); a column that never moves is refused (its windows
        would carry nothing)."""
        train = np.asarray(train, np.float64)
        modes, scales = [], []
        for i, name in enumerate(columns):
            mode = detect_mode(train[:, i], target is None or name == target)
            s = float(np.mean(np.abs(np.diff(to_u(train[:, i], mode)))))
            if not s > 0:
                raise InputError(f"column '{name}' is constant over the {len(train)} training rows; scale-free "
                                 "windows need a typical change: drop it from --features")
            modes.append(mode)
            scales.append(s)
        return cls(tuple(columns), tuple(modes), tuple(scales))

    def readable(self, values: np.ndarray) -> np.ndarray:
        """bool [n]: the rows of ``values`` [n, columns] whose every column its mode reads."""
        return np.all([readable(values[:, i], mode) for i, mode in enumerate(self.modes)], axis=0)

    def require_readable(self, values: np.ndarray, row_name, source: str) -> None:
        """One line naming the first row and column that its mode cannot read (``row_name(i)``
        names row i as the file does), and what to do."""
        for i, (name, mode) in enumerate(zip(self.columns, self.modes)):
            bad = np.flatnonzero(~readable(values[:, i], mode))
            if bad.size:
                row = int(bad[0])
                value = float(values[row, i])
                reads = {"log": "as log ratios", "log1p": "as changes of log(1 + value)"}.get(mode, "as differences")
                what = (f"{value:g} is 0 in the model's 32-bit floats" if mode == "log" and value > 0
                        else f"{value:g} is not {READABLE[mode]}")
                raise InputError(f"{source} {row_name(row)}, column '{name}': {what}, and the model reads "
                                 f"'{name}' {reads} (it was {READABLE[mode]} in training); fix the value, or "
                                 "forecast from rows before it")

    def describe(self) -> str:
        """'Close log (typical change 0.0123), Volume log1p (...)': train's summary line."""
        words = {"log": "log ratios", "log1p": "changes of log(1 + value)", "diff": "differences"}
        return ", ".join(f"{name} {words[mode]} (typical change {s:.4g})"
                         for name, mode, s in zip(self.columns, self.modes, self.typical_change))

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
    (split as ``data.windows.train_test_windows`` splits): x is z, y the next changes."""
    values = np.asarray(values, np.float64)
    split = checked_split(len(values), window, horizon, train_fraction)
    transform = ScaleFree.fit(values[:split], columns, columns[target_index])
    z, y, target_row = transform.windows(values, target_index, window, horizon)
    every = Windows(x=z, y=y, last=values[target_row - 1, target_index].astype(np.float32), target_row=target_row,
                    target_mode="change")
    train, test = split_windows(every, split, horizon)
    return transform, train, test


def fitted_on_training_rows(series: Series, window: int, horizon: int, train_fraction: float) -> ScaleFree:
    """The transform ``change_windows`` fits for ``series``, a column that never moves refused in
    one line naming the file; the CLI calls it before TensorFlow loads. A value after the training
    rows that a mode cannot read does not stop training: the backtest leaves out its windows."""
    split = series.first_test_row(window, horizon, train_fraction)
    try:
        return ScaleFree.fit(series.values[:split], series.features, series.target)
    except InputError as e:  # a column that never moves
        raise InputError(f"{series.source}: {e}") from None


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


__all__ = ["ScaleFree", "COLUMN_MODES", "READABLE", "detect_mode", "to_u", "readable", "change_windows", "fitted_on_training_rows", "raw_windows",
           "on_exact_last"]
