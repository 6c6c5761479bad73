"""A CSV file's cells: its layout, its numbers, its missing values and its time order.

Reads a Yahoo Finance download, the lab's headerless file (newest row first) and any
headered CSV. A bad file is one line naming the file, the line and the column.
"""
from __future__ import annotations

import csv
import difflib
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edgeseq.data.dates import DateError, iso_dates, parse_moment
from edgeseq.errors import InputError

#: The lab's headerless file: these five columns, newest row first.
LAB_COLUMNS: tuple[str, ...] = ("Open", "High", "Low", "Volume", "Close")
#: Columns that mark a header as a Yahoo Finance download (Adj Close is optional).
YAHOO_COLUMNS: frozenset[str] = frozenset({"Date", "Open", "High", "Low", "Close", "Volume"})
#: Cell texts that mean "no value" (compared lower-case): Yahoo writes "null", FRED ".",
#: R "NA", spreadsheets "#N/A".
MISSING_MARKERS: frozenset[str] = frozenset({"", ".", "-", "nan", "null", "none", "na", "n/a", "#n/a"})
#: The largest magnitude a 32-bit float holds; the model computes in float32.
FLOAT32_MAX = float(np.finfo(np.float32).max)


@dataclass(frozen=True)
class Table:
    """The file's non-comment lines as stripped cells, with their 1-based line numbers."""

    source: str
    header: tuple[str, ...] | None  # None for the lab's headerless layout
    header_line: int
    rows: list[list[str]]
    lines: list[int]


@dataclass(frozen=True)
class Layout:
    """Which columns to read and how the file says its time order."""

    description: str
    column_names: tuple[str, ...]  # what each cell position is called
    features: tuple[str, ...]
    target: str
    date: str | None
    newest_first: bool
    date_by_name: bool = False  # the date column was taken for its name, not named by --date
    renamed: tuple[tuple[str, str], ...] = ()  # (name asked for, the file's column) matched in another case


def is_missing(cell: str) -> bool:
    return cell.lower() in MISSING_MARKERS


def read_table(source: str, text: str) -> Table:
    """Split into cells, skipping blank and '#' lines; decide if the first line is a header."""
    rows: list[list[str]] = []
    lines: list[int] = []
    delimiter = None
    text = text.replace("\r\n", "\n").replace("\r", "\n")  # Windows and old Mac line ends
    for line_number, line in enumerate(io.StringIO(text), start=1):  # split on "\n" only
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        delimiter = delimiter or _delimiter_of(line)
        try:
            cells = next(csv.reader([line], delimiter=delimiter))
        except csv.Error as error:  # a NUL byte, an unclosed quote before the line end, ...
            raise InputError(f"{source} row {line_number}: not a CSV row ({error})") from None
        rows.append([cell.strip() for cell in cells])
        lines.append(line_number)
    if not rows:
        raise InputError(f"{source} is empty: it has no data rows")
    if _looks_like_data(rows[0]):
        return Table(source, None, 0, rows, lines)
    if len(rows) == 1:
        raise InputError(f"{source} has a header (row {lines[0]}) but no data rows")
    return Table(source, tuple(rows[0]), lines[0], rows[1:], lines[1:])


def _delimiter_of(first_line: str) -> str:
    """Commas, or the semicolons (or tabs) that spreadsheets in many locales write instead."""
    for candidate in (";", "\t"):
        if candidate in first_line and "," not in first_line:
            return candidate
    return ","


