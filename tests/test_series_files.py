"""Forecasts on the files people have: calendar dates, columns that can be zero, names in any case,
filled cells left out of the scores (issue 19). Every file is written here, by code."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest

from conftest import cli
from edgeseq.data.calendar import infer_frequency, next_dates, parse_moment, regular
from edgeseq.data.scale_free import ScaleFree
from edgeseq.data.series import Series, load_csv
from edgeseq.errors import InputError
from edgeseq.evaluation.backtest import scored_rows

YAHOO = "Date,Open,High,Low,Close,Adj Close,Volume"


def walk(n: int, seed: int = 3, start: float = 100.0) -> np.ndarray:
    return start * np.exp(np.cumsum(0.01 * np.random.default_rng(seed).standard_normal(n)))


def business_days(n: int, start: str = "2020-01-06") -> list[str]:
    return [str(d) for d in np.busday_offset(start, np.arange(n))]


def months(n: int, first: date = date(1957, 1, 1)) -> list[date]:
    return [date(first.year + (first.month - 1 + i) // 12, (first.month - 1 + i) % 12 + 1, 1) for i in range(n)]


def yahoo_with_zero_volumes(path: Path, n: int = 260) -> Path:
    """A Yahoo download whose Volume is 0 on a day in the training part and one in the test part."""
    closes = walk(n)
    volumes = np.round(1e6 * np.exp(0.3 * np.random.default_rng(4).standard_normal(n))).astype(int)
    volumes[[50, int(0.9 * n)]] = 0
    lines = [YAHOO] + [f"{d},{c * 0.999:.4f},{c * 1.01:.4f},{c * 0.99:.4f},{c:.4f},{c:.4f},{v}"
                       for d, c, v in zip(business_days(n), closes, volumes)]
    path.write_text("\n".join(lines) + "\n")
    return path


def dated_file(path: Path, dates: list[str], values: np.ndarray, header: str = "Date,Value") -> Path:
    path.write_text("\n".join([header] + [f"{d},{v:.4f}" for d, v in zip(dates, values)]) + "\n")
    return path


def trained(tmp_path: Path, csv: Path, *options: str) -> Path:
    """Train (two epochs, all else default) and export; the model's path."""
    run = tmp_path / "run"
    result = cli("train", "stock", "--csv", str(csv), "-o", str(run), "--epochs", "2", *options)
    assert result.exit_code == 0, result.stderr
    model = tmp_path / "model.onnx"
    exported = cli("export", str(run), "-o", str(model))
    assert exported.exit_code == 0, exported.stderr
    return model


# ------------------------------------------------------------------ the calendar


@pytest.mark.parametrize("writer", [
    lambda d: d.isoformat(),
    lambda d: f"{d.month}/{d.day}/{d.year}",  # M/D/YYYY: fits d/m/y too; only m/d/y is evenly spaced
    lambda d: f"{d.day}.{d.month}.{d.year}",
], ids=["iso", "m/d/y", "d.m.y"])
def test_monthly_files_load_without_a_date_format_and_step_by_calendar_months(tmp_path, writer):
    days = months(300)
    series = load_csv(dated_file(tmp_path / "monthly.csv", [writer(d) for d in days], walk(300)), target="Value")
    assert series.dates[:2] == ("1957-01-01", "1957-02-01") and series.frequency == "MS"
    assert "the dates step by month (first day) (MS)" in series.notes[1]
    assert next_dates(series.dates, 3) == ["1982-01-01", "1982-02-01", "1982-03-01"]


def test_business_quarterly_month_end_weekly_and_hourly_steps():
    assert next_dates(["2023-10-25", "2023-10-26", "2023-10-27"], 2) == ["2023-10-30", "2023-10-31"]  # Fri -> Mon
    assert next_dates(["2022-01-01", "2022-04-01", "2022-07-01", "2022-10-01"], 2) == ["2023-01-01", "2023-04-01"]
    assert next_dates(["2020-01-31", "2020-02-29", "2020-03-31"], 2) == ["2020-04-30", "2020-05-31"]
    assert next_dates(["2021-12-31", "2022-12-31"], 1) == ["2023-12-31"]
    assert next_dates(["2024-01-05", "2024-01-12", "2024-01-19"], 1) == ["2024-01-26"]
    assert infer_frequency([parse_moment(d) for d in ("2024-01-05", "2024-01-12")]) == "W-FRI"
    assert next_dates(["2024-01-01T10:00:00", "2024-01-01T11:00:00"], 2) == ["2024-01-01T12:00:00",
                                                                              "2024-01-01T13:00:00"]


def test_regular_spacing_allows_holidays_but_not_a_jump():
    holiday = [parse_moment(d) for d in ("2023-12-19", "2023-12-20", "2023-12-21", "2023-12-22", "2023-12-26",
                                         "2023-12-27")]  # Monday 25th missing
    assert regular(holiday)
    twelve_days_a_year = sorted(parse_moment(f"{y}-01-{d:02d}") for y in (1957, 1958) for d in range(1, 13))
    assert not regular(twelve_days_a_year)


