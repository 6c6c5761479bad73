"""Price or sensor CSV files to a time-ordered Series, and that Series to forecasting windows.

Two mistakes silently flatter a forecaster: reading the file in the wrong time order (the
classic RNN lab's stock file, the "lab format", is newest first) and letting the test period
leak into training (through the scaler or through windows whose targets cross the split).
This module makes the order explicit — every Series is oldest row first, and its notes say
how that order was found — and builds the training and test windows from one split point
so that nothing after it can influence the scaler or the training data.

Reading the cells (layouts, numbers, dates) is ``data.csv_table``'s; here the rows with a
missing value are filled forward or dropped, as the caller chose, and counted.

It runs a little over 300 lines because the split point and the windows cut on each side of
it are kept in one file: the guarantee above holds only if nothing else cuts them.
"""
from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edgeseq.choices import DATE_FORMATS, TARGET_MODES, check_choice, missing_choice
from edgeseq.data import csv_table
from edgeseq.data.calendar import describe, infer_frequency
from edgeseq.data.dates import parse_moment
from edgeseq.data.user_files import read_utf8
from edgeseq.data.scaler import MinMaxScaler
from edgeseq.errors import InputError

__all__ = ["Series", "Windows", "load_csv", "rows_sha256", "parse_moment", "split_point",
           "make_windows", "train_test_windows", "checked_split", "split_windows"]


@dataclass(frozen=True, eq=False)
class Series:
    """A multivariate series, oldest row first, with the target among the features."""

    source: str
    features: tuple[str, ...]
    target: str
    values: np.ndarray  # float64 [rows, len(features)], read-only
    dates: tuple[str, ...] | None  # ISO text, whatever the file wrote
    filled: int
    notes: tuple[str, ...]
    dropped: int = 0  # rows left out for a missing value (missing == "drop")
    missing: str | None = None  # how missing values were treated: "ffill", "drop" or None (refused)
    date_format: str | None = None  # how the file wrote its dates (data.dates.DATE_FORMATS)
    lines: tuple[int, ...] | None = None  # the file line of each row, for error lines
    date_column: str | None = None  # the column the rows were sorted by (--date, the format's or by its name)
    frequency: str | None = None  # the dates' calendar step (data.calendar), None without dates
    filled_cells: np.ndarray | None = None  # bool [rows, features]: the cells --fill ffill filled

    @property
    def target_index(self) -> int:
        return self.features.index(self.target)

    def first_test_row(self, window: int, horizon: int, train_fraction: float) -> int:
        """``checked_split`` of this series, its refusal naming the file (before TensorFlow loads)."""
        try:
            return checked_split(len(self.values), window, horizon, train_fraction)
        except InputError as e:
            raise InputError(f"{self.source}: {e}") from None

    @property
    def target_values(self) -> np.ndarray:
        return self.values[:, self.target_index]

    def filled_target(self) -> np.ndarray:
        """bool [rows]: the rows whose target value was filled forward, not read."""
        if self.filled_cells is None:
            return np.zeros(len(self.values), bool)
        return self.filled_cells[:, self.target_index]

    def row_name(self, row: int) -> str:
        """How an error line names a row: its file line when known."""
        return f"row {self.lines[row]}" if self.lines else f"data row {row + 1}"


@dataclass(frozen=True, eq=False)
class Windows:
    """Model inputs and targets cut from a scaled series; row i is one forecast."""

    x: np.ndarray  # float32 [n, window, features]
    y: np.ndarray  # float32 [n, horizon]: scaled target levels, or deltas from `last`
    last: np.ndarray  # float32 [n]: the last observed scaled target of each window
    target_row: np.ndarray  # int64 [n]: series row of the first predicted value
    target_mode: str

    def __len__(self) -> int:
        return int(self.x.shape[0])


# --------------------------------------------------------------------------- loading


