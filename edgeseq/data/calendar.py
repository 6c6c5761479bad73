"""A series' calendar step, found from its dates, and the dates after its last row.

Steps are pandas' offset aliases (``B``, ``W-FRI``, ``MS``, ``QE``, ``3600s``, ...): a monthly
file's next date is the next month's, not 31 days on. Standard library only.
"""
from __future__ import annotations

import calendar
import re
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

from edgeseq.errors import InputError

DAY = 86400  # seconds
#: the most frequency steps one row may skip in a regular series (holidays, a missing week)
MAX_GAP = 7
WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
_MONTHS = {"M": 1, "Q": 3, "Y": 12}
_MONTHLY = re.compile(r"(\d*)([MQY])(S|E|\d{1,2})")
_WORDS = {"B": "business day", "D": "day", "MS": "month (first day)", "ME": "month (last day)",
          "QS": "quarter (first day)", "QE": "quarter (last day)", "YS": "year (first day)", "YE": "year (last day)"}


def parse_moment(text: str) -> datetime:
    """An ISO date or date-time as a naive UTC datetime, so that any two compare (ValueError
    if it is not ISO)."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


def infer_frequency(moments: Sequence[datetime]) -> str | None:
    """The step of ``moments`` (oldest first): calendar months when every date is the first (or
    last) of its month, else business days, days, weeks or a fixed number of seconds, by the
    most common spacing. None with fewer than two moments."""
    if len(moments) < 2:
        return None
    midnight = all(m.hour == m.minute == m.second == m.microsecond == 0 for m in moments)
    day = moments[0].day
    for anchor, on in (("S", lambda m: m.day == 1), ("E", _month_end), (str(day), lambda m: m.day == day)):
        if midnight and all(on(m) for m in moments):
            months = Counter(_month_index(b) - _month_index(a) for a, b in zip(moments, moments[1:]))
            k = max(months, key=months.get)
            if k > 0:
                name = {1: "M", 3: "Q", 12: "Y"}.get(k)
                return f"{name}{anchor}" if name else f"{k}M{anchor}"
    steps = Counter(round((b - a).total_seconds()) for a, b in zip(moments, moments[1:]))
    seconds = max(steps, key=steps.get)
    if seconds == DAY:
        return "B" if all(m.weekday() < 5 for m in moments) else "D"
    if seconds == 7 * DAY:
        days = Counter(m.weekday() for m in moments)
        return f"W-{WEEKDAYS[max(days, key=days.get)]}"
    if seconds > 0 and seconds % DAY == 0:
        return f"{seconds // DAY}D"
    return f"{seconds}s" if seconds > 0 else None


def regular(moments: Sequence[datetime]) -> bool:
    """Whether ``moments`` (oldest first) step by their frequency: every gap a whole number of
    steps from 1 to ``MAX_GAP``."""
    frequency = infer_frequency(moments)
    if frequency is None:
        return False
    for a, b in zip(moments, moments[1:]):
        moment, count = a, 0
        while moment < b and count <= MAX_GAP:
            moment, count = step(moment, frequency), count + 1
        if moment != b or count > MAX_GAP:
            return False
    return True


def step(moment: datetime, frequency: str) -> datetime:
    """The moment one ``frequency`` step after ``moment``."""
    monthly = _MONTHLY.fullmatch(frequency)
    if monthly:
        k = int(monthly.group(1) or 1) * _MONTHS[monthly.group(2)]
        index = _month_index(moment) + k
        year, month = divmod(index, 12)
        anchor, last = monthly.group(3), calendar.monthrange(year, month + 1)[1]
        day = 1 if anchor == "S" else last if anchor == "E" else min(int(anchor), last)
        return moment.replace(year=year, month=month + 1, day=day)
    if frequency == "B":
        moment += timedelta(days=1)
        while moment.weekday() >= 5:
            moment += timedelta(days=1)
        return moment
    if frequency.startswith("W-"):
        return moment + timedelta(days=7)
    if frequency.endswith("D"):
        return moment + timedelta(days=int(frequency[:-1] or 1))
    if frequency.endswith("s"):
        return moment + timedelta(seconds=int(frequency[:-1]))
    raise ValueError(f"not a frequency edgeseq knows: {frequency!r}")


def describe(frequency: str) -> str:
    """'business day (B)', 'month (first day) (MS)', '7 days (7D)', for notes."""
    if frequency in _WORDS:
        return f"{_WORDS[frequency]} ({frequency})"
    monthly = _MONTHLY.fullmatch(frequency)
    if monthly and monthly.group(3).isdigit():
        return f"{monthly.group(1) or 1} month(s) on day {monthly.group(3)} ({frequency})"
    if frequency.startswith("W-"):
        return f"week, on {frequency[2:].capitalize()}days ({frequency})"
    count, unit = frequency[:-1], {"D": "days", "s": "seconds"}.get(frequency[-1], "")
    return f"{count} {unit} ({frequency})" if unit and count.isdigit() else frequency


def next_dates(dates: Sequence[str] | None, count: int, frequency: str | None = None) -> list[str] | None:
    """The ``count`` dates after the last of ``dates`` (ISO text), stepping by ``frequency``
    (default: the one found from the dates). None when there are no dates to step from."""
    if not dates:
        return None
    last = datetime.fromisoformat(dates[-1])
    offset = last.utcoffset() or timedelta(0)  # stepped in the last date's local time, printed with its offset
    moments = [parse_moment(d) + offset for d in dates[-60:]]
    frequency = frequency or infer_frequency(moments)
    if frequency is None:
        return None
    zone = timezone(offset) if last.tzinfo is not None else None
    as_text = ((lambda m: m.date().isoformat()) if len(dates[-1]) == 10
               else (lambda m: m.replace(tzinfo=zone).isoformat()))
    out, moment = [], moments[-1]
    while len(out) < count:
        try:
            moment = step(moment, frequency)
        except (OverflowError, ValueError) as e:
            if isinstance(e, ValueError) and "out of range" not in str(e):
                raise
            raise InputError(f"the last date, {dates[-1]}, leaves no room for the {count} date(s) after it "
                             "(dates end at 9999-12-31)") from None
        out.append(as_text(moment))
    return out


def _month_index(moment: datetime) -> int:
    return moment.year * 12 + moment.month - 1


def _month_end(moment: datetime) -> bool:
    return moment.day == calendar.monthrange(moment.year, moment.month)[1]


__all__ = ["parse_moment", "infer_frequency", "regular", "step", "describe", "next_dates", "MAX_GAP"]
