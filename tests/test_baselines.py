"""The naive baselines, MASE, the base rate and the best baseline, on series worked out by hand."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from edgeseq.contract import Baselines
from edgeseq.data.series import Series
from edgeseq.errors import InputError
from edgeseq.evaluation.backtest import score_forecasts
from edgeseq.evaluation.baselines import fit_baselines, naive_forecasts

# Ten rows; the first six train. Training changes: +2, -1, +2, +2, -1.
Y = np.array([10.0, 12.0, 11.0, 13.0, 15.0, 14.0, 16.0, 18.0, 17.0, 19.0])
DRIFT = 4 / 5  # mean change of the training part
SCALE = 8 / 5  # mean absolute change of the training part: persistence's in-sample MAE


def series(values=Y) -> Series:
    return Series("hand.csv", ("v",), "v", values[:, None], None, 0, ())


def test_fit_baselines_from_the_training_part():
    assert fit_baselines(Y[:6], season=2) == Baselines(drift=pytest.approx(DRIFT), mase_scale=pytest.approx(SCALE),
                                                       season=2)
    assert fit_baselines(np.array([5.0, 5.0, 5.0])) == Baselines(drift=0.0, mase_scale=None, season=None)
    assert fit_baselines(np.array([5.0])) == Baselines(None, None, None)
    for season, message in ((1, "--season must be at least 2 rows, got 1"),
                            (6, "--season 6 must be below the 6 training rows")):
        with pytest.raises(InputError) as caught:
            fit_baselines(Y[:6], season=season)
        assert str(caught.value) == message


def test_one_step_baselines_mase_base_rate_and_best_baseline_by_hand():
    # forecasts of rows 6..9: actual 16, 18, 17, 19 after last values 14, 16, 18, 17
    model = np.array([[16.5], [17.5], [17.5], [18.5]])  # errors 0.5 each
    report = score_forecasts(series(), np.arange(6, 10), model, fit_baselines(Y[:6], season=2))
    np.testing.assert_allclose(report.naive["drift"][:, 0], [14.8, 16.8, 18.8, 17.8])
    np.testing.assert_array_equal(report.naive["seasonal"][:, 0], [15, 14, 16, 18])  # the value 2 rows before
    mae, rmse, mase = (report.evaluation[m] for m in ("mae", "rmse", "mase"))
    # absolute errors: persistence 2, 2, 1, 2; drift 1.2, 1.2, 1.8, 1.2; seasonal 1, 4, 1, 1
    assert mae == pytest.approx({"model": 0.5, "persistence": 1.75, "drift": 1.35, "seasonal": 1.75,
                                 "ratio": 0.5 / 1.75, "best_baseline": "drift", "ratio_to_best": 0.5 / 1.35})
    assert rmse["drift"] == pytest.approx(math.sqrt((3 * 1.44 + 3.24) / 4))
    assert rmse["seasonal"] == pytest.approx(math.sqrt(19 / 4))
    assert rmse["best_baseline"] == "drift" and rmse["ratio_to_best"] == pytest.approx(0.5 / math.sqrt(7.56 / 4))
    assert mase == pytest.approx({"model": 0.5 / SCALE, "persistence": 1.75 / SCALE, "drift": 1.35 / SCALE,
                                  "seasonal": 1.75 / SCALE, "ratio": 0.5 / 1.75, "best_baseline": "drift",
                                  "ratio_to_best": 0.5 / 1.35})
    # actual moves up, up, down, up; the model calls all four, drift says "up" every time,
    # seasonal says up, down, down, up
    assert report.evaluation["direction_accuracy"] == pytest.approx(
        {"model": 1.0, "persistence": 0.0, "drift": 0.75, "seasonal": 0.75, "base_rate": 0.75, "ratio": None,
         "best_baseline": "drift", "ratio_to_best": None, "majority": "up"})
    assert list(report.evaluation) == ["rmse", "mae", "mase", "mape", "direction_accuracy"]
    assert report.steps == []  # one step: nothing per step


def test_a_model_that_loses_to_drift_is_named_as_such():
    worse = np.array([[14.0], [16.0], [18.0], [17.0]])  # persistence itself
    report = score_forecasts(series(), np.arange(6, 10), worse, fit_baselines(Y[:6]))
    assert set(report.naive) == {"drift"}  # no season: no seasonal forecast
    assert report.evaluation["mae"]["best_baseline"] == "drift"
    assert report.evaluation["mae"]["ratio_to_best"] == pytest.approx(1.75 / 1.35)
    assert report.evaluation["mae"]["ratio"] == 1.0
    lines = report.table().splitlines()
    assert lines[0].split() == ["metric", "model", "persistence", "drift", "best", "baseline", "model/best"]
    assert lines[2].split() == ["mae", "1.7500", "1.7500", "1.3500", "drift", "1.296"]


def test_seasonal_naive_at_every_step_reaches_back_whole_seasons():
    truth = np.arange(20.0) * 10  # the value is ten times its row
    # last observed row t = 9, season 3: step h takes row t + h - 3 * ceil(h / 3)
    forecast = naive_forecasts(truth, np.array([10]), 4, Baselines(season=3))
    np.testing.assert_array_equal(forecast["seasonal"], [[70, 80, 90, 70]])
    assert "drift" not in forecast
    assert naive_forecasts(truth, np.array([2, 10]), 1, Baselines(season=3)) == {}  # row 2 has no season back


def test_horizon_2_gives_pooled_and_per_step_figures():
    model = np.array([[16.0, 17.0], [18.0, 18.0], [17.0, 18.0]])
    report = score_forecasts(series(), np.arange(6, 9), model, fit_baselines(Y[:6], season=2))
    # actual [[16, 18], [18, 17], [17, 19]] after last 14, 16, 18
    np.testing.assert_allclose(report.naive["drift"], [[14.8, 15.6], [16.8, 17.6], [18.8, 19.6]])
    np.testing.assert_array_equal(report.naive["seasonal"], [[15, 14], [14, 16], [16, 18]])  # step 2: the last value
    step1, step2 = (step["mae"] for step in report.steps)
    assert step1["persistence"] == pytest.approx(5 / 3) and step2["persistence"] == pytest.approx(2.0)
    assert step1["model"] == 0.0 and step2["model"] == pytest.approx(1.0)
    assert step2["seasonal"] == step2["persistence"]
    assert report.evaluation["mae"]["persistence"] == pytest.approx(11 / 6)  # pooled over both steps
    assert report.evaluation["mae"]["model"] == pytest.approx(0.5)
    assert report.headline() == ("walk-forward backtest: 3 forecasts of v, horizon 2, price units, "
                                 "figures pooled over the 2 steps")
    doc = report.to_json()
    assert [step["step"] for step in doc["steps"]] == [1, 2]
    assert doc["steps"][1]["evaluation"]["mae"]["persistence"] == pytest.approx(2.0)
    assert doc["baselines"] == {"drift": pytest.approx(DRIFT), "mase_scale": pytest.approx(SCALE), "season": 2}
    per_step = report.table().split("\n\n")[1].splitlines()
    assert per_step[0].split() == ["rmse", "by", "step", "model", "persistence", "drift", "seasonal", "best",
                                   "baseline", "model/best"]
    assert per_step[1].split()[:3] == ["step", "1", "0.0000"]
    assert len(per_step) == 3


def strict_loads(text: str):
    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")
    return json.loads(text, parse_constant=refuse)


def test_json_never_holds_nan_or_infinity():
    predicted = np.array([[np.nan], [np.inf], [17.0], [19.0]])
    zero = Y.copy()
    zero[7] = 0.0  # MAPE is undefined with a zero actual value
    report = score_forecasts(series(zero), np.arange(6, 10), predicted, fit_baselines(zero[:6]))
    text = json.dumps(report.to_json(), allow_nan=False)
    doc = strict_loads(text)
    assert doc["evaluation"]["rmse"]["model"] is None
    assert doc["evaluation"]["mape"]["persistence"] is None
    assert doc["evaluation"]["rmse"]["persistence"] is not None
