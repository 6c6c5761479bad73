"""What other tools show of an exported file: dimension names, producer, version, descriptions.

Netron and onnxruntime read the proto's own fields, not edgeseq's metadata, so every file
gets them too. Pure ONNX.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import onnx

import edgeseq
from edgeseq.contract import FORMAT_VERSION, CharMeta, SeriesMeta
from edgeseq.contract.card import AUTHOR_KEY, LICENSE_KEY
from edgeseq.errors import InputError

PRODUCER = "edgeseq"
DOMAIN = "ai.edgeseq"
#: metadata keys Netron shows by name (onnxruntime: custom_metadata_map)
#: standard ONNX dimension denotations of the axes edgeseq names
DENOTATIONS = {"batch": "DATA_BATCH", "time": "DATA_TIME", "steps": "DATA_TIME"}
#: an SPDX license identifier (MIT, Apache-2.0, LicenseRef-x) or an expression of them
_SPDX_ID = r"[A-Za-z0-9][A-Za-z0-9.\-]*\+?"
SPDX_EXPRESSION = re.compile(rf"\(*{_SPDX_ID}\)*(\s+(AND|OR|WITH)\s+\(*{_SPDX_ID}\)*)*")


@dataclass(frozen=True)
class Provenance:
    """Who made the model and under which license (``edgeseq export --author --license``)."""

    author: str | None = None
    license: str | None = None

    def __post_init__(self):
        if self.author is not None and (not self.author.strip() or len(self.author.splitlines()) != 1):
            raise InputError("--author must be one non-empty line of text")
        if self.license is not None and not SPDX_EXPRESSION.fullmatch(self.license):
            raise InputError(f"--license {self.license!r} is not an SPDX license identifier or expression "
                             "(e.g. MIT, Apache-2.0, 'MIT OR Apache-2.0'; see https://spdx.org/licenses/)")

    @classmethod
    def of(cls, model: onnx.ModelProto) -> Provenance:
        """The author and license ``model`` carries (None where it has none)."""
        props = {entry.key: entry.value for entry in model.metadata_props}
        return cls(props.get(AUTHOR_KEY), props.get(LICENSE_KEY))

    def apply(self, model: onnx.ModelProto) -> onnx.ModelProto:
        """Set (or leave out) the ``author`` and ``license`` keys of ``model``'s metadata."""
        for key, value in ((AUTHOR_KEY, self.author), (LICENSE_KEY, self.license)):
            if value is not None:
                set_property(model, key, value)
        return model


def set_property(model: onnx.ModelProto, key: str, value: str) -> None:
    """Set one metadata_props entry, keeping the others."""
    for entry in model.metadata_props:
        if entry.key == key:
            entry.value = value
            return
    entry = model.metadata_props.add()
    entry.key, entry.value = key, value


def io_shapes(description: CharMeta | SeriesMeta) -> dict[str, list[str | int]]:
    """Every input's and output's shape, dynamic axes by name, as the description states them."""
    if isinstance(description, SeriesMeta):
        time = "time" if description.graph == "dynamic" else description.window
        outputs = ("y", "lower", "upper", "change") if description.target_mode == "change" else ("y",)
        return {"x": ["batch", time, len(description.features)],
                **{name: ["batch", description.horizon] for name in outputs}}
    state = [description.state.rows, description.state.hidden]
    if description.graph == "generation":
        return {"ids": ["batch", "time"], "state": ["batch", "slots", *state], "window": [], "position": [],
                "uniforms": ["steps", "batch"], "temperature": [], "top_k": [],
                "tokens": ["batch", "steps"], "new_state": ["batch", "slots", *state]}
    time = "time" if description.graph == "dynamic" else description.window
    shapes = {"ids": ["batch", time], "state": ["batch", *state], "logits": ["batch", time, description.vocab_size],
              "new_state": ["batch", *state]}
    if description.graph == "dynamic":
        shapes["lengths"] = ["batch"]
    return shapes


def tensor_shape(value: onnx.ValueInfoProto) -> onnx.TensorShapeProto | None:
    """The shape of a tensor or optional-tensor value (None: it has none)."""
    kind = value.type
    if kind.HasField("optional_type"):
        kind = kind.optional_type.elem_type
    return kind.tensor_type.shape if kind.HasField("tensor_type") and kind.tensor_type.HasField("shape") else None


def all_values(graph: onnx.GraphProto):
    """Every typed value of a graph and of its subgraphs (Loop bodies, If branches)."""
    yield from graph.input
    yield from graph.output
    yield from graph.value_info
    for node in graph.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                yield from all_values(attr.g)


def name_dimensions(model: onnx.ModelProto, shapes: dict[str, list[str | int]]) -> None:
    """Give every input and output the shape ``shapes`` states, and rename the converter's
    symbols it replaces wherever else they occur. A fixed size the graph already holds
    must agree with the description (else ValueError: the graph is not what it claims)."""
    graph, renamed = model.graph, {}
    values = {v.name: v for v in list(graph.input) + list(graph.output)}
    if set(values) != set(shapes):
        raise ValueError(f"the graph's inputs and outputs {sorted(values)} are not the described {sorted(shapes)}")
    for name, axes in shapes.items():
        shape = tensor_shape(values[name])
        if shape is None or len(shape.dim) != len(axes):
            raise ValueError(f"{name}: rank {None if shape is None else len(shape.dim)}, described {axes}")
        for dim, axis in zip(shape.dim, axes):
            if dim.HasField("dim_value") and dim.dim_value != axis:
                raise ValueError(f"{name}: size {dim.dim_value} where the description says {axis}")
            if dim.HasField("dim_param") and dim.dim_param != str(axis):
                renamed[dim.dim_param] = axis
            if isinstance(axis, str):
                dim.dim_param = axis
            else:
                dim.dim_value = axis
            dim.denotation = DENOTATIONS.get(axis, "") if isinstance(axis, str) else ""
    for value in all_values(graph):
        shape = tensor_shape(value)
        for dim in shape.dim if shape is not None else ():
            if dim.HasField("dim_param") and dim.dim_param in renamed:
                axis = renamed[dim.dim_param]
                if isinstance(axis, str):
                    dim.dim_param = axis
                else:
                    dim.dim_value = axis
            # the denotation follows the name everywhere (subgraphs too), whatever a tool copied
            # in before: a file reads the same however it was made (export_run's int8 file and
            # the int8 file made from the written fp32 one are the same bytes)
            dim.denotation = DENOTATIONS.get(dim.dim_param, "") if dim.HasField("dim_param") else ""


def describe_for_other_tools(model: onnx.ModelProto, description: CharMeta | SeriesMeta) -> onnx.ModelProto:
    """The proto's own description fields, all from ``description`` (see the module docstring).

    The graph's value_info (optional shape hints, which onnxruntime infers by itself) is
    dropped: a tool such as the quantizer fills it with fresh ``unk__N`` names."""
    del model.graph.value_info[:]
    name_dimensions(model, io_shapes(description))
    card = description.doc_string()
    model.producer_name, model.producer_version = PRODUCER, edgeseq.__version__
    model.domain, model.model_version = DOMAIN, FORMAT_VERSION
    model.doc_string = card
    model.graph.name = f"edgeseq_{description.task}_{description.graph}"
    model.graph.doc_string = card.splitlines()[0]
    texts = description.to_json()
    for value in model.graph.input:
        value.doc_string = texts["inputs"][value.name]
    for value in model.graph.output:
        value.doc_string = texts["outputs"][value.name]
    return model
