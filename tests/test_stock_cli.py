"""`edgeseq train stock` / `run stock` through the CLI: bad input is one line and exit 2."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from edgeseq.cli import app

HEADER = "Date,Open,High,Low,Close,Adj Close,Volume"


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def yahoo_file(path: Path, rows: int = 60, edit=None) -> Path:
    """``rows`` business days of a small random walk; ``edit(cells_by_row)`` may spoil some cells."""
    closes = 50 + np.cumsum(np.random.default_rng(1).standard_normal(rows))
    days = np.busday_offset("2022-01-03", np.arange(rows))
    cells = [[str(d), f"{c - 0.2:.2f}", f"{c + 0.5:.2f}", f"{c - 0.5:.2f}", f"{c:.2f}", f"{c:.2f}",
              str(1000 + 10 * i)] for i, (d, c) in enumerate(zip(days, closes))]
    if edit:
        edit(cells)
    path.write_text("\n".join([HEADER, *(",".join(row) for row in cells)]) + "\n")
    return path


def strict_json(text: str):
    """json.loads that refuses NaN and Infinity, which are not JSON."""
    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")
    return json.loads(text, parse_constant=refuse)


def assert_one_line_error(result, *fragments):
    assert result.exit_code == 2, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("edgeseq: error:")]
    assert len(errors) == 1, result.stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    assert "Traceback" not in result.stderr + result.stdout
    return errors[0]


# ------------------------------------------------------------------ bad input, training


def set_cell(row, column, text):
    def edit(cells):
        cells[row][HEADER.split(",").index(column)] = text
    return edit


@pytest.mark.parametrize("options, fragments", [
    (["--target", "Price"], ["prices.csv row 1", "no column 'Price' for --target", "Date, Open"]),
    (["--features", "Open,Spread"], ["prices.csv row 1", "no column 'Spread' for --features"]),
    (["--date", "Day"], ["prices.csv row 1", "no column 'Day' for --date"]),
])
def test_missing_target_feature_or_date_column(tmp_path, options, fragments):
    csv = yahoo_file(tmp_path / "prices.csv")
    assert_one_line_error(cli("train", "stock", "--csv", csv, "-o", tmp_path / "run", *options), *fragments)


@pytest.mark.parametrize("text, fragments", [
    ("abc", ["row 6, column 'Close'", "'abc' is not a number"]),
    ("", ["row 6, column 'Close'", "empty cell", "--fill ffill"]),
    ("NaN", ["row 6, column 'Close'", "'NaN' marks a missing value"]),
])
def test_bad_cells_name_file_row_and_column(tmp_path, text, fragments):
    csv = yahoo_file(tmp_path / "prices.csv", edit=set_cell(4, "Close", text))  # data row 5 = line 6
    assert_one_line_error(cli("train", "stock", "--csv", csv, "-o", tmp_path / "run"), "prices.csv", *fragments)


def test_duplicate_dates(tmp_path):
    csv = yahoo_file(tmp_path / "prices.csv", edit=set_cell(3, "Date", "2022-01-05"))
    assert_one_line_error(cli("train", "stock", "--csv", csv, "-o", tmp_path / "run"),
                          "prices.csv rows 4 and 5, column 'Date'", "appears twice")


def test_fewer_rows_than_window_and_horizon(tmp_path):
    csv = yahoo_file(tmp_path / "prices.csv", rows=10)
    assert_one_line_error(cli("train", "stock", "--csv", csv, "-o", tmp_path / "run"),
                          "prices.csv", "window 7 and horizon 1 need at least 14 rows to train on (two windows' worth)")


def test_constant_column(tmp_path):
    csv = yahoo_file(tmp_path / "prices.csv", edit=lambda cells: [row.__setitem__(6, "500") for row in cells])
    assert_one_line_error(cli("train", "stock", "--csv", csv, "-o", tmp_path / "run", "--epochs", "1"),
                          "prices.csv", "column 'Volume' is constant", "drop it from --features")


def test_bad_option_values(tmp_path):
    csv = yahoo_file(tmp_path / "prices.csv")
    out = tmp_path / "run"
    assert_one_line_error(cli("train", "stock", "--csv", csv, "-o", out, "--cell", "tcn"), "--cell")
    assert_one_line_error(cli("train", "stock", "--csv", csv, "-o", out, "--target-mode", "ratio"), "--target-mode")
    assert_one_line_error(cli("train", "stock", "--csv", csv, "-o", out, "--fill", "zero"), "unknown fill")
    assert_one_line_error(cli("train", "stock", "--csv", tmp_path / "nope.csv", "-o", out), "nope.csv does not exist")


# ------------------------------------------------------------------ bad input, running


def test_run_with_columns_the_model_does_not_have(tmp_path):
    csv = tmp_path / "sensor.csv"
    csv.write_text("time,temp,humidity\n" + "".join(f"2021-01-{d:02d},{d},{d * 2}\n" for d in range(1, 20)))
    assert_one_line_error(cli("run", "stock", "--csv", csv), "sensor.csv row 1", "no column 'Open'",
                          "the model stock.onnx needs", "Open,High,Low,Volume,Close")


def test_run_with_fewer_rows_than_the_window(tmp_path):
    csv = yahoo_file(tmp_path / "prices.csv", rows=5)
    assert_one_line_error(cli("run", "stock", "--csv", csv), "prices.csv: 5 rows", "reads the last 7")


def test_run_fills_empty_cells_when_asked_and_says_how_many(tmp_path):
    def two_gaps(cells):
        cells[10][1] = ""
        cells[20][4] = "null"
    csv = yahoo_file(tmp_path / "prices.csv", edit=two_gaps)
    assert_one_line_error(cli("run", "stock", "--csv", csv), "prices.csv row 12, column 'Open'", "empty cell")
    result = cli("run", "stock", "--csv", csv, "--fill", "ffill")
    assert result.exit_code == 0, result.output
    assert "filled 2 missing cells forward from the previous row (--fill ffill)" in result.stderr


def test_plot_without_matplotlib_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert_one_line_error(cli("run", "stock", "--plot", tmp_path / "f.png"), "pip install 'edgeseq[plot]'")


def test_run_a_model_of_the_wrong_task():
    from edgeseq.runtime.model_file import exported_dir

    assert_one_line_error(cli("run", "stock", "--model", exported_dir() / "ship.onnx"),
                          "ship.onnx", "'char' model", "needs a 'series' model")


# ------------------------------------------------------------------ working commands


def test_run_stock_with_no_arguments_forecasts_the_shipped_sample():
    result = cli("run", "stock")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["last", "row", "2023-10-31"]
    assert lines[1].split()[:3] == ["forecast", "2023-11-01", "Close"]
    assert "read 1000 rows" in result.stderr and "model stock.onnx" in result.stderr


def test_run_stock_plots_the_forecast(tmp_path):
    result = cli("run", "stock", "--plot", tmp_path / "forecast.png")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "forecast.png").read_bytes()[:4] == b"\x89PNG"


def test_run_stock_backtest_json_and_plot(tmp_path):
    result = cli("run", "stock", "--backtest", "--json", "--plot", tmp_path / "bt.png")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["forecast"][0]["date"] == "2023-11-01"
    assert doc["backtest"]["forecasts"] == 300  # the rows after the model's training data
    assert set(doc["backtest"]["evaluation"]["rmse"]) == {"model", "persistence", "drift", "ratio", "best_baseline",
                                                         "ratio_to_best"}
    assert "backtest: the forecasts from 2022-09-07, after the model's training data" in result.stderr
    assert (tmp_path / "bt.png").read_bytes()[:4] == b"\x89PNG"
    interval = doc["backtest"]["interval"]
    assert set(interval) == {"level", "coverage", "mean_width"} and interval["level"] == 0.9
    assert 0.85 <= interval["coverage"] <= 0.95
    assert doc["backtest"]["model"] == "persistence (fallback)"  # the shipped model on a random walk
    step = doc["forecast"][0]
    assert step["lower"] < step["value"] < step["upper"] and doc["interval_level"] == 0.9


def test_train_export_and_run_a_generic_csv_with_horizon_2(tmp_path):
    rng = np.random.default_rng(4)
    temps = 20 + np.cumsum(rng.standard_normal(121)) * 0.3
    humidity = [f"{50 + rng.standard_normal():.3f}" for _ in temps]
    humidity[30] = "."  # a missing reading: the row is dropped, at training and at run time alike
    csv = tmp_path / "sensor.csv"
    csv.write_text("stamp,humidity,temp\n" + "".join(
        f"2024-03-01T{h // 60:02d}:{h % 60:02d}:00,{hum},{t:.3f}\n"
        for h, hum, t in zip(range(0, 121 * 5, 5), humidity, temps)))
    run = tmp_path / "run"
    train = cli("train", "stock", "--csv", csv, "--features", "humidity,temp", "--target", "temp",
                "--date", "stamp", "--window", "5", "--horizon", "2", "--hidden", "4", "--epochs", "2",
                "--drop-missing", "--season", "12", "-o", run, "--json", "--plot", tmp_path / "test.png")
    assert train.exit_code == 0, train.output
    trained = strict_json(train.stdout)["backtest"]
    # 120 rows kept, 84 train; forecasts start at rows 84..118 (each needs 2 rows)
    assert trained["horizon"] == 2 and trained["forecasts"] == 35
    assert [step["step"] for step in trained["steps"]] == [1, 2]
    assert trained["baselines"]["season"] == 12
    assert {"model", "persistence", "drift", "seasonal"} <= set(trained["evaluation"]["rmse"])
    assert (tmp_path / "test.png").exists()
    assert "columns humidity,temp" in train.stderr and "read 120 rows" in train.stderr
    assert "dropped 1 row with a missing value (--drop-missing)" in train.stderr

    exported = cli("export", run, "-o", tmp_path / "sensor.onnx")
    assert exported.exit_code == 0, exported.output
    assert "FAIL" not in exported.stderr

    result = cli("run", "stock", "--model", tmp_path / "sensor.onnx", "--csv", csv)  # --date from the model
    assert result.exit_code == 0, result.output
    assert "missing values are dropped as at training" in result.stderr  # the model's own choice
    forecasts = [line.split() for line in result.stdout.splitlines() if line.startswith("forecast")]
    assert [f[1] for f in forecasts] == ["2024-03-01T10:05:00", "2024-03-01T10:10:00"]  # last row 10:00

    table = cli("run", "stock", "--model", tmp_path / "sensor.fixed.onnx", "--csv", csv, "--backtest")
    assert table.exit_code == 0, table.output
    assert ("walk-forward backtest: 35 forecasts of temp from 2024-03-01T07:05:00 to 2024-03-01T09:55:00, "
            "horizon 2, price units, figures pooled over the 2 steps") in table.stdout
    by_step = table.stdout.split("\n\n")[-1].splitlines()
    assert by_step[0].split()[:3] == ["rmse", "by", "step"] and [r.split()[:2] for r in by_step[1:]] == [
        ["step", "1"], ["step", "2"]]
    replayed = strict_json(cli("run", "stock", "--model", tmp_path / "sensor.onnx", "--csv", csv, "--backtest",
                               "--json").stdout)["backtest"]
    assert replayed["baselines"] == trained["baselines"]  # the model's stored drift, scale and season
    assert [step["step"] for step in replayed["interval"]["steps"]] == [1, 2]
    assert replayed["interval"]["coverage"] == pytest.approx(trained["interval"]["coverage"], abs=1e-9)
    for step, again in zip(trained["steps"], replayed["steps"]):
        for forecaster in ("persistence", "drift", "seasonal"):
            assert again["evaluation"]["mae"][forecaster] == step["evaluation"]["mae"][forecaster]
        assert again["evaluation"]["mae"]["model"] == pytest.approx(step["evaluation"]["mae"]["model"], abs=1e-4)


def test_train_refuses_to_overwrite_a_run_folder(tmp_path):
    csv = yahoo_file(tmp_path / "prices.csv")
    (tmp_path / "run").mkdir()
    assert_one_line_error(cli("train", "stock", "--csv", csv, "-o", tmp_path / "run"), "already exists", "--force")


def test_plot_refuses_an_existing_file_and_an_unknown_format_before_any_work(tmp_path):
    existing = tmp_path / "f.png"
    existing.write_bytes(b"keep")
    assert_one_line_error(cli("run", "stock", "--plot", existing), "already exists; pass --force")
    assert existing.read_bytes() == b"keep"
    assert_one_line_error(cli("run", "stock", "--plot", tmp_path / "f.txt"), "cannot write a txt picture")
    result = cli("run", "stock", "--plot", existing, "--force")
    assert result.exit_code == 0 and existing.read_bytes()[:4] == b"\x89PNG"


def newest_first_file(path: Path, rows: int = 80) -> Path:
    """``rows`` days of a random walk under a Date,V header, the newest row first."""
    values = 40 + np.cumsum(np.random.default_rng(7).standard_normal(rows))
    days = np.datetime64("2024-01-01") + np.arange(rows)
    path.write_text("Date,V\n" + "".join(f"{d},{v:.4f}\n" for d, v in reversed(list(zip(days, values)))))
    return path


def test_a_date_column_found_by_name_orders_training_and_the_runner_and_too_few_validation_windows(tmp_path):
    csv, run, model = newest_first_file(tmp_path / "exp_newest_first.csv"), tmp_path / "run", tmp_path / "m.onnx"
    # 56 training rows: 49 windows of 7, the latest 9 to validate on, one fewer than the gate needs
    train = cli("train", "stock", "--csv", csv, "--target", "V", "--hidden", "4", "--epochs", "1", "-o", run)
    assert train.exit_code == 0, train.output
    assert ("dates from column 'Date' (pass --date to choose another); rows sorted by 'Date': file was newest first, "
            "reversed") in train.stderr
    assert ("model = persistence (fallback): too few validation windows (9, needs 10) to judge the trained weights "
            "against persistence, so the model forecasts the last value; make --train-fraction or --validation "
            "larger") in train.stderr
    config = json.loads((run / "config.json").read_text())
    assert config["date_column"] == "Date" and config["data"]["split_at"] == "2024-02-26"
    assert config["training"]["gate"] == {"kept": False, "t": 0.0, "gain": 0.0, "windows": 9}

    assert cli("export", run, "-o", model).exit_code == 0
    backtest = cli("run", "stock", "--model", model, "--csv", csv, "--backtest", "--from", "2024-03-10", "--json")
    assert backtest.exit_code == 0, backtest.output
    assert strict_json(backtest.stdout)["backtest"]["first"] == "2024-03-10"
    forecast = cli("run", "stock", "--model", model, "--csv", csv, "--json")
    assert forecast.exit_code == 0, forecast.output
    doc = strict_json(forecast.stdout)
    last = float(csv.read_text().splitlines()[1].split(",")[1])
    step = doc["forecast"][0]
    assert doc["last"] == {"date": "2024-03-20", "value": last} and step["value"] == last  # persistence
    for key in ("value", "lower", "upper"):  # every number with the digits of the graph's float32, no more
        assert step[key] == float(str(np.float32(step[key]))), step
    assert step["lower"] < step["value"] < step["upper"]


def test_validation_0_leaves_the_model_unchecked_by_the_users_choice(tmp_path):
    csv = newest_first_file(tmp_path / "walk.csv")
    train = cli("train", "stock", "--csv", csv, "--target", "V", "--hidden", "4", "--epochs", "1",
                "--validation", "0", "-o", tmp_path / "run")
    assert train.exit_code == 0, train.output
    assert ("model = trained weights, unchecked: --validation 0 holds out no windows to judge them against "
            "persistence (your choice)") in train.stderr
    assert "gate" not in json.loads((tmp_path / "run" / "config.json").read_text())["training"]


def test_a_training_part_too_small_to_train_on_is_one_line(tmp_path):
    csv = newest_first_file(tmp_path / "walk.csv")
    result = cli("train", "stock", "--csv", csv, "--target", "V", "--train-fraction", "0.1", "-o", tmp_path / "run")
    assert_one_line_error(result, f"{csv}: the training part has 8 rows (10% of 80) but window 7 and horizon 1 "
                                  "need at least 14 rows to train on (two windows' worth); use a larger "
                                  "--train-fraction, a longer file or a smaller --window")
