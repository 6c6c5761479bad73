"""CSV series loading, scaling, windows and the synthetic sample (numpy only, no model)."""
from __future__ import annotations

import json
import math
import re
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from edgeseq.data.scaler import MinMaxScaler
from edgeseq.data.series import load_csv
from edgeseq.data.windows import make_windows, split_point, train_test_windows
from edgeseq.data.synthetic import synthetic_label, synthetic_prices, write_synthetic_csv
from edgeseq.errors import InputError

# Ten trading days, oldest first: date, open, high, low, close, volume.
DAYS = [
    ("2021-03-01", 10.0, 11.0, 9.5, 10.5, 1000),
    ("2021-03-02", 10.5, 11.5, 10.0, 11.0, 1200),
    ("2021-03-03", 11.0, 11.25, 10.25, 10.75, 900),
    ("2021-03-04", 10.75, 12.0, 10.5, 11.75, 1500),
    ("2021-03-05", 11.75, 12.5, 11.5, 12.25, 1100),
    ("2021-03-08", 12.25, 12.75, 11.0, 11.5, 1700),
    ("2021-03-09", 11.5, 11.75, 10.75, 11.0, 1300),
    ("2021-03-10", 11.0, 11.5, 10.5, 11.25, 1000),
    ("2021-03-11", 11.25, 13.0, 11.0, 12.75, 2100),
    ("2021-03-12", 12.75, 13.25, 12.5, 13.0, 1600),
]
# The same days as [rows, (Open, High, Low, Volume, Close)], the lab's column order.
EXPECTED = np.array([[o, h, low, v, c] for _, o, h, low, c, v in DAYS])
LAB_ORDER = ("Open", "High", "Low", "Volume", "Close")


def yahoo_text(days=DAYS) -> str:
    lines = ["Date,Open,High,Low,Close,Adj Close,Volume"]
    lines += [f"{d},{o},{h},{low},{c},{c},{v}" for d, o, h, low, c, v in days]
    return "\n".join(lines) + "\n"


def lab_text(days=DAYS) -> str:
    """Headerless, newest row first, behind a comment line."""
    lines = ["# Open,High,Low,Volume,Close -- newest first"]
    lines += [f"{o},{h},{low},{v},{c}" for _, o, h, low, c, v in reversed(days)]
    return "\n".join(lines) + "\n"


def generic_text(days=DAYS) -> str:
    """Columns in another order, an extra text column, a date column called 'day'."""
    lines = ["day,station,Close,Volume,High,Open,Low"]
    lines += [f"{d},north,{c},{v},{h},{o},{low}" for d, o, h, low, c, v in days]
    return "\n".join(lines) + "\n"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def input_error(path, **options) -> str:
    with pytest.raises(InputError) as caught:
        load_csv(path, **options)
    message = str(caught.value)
    assert "\n" not in message
    return message


# ------------------------------------------------------------------ formats and order


def test_yahoo_lab_and_generic_files_give_the_same_values_and_windows(tmp_path):
    yahoo = load_csv(write(tmp_path, "yahoo.csv", yahoo_text()))
    lab = load_csv(write(tmp_path, "lab.csv", lab_text()))
    generic = load_csv(
        write(tmp_path, "generic.csv", generic_text()),
        features=list(LAB_ORDER), target="Close", date="day",
    )
    for series in (yahoo, lab, generic):
        assert series.features == LAB_ORDER
        assert series.target == "Close" and series.target_index == 4
        assert series.values.dtype == np.float64
        np.testing.assert_array_equal(series.values, EXPECTED)
        np.testing.assert_array_equal(series.target_values, EXPECTED[:, 4])
    assert yahoo.dates == generic.dates == tuple(d for d, *_ in DAYS)
    assert lab.dates is None

    windows = [
        train_test_windows(s.values, 4, 3, 1, "level", 0.7)[1:] for s in (yahoo, lab, generic)
    ]
    for train, test in windows[1:]:
        np.testing.assert_array_equal(train.x, windows[0][0].x)
        np.testing.assert_array_equal(test.y, windows[0][1].y)