def _looks_like_data(cells: list[str]) -> bool:
    """A line of numbers (some possibly missing) is data; any word makes it a header."""
    return any(cells) and all(is_missing(c) or _is_number(c) for c in cells)


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def choose_layout(table: Table, features: Sequence[str] | None, target: str | None,
                  date: str | None, needed_by: str | None = None) -> Layout:
    """Name the columns and pick the defaults of the detected format; apply the caller's.
    ``needed_by`` ("the model M needs (it reads ...)") words the line refusing a missing feature."""
    source = table.source
    if table.header is None:
        if len(table.rows[0]) != len(LAB_COLUMNS):
            raise InputError(
                f"{source} row {table.lines[0]}: no header and {len(table.rows[0])} columns; "
                f"a headerless file must be the lab's {len(LAB_COLUMNS)} columns "
                f"{','.join(LAB_COLUMNS)} (add a header row and pass --features/--target)"
            )
        if date is not None:
            raise InputError(f"{source} has no header, so it has no date column '{date}'; drop --date")
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
        raise InputError(f"{source} has columns {','.join(names)} but no known layout: "
                         "pass --target (and --features) to say which to read")
    chosen = tuple(features) if features is not None else (default_features or (chosen_target,))
    if chosen_target not in chosen:
        chosen = chosen + (chosen_target,)
    _refuse_repeated(chosen)
    chosen_date = date if date is not None else default_date
    date_by_name = chosen_date is None and table.header is not None
    if date_by_name:
        chosen_date = _date_column_by_name(table.header, chosen)
        date_by_name = chosen_date is not None

    wanted = [(name, "--target" if name == chosen_target else "--features") for name in chosen]
    wanted.append((chosen_date, "--date"))
    found = {}
    for name, option in wanted:
        if name is not None:
            found[name] = _column(table, names, name, option if option == "--date" or needed_by is None else None,
                                  needed_by)
    chosen = tuple(found[name] for name in chosen)
    _refuse_repeated(chosen)
    return Layout(description=description, column_names=names, features=chosen, target=found[chosen_target],
                  date=found.get(chosen_date), newest_first=table.header is None, date_by_name=date_by_name,
                  renamed=tuple((a, b) for a, b in found.items() if a != b))


def _refuse_repeated(chosen: tuple[str, ...]) -> None:
    repeated = sorted({name for name in chosen if chosen.count(name) > 1})
    if repeated:
        raise InputError(f"--features names {', '.join(repeated)} more than once")


def _date_column_by_name(header: tuple[str, ...], features: tuple[str, ...]) -> str | None:
    """The one header column called "date" (any case) that is not read as a feature, else None.

    Files name their date column so; reading such a file in file order would silently take a
    newest-first download backwards."""
    named = [name for name in header if name.lower() == "date"]
    return named[0] if len(named) == 1 and named[0] not in features else None


def _column(table: Table, names: tuple[str, ...], name: str, option: str | None, needed_by: str | None) -> str:
    """The header column ``name`` asks for: itself, else the one column equal in any case; a
    missing or doubled column is one line (naming the closest column there is)."""
    where = f"{table.source} row {table.header_line}" if table.header else table.source
    if names.count(name) > 1:
        raise InputError(f"{where}: column '{name}' appears {names.count(name)} times in the header")
    if name in names:
        return name
    same = [column for column in names if column.lower() == name.lower()]
    if len(same) == 1:
        return same[0]
    kind = "columns" if table.header else "columns (no header, lab format)"
    wanted = f" for {option}" if option is not None else f", which {needed_by}"
    if same:
        hint = f" ({' and '.join(repr(c) for c in same)} differ only in case: name one exactly)"
    else:
        lower = {column.lower(): column for column in names}
        close = difflib.get_close_matches(name.lower(), list(lower), n=1, cutoff=0.6)
        hint = f" (did you mean '{lower[close[0]]}'?)" if close else ""
    raise InputError(f"{where}: no column '{name}'{wanted}{hint}; the file's {kind} are {', '.join(names)}")


def parse_values(table: Table, layout: Layout, allow_missing: bool) -> np.ndarray:
    """The feature cells as float64 [rows, features] in file order; NaN marks a missing cell."""
    width = len(layout.column_names)
    like = f"the header on row {table.header_line}" if table.header else "the lab format"
    positions = [layout.column_names.index(name) for name in layout.features]
    values = np.empty((len(table.rows), len(positions)), dtype=np.float64)
    for row_index, (cells, line) in enumerate(zip(table.rows, table.lines)):
        if len(cells) != width:
            raise InputError(f"{table.source} row {line}: {len(cells)} cells, expected {width} like {like}")
        for feature_index, position in enumerate(positions):
            values[row_index, feature_index] = _parse_cell(
                cells[position], table.source, line, layout.features[feature_index], allow_missing)
    return values


