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
from datetime import datetime
from pathlib import Path

import numpy as np

from edgeseq.atomic import refuse_overwrite, write_bytes
from edgeseq.data.series import Series
from edgeseq.errors import EdgeseqError, InputError
from edgeseq.evaluation.backtest import Backtest
from edgeseq.runtime.forecaster import Forecast


def check_plot_path(path: str | Path, force: bool) -> None:
    """Fail now, before a long training run, if ``--plot`` cannot be honoured: matplotlib
    missing, a format it cannot write, or a file that exists (without --force)."""
    figure, _ = _new_figure()
    suffix = Path(path).suffix.lstrip(".").lower()
    formats = figure.canvas.get_supported_filetypes()
    if suffix not in formats:
        raise InputError(f"--plot {path}: cannot write a {suffix or 'suffix-less'!s} picture; "
                         f"use one of: {', '.join(sorted(formats))}")
    refuse_overwrite(Path(path), force)


def _new_figure():
    try:
        from matplotlib.figure import Figure
    except ModuleNotFoundError:
        raise EdgeseqError("--plot needs matplotlib: pip install 'edgeseq[plot]'") from None
    figure = Figure(figsize=(11, 4.5), dpi=120)
    return figure, figure.subplots()


def _save(figure, axes, path: str | Path, title: str, x_label: str, y_label: str) -> Path:
    axes.set_title(title)
    axes.set_xlabel(x_label)
    axes.set_ylabel(y_label)
    axes.legend()
    axes.grid(alpha=0.3)
    figure.autofmt_xdate()
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format=Path(path).suffix.lstrip(".") or "png")
    return write_bytes(path, buffer.getvalue(), force=True)  # checked by check_plot_path


def _axis(dates: Sequence[str] | None, rows: np.ndarray) -> tuple[list, str]:
    if dates:
        return [datetime.fromisoformat(d) for d in dates], "date"
    return list(rows), "row"


def plot_backtest(backtest: Backtest, path: str | Path, title: str) -> Path:
    """Actual vs predicted vs persistence, one point per forecast (the first step of each)."""
    figure, axes = _new_figure()
    x, x_label = _axis(backtest.dates, backtest.target_row)
    axes.plot(x, backtest.actual[:, 0], color="black", linewidth=1.2, label="actual")
    axes.plot(x, backtest.predicted[:, 0], color="tab:blue", linewidth=1.0, label="model")
    axes.plot(x, backtest.last, color="tab:orange", linewidth=0.8, linestyle="--",
              label="persistence (previous value)")
    rmse = backtest.evaluation["rmse"]
    ratio = f", model/persistence {rmse['ratio']:.3f}" if rmse["ratio"] is not None else ""
    step = " (first step of each forecast)" if backtest.actual.shape[1] > 1 else ""
    title = f"{title}: rmse {rmse['model']:.4g} vs persistence {rmse['persistence']:.4g}{ratio}{step}"
    return _save(figure, axes, path, title, x_label, backtest.target)


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
    axes.plot([x[-1], *forecast_x], [history[-1], *forecast.values], color="tab:blue", marker="o",
              markersize=4, label="forecast")
    return _save(figure, axes, path, title, x_label, forecast.target)
