"""Which forecasts of a file a backtest may honestly score: those after the model's training data.

Found by the last training date, or by the training rows' fingerprint for files without
dates; ``--from`` asks for another part.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edgeseq.contract.meta import SeriesMeta
from edgeseq.data.dates import parse_moment
from edgeseq.data.series import rows_sha256
from edgeseq.errors import InputError


@dataclass(frozen=True)
class BacktestPart:
    """Which forecasts a backtest scores: those whose first value is at ``first_row`` or later."""

    first_row: int
    note: str  # what is evaluated and why, for stderr
    in_sample: int = 0  # of those forecasts, how many fall in the model's training period


def backtest_part(meta: SeriesMeta, values: np.ndarray, dates: Sequence[str] | None, source: str,
                  start: str | None = None) -> BacktestPart:
    """The part of ``values`` (rows in the model's feature order, ``dates`` if any) to score.

    ``start`` (``--from``): a date, or for rows without dates a 1-based data row number.
    """
    after, known = _first_row_after_training(meta, values, dates)
    if start is not None:
        first = max(_row_at(start, dates, len(values), source), meta.window)
        in_sample = max(0, min(after, len(values) - meta.horizon + 1) - first) if after is not None else 0
        note = f"backtest: the forecasts from {_label(first, dates)} (--from {start})"
        if in_sample:
            note += (f"; {in_sample} of them fall in the model's training period ({known}), "
                     "so those are in-sample and flatter the table")
        return BacktestPart(first, note, in_sample)
    if after is None:
        return BacktestPart(meta.window, f"backtest: every forecast of {source}; it cannot be matched with the "
                                         "model's training data (no dates to compare, and its first rows are not "
                                         "the training rows)")
    if after >= len(values):
        raise InputError(f"{source}: every row falls in the model's training period ({known}), so nothing is "
                         "out-of-sample; pass --from DATE to replay part of it anyway")
    if after == 0:
        return BacktestPart(meta.window, f"backtest: every forecast of {source}; the file starts after the "
                                         f"model's training data ({known})")
    first = max(after, meta.window)
    return BacktestPart(first, f"backtest: the forecasts from {_label(first, dates)}, after the model's training "
                               f"data ({known}); the {after} rows before are in-sample and left out "
                               "(--from DATE chooses)")


def _first_row_after_training(meta: SeriesMeta, values: np.ndarray,
                              dates: Sequence[str] | None) -> tuple[int | None, str]:
    """The index of the first row after the model's training data, and how the data was found
    ("it ends 2022-09-06"); None when these rows cannot be matched with it."""
    end = meta.train_end
    if dates and end and not end.startswith("data row"):
        cut = parse_moment(end)
        return next((i for i, d in enumerate(dates) if parse_moment(d) > cut), len(dates)), f"it ends {end}"
    rows = meta.data.get("train_rows")
    if meta.train_sha256 and isinstance(rows, int) and rows <= len(values) \
            and rows_sha256(values[:rows]) == meta.train_sha256:
        return rows, f"the first {rows} rows, recognised by their values"
    return None, ""


def _row_at(start: str, dates: Sequence[str] | None, n_rows: int, source: str) -> int:
    """--from: the first row dated ``start`` or later; without dates, data row ``start`` (1-based)."""
    if dates:
        try:
            cut = parse_moment(start)
        except ValueError:
            raise InputError(f"--from {start}: not an ISO date (YYYY-MM-DD)") from None
        first = next((i for i, d in enumerate(dates) if parse_moment(d) >= cut), None)
        if first is None:
            raise InputError(f"--from {start} is after the last date of {source} ({dates[-1]})")
        return first
    if not start.isdigit() or not 1 <= int(start) <= n_rows:
        raise InputError(f"--from {start}: {source} has no dates, so give a data row number from 1 to {n_rows}")
    return int(start) - 1


def _label(row: int, dates: Sequence[str] | None) -> str:
    return dates[row] if dates else f"data row {row + 1}"
