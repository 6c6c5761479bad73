"""``edgeseq run char`` and ``edgeseq run stock``: onnxruntime and numpy only (no TensorFlow,
no tf2onnx): text streamed as it is generated, forecasts with their interval, backtests."""
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from edgeseq.choices import MIN_TEMPERATURE, PRECISIONS, check_choice
from edgeseq.cli.apps import Command, reports_errors, run_app
from edgeseq.cli.options import (DATE_FORMAT_HELP, DROP_HELP, FILL_HELP, PLOT_LAST, PRECISION_HELP,
                                 PRECISION_METAVAR, SEASON_HELP, check_plot_last)
from edgeseq.display import json_text, printable
from edgeseq.errors import EdgeseqError
from edgeseq.log import logger


@run_app.command("char", cls=Command)
@reports_errors
def run_char(
    prompt: Annotated[list[str], typer.Option(help="Text to start from; every character must be in the model's vocabulary. Repeat it to continue several prompts in one batch (one output line each).")],
    length: Annotated[int, typer.Option(help="How many characters to generate.")] = 100,  # generator.DEFAULT_LENGTH
    model: Annotated[Optional[Path], typer.Option(help="An exported char model (default: the shipped ship model).")] = None,
    context: Annotated[Optional[str], typer.Option(help="window: re-read the last W characters from a zero state (how window-trained models were trained); stateful: carry the state, O(1) per character. Default: what the model was trained for.")] = None,
    temperature: Annotated[float, typer.Option(help=f"0 is greedy; higher is more random; from {MIN_TEMPERATURE:g} up (lower ones overflow or round to greedy in float32).")] = 0.0,
    top_k: Annotated[int, typer.Option(help="Sample only among the k most likely characters (0: all).")] = 0,
    seed: Annotated[Optional[int], typer.Option(help="Seed for sampling: the same seed gives the same text.")] = None,
    threads: Annotated[int, typer.Option(help="onnxruntime threads (1 is fastest for one small stream).")] = 1,
    precision: Annotated[Optional[str], typer.Option(metavar=PRECISION_METAVAR, help=f"{PRECISION_HELP}.")] = None,
):
    """Generate text, printing characters as they are produced (stdout; diagnostics on stderr).

    With the model's generation graph the characters come in chunks (the first one alone,
    then growing); without it, one at a time."""
    from edgeseq.runtime.generator import CharGenerator
    from edgeseq.runtime.model_file import check_threads

    if precision is not None:
        check_choice("--precision", precision, PRECISIONS)
    generator = CharGenerator(model, context=context, threads=check_threads(threads), precision=precision)
    request = generator.request(prompt if len(prompt) > 1 else prompt[0], length,  # checks every option
                                temperature=temperature, top_k=top_k, seed=seed)
    if temperature == 0 and (seed is not None or top_k):
        print("note: --seed and --top-k only matter when sampling (--temperature > 0)", file=sys.stderr)
    if generator.context == "stateful" and generator.model.description.context == "window":
        print(f"note: this model was trained on windows of {generator.window} from a zero state; "
              "carrying the state further may drift (--context window re-reads the window)", file=sys.stderr)
    print(printable(generator.summary()), file=sys.stderr)  # the model, its precision, how it runs
    if request.batch:
        print("\n".join(printable(text, keep="\t") for text in request.text()))
    else:
        for chunk in request:  # the model's characters: lines and tabs as they are, controls escaped
            sys.stdout.write(printable(chunk, keep="\n\t"))
            sys.stdout.flush()
        sys.stdout.write("\n")
    print(request.summary(), file=sys.stderr)


@run_app.command("stock", cls=Command)
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
    plot_last: Annotated[int, typer.Option(metavar="N", help="With --plot and --backtest: draw the last N forecasts in detail (the whole history above them).")] = PLOT_LAST,
    threads: Annotated[int, typer.Option(help="onnxruntime threads.")] = 1,
    force: Annotated[bool, typer.Option(help="Overwrite an existing --plot file.")] = False,
    precision: Annotated[Optional[str], typer.Option(metavar=PRECISION_METAVAR, help=f"{PRECISION_HELP}.")] = None,
):
    """Forecast the next value(s) after the last row of a CSV, in price units."""
    from edgeseq.evaluation.backtest import backtest as score
    from edgeseq.evaluation.baselines import check_season
    from edgeseq.runtime.series_model import SeriesModel, sample_csv_path

    if precision is not None:
        check_choice("--precision", precision, PRECISIONS)
    if (from_ is not None or season is not None) and not backtest:
        raise EdgeseqError("--from and --season choose what a backtest scores; add --backtest")
    check_season(season)
    check_plot_last(plot_last)
    if plot is not None:
        from edgeseq.cli.forecast_plot import check_plot_path

        check_plot_path(plot, force)
    from edgeseq.runtime.model_file import check_threads

    series_model = SeriesModel(model, check_threads(threads), precision)
    csv = Path(csv or sample_csv_path())
    series = series_model.read_csv(csv, date, fill, drop_missing=drop_missing, date_format=date_format)
    forecast = series_model.forecast(series)  # a last window the model cannot read: one line, before the notes
    for note in series.notes:
        logger.info(note)
    print(printable(series_model.summary()), file=sys.stderr)
    report = None
    if backtest:
        part = series_model.backtest_part(series, from_)
        print(part.note, file=sys.stderr)
        report = score(series_model, series, part.first_row, season)
    if as_json:
        doc = {"model": str(series_model.model.path), "csv": str(csv), **forecast.to_json()}
        if report is not None:
            doc["backtest"] = report.to_json()
        print(json_text(doc))
    else:
        print(printable("\n".join(forecast.lines()), keep="\n"))
        if report is not None:
            print(printable(f"\n{report.headline()}\n{report.table()}", keep="\n"))
    if plot is not None:
        from edgeseq.cli.forecast_plot import plot_backtest, plot_forecast

        if report is not None:
            boundary = "--from" if from_ is not None else "after the model's training data"
            written = plot_backtest(report, plot, f"{csv.name}, backtest of {series_model.name}", series,
                                    f"scored from here ({boundary})", plot_last)
        else:
            written = plot_forecast(series, forecast, plot, f"{csv.name}: forecast by {series_model.name}")
        print(f"wrote {written}", file=sys.stderr)
