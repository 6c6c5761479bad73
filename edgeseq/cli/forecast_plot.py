"""Pictures of forecasts, for ``--plot FILE.png``: matplotlib is an optional extra.

Outside ``runtime/`` on purpose: the runner's own imports stay onnxruntime and numpy.

matplotlib is imported only when a plot is asked for, and only its Figure class: no pyplot,
so no window opens, no global backend is switched under a notebook, and nothing needs
closing. A missing matplotlib is a one-line error with the install command. The figure is
rendered in memory and written atomically.
"""
from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from edgeseq.atomic import check_new_file, write_bytes
from edgeseq.data.dates import parse_moment
from edgeseq.data.series import Series
from edgeseq.errors import EdgeseqError, InputError
from edgeseq.evaluation.backtest import Backtest
from edgeseq.runtime.series_model import Forecast


def check_plot_path(path: str | Path, force: bool) -> None:
    """Fail now, before a long training run, if ``--plot`` cannot be honoured: matplotlib
    missing, a format it cannot write, a file that exists (without --force), a folder of that
    name, or a place that cannot be written."""
    figure, _ = _new_figure()
    suffix = Path(path).suffix.lstrip(".").lower()
    formats = figure.canvas.get_supported_filetypes()
    if suffix not in formats:
        raise InputError(f"--plot {path}: cannot write a {suffix or 'suffix-less'!s} picture; "
                         f"use one of: {', '.join(sorted(formats))}")
    check_new_file(Path(path), force, "the picture (--plot FILE.png)")


def _new_figure():
    try:
        from matplotlib.figure import Figure
    except ModuleNotFoundError:
        raise EdgeseqError("--plot needs matplotlib: pip install 'edgeseq[plot]'") from None
    figure = Figure(figsize=(11, 4.5), dpi=120)
    return figure, figure.subplots()


def _finish(figure, axes, title: str, x_label: str, y_label: str) -> None:
    axes.set_title(title)
    axes.set_xlabel(x_label)
    axes.set_ylabel(y_label)
    axes.legend()
    axes.grid(alpha=0.3)
    figure.autofmt_xdate()
    figure.tight_layout()


def _write(figure, path: str | Path) -> Path:
    buffer = io.BytesIO()
    figure.savefig(buffer, format=Path(path).suffix.lstrip(".") or "png")
    return write_bytes(path, buffer.getvalue(), force=True)  # checked by check_plot_path


def _axis(dates: Sequence[str] | None, rows: np.ndarray) -> tuple[list, str]:
    if dates:
        return [parse_moment(d) for d in dates], "date"
    return list(rows), "row"


def backtest_title(backtest: Backtest, title: str) -> str:
    """Says exactly what the picture shows: the first step of each forecast, scored on that step."""
    horizon = backtest.horizon
    rmse = (backtest.steps[0] if backtest.steps else backtest.evaluation)["rmse"]
    shown = f"first step of each {horizon}-step forecast" if horizon > 1 else "one-step forecasts"
    best = rmse["best_baseline"] or "persistence"
    ratio = f", model/best {rmse['ratio_to_best']:.3f}" if rmse.get("ratio_to_best") is not None else ""
    return (f"{title}\n{shown}: rmse {_number(rmse['model'])} vs best baseline ({best}) "
            f"{_number(rmse[best])}{ratio}")


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def backtest_figure(backtest: Backtest, title: str, series: Series | None = None,
                    boundary: str = "test part begins"):
    """Actual vs the model vs persistence (and the best other baseline), the first step of each
    forecast, after as many earlier rows of ``series`` as there are forecasts; a vertical line
    labelled ``boundary`` marks where the scored part begins."""
    figure, axes = _new_figure()
    first = int(backtest.target_row[0])
    if series is not None:
        start = max(0, first - len(backtest))
        rows = np.arange(start, int(backtest.target_row[-1]) + 1)
        x, x_label = _axis(series.dates[start:rows[-1] + 1] if series.dates else None, rows)
        axes.plot(x, series.target_values[rows], color="black", linewidth=1.2, label="actual")
    else:
        x, x_label = _axis(backtest.dates, backtest.target_row)
        axes.plot(x, backtest.actual[:, 0], color="black", linewidth=1.2, label="actual")
    forecast_x, _ = _axis(backtest.dates if x_label == "date" else None, backtest.target_row)
    if backtest.lower is not None:
        axes.fill_between(forecast_x, backtest.lower[:, 0], backtest.upper[:, 0], color="tab:blue", alpha=0.15,
                          linewidth=0, label=f"{100 * backtest.interval['level']:g}% interval "
                                             f"(covered {backtest.interval['coverage']:.3f})")
    axes.plot(forecast_x, backtest.predicted[:, 0], color="tab:blue", linewidth=1.0, label="model")
    axes.plot(forecast_x, backtest.last, color="tab:orange", linewidth=0.8, linestyle="--",
              label="persistence (previous value)")
    best = (backtest.steps[0] if backtest.steps else backtest.evaluation)["rmse"].get("best_baseline")
    if best in backtest.naive:
        axes.plot(forecast_x, backtest.naive[best][:, 0], color="tab:green", linewidth=0.8, linestyle=":",
                  label=f"{best} (best baseline)")
    axes.axvline(forecast_x[0], color="tab:red", linewidth=1.0, linestyle="-.", label=boundary)
    _finish(figure, axes, backtest_title(backtest, title), x_label, backtest.target)
    return figure


def plot_backtest(backtest: Backtest, path: str | Path, title: str, series: Series | None = None,
                  boundary: str = "test part begins") -> Path:
    """``backtest_figure`` written to ``path``."""
    return _write(backtest_figure(backtest, title, series, boundary), path)


def plot_forecast(series: Series, forecast: Forecast, path: str | Path, title: str,
                  rows: int = 60) -> Path:
    """The last ``rows`` values of the target and the forecast after them."""
    figure, axes = _new_figure()
    history = series.values[-rows:, series.target_index]
    dates = series.dates[-rows:] if series.dates else None
    n = len(history)
    x, x_label = _axis(dates, np.arange(n))
    forecast_x, _ = _axis(forecast.labels if dates else None, np.arange(n, n + len(forecast.values)))
    axes.plot(x, history, color="black", linewidth=1.2, label="history")
    if forecast.lower is not None:
        axes.fill_between([x[-1], *forecast_x], [history[-1], *forecast.lower], [history[-1], *forecast.upper],
                          color="tab:blue", alpha=0.15, linewidth=0, label=f"{100 * forecast.level:g}% interval")
    axes.plot([x[-1], *forecast_x], [history[-1], *forecast.values], color="tab:blue", marker="o",
              markersize=4, label="forecast")
    _finish(figure, axes, title, x_label, forecast.target)
    return _write(figure, path)
