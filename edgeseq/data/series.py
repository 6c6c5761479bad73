"""Price or sensor CSV files to a time-ordered array, and that array to forecasting windows.

Two mistakes silently flatter a forecaster: reading the file in the wrong time order (the
classic RNN lab's stock file, the "lab format", is newest first) and letting the test period leak into training (through the
scaler or through windows whose targets cross the split). This module makes the order
explicit — every Series is oldest row first, and its notes say how that order was found —
and builds the training and test windows from one split point so that nothing after it
can influence the scaler or the training data.

Three file layouts are read: a Yahoo Finance download, the lab's headerless file and any
headered CSV with named columns. A bad file stops with one InputError line naming the
file, its 1-based line number and the column, so the user can open the file and fix it.
"""
from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np

from edgeseq.choices import FILL_METHODS, TARGET_MODES, check_choice
from edgeseq.data.files import read_utf8
from edgeseq.data.scaler import MinMaxScaler
from edgeseq.errors import InputError

#: The lab's headerless file: these five columns, newest row first.
LAB_COLUMNS: tuple[str, ...] = ("Open", "High", "Low", "Volume", "Close")
#: Columns that mark a header as a Yahoo Finance download (Adj Close is optional).
YAHOO_COLUMNS: frozenset[str] = frozenset({"Date", "Open", "High", "Low", "Close", "Volume"})
#: Cell texts that mean "no value" (compared lower-case); Yahoo writes "null".
MISSING_MARKERS: frozenset[str] = frozenset({"", "nan", "null", "na", "n/a"})


@dataclass(frozen=True, eq=False)
class Series:
    """A multivariate series, oldest row first, with the target among the features."""

    source: str
    features: tuple[str, ...]
    target: str
    values: np.ndarray  # float64 [rows, len(features)], read-only
    dates: tuple[str, ...] | None
    filled: int
    notes: tuple[str, ...]

    @property
    def target_index(self) -> int:
        return self.features.index(self.target)

    @property
    def target_values(self) -> np.ndarray:
        return self.values[:, self.target_index]


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


@dataclass(frozen=True)
class _Table:
    """The file's non-comment lines as stripped cells, with their 1-based line numbers."""

    source: str
    header: tuple[str, ...] | None  # None for the lab's headerless layout
    header_line: int
    rows: list[list[str]]
    lines: list[int]


@dataclass(frozen=True)
class _Layout:
    """Which columns to read and how the file says its time order."""

    description: str
    column_names: tuple[str, ...]  # what each cell position is called
    features: tuple[str, ...]
    target: str
    date: str | None
    newest_first: bool


def load_csv(
    path: str | os.PathLike[str],
    features: Sequence[str] | str | None = None,
    target: str | None = None,
    date: str | None = None,
    fill: str | None = None,
    preferred_date: str | None = None,
) -> Series:
    """Read a price/sensor CSV into a Series, oldest row first.

    ``features`` (a list, or one comma-separated string) and ``target`` override a
    format's defaults; the target is appended to the features when absent. ``date`` names
    the column to sort by. ``fill="ffill"`` fills empty cells from the previous row in time.
    ``preferred_date`` (a model's own date column) orders the rows when ``date`` is not given
    and the file has such a column; a file without it is read as if no date were named.
    """
    source = os.fspath(path)
    # The one unknown choice not worded by check_choice: both `--fill` and `fill=` reach this
    # check, and users (and tests) know this wording.
    if fill is not None and fill not in FILL_METHODS:
        raise InputError(f"unknown fill method '{fill}': use {' or '.join(repr(m) for m in FILL_METHODS)} "
                         "or leave it out")
    if isinstance(features, str):
        features = [name.strip() for name in features.split(",") if name.strip()]

    table = _read_table(source, read_utf8(source, "CSV file"))
    if date is None and preferred_date and table.header and preferred_date in table.header:
        date = preferred_date
    layout = _choose_layout(table, features, target, date)
    values = _parse_values(table, layout, allow_missing=fill is not None)
    order, dates, order_note = _time_order(table, layout)
    values, lines = values[order], [table.lines[i] for i in order]
    filled = _fill_forward(values, lines, layout.features, source) if fill else 0

    notes = [
        f"read {len(lines)} rows from {source} ({layout.description}), columns "
        f"{','.join(layout.features)}, target {layout.target}, oldest first",
        order_note,
    ]
    if filled:
        notes.append(f"filled {filled} empty cells forward from the previous row (fill=ffill)")
    values.setflags(write=False)
    return Series(
        source=source,
        features=layout.features,
        target=layout.target,
        values=values,
        dates=dates,
        filled=filled,
        notes=tuple(notes),
    )


