"""Honest backtests with the shipped model (onnxruntime only): which part is scored, --from,
the model's missing-value choice, strict JSON and what the plot marks."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import EXPORTED, cli
from edgeseq.data.dates import parse_moment
from edgeseq.data.series import Series, load_csv
from edgeseq.evaluation.backtest import backtest, score_forecasts
from edgeseq.evaluation.baselines import fit_baselines
from edgeseq.runtime import SeriesModel

SAMPLE = EXPORTED / "sample_prices.csv"
HONEST_NOTE = ("backtest: the forecasts from 2022-09-07, after the model's training data (it ends "
               "2022-09-06); the 700 rows before are in-sample and left out (--from DATE chooses)")


def unmatched_model(tmp_path: Path) -> Path:
    """The shipped stock model without its last training date and the fingerprint of its training
    rows: nothing tells a file's rows apart from its training data."""
    from conftest import edited_copy

    def forget(doc):
        for key in ("train_end", "train_sha256"):
            doc["data"].pop(key, None)
    return edited_copy(EXPORTED / "stock.onnx", tmp_path / "stock.onnx", forget)


def strict_json(text: str):
    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")
    return json.loads(text, parse_constant=refuse)


def one_error(result) -> str:
    """The one error line (notes on what was read may come before it), without its prefix."""
    assert result.exit_code == 2, (result.stdout, result.stderr)
    errors = [line for line in result.stderr.splitlines() if line.startswith("edgeseq: error: ")]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    return errors[0].removeprefix("edgeseq: error: ")


def sample_lines() -> tuple[str, list[str]]:
    label, header, *rows = SAMPLE.read_text().splitlines()
    return header, rows


def part_of_sample(tmp_path: Path, name: str, rows: slice, edit=None) -> Path:
    header, lines = sample_lines()
    lines = lines[rows]
    if edit:
        lines = edit(lines)
    path = tmp_path / name
    path.write_text("\n".join([header, *lines]) + "\n")
    return path


def test_on_its_training_file_the_backtest_scores_only_the_rows_after_the_training_data():
    result = cli("run", "stock", "--backtest", "--json")
    assert result.exit_code == 0, result.stderr
    backtest = strict_json(result.stdout)["backtest"]
    assert (backtest["forecasts"], backtest["first"], backtest["last"]) == (300, "2022-09-07", "2023-10-31")
    assert HONEST_NOTE in result.stderr.splitlines()
    assert "stores no drift" not in result.stderr  # the model's own baselines, fitted at training
    closes = load_csv(SAMPLE).target_values
    assert backtest["baselines"] == {"drift": pytest.approx((closes[699] - closes[0]) / 699),
                                     "mase_scale": pytest.approx(np.mean(np.abs(np.diff(closes[:700])))),
                                     "season": None}
    # the same forecasts as the test part measured at training, so the same figures
    stored = SeriesModel().model.description.evaluation
    for metric in ("rmse", "mae", "mape"):
        assert backtest["evaluation"][metric]["persistence"] == pytest.approx(stored[metric]["persistence"], rel=1e-12)
        assert backtest["evaluation"][metric]["model"] == pytest.approx(stored[metric]["model"], rel=1e-6)


def test_the_table_names_the_best_baseline_and_the_base_rate():
    result = cli("run", "stock", "--backtest")
    assert result.exit_code == 0, result.stderr
    table = result.stdout.split("\n\n")[1].splitlines()
    assert table[0] == "walk-forward backtest: 300 forecasts of Close from 2022-09-07 to 2023-10-31, horizon 1, price units"
    assert table[1].split() == ["metric", "model", "persistence", "drift", "best", "baseline", "model/best"]
    assert [line.split()[0] for line in table[2:6]] == ["rmse", "mae", "mase", "mape"]
    assert table[7].startswith("base rate 0.")


def test_from_chooses_the_first_scored_forecast_and_counts_the_in_sample_ones():
    dates = load_csv(SAMPLE).dates
    result = cli("run", "stock", "--backtest", "--json", "--from", "2023-01-01")  # a Sunday
    assert result.exit_code == 0, result.stderr
    backtest = strict_json(result.stdout)["backtest"]
    first = dates.index("2023-01-02")
    assert (backtest["first"], backtest["forecasts"]) == ("2023-01-02", 1000 - first)
    assert "backtest: the forecasts from 2023-01-02 (--from 2023-01-01)" in result.stderr.splitlines()

    early = cli("run", "stock", "--backtest", "--json", "--from", "2022-01-03")
    assert early.exit_code == 0, early.stderr
    in_sample = 700 - dates.index("2022-01-03")
    assert (f"backtest: the forecasts from 2022-01-03 (--from 2022-01-03); {in_sample} of them fall in the model's "
            "training period (it ends 2022-09-06), so those are in-sample and flatter the table"
            ) in early.stderr.splitlines()


