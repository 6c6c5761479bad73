"""The default forecaster (``--target-mode change``) on series the project generates itself.

Issue 10's must-hold figures, seeds 0, 1 and 2 (1200 rows, the first 70% train): on a trend
and on a season (iid noise) the test RMSE is at most 0.9 of the best naive forecast; on a
random walk at most 1.01 of persistence; the 90% interval covers 85-95% of the test part of
every series in the forecast table, the smooth trend too (per step at horizon 3:
tests/test_step_coverage.py), and of the walk whose test part is half and double as volatile
(the same seed gives the same training part, so one model per seed is scored on all three
walks). A model trained at 50..100 forecasts the same process at 150..300 no worse against
persistence. Then the export: one fused LSTM, no Loop, every output against TensorFlow, and
the runner. Each model is trained once (``bench.forecast_tables`` prints the same figures as a table).
"""
from __future__ import annotations

import numpy as np
import pytest

from bench.forecast_tables import SERIES, as_series, extrapolation, ratio_to_persistence, rescore, train
from edgeseq.data import synthetic
from edgeseq.errors import InputError

SEEDS = (0, 1, 2)
COVERAGE = (0.85, 0.95)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """(series name, seed) -> the run trained on it, each once (its run folder: run.folder)."""
    trained, root = {}, tmp_path_factory.mktemp("change_runs")

    def get(name: str, seed: int):
        if (name, seed) not in trained:
            make, season = SERIES[name]
            out = root / f"{name}_{seed}"
            trained[name, seed] = train(make(seed), f"{name} {seed}", season, seed, out)
            trained[name, seed].folder = out
        return trained[name, seed]

    return get


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name, best", [("trend", "drift"), ("seasonal", "seasonal")])
def test_on_a_trend_and_a_season_the_model_beats_every_naive_forecast(runs, name, best, seed):
    run = runs(name, seed)
    rmse = run.backtest.evaluation["rmse"]
    assert rmse["best_baseline"] == best, run.backtest.table()
    assert rmse["ratio_to_best"] <= 0.9, run.backtest.table()
    assert run.config["training"]["gate"]["kept"] and not run.backtest.fallback


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", SERIES)
def test_the_interval_covers_85_to_95_percent_of_every_test_part(runs, name, seed):
    run = runs(name, seed)
    assert COVERAGE[0] <= run.backtest.interval["coverage"] <= COVERAGE[1], run.backtest.table()


def test_the_mode_follows_the_series(runs):
    assert runs("trend", 0).config["transform"]["modes"] == ["diff"]  # additive steps
    assert runs("seasonal", 0).config["transform"]["modes"] == ["log"]  # positive, level range too small to tell
    assert runs("random_walk", 0).config["transform"]["modes"] == ["log"]
    assert runs("seasonal", 0).config["window"] == 25  # a full season of 24 and one more row


@pytest.mark.parametrize("seed", SEEDS)
def test_on_a_random_walk_the_model_is_persistence_and_its_interval_follows_the_volatility(runs, seed):
    run = runs("random_walk", seed)
    assert ratio_to_persistence(run.backtest) <= 1.01, run.backtest.table()
    if run.backtest.fallback:  # exactly the last value, and the table says why
        np.testing.assert_array_equal(run.backtest.predicted[:, 0], run.backtest.last)
        assert "model = persistence (fallback)" in run.backtest.table()
        assert "fallback" in run.backtest.table().splitlines()[5]  # the direction accuracy row
    widths = {}
    for factor in (1.0, 0.5, 2.0):
        walk = synthetic.random_walk(seed, test_sd=factor * synthetic.DAILY_RETURN_SD)
        report = rescore(run, walk)
        assert COVERAGE[0] <= report.interval["coverage"] <= COVERAGE[1], (factor, report.interval)
        widths[factor] = report.interval["mean_width"]
    assert widths[0.5] < widths[1.0] < widths[2.0]


def test_rescoring_the_training_series_reproduces_the_training_backtest(runs):
    run = runs("trend", 0)
    again = rescore(run, synthetic.trend(0))
    np.testing.assert_array_equal(again.target_row, run.backtest.target_row)
    np.testing.assert_allclose(again.predicted, run.backtest.predicted, rtol=0, atol=1e-9)
    assert again.interval == run.backtest.interval


