"""The description every exported file carries: typed records, written and read here only.

Each edgeseq ONNX file holds, in its metadata_props under the key ``edgeseq``, one JSON
document: a header (format, format version, the edgeseq version that wrote it), the task,
and everything the runner needs (vocabulary and state layout, or features, scaler, window
and horizon), plus what a person reading the file wants to know (what each input and
output means, the op types, the training metrics and the parity measured at export).

``CharMeta`` and ``SeriesMeta`` are that document as records. ``to_json`` writes the
document (the text describing inputs and outputs is derived from the fields, so it always
matches them); ``parse_meta`` reads one back, checking once that every field the runner
uses is there and of the right type, and refusing a newer format with one line. Fields a
reader does not need (metrics, training settings) are carried as plain JSON.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

from edgeseq import __version__
from edgeseq.contract.card import char_card, series_card
from edgeseq.contract.cells import CELLS
from edgeseq.errors import ModelFileError

#: Where the description lives in metadata_props.
METADATA_KEY = "edgeseq"
#: Version of the description's layout; a reader refuses a larger one.
FORMAT_VERSION = 1
GRAPHS = ("dynamic", "fixed", "generation")
CONTEXTS = ("window", "stateful")


# ------------------------------------------------------------------ reading helpers

class _Reader:
    """Typed access to one JSON object, each failure a ModelFileError naming the field."""

    def __init__(self, doc: Any, where: str):
        if not isinstance(doc, dict):
            raise ModelFileError(f"{where}: expected a JSON object, found {type(doc).__name__}")
        self.doc, self.where = doc, where

    def _raw(self, key: str, optional: bool):
        if key not in self.doc:
            if optional:
                return None
            raise ModelFileError(f"{self.where}: the field {key!r} is missing")
        return self.doc[key]

    def _fail(self, key: str, wanted: str) -> ModelFileError:
        return ModelFileError(f"{self.where}: the field {key!r} must be {wanted}, "
                              f"found {type(self.doc[key]).__name__}")

    def int(self, key: str, optional: bool = False) -> int | None:
        value = self._raw(key, optional)
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._fail(key, "a whole number")
        return value

    def float(self, key: str, optional: bool = False) -> float | None:
        value = self._raw(key, optional)
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self._fail(key, "a finite number")
        return float(value)

    def str(self, key: str, optional: bool = False, choices: tuple[str, ...] | None = None) -> str | None:
        value = self._raw(key, optional)
        if value is None and optional:
            return None
        if not isinstance(value, str):
            raise self._fail(key, "text")
        if choices is not None and value not in choices:
            raise ModelFileError(f"{self.where}: the field {key!r} is {value!r}, not one of {', '.join(choices)}")
        return value

    def dict(self, key: str, optional: bool = False) -> dict | None:
        value = self._raw(key, optional)
        if value is None and optional:
            return None
        if not isinstance(value, dict):
            raise self._fail(key, "an object")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        value = self._raw(key, False)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._fail(key, "a list of texts")
        return tuple(value)

    def sub(self, key: str) -> _Reader:
        return _Reader(self.dict(key), f"{self.where}, {key}")


# ------------------------------------------------------------------ records

@dataclass(frozen=True)
class StateLayout:
    """The packed recurrent state [batch, rows, hidden]: one row per (layer, h or c)."""

    rows: int
    hidden: int
    names: tuple[str, ...]  # h0, c0, h1, c1 ... (LSTM) or h0, h1 ...

    def to_json(self) -> dict:
        return {"shape": ["batch", self.rows, self.hidden], "layout": list(self.names)}

    @classmethod
    def from_json(cls, reader: _Reader) -> StateLayout:
        shape = reader.doc.get("shape")
        if (not isinstance(shape, list) or len(shape) != 3
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in shape[1:])):
            raise ModelFileError(f"{reader.where}: the field 'shape' must be [batch, rows, hidden]")
        return cls(shape[1], shape[2], reader.strings("layout"))


@dataclass(frozen=True)
class GenerationInfo:
    """What a generation graph was made from: the step file it runs, by name and sha256."""

    of: str
    of_sha256: str
    unroll: int

    def to_json(self) -> dict:
        return {"of": self.of, "of_sha256": self.of_sha256, "unroll": self.unroll,
                "contexts": ["stateful", "window"], "sampling": "greedy, temperature, top-k"}

    @classmethod
    def from_json(cls, reader: _Reader) -> GenerationInfo:
        return cls(reader.str("of"), reader.str("of_sha256"), reader.int("unroll"))


def _header(task: str) -> dict:
    return {"format": "edgeseq", "format_version": FORMAT_VERSION, "edgeseq_version": __version__, "task": task}


@dataclass(frozen=True)
class CharMeta:
    """A char model: ids [batch, time] and a state in, next-character logits and a state out."""

    task: ClassVar[str] = "char"
    graph: str  # dynamic, fixed or generation
    vocabulary: str
    cell: str
    layers: int
    hidden: int
    head: str
    input: str
    window: int  # the longest context seen from a zero state (stateful: the chunk)
    context: str  # what the model was trained for: window or stateful
    state: StateLayout
    recurrent_ops: str
    metrics: dict = field(default_factory=dict)
    parity_max_abs_diff: float = 0.0
    training: dict = field(default_factory=dict)
    line_end: str | None = None  # line models: the character that ends a generated line
    generation: GenerationInfo | None = None  # the generation graph only
    edgeseq_version: str = ""  # who wrote it (filled in when read)

    @property
    def vocab_size(self) -> int:
        return len(self.vocabulary)

    def step_meta(self) -> CharMeta:
        """The step graph's description (a generation graph carries it whole)."""
        return replace(self, graph="dynamic", generation=None)

    def generation_meta(self, generation: GenerationInfo) -> CharMeta:
        return replace(self, graph="generation", generation=generation)

    def _io(self, graph: str) -> tuple[dict, dict]:
        s, h, v = self.state.rows, self.state.hidden, self.vocab_size
        names = ", ".join(self.state.names)
        if graph == "generation":
            return {
                "ids": "int32 [batch, time]: characters to consume first (the prompt; window context: "
                       "its last W; to continue: the last generated character)",
                "state": f"float32 [batch, slots, {s}, {h}]: stateful: slots 1, the step graph's state; "
                         f"window: slots W, one state per window slot; zeros to start",
                "window": f"int64 []: 0 for the stateful context; W > 0 (the model's: {self.window}) for the "
                          "window context",
                "position": "int64 []: window context: characters consumed since the slots were zero",
                "uniforms": "float32 [steps, batch]: one uniform in [0, 1) per character to generate "
                            "(their count is the chunk length; ignored when greedy)",
                "temperature": "float32 []: 0 greedy (ArgMax), > 0 sample at this temperature",
                "top_k": "int64 []: sample among the k most likely characters (0: all)",
            }, {
                "tokens": f"int32 [batch, steps]: generated character ids (< {v})",
                "new_state": "like state: after ids and every token but the last; to continue, feed the "
                             "last token as ids (window: position + time + steps - 1)",
            }
        time = "time" if graph == "dynamic" else str(self.window)
        inputs = {
            "ids": f"int32 [batch, {time}]: character ids, positions in the vocabulary",
            "state": f"float32 [batch, {s}, {h}]: recurrent state ({names}); zeros to start",
        }
        if graph == "dynamic":
            inputs["lengths"] = ("int32 [batch], optional: valid steps per row (rows padded at the end); "
                                 "logits are 0 after them and new_state is the state after the last valid step")
        return inputs, {
            "logits": f"float32 [batch, {time}, {v}]: next-character logits",
            "new_state": f"float32 [batch, {s}, {h}]: the state after the last step",
        }

    def to_json(self) -> dict:
        inputs, outputs = self._io(self.graph)
        doc = {**_header(self.task), "graph": self.graph, "vocabulary": self.vocabulary, "cell": self.cell,
               "layers": self.layers, "hidden": self.hidden, "head": self.head, "input": self.input,
               "window": self.window, "context": self.context}
        if self.line_end:
            doc["line_end"] = self.line_end
        doc.update({"state": self.state.to_json(), "inputs": inputs, "outputs": outputs,
                    "recurrent_ops": self.recurrent_ops, "metrics": self.metrics,
                    "parity_max_abs_diff": self.parity_max_abs_diff, "training": self.training})
        if self.generation is not None:
            step_inputs, step_outputs = self._io("dynamic")
            doc["generation"] = self.generation.to_json()
            doc["step"] = {"graph": "dynamic", "inputs": step_inputs, "outputs": step_outputs}
        return doc

    def doc_string(self) -> str:
        """The model card other tools show (the ONNX doc_string); written by edgeseq.contract.card."""
        return char_card(self)

    @classmethod
    def from_json(cls, r: _Reader) -> CharMeta:
        graph = r.str("graph", choices=GRAPHS)
        return cls(
            graph=graph, vocabulary=r.str("vocabulary"), cell=r.str("cell", choices=CELLS),
            layers=r.int("layers"), hidden=r.int("hidden"), head=r.str("head"), input=r.str("input"),
            window=r.int("window"), context=r.str("context", optional=True, choices=CONTEXTS) or "window",
            state=StateLayout.from_json(r.sub("state")), recurrent_ops=r.str("recurrent_ops", optional=True) or "",
            metrics=r.dict("metrics", optional=True) or {},
            parity_max_abs_diff=r.float("parity_max_abs_diff", optional=True) or 0.0,
            training=r.dict("training", optional=True) or {}, line_end=r.str("line_end", optional=True),
            generation=GenerationInfo.from_json(r.sub("generation")) if graph == "generation" else None,
            edgeseq_version=r.str("edgeseq_version", optional=True) or "",
        )


