"""The CSVs people have: every date format, missing markers, dropping or filling rows, overflow."""
from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest

from edgeseq.data.series import load_csv
from edgeseq.errors import InputError

# Ten business days from Monday 8 March 2021 to Friday 19 March: days above 12 settle the order.
DAYS = [date(2021, 3, 8) + timedelta(days=d) for d in (0, 1, 2, 3, 4, 7, 8, 9, 10, 11)]
CLOSES = [10.5, 11.0, 10.75, 11.75, 12.25, 11.5, 11.0, 11.25, 12.75, 13.0]
WRITERS = {
    "iso": lambda d: d.isoformat(),
    "ymd": lambda d: d.strftime("%Y%m%d"),
    "y/m/d": lambda d: d.strftime("%Y/%m/%d"),
    "m/d/y": lambda d: f"{d.month}/{d.day}/{d.year}",
    "d/m/y": lambda d: f"{d.day}/{d.month}/{d.year}",
    "d.m.y": lambda d: f"{d.day}.{d.month}.{d.year}",
}
# The order rows are written in: neither oldest nor newest first, so sorting the text would fail.
SHUFFLE = (3, 0, 9, 5, 1, 8, 2, 7, 4, 6)


def write(tmp_path: Path, name: str, cells: list[tuple[str, str]], header: str = "Date,Close") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([header, *(",".join(row) for row in cells)]) + "\n", encoding="utf-8")
    return path


def dated(texts, closes=CLOSES) -> list[tuple[str, str]]:
    return [(texts[i], str(closes[i])) for i in SHUFFLE]


def input_error(path, **options) -> str:
    with pytest.raises(InputError) as caught:
        load_csv(path, target="Close", date="Date", **options)
    assert "\n" not in str(caught.value)
    return str(caught.value)


@pytest.mark.parametrize("date_format", list(WRITERS))
def test_every_date_format_loads_to_the_same_rows(tmp_path, date_format):
    texts = [WRITERS[date_format](d) for d in DAYS]
    series = load_csv(write(tmp_path, "prices.csv", dated(texts)), target="Close", date="Date")
    assert series.dates == tuple(d.isoformat() for d in DAYS)
    np.testing.assert_array_equal(series.target_values, CLOSES)
    assert series.date_format == date_format
    written = "" if date_format == "iso" else f", dates read as {date_format}"
    assert series.notes[1] == (f"rows sorted by 'Date': file was out of order, sorted oldest first{written}; "
                               "the dates step by business day (B)")


@pytest.mark.parametrize("writer, time, date_format", [
    (lambda d: f"{d.isoformat()}T16:00:00", "T16:00:00", "iso"),
    (lambda d: f"{d.isoformat()} 16:00:00", " 16:00:00", "iso"),  # ISO text is kept as written
    (lambda d: f"{d.month}/{d.day}/{d.year} 16:00", "T16:00:00", "m/d/y"),
    (lambda d: f"{d.day}.{d.month}.{d.year} 16:00:00", "T16:00:00", "d.m.y"),
])
def test_timestamps_load_to_the_same_rows_with_their_time(tmp_path, writer, time, date_format):
    series = load_csv(write(tmp_path, "stamps.csv", dated([writer(d) for d in DAYS])), target="Close", date="Date")
    assert series.dates == tuple(d.isoformat() + time for d in DAYS)
    np.testing.assert_array_equal(series.target_values, CLOSES)
    assert series.date_format == date_format


def test_a_column_that_fits_month_and_day_first_alike_is_one_line_naming_date_format(tmp_path):
    april = [f"{day}/4/1999" for day in range(1, 11)]  # 1 April .. 10 April, or 4 January .. 4 October
    path = write(tmp_path, "ambiguous.csv", [(text, "1.5") for text in april])
    assert input_error(path) == (
        f"{path}, column 'Date': dates like '1/4/1999' fit m/d/y and d/m/y alike (no day above 12 settles the "
        "order, and both readings are evenly spaced); pass --date-format m/d/y or --date-format d/m/y")
    assert load_csv(path, target="Close", date="Date", date_format="d/m/y").dates[:2] == ("1999-04-01", "1999-04-02")
    assert load_csv(path, target="Close", date="Date", date_format="m/d/y").dates[:2] == ("1999-01-04", "1999-02-04")
    # a model trained on such a file settles it the same way (only where the column fits both)
    assert load_csv(path, target="Close", date="Date", preferred_date_format="d/m/y").date_format == "d/m/y"


def test_one_day_above_12_anywhere_in_the_column_settles_the_order(tmp_path):
    texts = ["1/4/1999", "2/4/1999", "3/4/1999", "13/4/1999"]  # only the last row says day first
    series = load_csv(write(tmp_path, "late.csv", [(t, "2.0") for t in texts]), target="Close", date="Date")
    assert series.date_format == "d/m/y" and series.dates[-1] == "1999-04-13"


