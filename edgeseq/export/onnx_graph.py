"""Converting a tf.function to ONNX and inspecting what came out.

tf2onnx decides by itself whether a recurrent layer becomes a fused ONNX op (LSTM, GRU,
RNN) or a generic ``Loop`` that runs the cell step by step. Both are correct; the Loop is
several times slower and cannot be quantized, so every export reports its op types and
the char/series exporters refuse a Loop where a fused op is expected.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import onnx
import tf2onnx

import edgeseq
from edgeseq.contract import CELL_OPS, METADATA_KEY, RECURRENT_OPS, CharMeta, SeriesMeta

OPSET = 17


@dataclass
class ExportResult:
    """What an export wrote, the checklist it passed, and each graph's recurrent ops."""

    paths: list[Path]
    checklist: object  # edgeseq.export.verify.Checklist
    ops: dict[str, str]


def convert(function, signature) -> onnx.ModelProto:
    model, _ = tf2onnx.convert.from_function(function, input_signature=signature, opset=OPSET)
    return model


def op_counts(model: onnx.ModelProto) -> Counter:
    return Counter(node.op_type for node in model.graph.node)


def recurrent_summary(model: onnx.ModelProto) -> str:
    """'2 fused LSTM' or '2 Loop (not fused)': what the runner will execute."""
    ops = op_counts(model)
    parts = [f"{ops[op]} fused {op}" for op in RECURRENT_OPS if ops[op]]
    if ops["Loop"]:
        parts.append(f"{ops['Loop']} Loop (not fused)")
    return ", ".join(parts) or "no recurrent op"


def attach_metadata(model: onnx.ModelProto, description: CharMeta | SeriesMeta) -> onnx.ModelProto:
    """Store the model's own description (JSON) in metadata_props, where any reader finds it."""
    doc = description.to_json()
    del model.metadata_props[:]
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(doc, ensure_ascii=False)
    model.producer_name = "edgeseq"
    model.producer_version = edgeseq.__version__
    onnx.checker.check_model(model)
    return model


def convert_recurrent(function, signature, layers: list, cell: str, checklist, label: str,
                      lengths: bool = False) -> tuple[onnx.ModelProto, str]:
    """tf2onnx, then every recurrent layer as a fused op (and ``lengths`` wired in), checked.

    Returns the graph and a summary of its recurrent ops for the checklist and metadata.
    """
    from edgeseq.export.fuse import add_lengths_input, fuse_recurrent_loops

    model = convert(function, signature)
    fuse_recurrent_loops(model, layers)
    if lengths:
        add_lengths_input(model)
    summary = recurrent_summary(model)
    counts = op_counts(model)
    op = CELL_OPS[cell]
    checklist.require(f"{label} graph: {len(layers)} fused {op} and no Loop (got {summary})",
                      counts[op] == len(layers) and not counts["Loop"])
    return model, summary


def write_models(models: list[tuple], force: bool, log) -> list:
    """Write (path, model, description) triples atomically, describing each as it lands."""
    from edgeseq.atomic import write_bytes

    paths = []
    for path, model, description in models:
        attach_metadata(model, description)
        paths.append(write_bytes(path, model.SerializeToString(), force))
        what = "generation graph" if description.graph == "generation" else description.recurrent_ops
        print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB, {what})", file=log)
    return paths