def test_a_model_dates_its_forecasts_by_its_calendar(tmp_path):
    days = months(300)
    csv = dated_file(tmp_path / "monthly.csv", [f"{d.month}/{d.day}/{d.year}" for d in days], walk(300))
    model = trained(tmp_path, csv, "--target", "Value", "--horizon", "3")
    result = cli("run", "stock", "--model", str(model), "--csv", str(csv), "--json")
    assert result.exit_code == 0, result.stderr
    import json
    forecast = json.loads(result.stdout)["forecast"]
    assert [step["date"] for step in forecast] == ["1982-01-01", "1982-02-01", "1982-03-01"]
    info = cli("info", str(model))
    assert "frequency: MS" in info.stdout
    assert "rmse by step" in info.stdout and "step 3" in info.stdout  # a small table, not a repr
    quarterly = dated_file(tmp_path / "quarterly.csv", [d.isoformat() for d in months(300)[::3]][:100], walk(100))
    again = cli("run", "stock", "--model", str(model), "--csv", str(quarterly), "--json")
    assert json.loads(again.stdout)["forecast"][0]["date"] == "1982-01-01"  # the file's calendar: the next quarter


# ------------------------------------------------------------------ columns that can be 0 or change sign


def test_count_features_are_log1p_and_a_sign_changing_feature_differences():
    rng = np.random.default_rng(0)
    train = np.column_stack([np.round(1e5 * rng.random(50)), rng.standard_normal(50), walk(50)])
    transform = ScaleFree.fit(train, ("Volume", "Spread", "Close"), "Close")
    assert transform.modes[:2] == ("log1p", "diff")
    assert transform.readable(np.array([[0.0, -3.0, 1.0], [-1.0, 0.0, 1.0], [5.0, 1.0, 0.0]])).tolist() == [
        True, False, False]


def test_training_with_defaults_takes_zero_volumes_in_training_and_test_part(tmp_path):
    csv = yahoo_with_zero_volumes(tmp_path / "yahoo.csv")
    result = cli("train", "stock", "--csv", str(csv), "-o", str(tmp_path / "run"), "--epochs", "2", "--json")
    assert result.exit_code == 0, result.stderr
    assert "Volume changes of log(1 + value)" in result.stderr  # the summary names each column's transform
    import json
    backtest = json.loads(result.stdout)["backtest"]
    assert backtest["forecasts"] == 260 - 182 and "skipped" not in backtest  # every test forecast scored


def test_a_feature_that_changes_sign_trains_with_defaults(tmp_path):
    n = 200
    spread = np.sin(np.arange(n) / 7) + 0.1  # positive and negative in the training part
    csv = tmp_path / "spread.csv"
    csv.write_text("\n".join(["Date,Spread,Close"] + [f"{d},{s:.4f},{c:.4f}" for d, s, c in
                                                      zip(business_days(n), spread, walk(n))]) + "\n")
    result = cli("train", "stock", "--csv", str(csv), "--target", "Close", "--features", "Spread,Close",
                 "-o", str(tmp_path / "run"), "--epochs", "2")
    assert result.exit_code == 0, result.stderr
    assert "Spread differences" in result.stderr


def test_a_value_the_model_cannot_read_is_left_out_of_the_backtest_and_refused_at_forecast_time(tmp_path):
    values = walk(40)[:, None]
    series = Series("f.csv", ("Close",), "Close", values, None, 0, ())
    transform = ScaleFree.fit(values[:20], ("Close",), "Close")
    bad = values.copy()
    bad[30] = 0.0
    kept, skipped = scored_rows(series, np.arange(25, 40), 5, 1, transform.readable(bad))
    assert skipped == {"filled_actual": 0, "unreadable_window": 5}  # the windows holding row 30
    assert kept.tolist() == [25, 26, 27, 28, 29, 30, 36, 37, 38, 39]


# ------------------------------------------------------------------ names in any case, filled cells


def test_column_names_match_in_any_case_or_name_the_closest(tmp_path):
    csv = dated_file(tmp_path / "f.csv", business_days(30), walk(30), header="Date,Close")
    series = load_csv(csv, target="close")
    assert series.target == "Close" and "column 'close' is read from the file's 'Close'" in series.notes
    with pytest.raises(InputError, match=r"no column 'Clse' for --target \(did you mean 'Close'\?\)"):
        load_csv(csv, target="Clse")
    both = tmp_path / "both.csv"
    both.write_text("Date,Close,CLOSE\n2024-01-01,1,2\n2024-01-02,1,2\n")
    with pytest.raises(InputError, match=r"'Close' and 'CLOSE' differ only in case: name one exactly"):
        load_csv(both, target="close")


def test_a_filled_actual_value_is_not_scored(tmp_path):
    n = 120
    closes = [f"{c:.4f}" for c in walk(n)]
    for row in (100, 110):
        closes[row] = ""
    csv = tmp_path / "gaps.csv"
    csv.write_text("\n".join(["Date,Close"] + [f"{d},{c}" for d, c in zip(business_days(n), closes)]) + "\n")
    series = load_csv(csv, target="Close", fill="ffill")
    assert series.filled_target().nonzero()[0].tolist() == [100, 110]
    kept, skipped = scored_rows(series, np.arange(84, n - 2), 7, 3)
    assert skipped["filled_actual"] == 6  # each 3-step forecast reaching row 100 or 110
    assert not set(range(98, 101)) & set(kept) and not set(range(108, 111)) & set(kept)
    result = cli("train", "stock", "--csv", str(csv), "--target", "Close", "--fill", "ffill", "--epochs", "2",
                 "-o", str(tmp_path / "run"), "--json")
    assert result.exit_code == 0, result.stderr
    import json
    backtest = json.loads(result.stdout)["backtest"]
    assert backtest["skipped"] == {"filled_actual": 2} and backtest["forecasts"] == 36 - 2
