"""Forecast metrics against values computed by hand."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from edgeseq.evaluation.forecast_metrics import direction_accuracy, evaluate, format_table, mae, mape, rmse

# Three forecasts: the last observed price, what happened, what the model said.
LAST = np.array([9.0, 13.0, 12.0])
ACTUAL = np.array([10.0, 12.0, 12.0])  # moves: up 1, down 1, flat
PREDICTED = np.array([11.0, 14.0, 12.5])  # moves: up 2, up 1, up 0.5; errors 1, 2, 0.5


def test_rmse_mae_mape_by_hand():
    assert rmse(ACTUAL, PREDICTED) == pytest.approx(math.sqrt((1 + 4 + 0.25) / 3))
    assert mae(ACTUAL, PREDICTED) == pytest.approx(3.5 / 3)
    assert mape(ACTUAL, PREDICTED) == pytest.approx(100 * (1 / 10 + 2 / 12 + 0.5 / 12) / 3)
    assert rmse(ACTUAL, ACTUAL) == 0.0


def test_mape_is_undefined_when_an_actual_value_is_zero():
    assert math.isnan(mape(np.array([0.0, 1.0]), np.array([1.0, 1.0])))


def test_direction_accuracy_counts_flat_moves_as_their_own_direction():
    # up/up hit, down/up miss, flat/up miss
    assert direction_accuracy(ACTUAL, PREDICTED, LAST) == pytest.approx(1 / 3)
    # persistence predicts flat everywhere: right only on the flat step
    assert direction_accuracy(ACTUAL, LAST, LAST) == pytest.approx(1 / 3)
    # a flat actual step is hit by an exactly flat prediction
    assert direction_accuracy(np.array([5.0]), np.array([5.0]), np.array([5.0])) == 1.0


def test_evaluate_reports_model_persistence_and_ratio():
    evaluation = evaluate(ACTUAL, PREDICTED, LAST)
    assert list(evaluation) == ["rmse", "mae", "mape", "direction_accuracy"]  # no mase without a scale
    # persistence errors: 1, 1, 0
    persistence_rmse = math.sqrt(2 / 3)
    assert evaluation["rmse"]["persistence"] == pytest.approx(persistence_rmse)
    assert evaluation["rmse"]["ratio"] == pytest.approx(math.sqrt(5.25 / 3) / persistence_rmse)
    assert evaluation["mae"] == pytest.approx(
        {"model": 3.5 / 3, "persistence": 2 / 3, "ratio": 3.5 / 2, "best_baseline": "persistence",
         "ratio_to_best": 3.5 / 2}
    )
    assert evaluation["mape"]["persistence"] == pytest.approx(100 * (1 / 10 + 1 / 12) / 3)
    # moves up, down, flat: a three-way tie, settled in the order up, down, flat
    assert evaluation["direction_accuracy"] == pytest.approx(
        {"model": 1 / 3, "persistence": 1 / 3, "base_rate": 1 / 3, "ratio": None,
         "best_baseline": "persistence", "ratio_to_best": None, "majority": "up"}
    )
    json.dumps(evaluation, allow_nan=False)  # goes into model metadata as is


def test_evaluate_with_a_multi_step_horizon_uses_one_last_value_per_forecast():
    actual = np.array([[10.0, 11.0], [20.0, 18.0]])
    last = np.array([10.0, 20.0])
    evaluation = evaluate(actual, actual + 1.0, last)
    assert evaluation["mae"]["model"] == pytest.approx(1.0)
    assert evaluation["mae"]["persistence"] == pytest.approx((0 + 1 + 0 + 2) / 4)
    # actual moves: flat, up, flat, down; predicted moves: up, up, up, down
    assert evaluation["direction_accuracy"]["model"] == pytest.approx(2 / 4)
    assert evaluation["direction_accuracy"]["persistence"] == pytest.approx(2 / 4)
    assert evaluation["direction_accuracy"]["majority"] == "flat"
    assert evaluation["direction_accuracy"]["base_rate"] == pytest.approx(2 / 4)


def test_undefined_values_become_none_and_n_a():
    evaluation = evaluate(np.array([0.0, 2.0]), np.array([1.0, 2.0]), np.array([0.0, 2.0]))
    assert evaluation["mape"] == {"model": None, "persistence": None, "ratio": None, "best_baseline": None,
                                  "ratio_to_best": None}
    assert evaluation["rmse"]["ratio"] is None  # persistence is perfect here: no ratio
    assert evaluation["rmse"]["best_baseline"] == "persistence" and evaluation["rmse"]["ratio_to_best"] is None
    table = format_table(evaluation)
    assert table.splitlines()[3].split() == ["mape", "(%)", "n/a", "n/a", "n/a", "n/a"]


def test_infinite_values_are_undefined_too():
    evaluation = evaluate(np.array([1.0, 2.0]), np.array([np.inf, 2.0]), np.array([0.0, 1.0]))
    assert evaluation["rmse"]["model"] is None and evaluation["rmse"]["ratio"] is None
    json.dumps(evaluation, allow_nan=False)


def test_format_table_is_fixed_width():
    table = format_table(evaluate(ACTUAL, PREDICTED, LAST))
    lines = table.splitlines()
    assert len(lines) == 6
    assert len({len(line) for line in lines[:5]}) == 1
    assert lines[0].split() == ["metric", "model", "persistence", "best", "baseline", "model/best"]
    assert lines[2].split() == ["mae", "1.1667", "0.6667", "persistence", "1.750"]
    assert lines[4].split() == ["direction", "accuracy", "0.3333", "0.3333", "persistence", "n/a"]
    assert lines[5] == ("base rate 0.3333: the share of steps that moved up (the most common move), "
                        "what always predicting it scores")


def test_mismatched_shapes_are_a_bug_not_a_metric():
    with pytest.raises(ValueError):
        rmse(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError):
        evaluate(np.zeros((3, 2)), np.zeros((3, 2)), np.zeros(2))
    with pytest.raises(ValueError):
        evaluate(np.zeros(3), np.zeros(3), np.zeros(3), {"drift": np.zeros(2)})
