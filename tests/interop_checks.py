"""How an exported file must look to other tools: the check the interop tests share.

Used by the export tests of every task (char models of each cell, depth and head; series
models of each cell; the shipped files), so each freshly exported file is checked where it
is made, without training anything twice.
"""
from __future__ import annotations

from pathlib import Path

import onnx
import onnxruntime as ort

import edgeseq
from edgeseq.contract import FORMAT_VERSION, FUSED_OPS, METADATA_KEY

#: the only symbolic dimension names an exported file may use
AXES = {"batch", "time", "slots", "steps"}


def shape_of(value: onnx.ValueInfoProto) -> list[str | int]:
    kind = value.type.optional_type.elem_type if value.type.HasField("optional_type") else value.type
    return [d.dim_param if d.HasField("dim_param") else d.dim_value if d.HasField("dim_value") else None
            for d in kind.tensor_type.shape.dim]


def assert_reads_cleanly(path: Path, capfd) -> onnx.ModelProto:
    """A plain onnxruntime session (default logger at warning level) loads ``path`` without a
    line on stderr; every input and output has named or fixed dimensions, a doc string, and
    the model says who made it, which contract version and what it is; every recurrent layer
    is a fused op (fp32 or int8), and the only Loops are a generation graph's own. Returns the
    model."""
    capfd.readouterr()  # drop what fixtures printed
    ort.set_default_logger_severity(2)  # warnings and worse: onnxruntime's default
    session = ort.InferenceSession(str(path))
    assert capfd.readouterr().err == "", path
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    graph = model.graph
    assert not {t.name for t in graph.initializer} & {i.name for i in graph.input}, path
    for value in list(graph.input) + list(graph.output):
        shape = shape_of(value)
        assert all(isinstance(d, int) and d > 0 or d in AXES for d in shape), (path, value.name, shape)
        assert value.doc_string, (path, value.name)
    for sess_value in session.get_inputs() + session.get_outputs():  # as onnxruntime reports them
        assert all(isinstance(d, int) or d in AXES for d in sess_value.shape), (path, sess_value)
    assert (model.producer_name, model.producer_version) == ("edgeseq", edgeseq.__version__)
    assert (model.domain, model.model_version) == ("ai.edgeseq", FORMAT_VERSION)
    assert model.doc_string.startswith("edgeseq ") and graph.doc_string == model.doc_string.splitlines()[0]
    assert graph.name.startswith("edgeseq_")
    assert METADATA_KEY in session.get_modelmeta().custom_metadata_map
    assert {p.key for p in model.metadata_props} <= {METADATA_KEY, "author", "license"}
    stale = [d.dim_param for v in values_everywhere(graph) for d in v.type.tensor_type.shape.dim
             if d.dim_param.startswith("unk__")]
    assert not stale, (path, stale)
    top, everywhere = {n.op_type for n in graph.node}, ops_everywhere(graph)
    assert set(FUSED_OPS) & set(everywhere) and "Scan" not in everywhere, (path, everywhere)
    if graph.name == "edgeseq_char_generation":  # its Loops run the model's fused ops, one step per iteration
        assert "Loop" in top and not top & set(FUSED_OPS), (path, top)
    else:
        assert "Loop" not in everywhere, (path, everywhere)
    return model


def ops_everywhere(graph: onnx.GraphProto) -> dict[str, int]:
    """How often each op type occurs in a graph and its subgraphs."""
    counts: dict[str, int] = {}
    for node in graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                for op, n in ops_everywhere(attr.g).items():
                    counts[op] = counts.get(op, 0) + n
    return counts


def values_everywhere(graph: onnx.GraphProto):
    """Every typed value of a graph and of its subgraphs."""
    yield from (*graph.input, *graph.output, *graph.value_info)
    for node in graph.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                yield from values_everywhere(attr.g)
