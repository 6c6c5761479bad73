"""The ``edgeseq`` command: train, export, run, info.

Each command parses its options and hands over to one stage, imported inside the command,
so ``edgeseq run`` starts without TensorFlow. A known failure (an EdgeseqError) becomes one
line on stderr and exit code 2; anything else is a bug: one line saying where its traceback
was written, and exit code 1. Text that comes from a file (metadata, CSV cells) is printed
through ``edgeseq.display``: control characters escaped, JSON without NaN.

Options become typed specs (``edgeseq.specs``), which own the defaults and check every value
once; the choices an option lists in its help are the ones it is checked against
(``edgeseq.choices``). Diagnostics go through the "edgeseq" logger (``edgeseq.log``), set up
once in ``main``. The file is over 300 lines only because every option's help text is here.

Start-up counts here (``edgeseq run`` is a whole process per use), so: stages are imported
inside their command, and this module has no ``from __future__ import annotations``: Typer
reads every command's annotations each time the program starts, and as strings each one
would first be compiled and evaluated (about 15 ms of every run).
"""
import functools
import os
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Annotated, Optional

import typer

import edgeseq
from edgeseq.choices import (CELLS, CONTEXTS, DATE_FORMATS, FILL_METHODS, HEADS, INPUTS, PRECISIONS, STRATEGIES,
                             TARGET_MODES, check_choice, either, explain, missing_choice)
from edgeseq.contract.quantization import MAX_ACCURACY_DROP, MAX_RMSE_RATIO
from edgeseq.data.dates import DATE_EXAMPLES
from edgeseq.data.samples import SAMPLES
from edgeseq.display import json_text, printable
from edgeseq.errors import EdgeseqError
from edgeseq.log import logger, setup_cli_logging
from edgeseq.specs import (CHAR_HIDDEN, CLIP_NORM, ONEHOT_LIMIT, SAMPLE_LR, STATEFUL_WINDOW, STREAMS, TEXT_BATCH,
                           TEXT_LR, TEXT_VAL_FRACTION, TEXT_WINDOW, VALIDATE_FROM, CharDataSpec, CharModelSpec, SeriesModelSpec,
                           SeriesTrainSettings, TrainSettings, default_window)

app = typer.Typer(
    help="Train tiny sequence models in TensorFlow, export them to ONNX, run them with onnxruntime alone.",
    no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False,
    rich_markup_mode=None,  # help texts are plain: "edgeseq[train]" is not a style tag
    context_settings={"help_option_names": ["-h", "--help"]},
)
train_app = typer.Typer(help="Train a model in TensorFlow (needs: pip install 'edgeseq[train]').",
                        no_args_is_help=True, rich_markup_mode=None)
run_app = typer.Typer(help="Run an exported model with onnxruntime (no TensorFlow needed).",
                      no_args_is_help=True, rich_markup_mode=None)
app.add_typer(train_app, name="train")
app.add_typer(run_app, name="run")


def fail(message: str, code: int = 2, kind: str = "error") -> typer.Exit:
    one_line = printable(message.replace("\n", " "))
    print(f"edgeseq: {kind}: {one_line}", file=sys.stderr)
    return typer.Exit(code)


def internal_error(error: BaseException) -> typer.Exit:
    """An unexpected failure: its traceback to a file, one line saying where, exit code 1."""
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    try:
        fd, path = tempfile.mkstemp(prefix="edgeseq-trace-", suffix=".txt")
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(f"edgeseq {edgeseq.__version__}: {' '.join(sys.argv)}\n{text}")
        where = f"trace in {path}"
    except OSError as e:
        where = f"its trace could not be written: {e.strerror or e}"
    detail = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
    return fail(f"{type(error).__name__}{': ' if detail else ''}{detail} ({where}); please report it",
                1, "internal error")


