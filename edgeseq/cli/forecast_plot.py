"""Pictures of forecasts, for ``--plot FILE.png``: matplotlib is an optional extra.

Outside ``runtime/``, whose imports stay onnxruntime and numpy. Only matplotlib's Figure is
used: no pyplot, no window, no global backend switched.
"""
from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from edgeseq.atomic import check_new_file, write_bytes
from edgeseq.cli.options import PLOT_LAST
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


def _new_figure(panels: int = 1, heights: Sequence[float] = (1,)):
    try:
        from matplotlib.figure import Figure
    except ModuleNotFoundError:
        raise EdgeseqError("--plot needs matplotlib: pip install 'edgeseq[plot]'") from None
    figure = Figure(figsize=(11, 4.5 if panels == 1 else 2.2 + 2.3 * panels), dpi=120)
    axes = figure.subplots(panels, 1, gridspec_kw={"height_ratios": heights} if panels > 1 else None)
    return figure, axes


def _finish(axes, title: str | None, x_label: str, y_label: str) -> None:
    if title:
        axes.set_title(title)
    axes.set_xlabel(x_label)
    axes.set_ylabel(y_label)
    if axes.get_legend_handles_labels()[0]:  # a panel with nothing labelled gets no empty legend
        axes.legend(fontsize="small")
    axes.grid(alpha=0.3)


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
    fallback = " (model = persistence: the fallback)" if backtest.fallback else ""
    return (f"{title}{fallback}\n{shown}: rmse {_number(rmse['model'])} vs best baseline ({best}) "
            f"{_number(rmse[best])}{ratio}")


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def backtest_figure(backtest: Backtest, title: str, series: Series | None = None,
                    boundary: str = "test part begins", last: int = PLOT_LAST):
    """The first step of each forecast beside what happened: actual vs the model vs persistence
    (and the best other baseline) over the last ``last`` forecasts, after as many earlier rows of
    ``series``; a vertical line labelled ``boundary`` marks where the scored part begins. Above
    it, when there are more forecasts, the whole history with the scored part shaded; below, the
    rolling absolute error of the model and the best baseline over every forecast."""
    long = len(backtest) > last
    figure, panels = _new_figure(3 if long else 2, (1, 1.6, 0.9) if long else (1.6, 0.9))
    detail, errors = panels[-2], panels[-1]
    x_all, x_label = _axis(backtest.dates, backtest.target_row)
    best = (backtest.steps[0] if backtest.steps else backtest.evaluation)["rmse"].get("best_baseline")
    if long:
        _overview(panels[0], backtest, series, x_all, x_label, boundary, last)
    shown = slice(len(backtest) - last, None) if long else slice(None)
    first = int(backtest.target_row[shown][0])
    if series is not None and not long:
        start = max(0, first - len(backtest))
        rows = np.arange(start, int(backtest.target_row[-1]) + 1)
        x, _ = _axis(series.dates[start:rows[-1] + 1] if series.dates else None, rows)
        detail.plot(x, series.target_values[rows], color="black", linewidth=1.2, label="actual")
    else:
        detail.plot(x_all[shown], backtest.actual[shown, 0], color="black", linewidth=1.2, label="actual")
    forecast_x = x_all[shown]
    if backtest.lower is not None:
        detail.fill_between(forecast_x, backtest.lower[shown, 0], backtest.upper[shown, 0], color="tab:blue",
                            alpha=0.15, linewidth=0, label=_interval_label(backtest))
    detail.plot(forecast_x, backtest.predicted[shown, 0], color="tab:blue", linewidth=1.0, label="model")
    detail.plot(forecast_x, backtest.last[shown], color="tab:orange", linewidth=0.8, linestyle="--",
                label="persistence (previous value)")
    if best in backtest.naive:
        detail.plot(forecast_x, backtest.naive[best][shown, 0], color="tab:green", linewidth=0.8, linestyle=":",
                    label=f"{best} (best baseline)")
    if not long:
        detail.axvline(forecast_x[0], color="tab:red", linewidth=1.0, linestyle="-.", label=boundary)
    _finish(detail, None if long else backtest_title(backtest, title), x_label, backtest.target)
    if long:
        detail.set_title(f"the last {last} of {len(backtest)} forecasts", fontsize="medium")
        panels[0].set_title(backtest_title(backtest, title))
    _error_panel(errors, backtest, x_all, x_label, best)
    figure.autofmt_xdate()
    figure.tight_layout()
    return figure


def _interval_label(backtest: Backtest) -> str:
    """The band's legend: its level and the coverage of the step drawn (step 1), over every forecast."""
    report = backtest.interval
    steps = report.get("steps") or []
    coverage = steps[0]["coverage"] if steps else report["coverage"]
    step = " of step 1" if steps else ""
    return f"{100 * report['level']:g}% interval{step} (covered {coverage:.3f} of all {len(backtest)})"


def _overview(axes, backtest: Backtest, series: Series | None, x_all: list, x_label: str, boundary: str,
              last: int) -> None:
    """The whole history: the target, the scored part shaded, the detail's stretch marked."""
    if series is not None:
        x, _ = _axis(series.dates, np.arange(len(series.values)))
        axes.plot(x, series.target_values, color="black", linewidth=0.7, label="actual")
    else:
        axes.plot(x_all, backtest.actual[:, 0], color="black", linewidth=0.7, label="actual")
    axes.axvline(x_all[0], color="tab:red", linewidth=1.0, linestyle="-.", label=boundary)
    axes.axvspan(x_all[-last], x_all[-1], color="tab:blue", alpha=0.12, label=f"the last {last} forecasts (below)")
    _finish(axes, None, x_label, backtest.target)


def _error_panel(axes, backtest: Backtest, x_all: list, x_label: str, best: str | None) -> None:
    """Rolling mean absolute error of step 1, the model and the best baseline, over every forecast."""
    k = max(5, len(backtest) // 50)
    kernel = np.ones(k) / k
    forecasts = {"model": backtest.predicted[:, 0], "persistence": backtest.last}
    if best in backtest.naive:
        forecasts[best] = backtest.naive[best][:, 0]
    colors = {"model": "tab:blue", "persistence": "tab:orange"}
    for name, values in forecasts.items():
        error = np.abs(values - backtest.actual[:, 0])
        if len(error) < k:
            continue
        rolling = np.convolve(error, kernel, mode="valid")
        axes.plot(x_all[k - 1:], rolling, linewidth=0.9, color=colors.get(name, "tab:green"),
                  linestyle="-" if name == "model" else "--", label=f"{name}, mean |error| over {k} forecasts")
    _finish(axes, None, x_label, "abs. error")


def plot_backtest(backtest: Backtest, path: str | Path, title: str, series: Series | None = None,
                  boundary: str = "test part begins", last: int = PLOT_LAST) -> Path:
    """``backtest_figure`` written to ``path``."""
    return _write(backtest_figure(backtest, title, series, boundary, last), path)


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
              markersize=5, label="forecast" if len(forecast.values) > 1 else "forecast (one step)")
    _finish(axes, title, x_label, forecast.target)
    figure.autofmt_xdate()
    figure.tight_layout()
    return _write(figure, path)
