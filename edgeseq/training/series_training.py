"""Training a forecaster on a price or sensor series and scoring it the honest way.

The series is split once in time order (edgeseq.data.windows); the test part is forecast
walk-forward, in price units beside persistence. A ``change`` model is then gated against
persistence and given its interval quantiles (edgeseq.training.change_training).
"""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

import edgeseq
from edgeseq.contract.cells import stack_label
from edgeseq.data.scale_free import change_windows, on_exact_last, raw_windows
from edgeseq.data.series import Series, rows_sha256
from edgeseq.data.windows import split_point, train_test_windows
from edgeseq.errors import InputError
from edgeseq.evaluation.backtest import Backtest, score_forecasts, scored_rows
from edgeseq.evaluation.baselines import fit_baselines
from edgeseq.log import logger
from edgeseq.training.specs import SeriesModelSpec, SeriesTrainSettings
from edgeseq.data.batches import ArraySource
from edgeseq.training.epochs import Plan
from edgeseq.training.loop import Steps, Task, check_batch
from edgeseq.training.change_network import build_change_model
from edgeseq.training.change_network import forecast_function as change_forecast
from edgeseq.training.change_training import apply_gate, interval_quantiles
from edgeseq.training.series_network import SeriesModelConfig, build_model, forecast_function
from edgeseq.training.session import Session, run_history, spike_record
from edgeseq.training.tf_setup import describe_devices, distribution_strategy, keras, seed_everything, tf


@dataclass
class SeriesRun:
    model: keras.Model
    config: dict  # the run folder's config.json
    backtest: Backtest  # the walk-forward test part