def reports_errors(command):
    """Known failures -> one stderr line, exit 2; a missing training extra -> install hint."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except EdgeseqError as e:
            raise fail(str(e)) from None
        except ModuleNotFoundError as e:
            if e.name and e.name.split(".")[0] in ("tensorflow", "tf2onnx", "onnx", "keras", "matplotlib"):
                extra = "plot" if e.name.startswith("matplotlib") else "train"
                raise fail(f"this command needs the {extra} extra ({e.name} is not installed): "
                           f"pip install 'edgeseq[{extra}]'") from None
            raise internal_error(e) from None
        except KeyboardInterrupt:
            raise fail("interrupted", 130) from None
        except BrokenPipeError:  # `edgeseq run char ... | head`: the reader has seen enough
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(0) from None
        except (typer.Exit, typer.Abort):
            raise
        except Exception as e:  # a bug: not a traceback on the user's screen, but where it is
            raise internal_error(e) from None

    return wrapper


def version_callback(value: bool):
    if value:
        print(f"edgeseq {edgeseq.__version__}")
        raise typer.Exit()


@app.callback()
def main(version: Annotated[Optional[bool], typer.Option(
        "--version", callback=version_callback, is_eager=True, help="Print the version and exit.")] = None):
    """edgeseq: sequence models for CPU edge devices."""
    setup_cli_logging()


# Help texts that explain each choice, checked against the lists the options are checked with.
CONTEXT_HELP = explain({"window": "every window starts from a zero state",
                        "stateful": "consecutive chunks with the state carried across batches, for long texts "
                                    "streamed without limit"}, CONTEXTS)
HEAD_HELP = explain({"dense": "a softmax layer over the RNN outputs", "none": "the RNN outputs are the logits"}, HEADS)
INPUT_HELP = explain({"onehot": "ids enter as one-hot vectors", "embedding": "ids enter as learned vectors"},
                     INPUTS)
STRATEGY_HELP = explain({"default": "one device (a visible GPU, else the CPU)",
                         "mirrored": "tf.distribute over all GPUs, or logical CPUs",
                         "multi-worker": "tf.distribute over several processes or machines (--workers, or TF_CONFIG)"},
                        STRATEGIES)
WORKERS_HELP = ("With --strategy multi-worker: every worker's HOST:PORT, comma-separated, the same list on each "
                "(instead of TF_CONFIG).")
WORKER_INDEX_HELP = "With --workers: this process's place in the list; 0 is the chief, which writes the run."
RESUME_HELP = ("Continue the unfinished training checkpointed beside --out (.NAME.training) from its last "
               "complete epoch; give the same options.")
TARGET_MODE_HELP = explain({"change": "each window relative to its own last value (log ratios for a column that "
                                      "grows multiplicatively, else differences), scaled by its own typical change; "
                                      "predicts the next changes with a prediction interval, and falls back to "
                                      "persistence when training does not clearly beat it",
                            "delta": "min-max scaled rows in, the change from the last value out (untrained = "
                                     "persistence)",
                            "level": "min-max scaled rows in, the value itself out"}, TARGET_MODES)
FILL_HELP = explain({"ffill": "fill missing cells (empty, '.', NA, null, ...) from the previous row and say how "
                                "many"}, FILL_METHODS)
DATE_FORMAT_HELP = (f"How the date column writes its dates: {explain(DATE_EXAMPLES, DATE_FORMATS)} "
                    "(default: found from the whole column; a day above 12 settles month/day order)")
DROP_HELP = "Leave out every row with a missing value (empty, '.', NA, null, ...) and say how many"
SEASON_HELP = "Add the seasonal naive forecast (the value one season of M rows earlier) beside the model"
PRECISION_HELP = explain({"fp32": "the exported model NAME.onnx", "int8": "NAME.int8.onnx beside it (made by 'edgeseq "
                                                                       "export --quantize int8'): smaller and faster, "
                                                                       "its measured cost in 'edgeseq info'"},
                         PRECISIONS)


# ---------------------------------------------------------------- train

@train_app.command("char")
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
    lr: Annotated[Optional[float], typer.Option(help=f"Adam learning rate (default {SAMPLE_LR:g} for a sample, {TEXT_LR:g} for --text).")] = None,
    batch_size: Annotated[Optional[int], typer.Option(help=f"Windows or lines per batch (default: the whole sample as one batch; {TEXT_BATCH} for --text).")] = None,
    clip: Annotated[float, typer.Option(help="Scale the gradients down to this global norm when theirs is larger (0: never).")] = CLIP_NORM,
    seed: Annotated[int, typer.Option(help="Seed for weights and batches: same seed, same model.")] = TrainSettings.seed,
    strategy: Annotated[str, typer.Option(help=f"{STRATEGY_HELP}.")] = TrainSettings.strategy,
    workers: Annotated[Optional[str], typer.Option(help=WORKERS_HELP)] = None,
    worker_index: Annotated[Optional[int], typer.Option(help=WORKER_INDEX_HELP)] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Run folder to write (default: runs/NAME).")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing run folder (and drop an unfinished training's checkpoint).")] = False,
    resume: Annotated[bool, typer.Option(help=RESUME_HELP)] = False,
):
    """Train a next-character model; writes a run folder for 'edgeseq export'."""
    from edgeseq.launch import Cluster, RunPlace

    cluster = Cluster(strategy, workers, worker_index)
    source = CharDataSpec(sample=sample, text=text, context=context, window=window, streams=streams,
                          by_line=by_line, stride=stride, val_fraction=val_fraction)
    model = CharModelSpec(cell=cell, layers=layers, hidden=hidden, head=head, input=input)
    settings = source.settings(epochs, lr, batch_size, seed, strategy, clip or None)
    out = out or Path("runs") / source.name
    RunPlace(out, force, resume)  # writable, not overwritten, a checkpoint to resume: before any training
    data = source.load()  # all data errors surface here, before TensorFlow takes seconds to import
    model = model.for_vocabulary(len(data.vocab))
    cluster.apply()
    from edgeseq.training.char_training import train_char_data

    train_char_data(data, model, settings, out=out, force=force, source=source.source, resume=resume)


@train_app.command("stock")
@reports_errors
def train_stock(
    csv: Annotated[Path, typer.Option(help="Price or sensor history: a Yahoo Finance download, a headerless file of Open,High,Low,Volume,Close rows, newest first (the 'lab format'), or any CSV with a header (then give --target).")],
    features: Annotated[Optional[str], typer.Option(help="Comma-separated input columns (Yahoo and headerless files: Open,High,Low,Volume,Close).")] = None,
    target: Annotated[Optional[str], typer.Option(help="The column to forecast (Yahoo and headerless files: Close); it is always an input too.")] = None,
    date: Annotated[Optional[str], typer.Option(help="Column of dates that orders the rows (Yahoo files: Date; without one, rows are taken oldest first).")] = None,
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
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Run folder to write (default: runs/CSV-NAME).")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing run folder (and --plot file).")] = False,
    resume: Annotated[bool, typer.Option(help=RESUME_HELP)] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the evaluation as JSON instead of a table.")] = False,
    plot: Annotated[Optional[Path], typer.Option(help="Draw actual vs model vs the naive forecasts over the test part to this PNG (pip install 'edgeseq[plot]').")] = None,
):
    """Train a forecaster on a CSV; backtests it walk-forward against naive forecasts, writes a run folder."""
    from edgeseq.data.series import load_csv, split_point
    from edgeseq.evaluation.baselines import check_season
    from edgeseq.launch import Cluster, RunPlace

    cluster = Cluster(strategy, workers, worker_index)
    model = SeriesModelSpec(window=default_window(season) if window is None else window, horizon=horizon, cell=cell,
                            layers=layers, hidden=hidden, target_mode=target_mode)
    settings = SeriesTrainSettings(epochs=epochs, lr=lr, batch_size=batch_size, seed=seed, strategy=strategy,
                                   validation=validation, patience=patience, train_fraction=train_fraction,
                                   season=season, clip=clip or None, interval=interval)
    missing_choice(fill, drop_missing)
    if date_format is not None:
        check_choice("--date-format", date_format, DATE_FORMATS)
    out = out or Path("runs") / csv.stem
    RunPlace(out, force, resume)
    if plot is not None:
        from edgeseq.plot import check_plot_path

        check_plot_path(plot, force)
    # bad files fail before TensorFlow loads
    series = load_csv(csv, features, target, date, fill, drop_missing=drop_missing, date_format=date_format)
    check_season(season, split_point(len(series.values), train_fraction))
    cluster.apply()
    from edgeseq.training.series_training import train_series

    run = train_series(series, model, settings, date_column=date, out=out, force=force, resume=resume)
    if as_json:
        print(json_text({"run": str(out), "backtest": run.backtest.to_json()}))
    else:
        print(printable(run.backtest.headline()))
        print(printable(run.backtest.table(), keep="\n"))
    if plot is not None:
        from edgeseq.plot import plot_backtest

        written = plot_backtest(run.backtest, plot, f"{csv.name}, test part", series)
        print(f"wrote {written}", file=sys.stderr)
    print(printable(f"next: edgeseq export {out} -o {out.name}.onnx"), file=sys.stderr)


# ---------------------------------------------------------------- export

@app.command("export")
@reports_errors
def export(
    run: Annotated[Path, typer.Argument(help="A run folder written by 'edgeseq train'.")],
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="NAME.onnx to write, with NAME.fixed.onnx (and for char models the generation graph NAME.gen.onnx) beside it; default RUN/model.onnx.")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite existing files, and write even if a parity check fails.")] = False,
    author: Annotated[Optional[str], typer.Option(metavar="NAME", help="Who made the model: stored in every file as the metadata key 'author' (Netron shows it).")] = None,
    license_: Annotated[Optional[str], typer.Option("--license", metavar="SPDX", help="The model's license as an SPDX identifier or expression (e.g. MIT, Apache-2.0): stored as the metadata key 'license'.")] = None,
    quantize: Annotated[Optional[str], typer.Option(help=f"Also write an {either(PRECISIONS[1:])} model beside it (NAME.int8.onnx, and for char models NAME.int8.gen.onnx), measured against fp32 on the training data, which must be where training read it; refused (unless --force) when it costs more than {MAX_ACCURACY_DROP:g} points of next-character accuracy, changes the greedy text of the training text, or raises a forecaster's test RMSE by over {100 * (MAX_RMSE_RATIO - 1):.0f}%.")] = None,
):
    """Convert a run to ONNX (dynamic and fixed-window graphs), verified against TensorFlow."""
    from edgeseq.export.exporter import export_run
    from edgeseq.export.interop import Provenance

    if quantize is not None:
        check_choice("--quantize", quantize, PRECISIONS[1:])
    provenance = Provenance(author=author, license=license_)  # checked before TensorFlow loads
    export_run(run, out or run / "model.onnx", force=force, provenance=provenance, quantize=quantize)


# ---------------------------------------------------------------- run

@run_app.command("char")
@reports_errors
def run_char(
    prompt: Annotated[list[str], typer.Option(help="Text to start from; every character must be in the model's vocabulary. Repeat it to continue several prompts in one batch (one output line each).")],
    length: Annotated[int, typer.Option(help="How many characters to generate.")] = 100,
    model: Annotated[Optional[Path], typer.Option(help="An exported char model (default: the shipped ship model).")] = None,
    context: Annotated[Optional[str], typer.Option(help="window: re-read the last W characters from a zero state (how window-trained models were trained); stateful: carry the state, O(1) per character. Default: what the model was trained for.")] = None,
    temperature: Annotated[float, typer.Option(help="0 is greedy; higher is more random.")] = 0.0,
    top_k: Annotated[int, typer.Option(help="Sample only among the k most likely characters (0: all).")] = 0,
    seed: Annotated[Optional[int], typer.Option(help="Seed for sampling: the same seed gives the same text.")] = None,
    threads: Annotated[int, typer.Option(help="onnxruntime threads (1 is fastest for one small stream).")] = 1,
    precision: Annotated[str, typer.Option(help=f"{PRECISION_HELP}.")] = PRECISIONS[0],
):
    """Generate text, printing characters as they are produced (stdout; diagnostics on stderr).

    With the model's generation graph the characters come in chunks (the first one alone,
    then growing); without it, one at a time."""
    from edgeseq.runtime.generator import CharGenerator
    from edgeseq.runtime.model_file import check_threads

    check_choice("--precision", precision, PRECISIONS)
    generator = CharGenerator(model, context=context, threads=check_threads(threads), precision=precision)
    request = generator.request(prompt if len(prompt) > 1 else prompt[0], length,  # checks every option
                                temperature=temperature, top_k=top_k, seed=seed)
    if temperature == 0 and (seed is not None or top_k):
        print("note: --seed and --top-k only matter when sampling (--temperature > 0)", file=sys.stderr)
    if generator.context == "stateful" and generator.model.description.context == "window":
        print(f"note: this model was trained on windows of {generator.window} from a zero state; "
              "carrying the state further may drift (--context window re-reads the window)", file=sys.stderr)
    if request.batch:
        print("\n".join(printable(text, keep="\t") for text in request.text()))
    else:
        print(printable(generator.summary()), file=sys.stderr)
        for chunk in request:  # the model's characters: lines and tabs as they are, controls escaped
            sys.stdout.write(printable(chunk, keep="\n\t"))
            sys.stdout.flush()
        sys.stdout.write("\n")
    print(request.summary(), file=sys.stderr)


@run_app.command("stock")
@reports_errors
def run_stock(
    csv: Annotated[Optional[Path], typer.Option(help="Price history with the model's columns (default: the shipped synthetic sample_prices.csv).")] = None,
    model: Annotated[Optional[Path], typer.Option(help="An exported series model (default: the shipped stock model).")] = None,
    date: Annotated[Optional[str], typer.Option(help="Column of dates that orders the rows (default: the model's, or Date in Yahoo files).")] = None,
    date_format: Annotated[Optional[str], typer.Option(help=f"{DATE_FORMAT_HELP}.")] = None,
    fill: Annotated[Optional[str], typer.Option(help=f"{FILL_HELP} (default: as the model was trained).")] = None,
    drop_missing: Annotated[bool, typer.Option("--drop-missing", help=f"{DROP_HELP} (default: as the model was trained).")] = False,
    backtest: Annotated[bool, typer.Option(help="Also backtest the model walk-forward and print the evaluation table: by default over the rows after its training data when the file holds them.")] = False,
    from_: Annotated[Optional[str], typer.Option("--from", metavar="DATE", help="With --backtest: score the forecasts from this date on (a data row number for files without dates).")] = None,
    season: Annotated[Optional[int], typer.Option(metavar="M", help=f"With --backtest: {SEASON_HELP[0].lower()}{SEASON_HELP[1:]} (default: the model's).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the forecast (and backtest) as JSON.")] = False,
    plot: Annotated[Optional[Path], typer.Option(help="Draw the forecast after the last rows (with --backtest: actual vs model vs the naive forecasts) to this PNG.")] = None,
    threads: Annotated[int, typer.Option(help="onnxruntime threads.")] = 1,
    force: Annotated[bool, typer.Option(help="Overwrite an existing --plot file.")] = False,
    precision: Annotated[str, typer.Option(help=f"{PRECISION_HELP}.")] = PRECISIONS[0],
):
    """Forecast the next value(s) after the last row of a CSV, in price units."""
    from edgeseq.evaluation.baselines import check_season
    from edgeseq.runtime.forecaster import Forecaster, sample_csv_path

    check_choice("--precision", precision, PRECISIONS)
    if (from_ is not None or season is not None) and not backtest:
        raise EdgeseqError("--from and --season choose what a backtest scores; add --backtest")
    check_season(season)
    if plot is not None:
        from edgeseq.plot import check_plot_path

        check_plot_path(plot, force)
    from edgeseq.runtime.model_file import check_threads

    forecaster = Forecaster(model, check_threads(threads), precision)
    csv = Path(csv or sample_csv_path())
    series = forecaster.read_csv(csv, date, fill, drop_missing=drop_missing, date_format=date_format)
    for note in series.notes:
        logger.info(note)
    print(printable(forecaster.summary()), file=sys.stderr)
    forecast = forecaster.forecast(series)
    report = None
    if backtest:
        part = forecaster.backtest_part(series, from_)
        print(part.note, file=sys.stderr)
        report = forecaster.backtest(series, part.first_row, season)
        if forecaster.model.description.baselines is None:
            print(f"note: {forecaster.name} stores no drift or MASE scale (an older edgeseq made it); both come "
                  f"from the {part.first_row} rows before the first scored forecast", file=sys.stderr)
    if as_json:
        doc = {"model": str(forecaster.model.path), "csv": str(csv), **forecast.to_json()}
        if report is not None:
            doc["backtest"] = report.to_json()
        print(json_text(doc))
    else:
        print(printable("\n".join(forecast.lines()), keep="\n"))
        if report is not None:
            print(printable(f"\n{report.headline()}\n{report.table()}", keep="\n"))
    if plot is not None:
        from edgeseq.plot import plot_backtest, plot_forecast

        if report is not None:
            boundary = "--from" if from_ is not None else "after the model's training data"
            written = plot_backtest(report, plot, f"{csv.name}, backtest of {forecaster.name}", series,
                                    f"scored from here ({boundary})")
        else:
            written = plot_forecast(series, forecast, plot, f"{csv.name}: forecast by {forecaster.name}")
        print(f"wrote {written}", file=sys.stderr)


# ---------------------------------------------------------------- verify

@app.command("verify")
@reports_errors
def verify(
    path: Annotated[Path, typer.Argument(help="A model file (NAME.onnx brings its siblings NAME.*.onnx), or a folder of models with a MANIFEST.json (such as exported/).")],
):
    """Check model files: ONNX checker, digest, metadata, graph shapes, sibling pairing, manifest.

    One line per check; exit code 1 when any check fails."""
    from edgeseq.runtime.verify_files import verify_path

    checks = verify_path(path, onnx_checker())
    for check in checks:
        print(printable(check.line()))
    failed = sum(check.status == "FAIL" for check in checks)
    print(f"{len(checks)} checks, {failed} failed", file=sys.stderr)
    if failed:
        raise typer.Exit(1)


def onnx_checker():
    """The ONNX checker, when the onnx package is installed (the runner does not need it)."""
    try:
        import onnx
    except ImportError:
        return None

    def check(data: bytes) -> None:
        onnx.checker.check_model(onnx.load_from_string(data), full_check=True)

    return check


# ---------------------------------------------------------------- info

@app.command("info")
@reports_errors
def info(
    file: Annotated[Path, typer.Argument(help="An ONNX file written by 'edgeseq export'.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the metadata as JSON.")] = False,
):
    """Print an exported model's description (its ONNX metadata), and the measured cost of the
    int8 model beside it (NAME.int8.onnx), if there is one."""
    from edgeseq.runtime.model_file import int8_sibling, open_model

    model = open_model(file)
    int8 = int8_sibling(model)
    if as_json:
        print(json_text({**model.meta, **({"int8_beside": int8} if int8 else {})}))
        return
    for key, value in model.meta.items():  # every line escaped: the text is the file's
        if key == "evaluation" and value:  # a series model's walk-forward test table (checked when read)
            from edgeseq.evaluation.forecast import format_table

            print("evaluation (walk-forward over the test part, price units):")
            print("\n".join("  " + printable(line) for line in format_table(value).splitlines()))
        elif isinstance(value, dict):
            print(printable(f"{key}:"))
            for k, v in value.items():
                print(printable(f"  {k}: {v if not isinstance(v, float) else f'{v:.6g}'}"))
        else:
            print(printable(f"{key}: {value!r}" if key == "vocabulary" else f"{key}: {value}"))
    if int8:
        sizes = "; ".join(f"{name} {100 * ratio:.1f}% of {name.replace('.int8', '')}'s size"
                          for name, ratio in int8["size_ratios"].items())
        print(printable(f"int8 beside it (run it with --precision int8): {sizes}"))
        print(printable(f"  its cost, measured against fp32 on {int8['quantization']['measured_on']}: "
                        f"{int8['summary']}"))


if __name__ == "__main__":
    app()