@pytest.mark.parametrize("args, message", [
    (["--from", "2022-09-07"], "--from and --season choose what a backtest scores; add --backtest"),
    (["--backtest", "--from", "yesterday"], "--from yesterday: not an ISO date (YYYY-MM-DD)"),
    (["--backtest", "--from", "2024-01-01"], "--from 2024-01-01 is after the last date of {csv} (2023-10-31)"),
    (["--backtest", "--season", "1"], "--season must be at least 2 rows, got 1"),
])
def test_bad_from_and_season(args, message):
    assert one_error(cli("run", "stock", *args)) == message.format(csv=SAMPLE)


def test_a_file_after_the_training_data_is_scored_whole_and_one_inside_it_is_refused(tmp_path):
    later = part_of_sample(tmp_path, "later.csv", slice(800, None))
    result = cli("run", "stock", "--csv", later, "--backtest", "--json")
    assert result.exit_code == 0, result.stderr
    assert strict_json(result.stdout)["backtest"]["forecasts"] == 200 - 7
    assert (f"backtest: every forecast of {later}; the file starts after the model's training data (it ends "
            "2022-09-06)") in result.stderr.splitlines()

    inside = part_of_sample(tmp_path, "inside.csv", slice(0, 300))
    assert one_error(cli("run", "stock", "--csv", inside, "--backtest")) == (
        f"{inside}: every row falls in the model's training period (it ends 2022-09-06), so nothing is "
        "out-of-sample; pass --from DATE to replay part of it anyway")
    replay = cli("run", "stock", "--csv", inside, "--backtest", "--json", "--from", "2020-01-01")
    assert replay.exit_code == 0 and strict_json(replay.stdout)["backtest"]["forecasts"] == 293
    assert "293 of them fall in the model's training period" in replay.stderr


def test_without_dates_from_is_a_data_row(tmp_path):
    series = load_csv(SAMPLE)
    lab = tmp_path / "lab.csv"  # headerless Open,High,Low,Volume,Close, newest row first
    lab.write_text("".join(",".join(repr(float(v)) for v in row) + "\n" for row in series.values[::-1]))
    result = cli("run", "stock", "--csv", lab, "--backtest", "--json", "--from", "901")
    assert result.exit_code == 0, result.stderr
    backtest = strict_json(result.stdout)["backtest"]
    assert (backtest["first"], backtest["forecasts"]) == (900, 100)  # 0-based row of the first forecast
    assert "backtest: the forecasts from data row 901 (--from 901)" in result.stderr
    assert one_error(cli("run", "stock", "--csv", lab, "--backtest", "--from", "2022-01-03")) == (
        f"--from 2022-01-03: {lab} has no dates, so give a data row number from 1 to 1000")
    # the model knows its training rows by their fingerprint, so without dates it still scores only the rest
    honest = cli("run", "stock", "--csv", lab, "--backtest", "--json")
    assert strict_json(honest.stdout)["backtest"]["forecasts"] == 300
    # a model without that fingerprint cannot tell, and says so
    every = cli("run", "stock", "--model", unmatched_model(tmp_path), "--csv", lab, "--backtest", "--json")
    assert strict_json(every.stdout)["backtest"]["forecasts"] == 993
    assert "it cannot be matched with the model's training data" in every.stderr


def test_json_stays_strict_when_figures_are_undefined(tmp_path):
    from edgeseq.display import json_text

    def zero_close(lines):  # a zero close in the scored part: MAPE is undefined
        cells = lines[-5].split(",")
        cells[4] = "0.0"
        return [*lines[:-5], ",".join(cells), *lines[-4:]]
    path = part_of_sample(tmp_path, "zero.csv", slice(None), zero_close)
    # the shipped model reads Close as log ratios, so it refuses the row in one line ...
    assert one_error(cli("run", "stock", "--csv", path, "--backtest", "--json")) == (
        f"{path} row 997, column 'Close': 0 is not positive, and the model reads 'Close' as log ratios "
        "(it was positive in training); fix the value, or forecast from rows before it")
    # ... and a backtest whose actual values hold a 0 writes strict JSON with null for MAPE
    series = load_csv(path)
    rows = np.arange(700, 1000)
    last = series.target_values[rows - 1]
    backtest = score_forecasts(series, rows, last[:, None] + 0.1, SeriesModel().baselines,
                               (last[:, None] - 1, last[:, None] + 1, 0.9))
    doc = strict_json(json_text({"backtest": backtest.to_json()}))
    assert doc["backtest"]["evaluation"]["mape"]["model"] is None
    assert doc["backtest"]["evaluation"]["mape"]["best_baseline"] is None
    assert doc["backtest"]["interval"]["level"] == 0.9


