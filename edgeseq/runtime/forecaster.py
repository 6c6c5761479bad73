"""Next-value forecasts from an exported series model, and walk-forward backtests.

The model file carries everything: the feature names (matched to a CSV's columns by name,
never by position), the window, the horizon and the scaler fitted on the training rows.
A ``delta`` or ``level`` graph outputs the next ``horizon`` target values in scaled units,
so a forecast is: scale the last ``window`` rows, one call, unscale. A ``change`` graph
takes the rows as they are and gives the forecast and its interval (y, lower, upper) in
the target's units: one call; only its "log" columns must be positive (one line names the
first row that is not).

A backtest scores forecasts the way they would have been made: each one reads only the
rows before it (walk-forward, the model is not refitted). Actual and last-observed values
come straight from the series in price units rather than from unscaled float32, and every
metric stands beside the naive forecasts, with the drift and MASE scale the model stored
from its training part. Training reports its test part through the same ``Backtest``, so
both print the same table. By default a backtest is honest: when the rows hold the model's
training data (found by date, or without dates by the training rows' fingerprint), only the
forecasts after it are scored (``backtest_part``). The file runs a little over 300 lines
because both graph kinds (scaled and change) share one ``Forecaster``: one way to read a
CSV, predict and backtest, whichever model it is.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

from edgeseq.contract.meta import Baselines
from edgeseq.data.scale_free import ScaleFree, on_exact_last, raw_windows
from edgeseq.data.scaler import MinMaxScaler
from edgeseq.data.series import Series, load_csv, parse_moment
from edgeseq.errors import InputError
from edgeseq.evaluation.backtest import Backtest, score_forecasts
from edgeseq.evaluation.baselines import check_season, fit_baselines
from edgeseq.evaluation.forecast_metrics import json_ready
from edgeseq.runtime.backtest_part import BacktestPart, backtest_part
from edgeseq.runtime.model_file import ModelFile, exported_dir, open_model

#: The CSV that ``edgeseq run stock`` reads when given none (synthetic, made by the project).
SAMPLE_CSV = "sample_prices.csv"
BATCH = 1024  # windows per onnxruntime call in a backtest


def sample_csv_path() -> Path:
    return exported_dir() / SAMPLE_CSV


@dataclass(frozen=True, eq=False)
class Forecast:
    """The next ``horizon`` values after the last row, in price units, with their dates."""

    target: str
    last_label: str  # the last row's date, or "row N"
    last_value: float
    labels: list[str]  # each forecast's date, or "+1", "+2", ... without dates
    values: np.ndarray  # [horizon]
    lower: np.ndarray | None = None  # [horizon]: the central interval at ``level``, when the model gives one
    upper: np.ndarray | None = None
    level: float | None = None

    def lines(self) -> list[str]:
        lines = [f"{'last row':<10}{self.last_label:>12}  {self.target} {self.last_value:.4f}"]
        for i, (label, value) in enumerate(zip(self.labels, self.values)):
            change = value - self.last_value
            percent = f"{100 * change / self.last_value:+.2f}%" if self.last_value else "n/a"
            interval = "" if self.lower is None else (f"  {100 * self.level:g}% interval "
                                                      f"[{self.lower[i]:.4f}, {self.upper[i]:.4f}]")
            lines.append(f"{'forecast':<10}{label:>12}  {self.target} {value:.4f}  ({change:+.4f}, {percent})"
                         f"{interval}")
        return lines

    def to_json(self) -> dict[str, Any]:
        steps = []
        for i, (label, value) in enumerate(zip(self.labels, self.values)):
            step = {"step": i + 1, "date": label, "value": _float32_digits(value)}
            if self.lower is not None:
                step.update(lower=_float32_digits(self.lower[i]), upper=_float32_digits(self.upper[i]))
            steps.append(step)
        doc = {"target": self.target, "last": {"date": self.last_label, "value": self.last_value}, "forecast": steps}
        if self.level is not None:
            doc["interval_level"] = self.level
        return json_ready(doc)


def next_dates(dates: Sequence[str] | None, count: int) -> list[str] | None:
    """The ``count`` dates after the last one, stepping like the series does.

    Daily data without weekend rows steps over weekends (holidays are not known); any
    other series steps by its most common spacing. None when the series has no dates.
    """
    if not dates or len(dates) < 2:
        return None
    moments = [parse_moment(d) for d in dates[-60:]]
    steps = [b - a for a, b in zip(moments, moments[1:])]
    step = max(set(steps), key=steps.count)
    business = step == timedelta(days=1) and all(m.weekday() < 5 for m in moments)
    as_text = (lambda m: m.date().isoformat()) if len(dates[-1]) == 10 else (lambda m: m.isoformat())
    out, moment = [], moments[-1]
    while len(out) < count:
        moment += step
        if business and moment.weekday() >= 5:
            continue
        out.append(as_text(moment))
    return out


class Forecaster:
    """An exported series model: ``predict(rows)`` for the next values, ``backtest(rows)``.

    ``precision="int8"`` runs NAME.int8.onnx beside the model (``edgeseq export --quantize
    int8``); None (the default) runs the file given, NAME.int8.onnx in int8, and "fp32"
    refuses one named so (model_file.int8_beside). Its activations are quantized per call, so
    an int8 forecast depends a little on the windows that share its call: ``predict`` (one
    window) and ``backtest`` (up to 1024 windows per call) may differ in the last digits for
    the same window."""

    def __init__(self, path: str | Path | ModelFile | None = None, threads: int = 1, precision: str | None = None):
        self.model = path if isinstance(path, ModelFile) else open_model(path, "series", threads, precision)
        meta = self.model.description
        self.features: tuple[str, ...] = meta.features
        self.target: str = meta.target
        self.target_index = self.features.index(self.target)
        self.window = meta.window
        self.horizon = meta.horizon
        self.target_mode: str = meta.target_mode
        self.date_column: str | None = meta.date_column
        self.date_format: str | None = meta.date_format  # settles a date column that fits two formats
        self.missing: str | None = meta.missing  # what training did with missing values
        self.scaler = MinMaxScaler.from_dict(meta.scaler) if meta.scaler is not None else None
        self.transform = (ScaleFree(meta.features, meta.modes, meta.typical_change) if self.target_mode == "change"
                          else None)
        self.interval_level: float | None = meta.interval_level
        self.session = self.model.session
        # Names resolved once. Both graphs take exactly `window` steps here, fixed or dynamic.
        self.input_name = self.session.get_inputs()[0].name
        self.output_name = self.session.get_outputs()[0].name

    @property
    def name(self) -> str:
        return self.model.path.name

    def read_csv(self, path: str | Path, date: str | None = None, fill: str | None = None, *,
                 drop_missing: bool = False, date_format: str | None = None, text: str | None = None) -> Series:
        """Read a CSV's columns named like the model's features (any order, extra columns ignored);
        ``text``: the CSV's text itself, ``path`` only naming it.

        Missing values are treated as at training (filled forward, rows dropped, or refused)
        unless ``fill`` or ``drop_missing`` says otherwise.
        """
        own = fill is None and not drop_missing and self.missing is not None
        if own:
            fill, drop_missing = (None, True) if self.missing == "drop" else (self.missing, False)
        try:
            series = load_csv(path, features=self.features, target=self.target, date=date, fill=fill,
                              preferred_date=self.date_column, drop_missing=drop_missing,
                              date_format=date_format, preferred_date_format=self.date_format, text=text)
        except InputError as e:
            message = str(e)
            for option in (" for --features;", " for --target;"):
                # The data layer words a missing column for training; here the model asks for it.
                message = message.replace(option, f", which the model {self.name} needs "
                                                  f"(it reads {','.join(self.features)});")
            raise InputError(message) from None
        if self.transform is not None:  # a log column's zero anywhere in the file: one line, before any work
            self.transform.require_positive(self.values_of(series), series.row_name, series.source)
        if own:
            how = "dropped" if self.missing == "drop" else "filled forward"
            series = replace(series, notes=(*series.notes, f"missing values are {how} as at training "
                                            "(the model's choice; --fill ffill or --drop-missing overrides it)"))
        return series

    def values_of(self, rows: Series | np.ndarray | Sequence) -> np.ndarray:
        """rows -> float64 [n, features] in the model's feature order, price units.

        ``rows`` is a Series (columns matched by name), a sequence of mappings from column
        name to value, or an array [n, features] already in the model's feature order.
        """
        if isinstance(rows, Series):
            missing = [name for name in self.features if name not in rows.features]
            if missing:
                raise InputError(
                    f"{rows.source}: no column {', '.join(repr(m) for m in missing)}, which the model "
                    f"{self.name} needs (it reads {','.join(self.features)}; the series has "
                    f"{','.join(rows.features)})")
            return rows.values[:, [rows.features.index(name) for name in self.features]]
        if len(rows) and isinstance(rows[0], Mapping):
            try:
                return np.array([[float(row[name]) for name in self.features] for row in rows])
            except KeyError as e:
                raise InputError(f"a row has no {e.args[0]!r}; the model reads {','.join(self.features)}") from None
        values = np.asarray(rows, np.float64)
        if values.ndim != 2 or values.shape[1] != len(self.features):
            raise InputError(f"rows must be [n, {len(self.features)}] in the order "
                             f"{','.join(self.features)}, got shape {values.shape}")
        return values

    def forecast_scaled(self, x: np.ndarray) -> np.ndarray:
        """The graph itself: scaled windows [n, window, features] -> scaled targets [n, horizon]."""
        x = np.ascontiguousarray(x, np.float32)
        parts = [self.session.run([self.output_name], {self.input_name: x[i:i + BATCH]})[0]
                 for i in range(0, len(x), BATCH)]
        return np.concatenate(parts) if parts else np.zeros((0, self.horizon), np.float32)

    def forecasts(self, values: np.ndarray, target_row: np.ndarray, where: str = "the rows",
                  row_name=None) -> dict[str, np.ndarray]:
        """The forecasts made from the ``window`` rows before each of ``target_row``, price units:
        {"y"} [n, horizon], and "lower" and "upper" when the model gives an interval.
        ``row_name(i)`` names row i in an error line (default "data row i+1")."""
        x = self.graph_inputs(values, target_row, where, row_name)
        if self.transform is None:
            return {"y": self.scaler.inverse_transform_column(self.forecast_scaled(x), self.target_index)}
        names = ["y", "lower", "upper"]
        parts = [self.session.run(names, {self.input_name: x[i:i + BATCH]}) for i in range(0, len(x), BATCH)]
        last = values[np.asarray(target_row) - 1, self.target_index]
        return {name: on_exact_last(np.concatenate([p[k] for p in parts]) if parts else np.zeros((0, self.horizon)),
                                    last) for k, name in enumerate(names)}

    def graph_inputs(self, values: np.ndarray, target_row: np.ndarray, where: str = "the rows",
                     row_name=None) -> np.ndarray:
        """The graph's x for the forecasts of ``target_row``: the ``window`` rows before each, scaled
        (delta, level) or as they are (change; a log column's row at or below zero is refused)."""
        if self.transform is None:
            rows = np.asarray(target_row)[:, None] - self.window + np.arange(self.window)
            return self.scaler.transform(values)[rows].astype(np.float32)
        first = int(np.min(target_row)) - self.window if len(target_row) else 0
        self.transform.require_positive(values[first:], lambda i: (row_name or _data_row)(i + first), where)
        return raw_windows(values, target_row, self.window)

    def predict(self, rows: Series | np.ndarray | Sequence) -> np.ndarray:
        """The next ``horizon`` target values after the last row, in price units, shape [horizon]."""
        return self._next(rows)["y"][0]

    def _next(self, rows: Series | np.ndarray | Sequence) -> dict[str, np.ndarray]:
        values = self.values_of(rows)
        where = rows.source if isinstance(rows, Series) else "the rows"
        if len(values) < self.window:
            raise InputError(f"{where}: {len(values)} rows, but the model reads the last {self.window}")
        if not np.all(np.isfinite(values[-self.window:])):
            raise InputError("the last rows hold a missing or infinite value; fill them in first")
        return self.forecasts(values, np.array([len(values)]), where,
                              rows.row_name if isinstance(rows, Series) else None)

    def forecast(self, series: Series) -> Forecast:
        """``predict(series)`` labelled with the dates that follow the series' last row, with its
        interval when the model gives one."""
        outputs = {k: v[0] for k, v in self._next(series).items()}
        n = len(series.values)
        labels = next_dates(series.dates, self.horizon) or [f"+{i + 1}" for i in range(self.horizon)]
        last_label = series.dates[-1] if series.dates else f"row {n}"
        last_value = float(self.values_of(series)[-1, self.target_index])
        return Forecast(self.target, last_label, last_value, labels, outputs["y"], outputs.get("lower"),
                        outputs.get("upper"), self.interval_level if "lower" in outputs else None)

    def backtest(self, rows: Series | np.ndarray | Sequence, first_row: int | None = None,
                 season: int | None = None) -> Backtest:
        """Score one forecast from every window whose first value is at ``first_row`` or later.

        ``first_row=None`` is the honest default: the rows after the model's training data
        when ``rows`` hold it (``backtest_part``); 0 replays every window. ``season`` sets
        (or replaces) the period of the seasonal naive forecast.
        """
        values = self.values_of(rows)
        source = rows.source if isinstance(rows, Series) else "the rows"
        dates = rows.dates if isinstance(rows, Series) else None
        if first_row is None:
            first_row = self.backtest_part(rows).first_row
        target_row = self.target_rows(values, first_row, source)
        outputs = self.forecasts(values, target_row, source, rows.row_name if isinstance(rows, Series) else None)
        aligned = Series(source, self.features, self.target, values, dates, 0, ())
        interval = (outputs["lower"], outputs["upper"], self.interval_level) if "lower" in outputs else None
        gate = self.model.description.training.get("gate")
        return score_forecasts(aligned, target_row, outputs["y"],
                               self.baselines(values[:, self.target_index], int(target_row[0]), season), interval,
                               fallback=isinstance(gate, dict) and gate.get("kept") is False)

    def target_rows(self, values: np.ndarray, first_row: int, source: str = "the rows") -> np.ndarray:
        """The first predicted row of every complete forecast from ``first_row`` on (each after a full window)."""
        needed = self.window + self.horizon
        if len(values) < needed:
            raise InputError(f"{source}: window {self.window} + horizon {self.horizon} needs at least {needed} rows; "
                             f"the series has {len(values)}")
        rows = np.arange(max(first_row, self.window), len(values) - self.horizon + 1)
        if not rows.size:
            raise InputError(f"{source}: no complete {self.horizon}-step forecast starts at row {first_row + 1} "
                             f"or later (the file has {len(values)} rows)")
        return rows

    def baselines(self, target: np.ndarray, first_row: int, season: int | None = None) -> Baselines:
        """The drift and MASE scale stored at training; a model made before they were stored gets
        them from the rows before the first forecast (for its training file: its training part)."""
        check_season(season)
        stored = self.model.description.baselines
        if stored is None:
            stored = fit_baselines(target[:first_row])
        return replace(stored, season=season) if season is not None else stored

    def backtest_part(self, rows: Series | np.ndarray | Sequence, start: str | None = None) -> BacktestPart:
        """Which forecasts to score: from ``start`` (a date, or a data row number for rows without
        dates) when given, else those after the model's training data when the rows hold it."""
        values = self.values_of(rows)
        if isinstance(rows, Series):
            return backtest_part(self.model.description, values, rows.dates, rows.source, start)
        return backtest_part(self.model.description, values, None, "the rows", start)

    def summary(self) -> str:
        """One line on what this model is: 'model stock.onnx: 1xLSTM(32), window 7, ...'."""
        meta = self.model.description
        int8 = " in int8" if meta.precision == "int8" else ""
        return (f"model {self.name}: {meta.layers}x{meta.cell.upper()}({meta.hidden}){int8}, "
                f"window {self.window}, horizon {self.horizon}, target {self.target} "
                f"({self.target_mode}), features {','.join(self.features)}")


def _float32_digits(value: float) -> float:
    """A forecast number with the digits the graph's float32 holds, and no more: every forecast
    number of the JSON alike (43.741949536132815 is written 43.74195, 44.6043 stays 44.6043)."""
    return float(np.format_float_positional(np.float32(value), unique=True))


def _data_row(row: int) -> str:
    return f"data row {row + 1}"


__all__ = ["Forecaster", "Forecast", "Backtest", "BacktestPart", "score_forecasts", "next_dates", "sample_csv_path"]
