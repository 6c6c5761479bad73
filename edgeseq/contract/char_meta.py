"""A char model's description: ids [batch, time] and a state in, next-character logits out.

Each field is declared once with the kind that checks it (edgeseq.contract.schema).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

from edgeseq.contract.card import char_card
from edgeseq.contract.cells import CELLS, states_per_layer
from edgeseq.contract.quantization import Quantization
from edgeseq.contract.schema import (MAX_HIDDEN, MAX_LAYERS, MAX_ROW_FLOATS, MAX_VOCAB, MAX_WINDOW,
                                     FreeJson, Hex64, Int, Kind, Names, Nested, Number, Optional, Record, Text,
                                     fail, spec)
from edgeseq import __version__
from edgeseq.display import shown

GRAPHS = ("dynamic", "fixed", "generation")
CONTEXTS = ("window", "stateful")
#: what turns the recurrent outputs into logits
HEADS = ("dense", "none")
#: how character ids enter the model
INPUTS = ("onehot", "embedding")
#: how a generation graph runs the window context: W staggered states advanced together
#: (the fp32 graph), or the last W characters re-read for every character (the int8 graph:
#: the calls the per-step path makes, so int8 rounds the same; the caller passes those W ids)
WINDOW_MODES = ("slots", "reread")


class Vocabulary(Kind):
    what = f"text of 1 to {MAX_VOCAB} distinct characters"

    def read(self, value, name, where):
        if not isinstance(value, str) or not 0 < len(value) <= MAX_VOCAB or len(set(value)) != len(value):
            raise self.fail(value, name, where)
        return value


class OneChar(Kind):
    what = "one character"

    def read(self, value, name, where):
        if not isinstance(value, str) or len(value) != 1:
            raise self.fail(value, name, where)
        return value


class StateShape(Kind):
    """["batch", rows, hidden], read as (rows, hidden)."""

    what = f"[\"batch\", rows from 1 to {2 * MAX_LAYERS}, hidden from 1 to {MAX_HIDDEN}]"

    def read(self, value, name, where):
        if not (isinstance(value, list) and len(value) == 3 and value[0] == "batch"
                and all(isinstance(v, int) and not isinstance(v, bool) for v in value[1:])
                and 1 <= value[1] <= 2 * MAX_LAYERS and 1 <= value[2] <= MAX_HIDDEN):
            raise self.fail(value, name, where)
        return tuple(value[1:])

    def write(self, value):
        return ["batch", *value]


@dataclass(frozen=True)
class StateLayout(Record):
    """The packed recurrent state [batch, rows, hidden]: one row per (layer, h or c)."""

    shape: tuple[int, int] = spec(StateShape())
    names: tuple[str, ...] = spec(Names(2 * MAX_LAYERS), key="layout")  # h0, c0, h1, c1 ... or h0, h1 ...

    def __init__(self, rows: int | None = None, hidden: int | None = None, names: tuple[str, ...] = (),
                 shape: tuple[int, int] | None = None):
        object.__setattr__(self, "shape", tuple(shape) if shape is not None else (rows, hidden))
        object.__setattr__(self, "names", tuple(names))

    @property
    def rows(self) -> int:
        return self.shape[0]

    @property
    def hidden(self) -> int:
        return self.shape[1]

    def check(self, where):
        if len(self.names) != self.rows:
            raise fail(where, f"'state' names {len(self.names)} rows in its layout but its shape has {self.rows}")


@dataclass(frozen=True)
class FileRef(Record):
    """The step file a sibling (fixed graph, generation graph, ...) was made from: its name and
    the sha256 of its bytes, so a sibling is never paired with another step file."""

    of: str = spec(Text(nonempty=True))
    of_sha256: str = spec(Hex64())


@dataclass(frozen=True)
class GenerationInfo(FileRef):
    """A generation graph's step file, how many steps its loop body unrolls, and how it runs
    the window context (None: ``slots``, as every graph before int8 did)."""

    unroll: int = spec(Int(1, 1024), default=1)
    window: str | None = spec(Optional(Text(WINDOW_MODES)), default=None)

    @property
    def rereads_window(self) -> bool:
        return self.window == "reread"

    def fields_json(self) -> dict:
        return {**super().fields_json(), "contexts": ["stateful", "window"], "sampling": "greedy, temperature, top-k"}


@dataclass(frozen=True)
class CharMeta(Record):
    """A char model: ids [batch, time] and a state in, next-character logits and a state out."""

    task: ClassVar[str] = "char"
    graph: str = spec(Text(GRAPHS))  # dynamic, fixed or generation
    vocabulary: str = spec(Vocabulary())
    cell: str = spec(Text(CELLS))
    layers: int = spec(Int(1, MAX_LAYERS))
    hidden: int = spec(Int(1, MAX_HIDDEN))
    head: str = spec(Text(HEADS))
    input: str = spec(Text(INPUTS))
    window: int = spec(Int(1, MAX_WINDOW))  # the longest context seen from a zero state (stateful: the chunk)
    context: str = spec(Text(CONTEXTS), default="window")  # what the model was trained for
    line_end: str | None = spec(OneChar(), default=None)  # line models: the character that ends a line
    state: StateLayout = spec(Nested(StateLayout), default=None)
    recurrent_ops: str = spec(Text(), default="")
    metrics: dict = spec(FreeJson(), default_factory=dict)
    parity_max_abs_diff: float | None = spec(Optional(Number(0)), default=0.0)
    training: dict = spec(FreeJson(), default_factory=dict)
    generation: GenerationInfo | None = spec(Nested(GenerationInfo), default=None)  # the generation graph only
    made_from: FileRef | None = spec(Nested(FileRef), default=None)  # the fixed graph (and other siblings)
    quantization: Quantization | None = spec(Optional(Nested(Quantization)), default=None)  # int8 files only
    file_sha256: str | None = spec(Hex64(), default=None)  # edgeseq.contract.digest
    edgeseq_version: str = spec(Text(max_chars=64), default=__version__)  # who wrote it

    @property
    def vocab_size(self) -> int:
        return len(self.vocabulary)

    @property
    def precision(self) -> str:
        return "fp32" if self.quantization is None else self.quantization.precision

    def step_meta(self) -> CharMeta:
        """The step graph's description (a generation graph carries it whole)."""
        return replace(self, graph="dynamic", generation=None, made_from=None, file_sha256=None)

    @property
    def file_refs(self) -> tuple[FileRef, ...]:
        """Every file this one names by sha256 (an int8 generation graph names two: its int8
        step file, and the fp32 step file that one was made from)."""
        return tuple(ref for ref in (self.generation, self.made_from) if ref is not None)

    def doc_string(self) -> str:
        """The model card other tools show (the ONNX doc_string); written by edgeseq.contract.card."""
        return char_card(self)

    def generation_meta(self, generation: GenerationInfo) -> CharMeta:
        return replace(self, graph="generation", generation=generation)

    def check(self, where):
        if self.state is None:
            raise fail(where, "'state' is missing")
        rows = self.layers * states_per_layer(self.cell)
        if self.state.shape != (rows, self.hidden):
            raise fail(where, f"'state.shape' is {shown(list(self.state.shape))} but {self.layers} "
                              f"{self.cell} layer(s) of {self.hidden} carry [batch, {rows}, {self.hidden}]")
        if self.head == "none" and self.hidden != self.vocab_size:
            raise fail(where, f"'hidden' is {self.hidden}, but with head none it is the vocabulary size "
                              f"({self.vocab_size})")
        if self.line_end is not None and self.line_end not in self.vocabulary:
            raise fail(where, f"'line_end' {shown(self.line_end)} is not in the vocabulary")
        if (self.graph == "generation") != (self.generation is not None):
            raise fail(where, "'generation' must be given for the generation graph, and only for it")
        floats = self.window * max(rows * self.hidden, self.vocab_size)
        if floats > MAX_ROW_FLOATS:
            raise fail(where, f"a window of {self.window} over a state of {rows}x{self.hidden} needs "
                              f"{floats:,} floats per row; edgeseq allows {MAX_ROW_FLOATS:,}")

    def to_json(self) -> dict:
        doc = {"graph": self.graph, **self.fields_json()}
        inputs, outputs = self._io(self.graph)
        doc.update({"inputs": inputs, "outputs": outputs})
        if self.generation is not None:
            step_inputs, step_outputs = self._io("dynamic")
            doc["step"] = {"graph": "dynamic", "inputs": step_inputs, "outputs": step_outputs}
        return doc

    def _io(self, graph: str) -> tuple[dict, dict]:
        s, h, v = self.state.rows, self.state.hidden, self.vocab_size
        if graph == "generation" and self.generation is not None and self.generation.rereads_window:
            inputs, outputs = self._io_slots(s, h, v)
            inputs["ids"] = ("int32 [batch, time]: characters to consume first (stateful: the prompt, then the "
                             "last generated character; window context: the last W characters, every call)")
            inputs["state"] = (f"float32 [batch, slots, {s}, {h}]: stateful: slots 1, the step graph's state, zeros "
                               "to start; window context: not read (slots 1, zeros)")
            inputs["position"] = "int64 []: not read (0)"
            outputs["new_state"] = ("like state: stateful, after ids and every token but the last (to continue, "
                                    "feed the last token as ids); window context: state unchanged")
            return inputs, outputs
        if graph == "generation":
            return self._io_slots(s, h, v)
        time = "time" if graph == "dynamic" else str(self.window)
        inputs = {
            "ids": f"int32 [batch, {time}]: character ids, positions in the vocabulary",
            "state": f"float32 [batch, {s}, {h}]: recurrent state ({', '.join(self.state.names)}); zeros to start",
        }
        if graph == "dynamic":
            inputs["lengths"] = ("int32 [batch], optional: valid steps per row (rows padded at the end); "
                                 "logits are 0 after them and new_state is the state after the last valid step")
        return inputs, {
            "logits": f"float32 [batch, {time}, {v}]: next-character logits",
            "new_state": f"float32 [batch, {s}, {h}]: the state after the last step",
        }

    def _io_slots(self, s: int, h: int, v: int) -> tuple[dict, dict]:
        """The generation graph's inputs and outputs, window context through W staggered slots."""
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
