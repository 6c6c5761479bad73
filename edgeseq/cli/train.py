"""``edgeseq train char`` and ``edgeseq train stock``: options to specs, then one call to training.

Checked before TensorFlow loads, in the order a person makes mistakes: the options, the data,
then the output folder.
"""
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from edgeseq.choices import CELLS, DATE_FORMATS, check_choice, either, missing_choice
from edgeseq.cli.apps import Command, reports_errors, train_app
from edgeseq.cli.options import (CLUSTER_TIMEOUT_HELP, CONTEXT_HELP, DATE_FORMAT_HELP, DROP_HELP, FILL_HELP, HEAD_HELP,
                                 INPUT_HELP, PLOT_LAST, RESUME_HELP, SEASON_HELP, STRATEGY_HELP, TARGET_MODE_HELP,
                                 WORKER_INDEX_HELP, WORKERS_HELP, check_plot_last)
from edgeseq.data.samples import SAMPLES
from edgeseq.training.cluster import CLUSTER_TIMEOUT
from edgeseq.display import json_text, printable
from edgeseq.training.specs import (CHAR_HIDDEN, CLIP_NORM, DEEP_GRU, ONEHOT_LIMIT, SAMPLE_DEEP_LR, SAMPLE_LR,
                                    STATEFUL_WINDOW, STREAMS, TEXT_BATCH, TEXT_LR, TEXT_VAL_FRACTION, TEXT_WINDOW, VALIDATE_FROM,
                                    CharDataSpec, CharModelSpec, SeriesModelSpec, SeriesTrainSettings, TrainSettings,
                                    default_window)
from edgeseq.training.step_memory import check_char_memory, check_series_memory


@train_app.command("char", cls=Command)
@reports_errors
def train_char(
    sample: Annotated[Optional[str], typer.Option(help=f"A built-in sample text: {either(tuple(SAMPLES))}.")] = None,
    text: Annotated[Optional[Path], typer.Option(help="Train on this UTF-8 text file instead of a sample.")] = None,
    window: Annotated[Optional[int], typer.Option(help=f"Characters per training window, or per chunk with --context stateful (default: the sample's; {TEXT_WINDOW} for --text; {STATEFUL_WINDOW} stateful).")] = None,
    stride: Annotated[Optional[int], typer.Option(help="Characters from one window's start to the next (default 1: a window at every character).")] = None,
    by_line: Annotated[bool, typer.Option("--by-line", help="One sequence per line of --text, any lengths; padding is masked out of the loss.")] = False,
    context: Annotated[str, typer.Option(help=f"{CONTEXT_HELP}.")] = CharDataSpec.context,
    streams: Annotated[Optional[int], typer.Option(help=f"With --context stateful: parallel streams the text is split into, the rows of every batch (default {STREAMS}, fewer for a short text).")] = None,
    val_fraction: Annotated[Optional[float], typer.Option(help=f"The end of the text (or the last lines) kept out of training to validate on (default {TEXT_VAL_FRACTION:g} for a --text of {VALIDATE_FROM:,} characters or more, else 0); the weights of the lowest validation loss are kept.")] = None,
    cell: Annotated[str, typer.Option(help=f"Recurrent cell: {either(CELLS)}.")] = CharModelSpec.cell,
    layers: Annotated[int, typer.Option(help="Stacked recurrent layers.")] = CharModelSpec.layers,
    hidden: Annotated[Optional[int], typer.Option(help=f"Units per layer (default {CHAR_HIDDEN}; with --head none, the vocabulary size).")] = None,
    head: Annotated[str, typer.Option(help=f"{HEAD_HELP}.")] = CharModelSpec.head,
    input: Annotated[Optional[str], typer.Option("--input", help=f"{INPUT_HELP} (default: onehot; embedding above {ONEHOT_LIMIT} distinct characters).")] = None,
    epochs: Annotated[int, typer.Option(help="Passes over the data.")] = TrainSettings.epochs,
    lr: Annotated[Optional[float], typer.Option(help=f"Adam learning rate (default {SAMPLE_LR:g} for a sample, {SAMPLE_DEEP_LR:g} for a sample and {DEEP_GRU} or more gru layers; {TEXT_LR:g} for --text).")] = None,
    batch_size: Annotated[Optional[int], typer.Option(help=f"Windows or lines per batch (default: the whole sample as one batch; {TEXT_BATCH} for --text).")] = None,
    clip: Annotated[float, typer.Option(help="Scale the gradients down to this global norm when theirs is larger (0: never).")] = CLIP_NORM,
    seed: Annotated[int, typer.Option(help="Seed for weights and batches: same seed, same model.")] = TrainSettings.seed,
    strategy: Annotated[str, typer.Option(help=f"{STRATEGY_HELP}.")] = TrainSettings.strategy,
    workers: Annotated[Optional[str], typer.Option(help=WORKERS_HELP)] = None,
    worker_index: Annotated[Optional[int], typer.Option(help=WORKER_INDEX_HELP)] = None,
    cluster_timeout: Annotated[float, typer.Option(metavar="SECONDS", help=CLUSTER_TIMEOUT_HELP)] = CLUSTER_TIMEOUT,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Run folder to write (default: runs/NAME).")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing run folder (and drop an unfinished training's checkpoint).")] = False,
    resume: Annotated[bool, typer.Option(help=RESUME_HELP)] = False,
):
    """Train a next-character model; writes a run folder for 'edgeseq export'."""
    from edgeseq.training.cluster import Cluster
    from edgeseq.training.run_folder import RunPlace

    cluster = Cluster(strategy, workers, worker_index, cluster_timeout)
    source = CharDataSpec(sample=sample, text=text, context=context, window=window, streams=streams,
                          by_line=by_line, stride=stride, val_fraction=val_fraction)
    model = CharModelSpec(cell=cell, layers=layers, hidden=hidden, head=head, input=input)
    settings = source.settings(epochs, lr, batch_size, seed, strategy, clip or None, model)
    out = out or Path("runs") / source.name
    data = source.load()  # all data errors surface here, before TensorFlow takes seconds to import
    model = model.for_vocabulary(len(data.vocab))
    check_char_memory(data, model, settings)  # a setting that cannot fit: one line, not an abort in TensorFlow
    RunPlace(out, force, resume)  # the inputs first, then the output: writable, not overwritten, resumable
    cluster.apply()
    cluster.wait_for_peers()
    from edgeseq.training.char_training import train_char_data

    train_char_data(data, model, settings, out=out, force=force, source=source.source, resume=resume)