def _read_table(source: str, text: str) -> _Table:
    """Split into cells, skipping blank and '#' lines; decide if the first line is a header."""
    rows: list[list[str]] = []
    lines: list[int] = []
    delimiter = None
    for line_number, line in enumerate(io.StringIO(text), start=1):  # split on "\n" only
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        delimiter = delimiter or _delimiter_of(line)
        cells = next(csv.reader([line], delimiter=delimiter))
        rows.append([cell.strip() for cell in cells])
        lines.append(line_number)
    if not rows:
        raise InputError(f"{source} is empty: it has no data rows")
    if _looks_like_data(rows[0]):
        return _Table(source, None, 0, rows, lines)
    if len(rows) == 1:
        raise InputError(f"{source} has a header (row {lines[0]}) but no data rows")
    return _Table(source, tuple(rows[0]), lines[0], rows[1:], lines[1:])


def _delimiter_of(first_line: str) -> str:
    """Commas, or the semicolons (or tabs) that spreadsheets in many locales write instead."""
    for candidate in (";", "\t"):
        if candidate in first_line and "," not in first_line:
            return candidate
    return ","


def _looks_like_data(cells: list[str]) -> bool:
    """A line of numbers (some possibly missing) is data; any word makes it a header."""
    return any(cells) and all(c.lower() in MISSING_MARKERS or _is_number(c) for c in cells)


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _choose_layout(
    table: _Table,
    features: Sequence[str] | None,
    target: str | None,
    date: str | None,
) -> _Layout:
    """Name the columns and pick the defaults of the detected format; apply the caller's."""
    source = table.source
    if table.header is None:
        if len(table.rows[0]) != len(LAB_COLUMNS):
            raise InputError(
                f"{source} row {table.lines[0]}: no header and {len(table.rows[0])} columns; "
                f"a headerless file must be the lab's {len(LAB_COLUMNS)} columns "
                f"{','.join(LAB_COLUMNS)} (add a header row and pass --features/--target)"
            )
        if date is not None:
            raise InputError(
                f"{source} has no header, so it has no date column '{date}'; drop --date"
            )
        description, names = "lab format, newest row first", LAB_COLUMNS
        default_features, default_target, default_date = LAB_COLUMNS, "Close", None
    elif YAHOO_COLUMNS <= set(table.header):
        description, names = "Yahoo Finance format", table.header
        default_features, default_target, default_date = LAB_COLUMNS, "Close", "Date"
    else:
        description, names = "CSV with header", table.header
        default_features, default_target, default_date = None, None, None

    chosen_target = target if target is not None else default_target
    if chosen_target is None:
        raise InputError(
            f"{source} has columns {','.join(names)} but no known layout: "
            "pass --target (and --features) to say which to read"
        )
    chosen = tuple(features) if features is not None else (default_features or (chosen_target,))
    if chosen_target not in chosen:
        chosen = chosen + (chosen_target,)
    repeated = sorted({name for name in chosen if chosen.count(name) > 1})
    if repeated:
        raise InputError(f"--features names {', '.join(repeated)} more than once")
    chosen_date = date if date is not None else default_date

    wanted = [(name, "--target" if name == chosen_target else "--features") for name in chosen]
    wanted.append((chosen_date, "--date"))
    for name, option in wanted:
        if name is not None and names.count(name) != 1:
            _raise_bad_column(table, names, name, option)
    return _Layout(
        description=description,
        column_names=names,
        features=chosen,
        target=chosen_target,
        date=chosen_date,
        newest_first=table.header is None,
    )


def _raise_bad_column(table: _Table, names: tuple[str, ...], name: str, option: str) -> None:
    where = f"{table.source} row {table.header_line}" if table.header else table.source
    if names.count(name) > 1:
        raise InputError(
            f"{where}: column '{name}' appears {names.count(name)} times in the header"
        )
    kind = "columns" if table.header else "columns (no header, lab format)"
    raise InputError(
        f"{where}: no column '{name}' for {option}; the file's {kind} are {', '.join(names)}"
    )


def _parse_values(table: _Table, layout: _Layout, allow_missing: bool) -> np.ndarray:
    """The feature cells as float64 [rows, features] in file order; NaN marks a missing cell."""
    width = len(layout.column_names)
    like = f"the header on row {table.header_line}" if table.header else "the lab format"
    positions = [layout.column_names.index(name) for name in layout.features]
    values = np.empty((len(table.rows), len(positions)), dtype=np.float64)
    for row_index, (cells, line) in enumerate(zip(table.rows, table.lines)):
        if len(cells) != width:
            raise InputError(
                f"{table.source} row {line}: {len(cells)} cells, expected {width} like {like}"
            )
        for feature_index, position in enumerate(positions):
            values[row_index, feature_index] = _parse_cell(
                cells[position], table.source, line, layout.features[feature_index], allow_missing
            )
    return values