def test_newest_first_and_oldest_first_files_give_identical_values(tmp_path):
    oldest_first = load_csv(write(tmp_path, "old.csv", yahoo_text()))
    newest_first = load_csv(write(tmp_path, "new.csv", yahoo_text(list(reversed(DAYS)))))
    shuffled_days = [DAYS[i] for i in (3, 0, 9, 5, 1, 8, 2, 7, 4, 6)]
    shuffled = load_csv(write(tmp_path, "mixed.csv", yahoo_text(shuffled_days)))
    for series in (newest_first, shuffled):
        np.testing.assert_array_equal(series.values, oldest_first.values)
        assert series.dates == oldest_first.dates
    assert "already oldest first" in oldest_first.notes[1]
    assert "newest first, reversed" in newest_first.notes[1]
    assert "out of order" in shuffled.notes[1]


def test_notes_describe_what_was_read(tmp_path):
    path = write(tmp_path, "yahoo.csv", yahoo_text())
    series = load_csv(path)
    assert series.source == str(path)
    assert series.notes[0] == (
        f"read 10 rows from {path} (Yahoo Finance format), columns Open,High,Low,Volume,Close, "
        "target Close, oldest first"
    )
    lab = load_csv(write(tmp_path, "lab.csv", lab_text()))
    assert "lab format" in lab.notes[0] and "newest first, reversed" in lab.notes[1]


def test_generic_file_without_date_is_taken_oldest_first_with_a_note(tmp_path):
    text = "Close,Volume\n" + "".join(f"{c},{v}\n" for _, _, _, _, c, v in DAYS)
    series = load_csv(write(tmp_path, "plain.csv", text), features=["Volume"], target="Close")
    assert series.features == ("Volume", "Close")  # the target is appended
    np.testing.assert_array_equal(series.target_values, EXPECTED[:, 4])
    assert series.dates is None
    assert "no --date column: rows are taken as oldest first" in series.notes[1]


def test_caller_features_and_target_override_yahoo_defaults(tmp_path):
    path = write(tmp_path, "yahoo.csv", yahoo_text())
    series = load_csv(path, features="High, Low", target="Adj Close")
    assert series.features == ("High", "Low", "Adj Close")
    assert series.target_index == 2
    np.testing.assert_array_equal(series.target_values, EXPECTED[:, 4])
    only_target = load_csv(path, features=[], target="Close")
    assert only_target.features == ("Close",)


def test_lab_file_columns_can_be_selected_by_name(tmp_path):
    series = load_csv(write(tmp_path, "lab.csv", lab_text()), features=["Close"], target="Close")
    assert series.features == ("Close",)
    np.testing.assert_array_equal(series.values[:, 0], EXPECTED[:, 4])


def test_comments_blank_lines_and_byte_order_mark_are_skipped(tmp_path):
    text = "\ufeff# a label\n\n" + yahoo_text().replace("\n2021-03-03", "\n# note\n2021-03-03")
    series = load_csv(write(tmp_path, "commented.csv", text))
    np.testing.assert_array_equal(series.values, EXPECTED)


def test_values_are_read_only(tmp_path):
    series = load_csv(write(tmp_path, "yahoo.csv", yahoo_text()))
    with pytest.raises(ValueError):
        series.values[0, 0] = 1.0


# ------------------------------------------------------------------ missing values


def test_fill_forward_counts_and_fills_in_time_order(tmp_path):
    lines = lab_text().splitlines()
    # Newest first: line 2 is 2021-03-12, line 4 is 2021-03-10 and line 5 is 2021-03-09.
    lines[3] = "11.0,11.5,10.5,,nan"  # 2021-03-10: Volume and Close missing
    lines[1] = "12.75,13.25,12.5,1600,"  # 2021-03-12: Close missing
    path = write(tmp_path, "gaps.csv", "\n".join(lines) + "\n")

    assert input_error(path) == (
        f"{path} row 2, column 'Close': empty cell; fill it in, or pass --fill ffill or --drop-missing"
    )
    series = load_csv(path, fill="ffill")
    assert series.filled == 3
    expected = EXPECTED.copy()
    expected[7, 3] = expected[6, 3]  # from the day before (2021-03-09), not the file line above
    expected[7, 4] = expected[6, 4]
    expected[9, 4] = expected[8, 4]
    np.testing.assert_array_equal(series.values, expected)
    assert series.notes[-1] == "filled 3 missing cells forward from the previous row (--fill ffill)"