def load_csv(
    path: str | os.PathLike[str],
    features: Sequence[str] | str | None = None,
    target: str | None = None,
    date: str | None = None,
    fill: str | None = None,
    preferred_date: str | None = None,
    *,
    drop_missing: bool = False,
    date_format: str | None = None,
    preferred_date_format: str | None = None,
    needed_by: str | None = None, text: str | None = None,
) -> Series:
    """Read a price/sensor CSV into a Series, oldest row first.

    ``features`` (a list, or one comma-separated string) and ``target`` override a
    format's defaults; the target is appended to the features when absent. ``date`` names
    the column to sort by; ``date_format`` forces how its dates are written (else it is
    found from the whole column, ``preferred_date_format`` settling an ambiguous one).
    ``fill="ffill"`` fills missing cells from the previous row in time; ``drop_missing``
    leaves out every row with a missing value instead. ``preferred_date`` (a model's own
    date column) orders the rows when ``date`` is not given and the file has such a column;
    a file without it is read as if no date were named. ``needed_by`` ("the model M needs (it
    reads ...)") words the line refusing a missing feature (default: it names --features or --target).
    ``text``: the CSV's text itself (``path`` then only names it in messages).
    """
    source = os.fspath(path)
    missing = missing_choice(fill, drop_missing)
    if date_format is not None:
        check_choice("--date-format", date_format, DATE_FORMATS)
    if isinstance(features, str):
        features = [name.strip() for name in features.split(",") if name.strip()]

    table = csv_table.read_table(source, read_utf8(source, "CSV file") if text is None else text)
    if date is None and preferred_date and table.header and preferred_date in table.header:
        date = preferred_date
    layout = csv_table.choose_layout(table, features, target, date, needed_by)
    values = csv_table.parse_values(table, layout, allow_missing=missing is not None)
    lines, texts = table.lines, csv_table.date_cells(table, layout)
    dropped = 0
    if missing == "drop":
        keep = ~np.isnan(values).any(axis=1)
        if texts is not None:
            keep &= [not csv_table.is_missing(text) for text in texts]
        dropped = int(np.count_nonzero(~keep))
        if dropped == len(lines):
            raise InputError(f"{source}: every one of its {dropped} rows has a missing value; "
                             "--drop-missing leaves nothing")
        values, lines = values[keep], [line for line, kept in zip(lines, keep) if kept]
        texts = None if texts is None else [text for text, kept in zip(texts, keep) if kept]
    order, dates, found_format, order_note = csv_table.time_order(
        source, lines, layout, texts, date_format, preferred_date_format)
    values, lines = values[order], [lines[i] for i in order]
    filled_cells = np.isnan(values) if missing == "ffill" else None
    filled = _fill_forward(values, lines, layout.features, source) if missing == "ffill" else 0
    frequency = infer_frequency([parse_moment(d) for d in dates]) if dates else None

    notes = [
        f"read {len(lines)} rows from {source} ({layout.description}), columns "
        f"{','.join(layout.features)}, target {layout.target}, oldest first",
        f"{order_note}; the dates step by {describe(frequency)}" if frequency else order_note,
    ]
    notes += [f"column '{asked}' is read from the file's '{column}'" for asked, column in layout.renamed]
    if dropped:
        notes.append(f"dropped {dropped} row{'s' * (dropped > 1)} with a missing value (--drop-missing)")
    if filled:
        notes.append(f"filled {filled} missing cell{'s' * (filled > 1)} forward from the previous row (--fill ffill)")
    values.setflags(write=False)
    return Series(source=source, features=layout.features, target=layout.target, values=values, dates=dates,
                  filled=filled, notes=tuple(notes), dropped=dropped, missing=missing,
                  date_format=found_format, lines=tuple(lines), date_column=layout.date, frequency=frequency,
                  filled_cells=filled_cells if filled else None)


def _fill_forward(values: np.ndarray, lines: list[int], features: tuple[str, ...], source: str) -> int:
    """Replace each NaN (in time order) by the previous row's value; return how many."""
    missing_rows, missing_columns = np.nonzero(np.isnan(values))  # row-major: earlier rows first
    for row, column in zip(missing_rows, missing_columns):
        if row == 0:
            raise InputError(
                f"{source} row {lines[0]}, column '{features[column]}': missing value in the oldest row, "
                "which --fill ffill cannot fill (nothing before it); fill it in, delete the row or "
                "pass --drop-missing"
            )
        values[row, column] = values[row - 1, column]
    return int(missing_rows.size)


def rows_sha256(values: np.ndarray) -> str:
    """A fingerprint of rows of values (float64, as read): a model stores its training rows' so
    that a file without dates can still be recognised as the one it trained on."""
    return hashlib.sha256(np.ascontiguousarray(values, dtype="<f8").tobytes()).hexdigest()


# --------------------------------------------------------------------------- windows


def split_point(n_rows: int, train_fraction: float = 0.7) -> int:
    """Index of the first test row: the first ``train_fraction`` of the rows train."""
    if not 0.0 < train_fraction < 1.0:
        raise InputError(f"--train-fraction must be between 0 and 1, got {train_fraction}")
    # The small epsilon keeps e.g. 70 * 0.7 = 48.99999999999999 from flooring to 48.
    split = math.floor(n_rows * train_fraction + 1e-9)
    if split < 1 or split >= n_rows:
        raise InputError(
            f"--train-fraction {train_fraction} of {n_rows} rows leaves "
            f"{split} training and {n_rows - split} test rows; both need at least one"
        )
    return split


