"""Dates as people's files write them, recognised from the whole column, returned as ISO text.

A column that fits both day-first and month-first is settled by even spacing, else refused
naming ``--date-format``, never guessed. Standard library only.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from edgeseq.choices import DATE_FORMATS
from edgeseq.data.calendar import parse_moment, regular

#: What each of the DATE_FORMATS looks like, for help texts and error lines.
DATE_EXAMPLES: dict[str, str] = {
    "iso": "1999-01-04 or 1999-01-04T09:30:00",
    "ymd": "19990104",
    "y/m/d": "1999/01/04",
    "m/d/y": "1/4/1999 is 4 January",
    "d/m/y": "4/1/1999 is 4 January",
    "d.m.y": "4.1.1999",
}

# An optional time after the date, as spreadsheets write it: " 9:30", " 09:30:00", " 9:30:00.5".
_TIME = r"(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?"
# Each non-ISO format: its pattern and which groups are (year, month, day).
_PATTERNS: dict[str, tuple[re.Pattern[str], tuple[int, int, int]]] = {
    "ymd": (re.compile(r"(\d{4})(\d{2})(\d{2})"), (1, 2, 3)),
    "y/m/d": (re.compile(r"(\d{4})/(\d{1,2})/(\d{1,2})" + _TIME), (1, 2, 3)),
    "m/d/y": (re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})" + _TIME), (3, 1, 2)),
    "d/m/y": (re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})" + _TIME), (3, 2, 1)),
    "d.m.y": (re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})" + _TIME), (3, 2, 1)),
}
# ISO proper: Python also reads "19990104" and week dates as ISO, which are not what "iso" means here.
_ISO_START = re.compile(r"\d{4}-\d{2}-\d{2}")


class DateError(ValueError):
    """A date column that cannot be read: ``row`` indexes the bad cell (None: the whole column)."""

    def __init__(self, row: int | None, message: str):
        super().__init__(message)
        self.row, self.message = row, message


def to_iso(text: str, date_format: str) -> str | None:
    """``text`` in ``date_format`` as ISO text, or None when it is not a valid date in it."""
    if date_format == "iso":
        if not _ISO_START.match(text):
            return None
        try:
            parse_moment(text)
        except ValueError:
            return None
        return text
    pattern, (year, month, day) = _PATTERNS[date_format]
    match = pattern.fullmatch(text)
    if match is None:
        return None
    hour, minute, second = (match.group(i) if i <= pattern.groups else None for i in (4, 5, 6))
    try:
        moment = datetime(int(match.group(year)), int(match.group(month)), int(match.group(day)),
                          int(hour or 0), int(minute or 0), int(second or 0))
    except ValueError:  # 2/30/1999, 13/13/1999, 25:00
        return None
    return moment.isoformat() if hour is not None else moment.date().isoformat()


def iso_dates(texts: Sequence[str], date_format: str | None = None,
              preferred: str | None = None) -> tuple[tuple[str, ...], str]:
    """Every cell as ISO text, and the format they were read in.

    ``date_format`` forces one format; otherwise the formats that fit every cell are kept and
    must come down to one. ``preferred`` (the format a model was trained with) settles a
    column that fits several, else the only reading whose dates are evenly spaced
    (``data.calendar.regular``). Raises DateError for the first cell that fits no remaining
    format, or for a column that is ambiguous.
    """
    if date_format is not None:
        return _read_all(texts, date_format), date_format
    remaining: tuple[str, ...] = DATE_FORMATS
    for row, text in enumerate(texts):
        fitting = tuple(f for f in remaining if to_iso(text, f) is not None)
        if not fitting:
            raise DateError(row, _no_fit(texts, row, remaining))
        remaining = fitting
    if len(remaining) > 1:
        if preferred in remaining:
            return _read_all(texts, preferred), preferred
        readings = {f: _read_all(texts, f) for f in remaining}
        even = [f for f, iso in readings.items() if regular(sorted(parse_moment(d) for d in iso))]
        if len(even) == 1:
            return readings[even[0]], even[0]
        example = texts[0] if texts else ""
        options = " or ".join(f"--date-format {f}" for f in remaining)
        raise DateError(None, f"dates like '{example}' fit {' and '.join(remaining)} alike (no day above 12 "
                           f"settles the order, and {'both readings' if even else 'neither reading'} "
                           f"{'are' if even else 'is'} evenly spaced); pass {options}")
    return _read_all(texts, remaining[0]), remaining[0]


def _read_all(texts: Sequence[str], date_format: str) -> tuple[str, ...]:
    out = []
    for row, text in enumerate(texts):
        iso = to_iso(text, date_format)
        if iso is None:  # only a forced format can miss: a detected one fits every cell
            raise DateError(row, f"'{text}' is not in the {date_format} format ({DATE_EXAMPLES[date_format]}) "
                                 f"that --date-format {date_format} asks for")
        out.append(iso)
    return tuple(out)


def _no_fit(texts: Sequence[str], row: int, remaining: tuple[str, ...]) -> str:
    text = texts[row]
    if remaining == DATE_FORMATS:  # the first cell (no cell fits every format)
        return (f"'{text}' is not a date edgeseq reads: write YYYY-MM-DD (ISO, a time may follow), "
                "YYYYMMDD, YYYY/MM/DD, M/D/YYYY, D/M/YYYY or D.M.YYYY")
    kinds = " or ".join(remaining)
    return (f"'{text}' is not a date like the rows above it ({kinds}, e.g. '{texts[0]}'); "
            "fix the cell, or pass --date-format if the column is another format")