def test_nan_cell_is_an_error_without_fill(tmp_path):
    text = yahoo_text().replace("2021-03-04,10.75,12.0,", "2021-03-04,NaN,12.0,")
    path = write(tmp_path, "nan.csv", text)
    assert input_error(path) == (
        f"{path} row 5, column 'Open': 'NaN' marks a missing value; fill it in, or pass --fill ffill or "
        "--drop-missing"
    )


def test_missing_cell_in_the_oldest_row_cannot_be_filled(tmp_path):
    lines = lab_text().splitlines()
    lines[-1] = "10.0,11.0,,1000,10.5"  # last line of a newest-first file = oldest day
    path = write(tmp_path, "first.csv", "\n".join(lines) + "\n")
    message = input_error(path, fill="ffill")
    assert message == (f"{path} row 11, column 'Low': missing value in the oldest row, which --fill ffill "
                       "cannot fill (nothing before it); fill it in, delete the row or pass --drop-missing")


# ------------------------------------------------------------------ errors


def test_missing_file_and_directory(tmp_path):
    missing = tmp_path / "nope.csv"
    assert input_error(missing) == f"{missing} does not exist"
    assert input_error(tmp_path) == f"{tmp_path} is a directory, not a CSV file"


def test_file_that_is_not_utf8_names_the_row(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(yahoo_text().replace("2021-03-02", "2021-03-02 caf\xe9").encode("latin-1"))
    assert input_error(path) == (
        f"{path} row 3: byte 0xe9 is not UTF-8 text; save the file as UTF-8"
    )


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
def test_empty_file(tmp_path, text):
    path = write(tmp_path, "empty.csv", text)
    assert input_error(path) == f"{path} is empty: it has no data rows"


def test_header_without_rows(tmp_path):
    path = write(tmp_path, "header.csv", "# label\nDate,Open,High,Low,Close,Adj Close,Volume\n")
    assert input_error(path) == f"{path} has a header (row 2) but no data rows"


def test_missing_target_feature_and_date_columns_list_the_file_columns(tmp_path):
    path = write(tmp_path, "generic.csv", generic_text())
    columns = "day, station, Close, Volume, High, Open, Low"
    assert input_error(path, target="Price") == (
        f"{path} row 1: no column 'Price' for --target; the file's columns are {columns}"
    )
    assert input_error(path, features=["Open", "Hgh"], target="Close") == (
        f"{path} row 1: no column 'Hgh' for --features (did you mean 'High'?); the file's columns are {columns}"
    )
    assert input_error(path, target="Close", date="Date") == (
        f"{path} row 1: no column 'Date' for --date; the file's columns are {columns}"
    )
    assert "pass --target" in input_error(path)
    lab = write(tmp_path, "lab.csv", lab_text())
    assert input_error(lab, target="Adj Close") == (
        f"{lab}: no column 'Adj Close' for --target (did you mean 'Close'?); the file's columns (no header, lab "
        "format) are Open, High, Low, Volume, Close"
    )


def test_non_numeric_and_infinite_cells(tmp_path):
    path = write(tmp_path, "bad.csv", yahoo_text().replace(",11.75,11.75,1500", ",abc,11.75,1500"))
    assert input_error(path) == f"{path} row 5, column 'Close': 'abc' is not a number"
    path = write(tmp_path, "inf.csv", yahoo_text().replace(",1500", ",inf"))
    assert input_error(path) == f"{path} row 5, column 'Volume': 'inf' is not a finite number"


def test_unselected_columns_may_hold_anything(tmp_path):
    text = yahoo_text().replace(",11.75,11.75,1500", ",11.75,lots,1500")  # Adj Close
    path = write(tmp_path, "extra.csv", text)
    series = load_csv(path, features=["Open"], target="Close")
    assert series.values.shape == (10, 2)


def test_row_with_wrong_number_of_cells(tmp_path):
    path = write(tmp_path, "short.csv", yahoo_text().replace(",12.25,1100", ""))
    assert input_error(path) == f"{path} row 6: 5 cells, expected 7 like the header on row 1"
    lines = lab_text().splitlines()
    lines[4] += ",99"
    lab = write(tmp_path, "lab.csv", "\n".join(lines) + "\n")
    assert input_error(lab) == f"{lab} row 5: 6 cells, expected 5 like the lab format"


def test_headerless_file_that_is_not_the_lab_format(tmp_path):
    path = write(tmp_path, "three.csv", "# sensor\n1,2,3\n4,5,6\n")
    message = input_error(path)
    assert message.startswith(f"{path} row 2: no header and 3 columns")
    assert "Open,High,Low,Volume,Close" in message


def test_bad_and_duplicate_dates_name_rows_and_column(tmp_path):
    path = write(tmp_path, "baddate.csv", yahoo_text().replace("2021-03-05", "5 March 2021"))
    assert input_error(path) == (
        f"{path} row 6, column 'Date': '5 March 2021' is not a date like the rows above it (iso, e.g. "
        "'2021-03-01'); fix the cell, or pass --date-format if the column is another format"
    )
    path = write(tmp_path, "dup.csv", yahoo_text().replace("2021-03-09", "2021-03-02"))
    assert input_error(path) == (
        f"{path} rows 3 and 8, column 'Date': date 2021-03-02 appears twice; keep one of the rows"
    )


def test_unknown_fill_and_repeated_feature(tmp_path):
    path = write(tmp_path, "yahoo.csv", yahoo_text())
    assert input_error(path, fill="zero") == (
        "unknown fill method 'zero': use 'ffill' or leave it out"
    )
    assert input_error(path, features=["Open", "Open"]) == "--features names Open more than once"


# ------------------------------------------------------------------ scaler


def test_scaler_round_trips_and_survives_json():
    rng = np.random.default_rng(0)
    values = rng.normal(100.0, 30.0, (50, 3)) * np.array([1.0, 1e-3, 1e6])
    scaler = MinMaxScaler().fit(values, ["a", "b", "c"])
    scaled = scaler.transform(values)
    np.testing.assert_array_equal(scaled.min(axis=0), [0.0, 0.0, 0.0])
    np.testing.assert_allclose(scaled.max(axis=0), [1.0, 1.0, 1.0], rtol=1e-15)
    np.testing.assert_allclose(scaler.inverse_transform(scaled), values, rtol=1e-12, atol=0)
    target = scaler.inverse_transform_column(scaled[:, 2], 2)
    np.testing.assert_allclose(target, values[:, 2], rtol=1e-12, atol=0)

    restored = MinMaxScaler.from_dict(json.loads(json.dumps(scaler.to_dict())))
    assert restored.columns == ("a", "b", "c")
    np.testing.assert_array_equal(restored.transform(values), scaled)
    np.testing.assert_array_equal(restored.min_, scaler.min_)
    np.testing.assert_array_equal(restored.range_, scaler.range_)


def test_scaler_is_exactly_min_max():
    scaler = MinMaxScaler().fit(np.array([[2.0, -1.0], [6.0, 3.0], [4.0, 1.0]]), ["x", "y"])
    np.testing.assert_array_equal(scaler.min_, [2.0, -1.0])
    np.testing.assert_array_equal(scaler.range_, [4.0, 4.0])
    scaled = scaler.transform(np.array([[4.0, 0.0], [10.0, -5.0]]))
    np.testing.assert_array_equal(scaled, [[0.5, 0.25], [2.0, -1.0]])


def test_constant_column_is_refused_with_its_name():
    values = np.array([[1.0, 5.0], [2.0, 5.0], [3.0, 5.0]])
    with pytest.raises(InputError) as caught:
        MinMaxScaler().fit(values, ["Close", "Volume"])
    assert str(caught.value) == (
        "column 'Volume' is constant over the 3 training rows; min-max scaling needs a range: "
        "drop it from --features"
    )


def test_column_constant_only_in_the_training_part_is_refused():
    values = np.column_stack([np.arange(10.0), [7.0] * 7 + [8.0, 9.0, 10.0]])
    with pytest.raises(InputError, match="column 'Volume' is constant over the 7 training rows"):
        train_test_windows(values, 0, 2, 1, "level", 0.7, columns=["Close", "Volume"])


# ------------------------------------------------------------------ windows and split


def test_split_point():
    assert split_point(10) == 7
    assert split_point(70) == 49  # 70 * 0.7 is 48.99999999999999 in floating point
    assert split_point(1000, 0.8) == 800
    with pytest.raises(InputError, match="between 0 and 1"):
        split_point(10, 1.0)
    with pytest.raises(InputError, match="leaves 0 training and 1 test rows"):
        split_point(1)


# Target column: exactly representable in float32, so expected values are exact.
TINY = np.array([[0.0, 10.0], [0.25, 11.0], [0.5, 12.0], [0.125, 13.0], [1.0, 14.0], [0.75, 15.0]])


def test_make_windows_level_by_hand():
    windows = make_windows(TINY, target_index=0, window=3, horizon=2, target_mode="level")
    assert len(windows) == 2
    assert windows.x.shape == (2, 3, 2) and windows.x.dtype == np.float32
    assert windows.y.shape == (2, 2) and windows.y.dtype == np.float32
    np.testing.assert_array_equal(windows.x[0], TINY[0:3])
    np.testing.assert_array_equal(windows.x[1], TINY[1:4])
    np.testing.assert_array_equal(windows.y, [[0.125, 1.0], [1.0, 0.75]])
    np.testing.assert_array_equal(windows.last, [0.5, 0.125])
    np.testing.assert_array_equal(windows.target_row, [3, 4])


def test_make_windows_delta_by_hand():
    windows = make_windows(TINY, target_index=0, window=3, horizon=2, target_mode="delta")
    np.testing.assert_array_equal(windows.y, [[-0.375, 0.5], [0.875, 0.625]])
    np.testing.assert_array_equal(windows.last, [0.5, 0.125])
    np.testing.assert_array_equal(windows.x[1], TINY[1:4])


def test_make_windows_many_to_one_shapes():
    scaled = np.random.default_rng(1).random((30, 5))
    windows = make_windows(scaled, 4, 7, 1, "level")
    assert windows.x.shape == (23, 7, 5) and windows.y.shape == (23, 1)
    np.testing.assert_array_equal(windows.y[:, 0], scaled[7:, 4].astype(np.float32))
    np.testing.assert_array_equal(windows.target_row, np.arange(7, 30))


def test_not_enough_rows_says_how_many_are_needed():
    with pytest.raises(InputError) as caught:
        make_windows(TINY[:4], 0, 3, 2, "level")
    assert str(caught.value) == "window 3 + horizon 2 needs at least 5 rows; the series has 4"
    with pytest.raises(InputError) as caught:
        train_test_windows(np.random.default_rng(0).random((10, 2)), 0, 7, 1, "level", 0.7)
    assert str(caught.value) == (
        "the training part has 7 rows (70% of 10) but window 7 and horizon 1 need at least 14 rows to train on (two "
        "windows' worth); use a larger --train-fraction, a longer file or a smaller --window")
    with pytest.raises(InputError) as caught:  # two windows' worth, though one window and its horizon fit
        train_test_windows(np.random.default_rng(0).random((40, 2)), 0, 12, 1, "level", 0.5)
    assert str(caught.value).startswith("the training part has 20 rows (50% of 40) but window 12 and horizon 1 "
                                        "need at least 24 rows to train on")
    train_test_windows(np.random.default_rng(0).random((40, 2)), 0, 12, 1, "level", 0.6)  # 24 rows: enough


def test_unknown_target_mode():
    with pytest.raises(InputError, match="unknown target mode 'diff'"):
        make_windows(TINY, 0, 3, 1, "diff")


def test_train_and_test_windows_split_in_time():
    values = np.random.default_rng(2).random((20, 3))
    scaler, train, test = train_test_windows(values, 2, 3, 2, "level", 0.7)  # split at row 14
    np.testing.assert_array_equal(train.target_row, np.arange(3, 13))  # predicts rows <= 13
    np.testing.assert_array_equal(test.target_row, np.arange(14, 19))
    np.testing.assert_array_equal(scaler.min_, values[:14].min(axis=0))
    # Walk-forward: the first test window reads training rows 11..13.
    np.testing.assert_array_equal(test.x[0], scaler.transform(values[11:14]).astype(np.float32))


def test_changing_test_rows_changes_nothing_in_scaler_or_training_windows():
    values = np.random.default_rng(3).normal(50.0, 5.0, (40, 5))
    altered = values.copy()
    altered[28:] = altered[28:] * 10.0 + 1000.0  # split_point(40) == 28

    for mode in ("level", "delta"):
        scaler, train, test = train_test_windows(values, 4, 7, 1, mode, 0.7)
        scaler_b, train_b, test_b = train_test_windows(altered, 4, 7, 1, mode, 0.7)
        assert json.dumps(scaler.to_dict()) == json.dumps(scaler_b.to_dict())
        for name in ("x", "y", "last", "target_row"):
            assert getattr(train, name).tobytes() == getattr(train_b, name).tobytes()
        assert not np.array_equal(test.y, test_b.y)  # the change did reach the test part


# ------------------------------------------------------------------ synthetic sample


def test_synthetic_file_is_deterministic_per_seed(tmp_path):
    first = write_synthetic_csv(tmp_path / "a.csv", days=60, seed=7).read_bytes()
    again = write_synthetic_csv(tmp_path / "b.csv", days=60, seed=7).read_bytes()
    other = write_synthetic_csv(tmp_path / "c.csv", days=60, seed=8).read_bytes()
    assert first == again
    assert first != other
    assert synthetic_prices(days=1000, seed=7)[:60] == synthetic_prices(days=60, seed=7)
    lines = first.decode("utf-8").splitlines()
    assert lines[0] == synthetic_label(7) == (
        "# SYNTHETIC DATA: seeded geometric random walk generated by edgeseq (seed=7); "
        "not market data"
    )
    assert lines[1] == "Date,Open,High,Low,Close,Adj Close,Volume"
    assert len(lines) == 62
    for line in lines[2:]:
        cells = line.split(",")
        assert all(re.fullmatch(r"\d+\.\d{4}", cell) for cell in cells[1:6]), line
        assert re.fullmatch(r"[1-9]\d*", cells[6]), line


def test_synthetic_prices_are_consistent_business_days(tmp_path):
    rows = synthetic_prices(days=1000, seed=11)
    assert len(rows) == 1000
    days = [date.fromisoformat(row.date) for row in rows]
    assert all(day.weekday() < 5 for day in days)
    assert all(a < b for a, b in zip(days, days[1:]))
    for row in rows:
        assert row.low > 0
        assert row.high >= max(row.open, row.close) and row.low <= min(row.open, row.close)
        assert row.adj_close == row.close
        assert isinstance(row.volume, int) and row.volume > 0
    assert len({row.volume for row in rows}) > 900
    closes = np.array([row.close for row in rows])
    daily_sd = np.std(np.diff(np.log(closes)))
    assert 0.012 < daily_sd < 0.018
    assert synthetic_prices(days=3, start_date="2020-01-04")[0].date == "2020-01-06"  # a Saturday


def test_synthetic_file_loads_as_yahoo(tmp_path):
    path = write_synthetic_csv(tmp_path / "synthetic.csv", days=200, seed=7)
    series = load_csv(path)
    rows = synthetic_prices(days=200, seed=7)
    assert series.features == LAB_ORDER and series.target == "Close"
    assert series.values.shape == (200, 5)
    assert series.dates == tuple(row.date for row in rows)
    np.testing.assert_array_equal(series.target_values, [row.close for row in rows])
    open_, high, low, volume, close = series.values.T
    assert np.all(high >= np.maximum(open_, close)) and np.all(low <= np.minimum(open_, close))
    assert np.all(volume == np.round(volume)) and not math.isclose(volume.min(), volume.max())
    assert "Yahoo Finance format" in series.notes[0]


def test_semicolon_and_tab_separated_files_read_like_commas(tmp_path):
    rows = ["Date,Open,High,Low,Close,Adj Close,Volume"] + [
        f"2024-01-{d:02d},{10 + d},{11 + d},{9 + d},{10.5 + d},{10.5 + d},{1000 + d}" for d in range(2, 12)]
    comma = tmp_path / "comma.csv"
    comma.write_text("\n".join(rows) + "\n")
    for name, sep in (("semi.csv", ";"), ("tab.tsv", "\t")):
        other = tmp_path / name
        other.write_text("\n".join(r.replace(",", sep) for r in rows) + "\n")
        assert load_csv(other).values.tolist() == load_csv(comma).values.tolist()