def test_the_models_missing_value_choice_is_used_unless_overridden(tmp_path):
    def gaps(lines):
        return [line.replace(line.split(",")[4], ".", 1) if i in (500, 600) else line for i, line in enumerate(lines)]
    path = part_of_sample(tmp_path, "gaps.csv", slice(None), gaps)
    forecaster = SeriesModel()
    forecaster.missing = "drop"  # as if trained with --drop-missing
    dropped = forecaster.read_csv(path)
    assert dropped.dropped == 2 and len(dropped.values) == 998
    assert dropped.notes[-2:] == (
        "dropped 2 rows with a missing value (--drop-missing)",
        "missing values are dropped as at training (the model's choice; --fill ffill or --drop-missing overrides it)")
    filled = forecaster.read_csv(path, fill="ffill")
    assert filled.filled == 2 and len(filled.values) == 1000
    result = cli("run", "stock", "--csv", path, "--drop-missing")
    assert result.exit_code == 0, result.stderr
    assert "dropped 2 rows with a missing value (--drop-missing)" in result.stderr
    assert one_error(cli("run", "stock", "--csv", path, "--drop-missing", "--fill", "ffill")) == (
        "--fill and --drop-missing both say what to do with a missing value; choose one")


def test_season_at_run_time_adds_the_seasonal_baseline():
    result = cli("run", "stock", "--backtest", "--json", "--season", "5")
    assert result.exit_code == 0, result.stderr
    backtest = strict_json(result.stdout)["backtest"]
    assert backtest["baselines"]["season"] == 5
    assert set(backtest["evaluation"]["rmse"]) >= {"model", "persistence", "drift", "seasonal"}


# ------------------------------------------------------------------ what the plot shows


def test_the_backtest_plot_marks_where_scoring_begins_and_says_what_it_shows():
    pytest.importorskip("matplotlib")
    from edgeseq.cli.forecast_plot import backtest_figure

    forecaster = SeriesModel()
    series = forecaster.read_csv(SAMPLE)
    report = backtest(forecaster, series, forecaster.backtest_part(series).first_row)
    figure = backtest_figure(report, "sample", series, "scored from here")
    axes = figure.axes[0]
    boundary = [line for line in axes.lines if line.get_label() == "scored from here"]
    assert len(boundary) == 1 and list(boundary[0].get_xdata()) == [parse_moment("2022-09-07")] * 2
    actual = next(line for line in axes.lines if line.get_label() == "actual")
    assert actual.get_xdata()[0] == parse_moment(series.dates[0])  # 300 forecasts: the whole history on top
    detail = figure.axes[1]
    assert detail.get_title() == "the last 150 of 300 forecasts"
    band = [c.get_label() for c in detail.collections]
    assert band == [f"90% interval (covered {report.interval['coverage']:.3f} of all 300)"]
    rmse = report.evaluation["rmse"]
    assert axes.get_title() == (f"sample (model = persistence: the fallback)\none-step forecasts: rmse "
                                f"{rmse['model']:.4g} vs best baseline (drift) {rmse['drift']:.4g}, model/best "
                                f"{rmse['ratio_to_best']:.3f}")
    assert rmse["best_baseline"] == "drift"


def test_a_multi_step_plot_shows_and_scores_the_first_step():
    pytest.importorskip("matplotlib")
    from edgeseq.cli.forecast_plot import backtest_figure

    values = np.array([10.0, 12.0, 11.0, 13.0, 15.0, 14.0, 16.0, 18.0, 17.0, 19.0])
    series = Series("hand.csv", ("v",), "v", values[:, None], None, 0, ())
    report = score_forecasts(series, np.arange(6, 9), np.array([[16.0, 17.0], [18.0, 18.0], [17.0, 18.0]]),
                             fit_baselines(values[:6]))
    axes = backtest_figure(report, "hand", series).axes[0]
    step1 = report.steps[0]["rmse"]
    assert step1["model"] == 0.0 and step1["best_baseline"] == "drift"
    assert axes.get_title() == (f"hand\nfirst step of each 2-step forecast: rmse 0 vs best baseline (drift) "
                                f"{step1['drift']:.4g}, model/best 0.000")
    model = next(line for line in axes.lines if line.get_label() == "model")
    np.testing.assert_array_equal(model.get_ydata(), [16.0, 18.0, 17.0])