def train_series(series: Series, spec: SeriesModelSpec = SeriesModelSpec(),
                 settings: SeriesTrainSettings = SeriesTrainSettings(), *, date_column: str | None = None,
                 out: str | Path | None = None, force: bool = False, source: str | None = None,
                 resume: bool = False) -> SeriesRun:
    """Fit on the first ``settings.train_fraction`` of ``series``, backtest on the rest, save a run folder.

    ``source`` is how the data is named in the run (default: the path it was read from);
    the series' notes, progress and figures go to the edgeseq logger. ``resume``: continue
    the unfinished training checkpointed beside ``out``.
    """
    for note in series.notes:
        logger.info(note)
    window, horizon, train_fraction = spec.window, spec.horizon, settings.train_fraction
    change = spec.target_mode == "change"
    try:
        if change:
            transform, train, test = change_windows(series.values, series.target_index, window, horizon,
                                                    train_fraction, series.features)
        else:
            scaler, train, test = train_test_windows(series.values, series.target_index, window, horizon,
                                                     "level", train_fraction, series.features)
    except InputError as e:  # rows too few, a constant column: name the file
        raise InputError(f"{series.source}: {e}") from None
    if change:
        logger.info(f"scale-free windows: {transform.describe()}")
    if len(test) == 0:
        raise InputError(f"{series.source}: the test part has no complete forecast; use a longer file")
    # filled actual values and windows the transform cannot read are left out of the test part's scores
    scored, skipped = scored_rows(series, test.target_row, window, horizon,
                                  transform.readable(series.values) if change else None)
    config = SeriesModelConfig.from_spec(spec, features=len(series.features), target_index=series.target_index)
    held_out = int(len(train) * settings.validation)
    fit_x, fit_y = train.x[:len(train) - held_out], train.y[:len(train) - held_out]
    validation = (train.x[len(fit_x):], train.y[len(fit_y):]) if held_out else None
    if len(fit_x) == 0:
        raise InputError(f"{series.source}: no training windows left beside the validation part; "
                         "use a longer file or a smaller --validation")
    strategy = distribution_strategy(settings.strategy)  # first: a cluster must form before TF runs anything
    seed_everything(settings.seed)
    batch = settings.batch_size or len(fit_x)
    check_batch(settings.batch_size, strategy.num_replicas_in_sync)
    split = split_point(len(series.values), train_fraction)
    # The naive forecasts' drift and MASE scale come from the training rows and travel with the model.
    baselines = fit_baselines(series.target_values[:split], settings.season)
    logger.info(f"training {stack_label(config.cell, config.layers, config.hidden)} target {series.target} "
                f"({config.target_mode}) on {len(fit_x)} windows of {window}, validating on the next "
                f"{held_out} (all before {_row_name(series, split)}), testing on {len(test)}; batch {batch}, "
                f"{describe_devices()}, {strategy.num_replicas_in_sync} replica(s)")
    with strategy.scope():
        model = build_change_model(config, window, fit_y.mean(axis=0).tolist()) if change else build_model(config)
    steps = Steps(series_task(model), strategy, settings.lr, settings.clip)
    options = {"the windows (sha256)": hashlib.sha256(fit_x.tobytes() + fit_y.tobytes()).hexdigest()[:16],
               **{f"--{k.replace('_', '-')}": v for k, v in asdict(settings).items() if k not in ("epochs", "strategy")},
               **{f"--{k.replace('_', '-')}": v for k, v in asdict(spec).items()}}
    session = Session(steps, out, options, force, resume)
    early_stopping = bool(validation) and settings.patience > 0
    plan = Plan(settings.epochs, batch, settings.seed, patience=settings.patience if early_stopping else 0,
                keep_best=early_stopping, lr=settings.lr,
                model_label=f"{config.layers}x{config.hidden} units")
    outcome = session.fit(ArraySource(fit_x, fit_y), ArraySource(*validation) if validation else None, plan)
    history = outcome.progress.history
    epochs_run, kept = outcome.progress.epoch, outcome.progress.best_epoch
    if early_stopping and outcome.stopped_by is None:
        logger.info(f"ran {epochs_run} epochs; kept the weights of epoch {kept}, the lowest validation loss")
    if not kept:  # stopped before the first epoch ended: nothing to score or save
        session.close(outcome)

    # The forward pass that export converts, called outside any replica context: the backtest
    # scores exactly what will be shipped, and no replica is handed an empty batch.
    if change:
        if settings.validation > 0:  # too few windows to judge (none, even) is judged persistence
            gate = apply_gate(model, *(validation or (train.x[:0], train.y[:0])))
            logger.info(gate.line())
        else:
            gate = None
            logger.info("model = trained weights, unchecked: --validation 0 holds out no windows to judge them "
                        "against persistence (your choice)")
        transform = {**transform.to_dict(), "window": window, "interval_level": settings.interval,
                     "quantiles": interval_quantiles(model, train.x, train.y, series.target_index, settings.interval)}
        outputs = change_forecast(model, config, transform)[0](raw_windows(series.values, scored, window))
        last = series.target_values[scored - 1]
        y, lower, upper = (on_exact_last(outputs[k].numpy(), last) for k in ("y", "lower", "upper"))
        backtest = score_forecasts(series, scored, y, baselines, (lower, upper, settings.interval),
                                   fallback=gate is not None and not gate.kept, skipped=skipped)
    else:
        forecast, _ = forecast_function(model, config)
        scaled = forecast(test.x[np.isin(test.target_row, scored)])["y"].numpy()
        predicted = scaler.inverse_transform_column(scaled, series.target_index)
        backtest = score_forecasts(series, scored, predicted, baselines, skipped=skipped)
    run_config = {
        "task": "series",
        "edgeseq_version": edgeseq.__version__,
        "model": config.to_dict(),
        "features": list(series.features),
        "target": series.target,
        "window": window,
        "horizon": horizon,
        "target_mode": config.target_mode,
        **({"transform": transform} if change else {"scaler": scaler.to_dict()}),
        "date_column": date_column or series.date_column,
        "date_format": series.date_format,
        "frequency": series.frequency,
        "missing": series.missing,
        "baselines": baselines.to_json(),
        "data": {"source": source or series.source, "rows": int(len(series.values)),
                 "train_fraction": train_fraction, "train_rows": split, "test_rows": int(len(series.values) - split),
                 "split_at": _row_name(series, split), "filled_cells": series.filled,
                 "dropped_rows": series.dropped, "train_end": _row_name(series, split - 1),
                 "train_sha256": rows_sha256(series.values[:split])},
        # train_fraction is recorded under "data", season under "baselines"
        "training": {**{k: v for k, v in asdict(settings).items() if k not in ("train_fraction", "season")},
                     "batch_size": batch, "windows": int(len(fit_x)),
                     "validation_windows": held_out, "epochs_run": epochs_run, "epoch_kept": kept,
                     **({"gate": {"kept": gate.kept, "t": gate.t, "gain": gate.gain, "windows": gate.windows}}
                        if change and gate else {}),
                     **spike_record(outcome.progress), "tensorflow": tf.__version__},
    }
    test_part = {k: v for k, v in backtest.to_json().items() if k != "evaluation"}
    metrics = {"evaluation": backtest.evaluation, "test": test_part,
               **{k: float(history[k][kept - 1]) for k in ("loss", "val_loss") if k in history}}
    session.write(run_config, run_history(outcome.progress), metrics)
    session.close(outcome)
    return SeriesRun(model, run_config, backtest)


def series_task(model: keras.Model) -> Task:
    """Mean squared error over the horizon, per window (Keras' "mse"), in scaled units."""

    def forward(x, state, training):
        return model(x, training=training), None

    def sums(y, weights, predicted, training):
        return {"loss": tf.reduce_sum(keras.losses.mean_squared_error(y, predicted) * weights),
                "weight": tf.reduce_sum(weights)}

    return Task(model, forward, sums, lambda totals: {"loss": totals["loss"] / totals["weight"]})


def _row_name(series: Series, row: int) -> str:
    return series.dates[row] if series.dates else f"data row {row + 1}"