def test_a_model_trained_at_50_to_100_forecasts_the_process_at_150_to_300_as_well():
    ratio_in, ratio_out, mode = extrapolation(0)
    assert mode == "log"
    assert ratio_in < 0.9  # it learned something in range ...
    assert ratio_out <= ratio_in + 0.005  # ... and keeps it three times higher


def test_the_gate_and_the_interval_are_stated_in_training_output(runs, caplog):
    run = runs("random_walk", 0)
    gate = run.config["training"]["gate"]
    assert set(gate) == {"kept", "t", "gain", "windows"} and gate["windows"] == 166
    assert run.config["transform"]["interval_level"] == 0.9
    assert len(run.config["transform"]["quantiles"]) == 1 and run.config["transform"]["quantiles"][0] > 0
    doc = run.backtest.to_json()
    assert set(doc["interval"]) == {"level", "coverage", "mean_width"} and doc["interval"]["level"] == 0.9


# ------------------------------------------------------------------ export and runner


@pytest.fixture(scope="module")
def exported(runs):
    """The seasonal seed-0 model (log mode, window 25) exported from its run folder."""
    from edgeseq.export.exporter import export_run

    run = runs("seasonal", 0)
    out = run.folder.parent / "seasonal.onnx"
    return run, out, export_run(run.folder, out), synthetic.seasonal(0)


def test_export_fuses_the_lstm_and_matches_tensorflow_on_every_output(exported):
    _, _, result, _ = exported
    assert result.ops == {"dynamic": "1 fused LSTM", "fixed": "1 fused LSTM"}
    assert not result.checklist.failures
    outputs = {label.split()[1] for label in (c.label for c in result.checklist.checks) if " batch " in label}
    assert outputs == {"y", "lower", "upper", "change"}
    assert 0 < result.parity <= 1e-5  # the change output, in typical changes


def test_the_runner_reproduces_the_training_backtest_with_its_interval(exported):
    from edgeseq.evaluation.backtest import backtest
    from edgeseq.runtime import SeriesModel

    run, out, _, values = exported
    forecaster = SeriesModel(out)
    replay = backtest(forecaster, values[:, None], first_row=840, season=24)
    np.testing.assert_array_equal(replay.target_row, run.backtest.target_row)
    level = np.abs(run.backtest.predicted).max()
    tolerance = 1e-5 * run.config["transform"]["typical_change"][0] * level + 4 * np.spacing(np.float32(level))
    for name in ("predicted", "lower", "upper"):
        assert np.abs(getattr(replay, name) - getattr(run.backtest, name)).max() <= tolerance, name
    assert replay.interval["coverage"] == run.backtest.interval["coverage"]
    meta = forecaster.model.description
    assert (meta.modes, meta.interval_level) == (("log",), 0.9)
    assert meta.interval_quantiles == tuple(run.config["transform"]["quantiles"])
    forecast = forecaster.forecast(as_series(values, "seasonal 0"))
    assert forecast.lower[0] < forecast.values[0] < forecast.upper[0]
    assert "90% interval [" in forecast.lines()[1]


def test_a_row_at_or_below_zero_in_a_log_column_is_one_line_naming_it(exported):
    from edgeseq.runtime import SeriesModel

    _, out, _, values = exported
    bad = values.copy()
    bad[-3] = 0.0
    with pytest.raises(InputError, match=r"^the rows data row 1198, column 'value': 0 is not positive, and the model "
                                         r"reads 'value' as log ratios \(it was positive in training\); fix the value, or "
                                         r"forecast from rows before it$"):
        SeriesModel(out).predict(bad[:, None])


def test_the_gate_line_says_below_or_above_persistence():
    from edgeseq.training.change_training import Gate

    assert Gate(True, 2.5, 0.031, 40).line() == (
        "model = trained weights: they beat persistence on the validation windows (paired t 2.50 over 40 "
        "validation windows (needs 2), validation error 3.1% below persistence's)")
    assert Gate(False, -0.4, -0.006, 40).line() == (
        "model = persistence (fallback): the trained weights did not clearly beat persistence on the validation "
        "windows (paired t -0.40 over 40 validation windows (needs 2), validation error 0.6% above persistence's), "
        "so the model forecasts the last value")