@dataclass(frozen=True)
class SeriesMeta:
    """A forecaster: x [batch, time, features] in, the next ``horizon`` target values out."""

    task: ClassVar[str] = "series"
    graph: str  # dynamic or fixed
    features: tuple[str, ...]
    target: str
    window: int
    horizon: int
    target_mode: str
    scaler: dict  # edgeseq.data.scaler.MinMaxScaler.to_dict(); it checks its own fields
    cell: str
    layers: int
    hidden: int
    recurrent_ops: str
    date_column: str | None = None
    evaluation: dict | None = None  # the walk-forward test table measured at training
    test: dict | None = None  # which forecasts that table covers
    parity_max_abs_diff: float = 0.0
    data: dict = field(default_factory=dict)  # where the training rows came from, the split
    training: dict = field(default_factory=dict)
    edgeseq_version: str = ""

    @property
    def split_at(self) -> str | None:
        """The first test row's date (or 'data row N'): forecasts before it are in-sample."""
        value = self.data.get("split_at")
        return value if isinstance(value, str) else None

    def to_json(self) -> dict:
        time = "time" if self.graph == "dynamic" else str(self.window)
        features, target, horizon = self.features, self.target, self.horizon
        return {
            **_header(self.task), "graph": self.graph, "features": list(features), "target": target,
            "window": self.window, "horizon": horizon, "target_mode": self.target_mode, "scaler": self.scaler,
            "date_column": self.date_column, "cell": self.cell, "layers": self.layers, "hidden": self.hidden,
            "inputs": {
                "x": f"float32 [batch, {time}, {len(features)}]: consecutive rows, oldest first, columns "
                     f"{','.join(features)}, each min-max scaled with `scaler` ((value - min) / range)",
            },
            "outputs": {
                "y": f"float32 [batch, {horizon}]: the next {horizon} value(s) of {target} after the last row, "
                     f"scaled; {target} = y * range + min of its scaler column",
            },
            "recurrent_ops": self.recurrent_ops, "evaluation": self.evaluation, "test": self.test,
            "parity_max_abs_diff": self.parity_max_abs_diff, "data": self.data, "training": self.training,
        }

    def doc_string(self) -> str:
        """The model card other tools show (the ONNX doc_string); written by edgeseq.contract.card."""
        return series_card(self)

    @classmethod
    def from_json(cls, r: _Reader) -> SeriesMeta:
        features = r.strings("features")
        target = r.str("target")
        if target not in features:
            raise ModelFileError(f"{r.where}: the target {target!r} is not one of the features {list(features)}")
        return cls(
            graph=r.str("graph", choices=GRAPHS[:2]), features=features, target=target, window=r.int("window"),
            horizon=r.int("horizon"), target_mode=r.str("target_mode"), scaler=r.dict("scaler"),
            cell=r.str("cell", choices=CELLS), layers=r.int("layers"), hidden=r.int("hidden"),
            recurrent_ops=r.str("recurrent_ops", optional=True) or "",
            date_column=r.str("date_column", optional=True), evaluation=r.dict("evaluation", optional=True),
            test=r.dict("test", optional=True),
            parity_max_abs_diff=r.float("parity_max_abs_diff", optional=True) or 0.0,
            data=r.dict("data", optional=True) or {}, training=r.dict("training", optional=True) or {},
            edgeseq_version=r.str("edgeseq_version", optional=True) or "",
        )


TASKS: dict[str, type] = {"char": CharMeta, "series": SeriesMeta}


def parse_meta(raw: str | dict, where: str) -> CharMeta | SeriesMeta:
    """A model's description from its metadata text (or the parsed document), checked.

    ``where`` (the file's path) starts every error line.
    """
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except (json.JSONDecodeError, RecursionError):
            raise ModelFileError(f"{where}: its edgeseq metadata is not valid JSON") from None
    reader = _Reader(raw, f"{where}: edgeseq metadata")
    version = reader.int("format_version", optional=True) or 0
    if version > FORMAT_VERSION:
        raise ModelFileError(f"{where}: made by a newer edgeseq (format {version}); upgrade edgeseq")
    task = reader.str("task", choices=tuple(TASKS))
    return TASKS[task].from_json(reader)
