"""Price or sensor CSV files to a time-ordered ``Series``, oldest row first.

Reading the cells (layouts, numbers, dates) is ``data.csv_table``'s; here the rows are put
in time order, with notes saying how that order was found, and rows with a missing value are
filled forward or dropped as the caller chose. Cutting a Series into windows is ``data.windows``'s.
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edgeseq.choices import DATE_FORMATS, check_choice, missing_choice
from edgeseq.data import csv_table
from edgeseq.data.calendar import describe, infer_frequency
from edgeseq.data.dates import parse_moment
from edgeseq.data.user_files import read_utf8
from edgeseq.data.windows import checked_split
from edgeseq.errors import InputError

__all__ = ["Series", "load_csv", "rows_sha256"]


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