def make_windows(
    scaled: np.ndarray,
    target_index: int,
    window: int,
    horizon: int,
    target_mode: str,
) -> Windows:
    """Every window of ``window`` rows with the ``horizon`` target values that follow it.

    Window t reads rows t .. t+window-1 and predicts the target at rows
    t+window .. t+window+horizon-1. ``level`` targets are the scaled target values;
    ``delta`` targets are those minus the window's last scaled target.
    """
    scaled = np.asarray(scaled, dtype=np.float64)
    if scaled.ndim != 2:
        raise InputError(f"windows need a 2-D array [rows, features], got shape {scaled.shape}")
    n_rows, n_features = scaled.shape
    if window < 1 or horizon < 1:
        raise InputError(f"--window and --horizon must be at least 1, got {window} and {horizon}")
    check_choice("target mode", target_mode, TARGET_MODES)
    if not 0 <= target_index < n_features:
        raise InputError(f"target index {target_index} is out of range for {n_features} features")
    needed = window + horizon
    if n_rows < needed:
        raise InputError(
            f"window {window} + horizon {horizon} needs at least {needed} rows; "
            f"the series has {n_rows}"
        )

    n_windows = n_rows - needed + 1
    starts = np.arange(n_windows)[:, None]
    input_rows = starts + np.arange(window)  # [n, window]
    target_rows = starts + window + np.arange(horizon)  # [n, horizon]
    target = scaled[:, target_index]
    last = target[starts[:, 0] + window - 1]
    levels = target[target_rows]
    y = levels - last[:, None] if target_mode == "delta" else levels
    return Windows(
        x=scaled[input_rows].astype(np.float32),
        y=y.astype(np.float32),
        last=last.astype(np.float32),
        target_row=target_rows[:, 0].astype(np.int64),
        target_mode=target_mode,
    )


def train_test_windows(
    values: np.ndarray,
    target_index: int,
    window: int,
    horizon: int,
    target_mode: str = "level",
    train_fraction: float = 0.7,
    columns: Sequence[str] | None = None,
) -> tuple[MinMaxScaler, Windows, Windows]:
    """Scaler fitted on the training rows, training windows, walk-forward test windows.

    Training windows predict only rows before the split; test windows start predicting at
    or after it and may read their inputs from the training rows. With horizon > 1, the few
    windows whose predictions straddle the split belong to neither. ``columns`` names the
    features in error messages and in the scaler's metadata.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2:
        raise InputError(f"windows need a 2-D array [rows, features], got shape {values.shape}")
    if columns is None:
        columns = [f"#{index}" for index in range(values.shape[1])]
    split = checked_split(values.shape[0], window, horizon, train_fraction)
    scaler = MinMaxScaler().fit(values[:split], columns)
    every = make_windows(scaler.transform(values), target_index, window, horizon, target_mode)
    train, test = split_windows(every, split, horizon)
    return scaler, train, test


def checked_split(n_rows: int, window: int, horizon: int, train_fraction: float) -> int:
    """``split_point``, refused when the training part is too short to train on or the test part
    holds no forecast. Training needs two windows' worth of rows (and a window and its horizon):
    fewer leave a handful of nearly identical windows to fit and to validate on."""
    split = split_point(n_rows, train_fraction)
    needed = max(2 * window, window + horizon)
    if split < needed:
        raise InputError(
            f"the training part has {split} rows ({train_fraction:.0%} of {n_rows}) but window "
            f"{window} and horizon {horizon} need at least {needed} rows to train on (two windows' worth); use a "
            "larger --train-fraction, a longer file or a smaller --window"
        )
    if n_rows - split < horizon:
        raise InputError(
            f"the test part has {n_rows - split} rows but horizon {horizon} needs at least "
            f"{horizon}; use a longer file or a smaller --train-fraction"
        )
    return split


def split_windows(windows: Windows, split: int, horizon: int) -> tuple[Windows, Windows]:
    """(training windows: every predicted row before ``split``, test windows: from ``split`` on)."""
    last_predicted_row = windows.target_row + horizon - 1
    return _select(windows, last_predicted_row < split), _select(windows, windows.target_row >= split)


def _select(windows: Windows, keep: np.ndarray) -> Windows:
    return Windows(
        x=windows.x[keep],
        y=windows.y[keep],
        last=windows.last[keep],
        target_row=windows.target_row[keep],
        target_mode=windows.target_mode,
    )