def test_dates_that_break_the_column_format_or_the_forced_one(tmp_path):
    texts = ["1/4/1999", "13/4/1999", "4/14/1999"]  # day first, then month first
    path = write(tmp_path, "mixed.csv", [(t, "2.0") for t in texts])
    assert input_error(path) == (
        f"{path} row 4, column 'Date': '4/14/1999' is not a date like the rows above it (d/m/y, e.g. "
        "'1/4/1999'); fix the cell, or pass --date-format if the column is another format")
    assert input_error(path, date_format="m/d/y") == (
        f"{path} row 3, column 'Date': '13/4/1999' is not in the m/d/y format (1/4/1999 is 4 January) that "
        "--date-format m/d/y asks for")
    words = write(tmp_path, "words.csv", [("5 March 2021", "2.0")])
    assert input_error(words) == (
        f"{words} row 2, column 'Date': '5 March 2021' is not a date edgeseq reads: write YYYY-MM-DD (ISO, a "
        "time may follow), YYYYMMDD, YYYY/MM/DD, M/D/YYYY, D/M/YYYY or D.M.YYYY")
    impossible = write(tmp_path, "feb.csv", [("2/30/1999", "2.0")])
    assert "'2/30/1999' is not a date edgeseq reads" in input_error(impossible)


def test_unknown_date_format_and_a_date_format_without_a_date_column(tmp_path):
    path = write(tmp_path, "prices.csv", dated([d.isoformat() for d in DAYS]))
    assert input_error(path, date_format="dmy") == (
        "unknown --date-format 'dmy'; choose one of: iso, ymd, y/m/d, m/d/y, d/m/y, d.m.y")
    path = write(tmp_path, "days.csv", dated([d.isoformat() for d in DAYS]), header="Day,Close")
    with pytest.raises(InputError) as caught:
        load_csv(path, target="Close", date_format="iso", features=["Close"], preferred_date="When")
    assert str(caught.value) == f"{path}: --date-format iso needs a date column; name it with --date, or drop " \
                                "--date-format"


MARKERS = ["", ".", "-", "NA", "N/A", "#N/A", "null", "None", "NaN"]


@pytest.mark.parametrize("marker", MARKERS)
def test_each_missing_marker_is_one_exact_line(tmp_path, marker):
    cells = dated([d.isoformat() for d in DAYS])
    cells[4] = (cells[4][0], marker)  # file row 6
    path = write(tmp_path, "gaps.csv", cells)
    shown = "empty cell" if not marker else f"'{marker}' marks a missing value"
    assert input_error(path) == (
        f"{path} row 6, column 'Close': {shown}; fill it in, or pass --fill ffill or --drop-missing")


@pytest.mark.parametrize("marker", ["", "."])
def test_a_missing_date_is_one_line_and_can_only_be_dropped(tmp_path, marker):
    cells = dated([d.isoformat() for d in DAYS])
    cells[2] = (marker, cells[2][1])  # file row 4
    path = write(tmp_path, "nodate.csv", cells)
    shown = "empty date cell" if not marker else f"'{marker}' marks a missing date"
    expected = f"{path} row 4, column 'Date': {shown}; fill it in or pass --drop-missing"
    assert input_error(path) == expected
    assert input_error(path, fill="ffill") == expected
    series = load_csv(path, target="Close", date="Date", drop_missing=True)
    assert len(series.values) == 9 and series.dropped == 1
    assert DAYS[SHUFFLE[2]].isoformat() not in series.dates


def gappy(tmp_path: Path) -> Path:
    """Rows of 9, 10 and 16 March hold '.', an empty cell and 'NA'."""
    cells = [(d.isoformat(), str(c)) for d, c in zip(DAYS, CLOSES)]
    for row, marker in ((1, "."), (2, ""), (6, "NA")):
        cells[row] = (cells[row][0], marker)
    return write(tmp_path, "gappy.csv", cells)


def test_drop_missing_leaves_the_rows_out_and_says_how_many(tmp_path):
    series = load_csv(gappy(tmp_path), target="Close", date="Date", drop_missing=True)
    kept = [i for i in range(10) if i not in (1, 2, 6)]
    assert series.dates == tuple(DAYS[i].isoformat() for i in kept)
    np.testing.assert_array_equal(series.target_values, [CLOSES[i] for i in kept])
    assert (series.dropped, series.filled, series.missing) == (3, 0, "drop")
    assert series.notes[-1] == "dropped 3 rows with a missing value (--drop-missing)"
    assert series.lines == (2, 5, 6, 7, 9, 10, 11)  # file lines of the rows kept


def test_fill_forward_fills_from_the_previous_row_and_says_how_many(tmp_path):
    series = load_csv(gappy(tmp_path), target="Close", date="Date", fill="ffill")
    expected = list(CLOSES)
    expected[1] = expected[2] = CLOSES[0]
    expected[6] = CLOSES[5]
    np.testing.assert_array_equal(series.target_values, expected)
    assert (series.filled, series.dropped, series.missing) == (3, 0, "ffill")
    assert series.notes[-1] == "filled 3 missing cells forward from the previous row (--fill ffill)"