FLOAT32_MAX = 3.4028234663852886e38


def _parse_cell(cell: str, source: str, line: int, column: str, allow_missing: bool) -> float:
    where = f"{source} row {line}, column '{column}'"
    if cell.lower() in MISSING_MARKERS:
        if allow_missing:
            return math.nan
        shown = "empty cell" if not cell else f"'{cell}' is a missing value"
        raise InputError(f"{where}: {shown}; fill it in or pass --fill ffill")
    try:
        number = float(cell)
    except ValueError:
        raise InputError(f"{where}: '{cell}' is not a number") from None
    if not math.isfinite(number):
        raise InputError(f"{where}: '{cell}' is not a finite number")
    if abs(number) > FLOAT32_MAX:  # the model computes in float32: this would become infinity
        raise InputError(f"{where}: '{cell}' is beyond float32 (at most ±3.4e38)")
    return number


def _time_order(table: _Table, layout: _Layout) -> tuple[list[int], tuple[str, ...] | None, str]:
    """Row indexes oldest first, the dates in that order (if any), and a note saying how."""
    n_rows = len(table.rows)
    if layout.date is None:
        if layout.newest_first:
            note = "no dates: lab rows are newest first, reversed"
            return list(range(n_rows - 1, -1, -1)), None, note
        note = "no --date column: rows are taken as oldest first, in file order"
        return list(range(n_rows)), None, note

    position = layout.column_names.index(layout.date)
    texts = [cells[position] for cells in table.rows]
    moments = [
        _parse_date(text, table.source, line, layout.date)
        for text, line in zip(texts, table.lines)
    ]
    order = sorted(range(n_rows), key=lambda i: moments[i])
    for earlier, later in zip(order, order[1:]):
        if moments[earlier] == moments[later]:
            first, second = sorted((table.lines[earlier], table.lines[later]))
            raise InputError(
                f"{table.source} rows {first} and {second}, column '{layout.date}': "
                f"date {texts[later]} appears twice; keep one of the rows"
            )
    if order == list(range(n_rows)):
        note = f"rows sorted by '{layout.date}': already oldest first"
    elif order == list(range(n_rows - 1, -1, -1)):
        note = f"rows sorted by '{layout.date}': file was newest first, reversed"
    else:
        note = f"rows sorted by '{layout.date}': file was out of order, sorted oldest first"
    return order, tuple(texts[i] for i in order), note


def parse_moment(text: str) -> datetime:
    """An ISO date or date-time as a naive UTC datetime, so that any two compare (ValueError
    if it is not ISO)."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


def _parse_date(text: str, source: str, line: int, column: str) -> datetime:
    try:
        return parse_moment(text)
    except ValueError:
        raise InputError(
            f"{source} row {line}, column '{column}': '{text}' is not an ISO date (YYYY-MM-DD)"
        ) from None


def _fill_forward(
    values: np.ndarray, lines: list[int], features: tuple[str, ...], source: str
) -> int:
    """Replace each NaN (in time order) by the previous row's value; return how many."""
    missing_rows, missing_columns = np.nonzero(np.isnan(values))  # row-major: earlier rows first
    for row, column in zip(missing_rows, missing_columns):
        if row == 0:
            raise InputError(
                f"{source} row {lines[0]}, column '{features[column]}': empty cell in the "
                "oldest row, which --fill ffill cannot fill (nothing before it); "
                "fill it in or delete the row"
            )
        values[row, column] = values[row - 1, column]
    return int(missing_rows.size)


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
    n_rows = values.shape[0]
    if columns is None:
        columns = [f"#{index}" for index in range(values.shape[1])]
    split = split_point(n_rows, train_fraction)
    needed = window + horizon
    if split < needed:
        raise InputError(
            f"the training part has {split} rows ({train_fraction:.0%} of {n_rows}) but window "
            f"{window} + horizon {horizon} needs at least {needed}; use a longer file or a "
            "smaller --window"
        )
    if n_rows - split < horizon:
        raise InputError(
            f"the test part has {n_rows - split} rows but horizon {horizon} needs at least "
            f"{horizon}; use a longer file or a smaller --train-fraction"
        )

    scaler = MinMaxScaler().fit(values[:split], columns)
    every = make_windows(scaler.transform(values), target_index, window, horizon, target_mode)
    last_predicted_row = every.target_row + horizon - 1
    train = _select(every, last_predicted_row < split)
    test = _select(every, every.target_row >= split)
    return scaler, train, test


def _select(windows: Windows, keep: np.ndarray) -> Windows:
    return Windows(
        x=windows.x[keep],
        y=windows.y[keep],
        last=windows.last[keep],
        target_row=windows.target_row[keep],
        target_mode=windows.target_mode,
    )
