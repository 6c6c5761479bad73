"""A forecaster's description: x [batch, time, features] in, the next ``horizon`` values out.

Each field is declared once with the kind that checks it (edgeseq.contract.schema), the
scaler and the evaluation table included.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import ClassVar

from edgeseq.contract.card import series_card
from edgeseq.contract.cells import CELLS
from edgeseq.contract.char_meta import FileRef
from edgeseq.contract.quantization import Quantization
from edgeseq.contract.schema import (MAX_FEATURES, MAX_HIDDEN, MAX_HORIZON, MAX_LAYERS, MAX_NAME, MAX_WINDOW,
                                     Choices, FreeJson, Hex64, Int, Kind, Names, Nested, Number, Numbers, Optional,
                                     Record, Text, fail, spec)
from edgeseq import __version__
from edgeseq.display import shown

#: what a series model predicts (the default first): the next changes of scale-free windows
#: (edgeseq.data.scale_free), the change from the last min-max scaled value, or the value itself
TARGET_MODES = ("change", "delta", "level")
#: how a ``change`` model reads a column: log ratios to the window's last value, changes of
#: log(1 + value) (counts, which may be 0), or differences
COLUMN_MODES = ("log", "diff", "log1p")
SCALER_KIND = "minmax"
#: How a series CSV writes its dates (--date-format), as recorded by the model trained on it.
DATE_FORMATS = ("iso", "ymd", "y/m/d", "m/d/y", "d/m/y", "d.m.y")
#: A series' calendar step (edgeseq.data.calendar): pandas-like aliases B, D, 7D, W-FRI, MS, ME, QS, M15, 3600s
FREQUENCY = re.compile(r"B|\d*D|W-(MON|TUE|WED|THU|FRI|SAT|SUN)|\d*[MQY](S|E|\d{1,2})|\d+s")
#: What training did with a missing value (--fill ffill, --drop-missing); `run stock` does the same.
MISSING_VALUES = ("ffill", "drop")


def _numbers(value, positive: bool) -> bool:
    return (isinstance(value, list) and 0 < len(value) <= MAX_FEATURES
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                    and (v > 0 or not positive) for v in value))


class Scaler(Kind):
    """edgeseq.data.scaler.MinMaxScaler.to_dict(): kind, columns, min, range (range > 0)."""

    what = f"a {SCALER_KIND} scaler: columns, one finite min and one positive range each"

    def read(self, value, name, where):
        if (not isinstance(value, dict) or value.get("kind") != SCALER_KIND
                or not isinstance(value.get("columns"), list)
                or not all(isinstance(c, str) for c in value["columns"])
                or not _numbers(value.get("min"), False) or not _numbers(value.get("range"), True)
                or not len(value["columns"]) == len(value["min"]) == len(value["range"])):
            raise self.fail(value, name, where)
        return value


class EvaluationTable(Kind):
    """{metric: {"model": number|null, "persistence": number|null, "ratio": number|null}}."""

    what = "a table of metrics, each with model, persistence and ratio (numbers or null)"

    def read(self, value, name, where):
        if not isinstance(value, dict) or len(value) > 64:
            raise self.fail(value, name, where)
        for metric, row in value.items():
            if len(metric) > MAX_NAME or not isinstance(row, dict):
                raise self.fail(value, name, where)
            for column in ("model", "persistence", "ratio"):
                cell = row.get(column, "missing")
                if cell is not None and (isinstance(cell, bool) or not isinstance(cell, (int, float))):
                    raise fail(where, f"{f'{name}.{metric}.{column}'!r} must be a number or null, "
                                      f"got {shown(cell)}")
        return value


@dataclass(frozen=True)
class Baselines(Record):
    """What the naive forecasts beside a series model take from its training part, fixed at
    training so that every later backtest compares with the same baselines."""

    drift: float | None = spec(Optional(Number()), default=None)  # the target's mean change per row
    mase_scale: float | None = spec(Optional(Number(0)), default=None)  # in-sample MAE of persistence
    season: int | None = spec(Optional(Int(1, MAX_WINDOW)), default=None)  # --season, in rows

    def to_json(self) -> dict:
        """All three, null where unknown (the model's metadata and the backtest's JSON show them so)."""
        return {"drift": self.drift, "mase_scale": self.mase_scale, "season": self.season}

    fields_json = to_json


@dataclass(frozen=True)
class SeriesMeta(Record):
    """A forecaster: x [batch, time, features] in, the next ``horizon`` target values out."""

    task: ClassVar[str] = "series"
    graph: str = spec(Text(("dynamic", "fixed")))
    features: tuple[str, ...] = spec(Names(MAX_FEATURES))
    target: str = spec(Text(nonempty=True))
    window: int = spec(Int(1, MAX_WINDOW))
    horizon: int = spec(Int(1, MAX_HORIZON))
    target_mode: str = spec(Text(TARGET_MODES))
    cell: str = spec(Text(CELLS))
    layers: int = spec(Int(1, MAX_LAYERS))
    hidden: int = spec(Int(1, MAX_HIDDEN))
    scaler: dict | None = spec(Optional(Scaler()), default=None)  # delta, level: MinMaxScaler.to_dict()
    # change models (edgeseq.data.scale_free, edgeseq.evaluation.intervals): per feature, then per step
    modes: tuple[str, ...] | None = spec(Optional(Choices(COLUMN_MODES, MAX_FEATURES)), default=None)
    typical_change: tuple[float, ...] | None = spec(Optional(Numbers(MAX_FEATURES, 0)), default=None)
    interval_level: float | None = spec(Optional(Number(0)), default=None)  # of lower/upper, in (0, 1)
    interval_quantiles: tuple[float, ...] | None = spec(Optional(Numbers(MAX_HORIZON, 0)), default=None)
    recurrent_ops: str = spec(Text(), default="")
    date_column: str | None = spec(Optional(Text()), default=None)
    evaluation: dict | None = spec(Optional(EvaluationTable()), default=None)  # the walk-forward test table
    test: dict | None = spec(Optional(FreeJson()), default=None)  # which forecasts that table covers
    parity_max_abs_diff: float | None = spec(Optional(Number(0)), default=0.0)
    data: dict = spec(FreeJson(), default_factory=dict)  # where the training rows came from, the split
    training: dict = spec(FreeJson(), default_factory=dict)
    made_from: FileRef | None = spec(Nested(FileRef), default=None)  # the fixed graph (and other siblings)
    file_sha256: str | None = spec(Hex64(), default=None)  # edgeseq.contract.digest
    missing: str | None = spec(Optional(Text(MISSING_VALUES)), default=None)  # None: a missing value was refused
    date_format: str | None = spec(Optional(Text(DATE_FORMATS)), default=None)  # how the training file wrote dates
    baselines: Baselines = spec(Nested(Baselines), kw_only=True)  # the naive forecasts' drift, MASE scale, season
    frequency: str | None = spec(Optional(Text(max_chars=16)), default=None)  # its dates' step (data.calendar)
    quantization: Quantization | None = spec(Optional(Nested(Quantization)), default=None)  # int8 files only
    edgeseq_version: str = spec(Text(max_chars=64), default=__version__)

    @property
    def precision(self) -> str:
        return "fp32" if self.quantization is None else self.quantization.precision

    @property
    def file_refs(self) -> tuple[FileRef, ...]:
        """Every file this one names by sha256."""
        return () if self.made_from is None else (self.made_from,)

    @property
    def split_at(self) -> str | None:
        """The first test row's date (or 'data row N'): forecasts before it are in-sample."""
        value = self.data.get("split_at")
        return value if isinstance(value, str) else None

    @property
    def train_end(self) -> str | None:
        """The last training row's date (or 'data row N')."""
        value = self.data.get("train_end")
        return value if isinstance(value, str) else None

    @property
    def train_sha256(self) -> str | None:
        """sha256 of the training rows' values (float64, feature order): finds them in a file without dates."""
        value = self.data.get("train_sha256")
        return value if isinstance(value, str) else None

    def doc_string(self) -> str:
        """The model card other tools show (the ONNX doc_string); written by edgeseq.contract.card."""
        return series_card(self)

    def check(self, where):
        if self.target not in self.features:
            raise fail(where, f"the target {shown(self.target)} is not one of the features {shown(list(self.features))}")
        if self.frequency is not None and not FREQUENCY.fullmatch(self.frequency):
            raise fail(where, f"'frequency' is not a calendar step edgeseq knows: {shown(self.frequency)}")
        if self.target_mode == "change":
            self._check_change(where)
        elif self.scaler is None:
            raise fail(where, f"a {self.target_mode} model needs its 'scaler'")
        elif tuple(self.scaler["columns"]) != self.features:
            raise fail(where, f"the scaler's columns {shown(self.scaler['columns'])} are not the features "
                              f"{shown(list(self.features))}")

    def _check_change(self, where):
        needed = {"modes": len(self.features), "typical_change": len(self.features),
                  "interval_quantiles": self.horizon}
        for name, length in needed.items():
            value = getattr(self, name)
            if value is None or len(value) != length:
                raise fail(where, f"a change model needs {name!r} with {length} value(s), got {shown(value)}")
        if not all(s > 0 for s in self.typical_change):
            raise fail(where, f"'typical_change' must be positive, got {shown(list(self.typical_change))}")
        if self.interval_level is None or not 0 < self.interval_level < 1:
            raise fail(where, f"'interval_level' must be between 0 and 1, got {shown(self.interval_level)}")

    def to_json(self) -> dict:
        time = "time" if self.graph == "dynamic" else str(self.window)
        features, target, horizon = self.features, self.target, self.horizon
        if self.target_mode == "change":
            return {"graph": self.graph, **self.fields_json(), **self._change_io(time)}
        return {
            "graph": self.graph, **self.fields_json(),
            "inputs": {
                "x": f"float32 [batch, {time}, {len(features)}]: consecutive rows, oldest first, columns "
                     f"{','.join(features)}, each min-max scaled with `scaler` ((value - min) / range)",
            },
            "outputs": {
                "y": f"float32 [batch, {horizon}]: the next {horizon} value(s) of {target} after the last row, "
                     f"scaled; {target} = y * range + min of its scaler column",
            },
        }

    def _change_io(self, time: str) -> dict:
        target, horizon, level = self.target, self.horizon, f"{100 * (self.interval_level or 0):g}%"
        steps = f"float32 [batch, {horizon}]"
        return {
            "inputs": {"x": f"float32 [batch, {time}, {len(self.features)}]: consecutive rows, oldest first, columns "
                            f"{','.join(self.features)} in their own units; the graph reads the last {self.window}"},
            "outputs": {
                "y": f"{steps}: the next {horizon} value(s) of {target} after the last row, in its units",
                "lower": f"{steps}: the lower end of the central {level} interval around y",
                "upper": f"{steps}: the upper end of that interval",
                "change": f"{steps}: y as the change from the last {target}, in its typical changes "
                          f"(log ratios or differences by `modes`, divided by `typical_change`)",
            },
        }