def _parse_cell(cell: str, source: str, line: int, column: str, allow_missing: bool) -> float:
    where = f"{source} row {line}, column '{column}'"
    if is_missing(cell):
        if allow_missing:
            return math.nan
        shown = "empty cell" if not cell else f"'{cell}' marks a missing value"
        raise InputError(f"{where}: {shown}; fill it in, or pass --fill ffill or --drop-missing")
    try:
        number = float(cell)
    except ValueError:
        raise InputError(f"{where}: '{cell}' is not a number") from None
    if not math.isfinite(number):
        raise InputError(f"{where}: '{cell}' is not a finite number")
    if abs(number) > FLOAT32_MAX:
        raise InputError(f"{where}: '{cell}' is too large for the model's 32-bit floats "
                         f"(at most {FLOAT32_MAX:.3g} in size)")
    return number


def date_cells(table: Table, layout: Layout) -> list[str] | None:
    """The date column's cells in file order, or None when the rows are ordered without dates."""
    if layout.date is None:
        return None
    position = layout.column_names.index(layout.date)
    return [cells[position] for cells in table.rows]


def time_order(source: str, lines: Sequence[int], layout: Layout, texts: Sequence[str] | None,
               date_format: str | None = None, preferred_format: str | None = None,
               ) -> tuple[list[int], tuple[str, ...] | None, str | None, str]:
    """Row indexes oldest first, the ISO dates in that order (if any), their format, and a note.

    ``date_format`` forces the date column's format; otherwise it is found from every cell,
    ``preferred_format`` settling a column that fits several.
    """
    n_rows = len(lines)
    if texts is None:
        if date_format is not None:
            raise InputError(f"{source}: --date-format {date_format} needs a date column; "
                             "name it with --date, or drop --date-format")
        if layout.newest_first:
            return list(range(n_rows - 1, -1, -1)), None, None, "no dates: lab rows are newest first, reversed"
        return list(range(n_rows)), None, None, "no --date column: rows are taken as oldest first, in file order"

    column = layout.date
    for text, line in zip(texts, lines):
        if is_missing(text):
            shown = "empty date cell" if not text else f"'{text}' marks a missing date"
            raise InputError(f"{source} row {line}, column '{column}': {shown}; fill it in or pass --drop-missing")
    try:
        iso, found_format = iso_dates(texts, date_format, preferred_format)
    except DateError as error:
        where = f"{source} row {lines[error.row]}" if error.row is not None else source
        why = " (taken as the date column for its name; pass --date to name another)" if layout.date_by_name else ""
        raise InputError(f"{where}, column '{column}': {error.message}{why}") from None
    moments = [parse_moment(text) for text in iso]
    order = sorted(range(n_rows), key=lambda i: moments[i])
    for earlier, later in zip(order, order[1:]):
        if moments[earlier] == moments[later]:
            first, second = sorted((lines[earlier], lines[later]))
            raise InputError(f"{source} rows {first} and {second}, column '{column}': "
                             f"date {texts[later]} appears twice; keep one of the rows")
    if order == list(range(n_rows)):
        how = "already oldest first"
    elif order == list(range(n_rows - 1, -1, -1)):
        how = "file was newest first, reversed"
    else:
        how = "file was out of order, sorted oldest first"
    written = "" if found_format == "iso" else f", dates read as {found_format}"
    chosen = f"dates from column '{column}' (pass --date to choose another); " if layout.date_by_name else ""
    return order, tuple(iso[i] for i in order), found_format, f"{chosen}rows sorted by '{column}': {how}{written}"
