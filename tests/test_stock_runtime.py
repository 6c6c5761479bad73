"""The shipped stock model and sample, and the SeriesModel API, with onnxruntime alone."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from edgeseq.data.series import load_csv
from edgeseq.data.synthetic import write_synthetic_csv
from edgeseq.errors import InputError
from edgeseq.evaluation.backtest import backtest
from edgeseq.runtime import SeriesModel
from edgeseq.data.calendar import next_dates
from edgeseq.runtime.series_model import sample_csv_path

REPO = Path(__file__).resolve().parents[1]
EXPORTED = REPO / "exported"
STOCK_FILES = ("stock.onnx", "stock.fixed.onnx", "sample_prices.csv")


def test_shipped_files_are_in_the_manifest_with_their_hashes():
    files = json.loads((EXPORTED / "MANIFEST.json").read_text())["files"]
    for name in STOCK_FILES:
        data = (EXPORTED / name).read_bytes()
        assert files[name]["sha256"] == hashlib.sha256(data).hexdigest(), name
        assert files[name]["bytes"] == len(data)
    assert files["stock.onnx"]["metrics"]["rmse"]["ratio"] <= 1.05


def test_shipped_sample_is_the_labelled_deterministic_synthetic_walk(tmp_path):
    shipped = sample_csv_path()
    assert shipped == EXPORTED / "sample_prices.csv"
    assert shipped.read_text().startswith("# SYNTHETIC DATA")
    regenerated = write_synthetic_csv(tmp_path / "again.csv", days=1000, seed=7)
    assert regenerated.read_bytes() == shipped.read_bytes()


def test_default_forecaster_reads_its_metadata_and_forecasts_the_sample():
    forecaster = SeriesModel()
    assert forecaster.name == "stock.onnx"
    assert forecaster.features == ("Open", "High", "Low", "Volume", "Close")
    assert (forecaster.target, forecaster.window, forecaster.horizon) == ("Close", 7, 1)
    assert forecaster.target_mode == "change"
    series = forecaster.read_csv(sample_csv_path())
    forecast = forecaster.predict(series)
    assert forecast.shape == (1,)
    last = series.target_values[-1]
    assert abs(forecast[0] - last) < 0.05 * last  # a day's move, not a different price level


def test_predict_accepts_a_series_an_array_or_named_rows_alike():
    forecaster = SeriesModel()
    series = forecaster.read_csv(sample_csv_path())
    values = series.values[-10:]
    rows = [dict(zip(series.features, row)) for row in values]
    by_series = forecaster.predict(series)
    np.testing.assert_array_equal(forecaster.predict(values), by_series)
    np.testing.assert_array_equal(forecaster.predict(rows), by_series)
    np.testing.assert_array_equal(SeriesModel(EXPORTED / "stock.fixed.onnx").predict(values), by_series)


def test_csv_columns_are_matched_by_name_not_position(tmp_path):
    forecaster = SeriesModel()
    series = forecaster.read_csv(sample_csv_path())
    order = ["Volume", "Close", "Low", "Open", "High"]
    lines = ["when,sensor," + ",".join(order)]
    for date, row in zip(series.dates, series.values):
        named = dict(zip(series.features, row))
        lines.append(f"{date},x," + ",".join(repr(float(named[c])) for c in order))
    shuffled = tmp_path / "shuffled.csv"
    shuffled.write_text("\n".join(lines) + "\n")
    other = forecaster.read_csv(shuffled, date="when")
    np.testing.assert_array_equal(forecaster.predict(other), forecaster.predict(series))


def test_missing_columns_and_short_files_are_clear_errors(tmp_path):
    forecaster = SeriesModel()
    sensor = tmp_path / "sensor.csv"
    sensor.write_text("time,temp\n" + "".join(f"2021-01-{d:02d},{d}\n" for d in range(1, 20)))
    with pytest.raises(InputError, match=r"sensor\.csv row 1: no column 'Open', which the model stock\.onnx needs"):
        forecaster.read_csv(sensor)
    series = forecaster.read_csv(sample_csv_path())
    with pytest.raises(InputError, match="3 rows, but the model reads the last 7"):
        forecaster.predict(series.values[:3])
    with pytest.raises(InputError, match=r"rows must be \[n, 5\]"):
        forecaster.predict(series.values[:, :3])
    with pytest.raises(InputError, match="a row has no 'Volume'"):
        forecaster.predict([{"Open": 1, "High": 1, "Low": 1, "Close": 1}] * 7)


def test_backtest_replays_every_window_against_persistence():
    forecaster = SeriesModel()
    series = load_csv(sample_csv_path())
    report = backtest(forecaster, series, first_row=0)
    assert len(report) == len(series.values) - forecaster.window  # horizon 1
    np.testing.assert_array_equal(report.last, series.target_values[forecaster.window - 1:-1])
    np.testing.assert_array_equal(report.actual[:, 0], series.target_values[forecaster.window:])
    assert report.dates[0] == series.dates[forecaster.window]
    assert set(report.evaluation) == {"rmse", "mae", "mase", "mape", "direction_accuracy"}
    assert "model/best" in report.table()


def test_next_dates_step_over_weekends_and_follow_the_series_spacing():
    weekdays = ["2023-10-25", "2023-10-26", "2023-10-27", "2023-10-30", "2023-10-31", "2023-11-03"]
    assert next_dates(weekdays[:3], 2) == ["2023-10-30", "2023-10-31"]
    assert next_dates(["2021-01-01", "2021-01-02", "2021-01-03"], 1) == ["2021-01-04"]  # has weekends
    assert next_dates(["2021-01-01T10:00:00", "2021-01-01T11:00:00"], 2) == [
        "2021-01-01T12:00:00", "2021-01-01T13:00:00"]
    assert next_dates(None, 1) is None


def test_the_runner_never_imports_tensorflow():
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from edgeseq.cli import app\n"
        "result = CliRunner().invoke(app, ['run', 'stock', '--backtest', '--json'])\n"
        "assert result.exit_code == 0, result.output\n"
        "heavy = [m for m in ('tensorflow', 'tf2onnx', 'onnx', 'keras') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr[-2000:]


def test_backtest_takes_plain_rows_too():
    forecaster = SeriesModel()
    series = load_csv(sample_csv_path())
    by_rows = backtest(forecaster, series.values[-50:], forecaster.backtest_part(series.values[-50:]).first_row)  # not the training rows: every window
    by_series = backtest(forecaster, series, first_row=0)
    assert len(by_rows) == 50 - forecaster.window and by_rows.dates is None
    np.testing.assert_array_equal(by_rows.predicted, by_series.predicted[-len(by_rows):])
    with pytest.raises(InputError, match="the rows: window 7 \\+ horizon 1 needs at least 8 rows"):
        backtest(forecaster, series.values[:7])


def test_a_lab_file_without_dates_gives_the_same_forecast_labelled_by_row(tmp_path):
    forecaster = SeriesModel()
    series = forecaster.read_csv(sample_csv_path())
    lab = tmp_path / "lab.csv"  # headerless Open,High,Low,Volume,Close, newest row first
    lab.write_text("".join(",".join(repr(float(v)) for v in row) + "\n" for row in series.values[::-1]))
    undated = forecaster.forecast(forecaster.read_csv(lab))
    dated = forecaster.forecast(series)
    np.testing.assert_array_equal(undated.values, dated.values)
    assert (undated.last_label, undated.labels) == ("row 1000", ["+1"])
    assert (dated.last_label, dated.labels) == ("2023-10-31", ["2023-11-01"])
    assert undated.to_json()["forecast"][0]["value"] == float(dated.values[0])


def test_a_model_trained_with_a_date_column_still_reads_files_without_it(tmp_path):
    forecaster = SeriesModel()
    forecaster.date_column = "Date"  # as if trained with --date Date
    series = forecaster.read_csv(sample_csv_path())
    assert series.dates is not None
    lab = tmp_path / "lab.csv"
    lab.write_text("".join(",".join(repr(float(v)) for v in row) + "\n" for row in series.values[::-1]))
    undated = forecaster.read_csv(lab)
    assert undated.dates is None
    np.testing.assert_array_equal(undated.values, series.values)


def test_a_model_trained_without_dates_and_no_fingerprint_scores_every_forecast():
    forecaster = SeriesModel()
    series = forecaster.read_csv(sample_csv_path())
    forecaster.model.description = replace(forecaster.model.description, data={"split_at": "data row 701"})
    part = forecaster.backtest_part(series)  # trained without dates, no fingerprint: cannot tell
    assert part.first_row == forecaster.window and part.note.startswith("backtest: every forecast of")


def test_next_dates_with_mixed_time_zone_offsets():
    dates = ["2024-03-01T15:00:00", "2024-03-04T16:00:00+01:00", "2024-03-05T15:00:00", "2024-03-06T15:00:00"]
    assert next_dates(dates, 3) == ["2024-03-07T15:00:00", "2024-03-08T15:00:00", "2024-03-11T15:00:00"]
