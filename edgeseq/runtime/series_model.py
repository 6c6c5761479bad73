"""An exported series model: load it, check a frame of rows against it, predict the next values.

Columns are matched by name, never by position; the graph itself is ``SeriesGraph``'s. A
``SeriesModel`` is one of the predictors edgeseq.evaluation.backtest scores.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from edgeseq.data.calendar import next_dates
from edgeseq.data.series import Series, load_csv
from edgeseq.errors import InputError
from edgeseq.evaluation.backtest import Predictions
from edgeseq.evaluation.forecast_metrics import json_ready
from edgeseq.runtime.backtest_part import BacktestPart, backtest_part
from edgeseq.runtime.model_file import ModelFile, exported_dir, open_model
from edgeseq.runtime.series_graph import SeriesGraph

#: The CSV that ``edgeseq run stock`` reads when given none (synthetic, made by the project).
SAMPLE_CSV = "sample_prices.csv"


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


class SeriesModel:
    """An exported series model: ``frame(rows)`` checks rows against it, ``predict(rows)`` forecasts.

    ``precision="int8"`` runs NAME.int8.onnx beside the model; None runs the file given
    (model_file.int8_beside). An int8 forecast depends a little on the windows that share its
    call, so ``predict`` and a backtest may differ in the last digits (docs/int8.md)."""

    def __init__(self, path: str | Path | ModelFile | None = None, threads: int = 1, precision: str | None = None):
        self.model = path if isinstance(path, ModelFile) else open_model(path, "series", threads, precision)
        meta = self.model.description
        self.features: tuple[str, ...] = meta.features
        self.target: str = meta.target
        self.window, self.horizon = meta.window, meta.horizon
        self.target_mode: str = meta.target_mode
        self.date_column: str | None = meta.date_column
        self.date_format: str | None = meta.date_format  # settles a date column that fits two formats
        self.missing: str | None = meta.missing  # what training did with missing values
        self.baselines = meta.baselines  # the naive forecasts' drift and MASE scale, from the training part
        self.interval_level: float | None = meta.interval_level
        gate = meta.training.get("gate")
        self.fallback = isinstance(gate, dict) and gate.get("kept") is False  # the model forecasts persistence
        self._graph = SeriesGraph(self.model)
        self._transform = self._graph.transform

    @property
    def name(self) -> str:
        return self.model.path.name

    def _needs(self, more: str = "") -> str:
        """'the model stock.onnx needs (it reads Open,High,Low,Volume,Close)': error lines' words."""
        return f"the model {self.name} needs (it reads {','.join(self.features)}{more})"

    def read_csv(self, path: str | Path, date: str | None = None, fill: str | None = None, *,
                 drop_missing: bool = False, date_format: str | None = None, text: str | None = None) -> Series:
        """A CSV's columns named like the model's features, in its order (extra columns ignored);
        ``text``: the CSV's text itself, ``path`` then only naming it.

        Missing values are treated as at training (filled forward, rows dropped, or refused)
        unless ``fill`` or ``drop_missing`` says otherwise.
        """
        own = fill is None and not drop_missing and self.missing is not None
        if own:
            fill, drop_missing = (None, True) if self.missing == "drop" else (self.missing, False)
        series = load_csv(path, features=self.features, target=self.target, date=date, fill=fill,
                          preferred_date=self.date_column, drop_missing=drop_missing, date_format=date_format,
                          preferred_date_format=self.date_format, needed_by=self._needs(), text=text)
        series = replace(series, features=self.features, target=self.target)  # the file's may differ in case
        if own:
            how = "dropped" if self.missing == "drop" else "filled forward"
            series = replace(series, notes=(*series.notes, f"missing values are {how} as at training "
                                            "(the model's choice; --fill ffill or --drop-missing overrides it)"))
        return series

    def frame(self, rows: Series | np.ndarray | Sequence) -> Series:
        """``rows`` checked against the model: a Series of its features in its order, price units.

        ``rows`` is a Series (columns matched by name), a sequence of mappings from column
        name to value, or an array [n, features] already in the model's feature order.
        """
        if isinstance(rows, Series):
            missing = [name for name in self.features if name not in rows.features]
            if missing:
                has = "; the series has " + ",".join(rows.features)
                raise InputError(f"{rows.source}: no column {', '.join(repr(m) for m in missing)}, "
                                 f"which {self._needs(has)}")
            if rows.features == self.features:
                return rows
            order = [rows.features.index(name) for name in self.features]
            filled = rows.filled_cells[:, order] if rows.filled_cells is not None else None
            return replace(rows, features=self.features, target=self.target, values=rows.values[:, order],
                           filled_cells=filled)
        if len(rows) and isinstance(rows[0], Mapping):
            try:
                values = np.array([[float(row[name]) for name in self.features] for row in rows])
            except KeyError as e:
                raise InputError(f"a row has no {e.args[0]!r}; the model reads {','.join(self.features)}") from None
        else:
            values = np.asarray(rows, np.float64)
            if values.ndim != 2 or values.shape[1] != len(self.features):
                raise InputError(f"rows must be [n, {len(self.features)}] in the order "
                                 f"{','.join(self.features)}, got shape {values.shape}")
        return Series("the rows", self.features, self.target, values, None, 0, ())

    def readable(self, frame: Series) -> np.ndarray:
        """bool [n]: the rows the model can read (a change model's "log" columns must be positive,
        its "log1p" columns at least 0); a window with another row is not forecast."""
        return self._transform.readable(frame.values) if self._transform is not None else np.ones(len(frame.values), bool)

    def predict_rows(self, frame: Series, target_row: np.ndarray) -> Predictions:
        """The forecasts made from the ``window`` rows before each of ``target_row``, price units
        (the predictor ``evaluation.backtest`` scores); ``frame`` as ``frame()`` returns it."""
        # a backtest checked the memory its windows need (evaluation.backtest)
        out = self._graph.forecasts(frame.values, target_row, frame.target_index)
        self._require_finite(out, frame, target_row)
        return out

    def _require_finite(self, out: Predictions, frame: Series, target_row: np.ndarray) -> None:
        """One line naming the rows of the first forecast that is not a finite number (a value
        the graph's float32 cannot carry through), instead of printing NaN or infinity."""
        named = {"forecast": out.y, "interval's lower bound": out.lower, "interval's upper bound": out.upper}
        for what, values in named.items():
            if values is None:
                continue
            bad = np.flatnonzero(~np.all(np.isfinite(values), axis=1))
            if bad.size:
                row = int(np.asarray(target_row)[bad[0]])
                raise InputError(f"{frame.source} {frame.row_name(row - self.window)} to {frame.row_name(row - 1)}: "
                                 f"the {what} made from these rows is not a finite number in the model's 32-bit "
                                 "floats; check their values (too large or too close to 0 for the model)")

    def predict(self, rows: Series | np.ndarray | Sequence) -> np.ndarray:
        """The next ``horizon`` target values after the last row, in price units, shape [horizon]."""
        return self._next(self.frame(rows)).y[0]

    def _next(self, frame: Series) -> Predictions:
        n = len(frame.values)
        if n < self.window:
            raise InputError(f"{frame.source}: {n} rows, but the model reads the last {self.window}")
        if not np.all(np.isfinite(frame.values[-self.window:])):
            raise InputError("the last rows hold a missing or infinite value; fill them in first")
        if self._transform is not None:
            first = n - self.window
            self._transform.require_readable(frame.values[first:], lambda i: frame.row_name(i + first), frame.source)
        return self.predict_rows(frame, np.array([n]))

    def forecast(self, rows: Series | np.ndarray | Sequence) -> Forecast:
        """``predict(rows)`` labelled with the dates that follow the last row, a calendar step of the
        rows apart (the model's when the rows do not tell), with its interval when the model gives one."""
        frame = self.frame(rows)
        out = self._next(frame)
        n = len(frame.values)
        try:
            labels = next_dates(frame.dates, self.horizon, frame.frequency or self.model.description.frequency)
        except InputError as e:
            raise InputError(f"{frame.source} {frame.row_name(n - 1)}: {e}") from None
        last_label = frame.dates[-1] if frame.dates else f"row {n}"
        interval = (out.lower[0], out.upper[0], out.level) if out.lower is not None else (None, None, None)
        return Forecast(self.target, last_label, float(frame.target_values[-1]),
                        labels or [f"+{i + 1}" for i in range(self.horizon)], out.y[0], *interval)

    def backtest_part(self, rows: Series | np.ndarray | Sequence, start: str | None = None) -> BacktestPart:
        """Which forecasts to score: from ``start`` (a date, or a data row number for rows without
        dates) when given, else those after the model's training data when the rows hold it."""
        frame = self.frame(rows)
        return backtest_part(self.model.description, frame.values, frame.dates, frame.source, start)

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


__all__ = ["SeriesModel", "Forecast", "sample_csv_path"]
