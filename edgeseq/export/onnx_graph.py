"""What came out of a conversion, and writing it: op types, the metadata, the files.

tf2onnx decides by itself whether a recurrent layer becomes a fused ONNX op (LSTM, GRU,
RNN) or a generic ``Loop`` that runs the cell step by step. Both are correct; the Loop is
several times slower and cannot be quantized, so every export reports its op types and
refuses a Loop where a fused op is expected (edgeseq.export.convert).

Pure ONNX: this module and every graph module it serves import no TensorFlow, so the
graph code (fuse, step_graph, generation, verify) can be used and tested without it.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import onnx

from edgeseq.atomic import write_bytes
from edgeseq.contract import METADATA_KEY, RECURRENT_OPS, CharMeta, SeriesMeta
from edgeseq.export.interop import Provenance, describe_for_other_tools, set_property
from edgeseq.log import logger

#: The ONNX opset of every graph edgeseq writes (converted step graphs and generation graphs).
OPSET = 17


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
    """Store the model's own description (JSON) in metadata_props, where any reader finds it,
    and the proto fields other tools show (edgeseq.export.interop): dimension names,
    producer, version, domain, doc strings. Of other metadata keys, the author and license
    stay and the rest go (such as the keys a converter or quantizer leaves)."""
    doc = description.to_json()
    provenance = Provenance.of(model)
    del model.metadata_props[:]
    set_property(model, METADATA_KEY, json.dumps(doc, ensure_ascii=False))
    provenance.apply(model)
    describe_for_other_tools(model, description)
    onnx.checker.check_model(model)
    return model


def write_models(models: list[tuple[Path, onnx.ModelProto, CharMeta | SeriesMeta]], force: bool) -> list[Path]:
    """Write (path, model, description) triples atomically, logging each as it lands."""
    paths = []
    for path, model, description in models:
        attach_metadata(model, description)
        paths.append(write_bytes(path, model.SerializeToString(), force))
        what = "generation graph" if description.graph == "generation" else description.recurrent_ops
        logger.info(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB, {what})")
    return paths