def test_fill_and_drop_missing_exclude_each_other_and_dropping_everything_is_refused(tmp_path):
    path = gappy(tmp_path)
    assert input_error(path, fill="ffill", drop_missing=True) == (
        "--fill and --drop-missing both say what to do with a missing value; choose one")
    empty = write(tmp_path, "empty.csv", [(d.isoformat(), "NA") for d in DAYS[:3]])
    assert input_error(empty, drop_missing=True) == (
        f"{empty}: every one of its 3 rows has a missing value; --drop-missing leaves nothing")


def test_a_value_beyond_float32_names_its_row_and_column(tmp_path):
    cells = dated([d.isoformat() for d in DAYS])
    cells[3] = (cells[3][0], "1e300")  # file row 5
    path = write(tmp_path, "huge.csv", cells)
    assert input_error(path) == (
        f"{path} row 5, column 'Close': '1e300' is too large for the model's 32-bit floats (at most 3.4e+38 in size)")
    cells[3] = (cells[3][0], "-3.5e38")
    assert "'-3.5e38' is too large" in input_error(write(tmp_path, "low.csv", cells))
    cells[3] = (cells[3][0], "3.3e38")  # still a float32
    assert load_csv(write(tmp_path, "ok.csv", cells), target="Close", date="Date").values.max() == 3.3e38


def test_a_zero_after_the_training_rows_does_not_stop_training_and_is_named_where_it_is_read(tmp_path):
    from edgeseq.data.scale_free import fitted_on_training_rows

    series = load_csv(write(tmp_path, "prices.csv", dated([d.isoformat() for d in DAYS])), target="Close",
                      date="Date")
    values = np.array(series.values)
    values[-1, 0] = 0.0  # after the training rows: the log of 0 is not taken, its windows are left out
    transform = fitted_on_training_rows(replace(series, values=values), 3, 1, 0.7)
    assert transform.modes == ("log",)
    assert transform.readable(values).tolist() == [True] * 9 + [False]
    with pytest.raises(InputError) as caught:
        transform.require_readable(values, series.row_name, series.source)
    assert str(caught.value) == (f"{series.source} {series.row_name(len(values) - 1)}, column 'Close': 0 is not "
                                 "positive, and the model reads 'Close' as log ratios (it was positive in training); "
                                 "fix the value, or forecast from rows before it")


@pytest.mark.parametrize("name", ["Date", "DATE", "date"])
def test_a_column_called_date_orders_the_rows_without_date_and_says_so(tmp_path, name):
    path = write(tmp_path, "newest_first.csv", [(d.isoformat(), str(c)) for d, c in zip(DAYS, CLOSES)][::-1],
                 header=f"{name},Close")
    series = load_csv(path, target="Close")
    assert series.notes[1] == (f"dates from column '{name}' (pass --date to choose another); "
                               f"rows sorted by '{name}': file was newest first, reversed; the dates step by "
                               "business day (B)")
    assert series.dates == tuple(d.isoformat() for d in DAYS) and series.date_column == name
    np.testing.assert_array_equal(series.target_values, CLOSES)
    named = load_csv(path, target="Close", date=name)  # named with --date: no word on why
    assert named.notes[1] == f"rows sorted by '{name}': file was newest first, reversed; the dates step by business day (B)"


def test_a_column_called_date_is_left_alone_when_read_as_a_feature_or_not_the_only_one(tmp_path):
    rows = [(str(i), str(c)) for i, c in enumerate(CLOSES)]
    as_feature = load_csv(write(tmp_path, "numbers.csv", rows, header="date,Close"), features="date", target="Close")
    assert as_feature.features == ("date", "Close") and as_feature.dates is None
    assert as_feature.notes[1] == "no --date column: rows are taken as oldest first, in file order"
    two = write(tmp_path, "two.csv", [(d.isoformat(), d.isoformat(), str(c)) for d, c in zip(DAYS, CLOSES)][::-1],
                header="Date,date,Close")
    assert load_csv(two, target="Close").dates is None


def test_a_column_called_date_without_dates_is_one_line_suggesting_date(tmp_path):
    path = write(tmp_path, "words.csv", [("monday", "1.0"), ("tuesday", "2.0")], header="Date,Close")
    with pytest.raises(InputError) as caught:
        load_csv(path, target="Close")
    assert str(caught.value) == (
        f"{path} row 2, column 'Date': 'monday' is not a date edgeseq reads: write YYYY-MM-DD (ISO, a time may "
        "follow), YYYYMMDD, YYYY/MM/DD, M/D/YYYY, D/M/YYYY or D.M.YYYY (taken as the date column for its name; "
        "pass --date to name another)")