@train_app.command("stock", cls=Command)
@reports_errors
def train_stock(
    csv: Annotated[Path, typer.Option(help="Price or sensor history: a Yahoo Finance download, a headerless file of Open,High,Low,Volume,Close rows, newest first (the 'lab format'), or any CSV with a header (then give --target).")],
    features: Annotated[Optional[str], typer.Option(help="Comma-separated input columns (Yahoo and headerless files: Open,High,Low,Volume,Close).")] = None,
    target: Annotated[Optional[str], typer.Option(help="The column to forecast (Yahoo and headerless files: Close); it is always an input too.")] = None,
    date: Annotated[Optional[str], typer.Option(help="Column of dates that orders the rows (default: a column named date in any case, as Yahoo files' Date; without one, rows are taken oldest first, in file order).")] = None,
    date_format: Annotated[Optional[str], typer.Option(help=f"{DATE_FORMAT_HELP}.")] = None,
    fill: Annotated[Optional[str], typer.Option(help=f"{FILL_HELP} (default: a missing value is an error). The model remembers it for 'run stock'.")] = None,
    drop_missing: Annotated[bool, typer.Option("--drop-missing", help=f"{DROP_HELP}. The model remembers it for 'run stock'.")] = False,
    season: Annotated[Optional[int], typer.Option(metavar="M", help=f"{SEASON_HELP}; the model remembers it.")] = None,
    window: Annotated[Optional[int], typer.Option(help=f"Rows the model reads per forecast (default {SeriesModelSpec.window}, or M+1 with --season M, whichever is more).")] = None,
    horizon: Annotated[int, typer.Option(help="Predict this many next values of the target at once.")] = SeriesModelSpec.horizon,
    train_fraction: Annotated[float, typer.Option(help="The first part of the rows, in time order, to train on; the rest is the backtest.")] = SeriesTrainSettings.train_fraction,
    cell: Annotated[str, typer.Option(help=f"Recurrent cell: {either(CELLS)}.")] = SeriesModelSpec.cell,
    layers: Annotated[int, typer.Option(help="Stacked recurrent layers.")] = SeriesModelSpec.layers,
    hidden: Annotated[int, typer.Option(help="Units per layer.")] = SeriesModelSpec.hidden,
    target_mode: Annotated[str, typer.Option(help=f"{TARGET_MODE_HELP}.")] = SeriesModelSpec.target_mode,
    interval: Annotated[float, typer.Option(metavar="LEVEL", help="With --target-mode change: the level of the central prediction interval around each forecast (0.8: 80%).")] = SeriesTrainSettings.interval,
    epochs: Annotated[int, typer.Option(help="At most this many passes over the training windows.")] = SeriesTrainSettings.epochs,
    lr: Annotated[float, typer.Option(help="Adam learning rate.")] = SeriesTrainSettings.lr,
    batch_size: Annotated[int, typer.Option(help="Windows per batch.")] = SeriesTrainSettings.batch_size,
    validation: Annotated[float, typer.Option("--validation", "--val-fraction", help="Latest fraction of the training windows held out for early stopping (0: none).")] = SeriesTrainSettings.validation,
    patience: Annotated[int, typer.Option(help="Stop after this many epochs without a lower validation loss, keeping the best (0: never).")] = SeriesTrainSettings.patience,
    clip: Annotated[float, typer.Option(help="Scale the gradients down to this global norm when theirs is larger (0: never).")] = CLIP_NORM,
    seed: Annotated[int, typer.Option(help="Seed for weights and batches: same seed, same model.")] = SeriesTrainSettings.seed,
    strategy: Annotated[str, typer.Option(help=f"{STRATEGY_HELP}.")] = SeriesTrainSettings.strategy,
    workers: Annotated[Optional[str], typer.Option(help=WORKERS_HELP)] = None,
    worker_index: Annotated[Optional[int], typer.Option(help=WORKER_INDEX_HELP)] = None,
    cluster_timeout: Annotated[float, typer.Option(metavar="SECONDS", help=CLUSTER_TIMEOUT_HELP)] = CLUSTER_TIMEOUT,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Run folder to write (default: runs/CSV-NAME).")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing run folder (and --plot file).")] = False,
    resume: Annotated[bool, typer.Option(help=RESUME_HELP)] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the evaluation as JSON instead of a table.")] = False,
    plot: Annotated[Optional[Path], typer.Option(help="Draw actual vs model vs the naive forecasts over the test part to this PNG (pip install 'edgeseq[plot]').")] = None,
    plot_last: Annotated[int, typer.Option(metavar="N", help="With --plot: draw the last N forecasts in detail (the whole history above them).")] = PLOT_LAST,
):
    """Train a forecaster on a CSV; backtests it walk-forward against naive forecasts, writes a run folder."""
    from edgeseq.data.series import load_csv
    from edgeseq.evaluation.baselines import check_season
    from edgeseq.training.cluster import Cluster
    from edgeseq.training.run_folder import RunPlace

    cluster = Cluster(strategy, workers, worker_index, cluster_timeout)
    model = SeriesModelSpec(window=default_window(season) if window is None else window, horizon=horizon, cell=cell,
                            layers=layers, hidden=hidden, target_mode=target_mode)
    settings = SeriesTrainSettings(epochs=epochs, lr=lr, batch_size=batch_size, seed=seed, strategy=strategy,
                                   validation=validation, patience=patience, train_fraction=train_fraction,
                                   season=season, clip=clip or None, interval=interval)
    missing_choice(fill, drop_missing)
    if date_format is not None:
        check_choice("--date-format", date_format, DATE_FORMATS)
    out = out or Path("runs") / csv.stem
    check_plot_last(plot_last)
    # bad files fail before TensorFlow loads, and before the outputs are looked at
    series = load_csv(csv, features, target, date, fill, drop_missing=drop_missing, date_format=date_format)
    check_season(season, series.first_test_row(model.window, model.horizon, train_fraction))
    check_series_memory(len(series.values), model, len(series.features), batch_size)
    if model.target_mode == "change":  # a log column that reaches 0 later in the file, refused now
        from edgeseq.data.scale_free import fitted_on_training_rows

        fitted_on_training_rows(series, model.window, model.horizon, train_fraction)
    RunPlace(out, force, resume)
    if plot is not None:
        from edgeseq.cli.forecast_plot import check_plot_path

        check_plot_path(plot, force)
    cluster.apply()
    cluster.wait_for_peers()
    from edgeseq.training.series_training import train_series

    run = train_series(series, model, settings, date_column=date, out=out, force=force, resume=resume)
    if as_json:
        print(json_text({"run": str(out), "backtest": run.backtest.to_json()}))
    else:
        print(printable(run.backtest.headline()))
        print(printable(run.backtest.table(), keep="\n"))
    if plot is not None:
        from edgeseq.cli.forecast_plot import plot_backtest

        written = plot_backtest(run.backtest, plot, f"{csv.name}, test part", series, last=plot_last)
        print(f"wrote {written}", file=sys.stderr)
    print(printable(f"next: edgeseq export {out} -o {out.name}.onnx"), file=sys.stderr)
