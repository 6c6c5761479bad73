"""What came out of a conversion, and writing it: op types, the metadata, the files.

Every export reports its op types and refuses a Loop where a fused op is expected. Pure
ONNX, like every graph module.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import replace

import onnx

from edgeseq.contract import FUSED_OPS, METADATA_KEY, CharMeta, SeriesMeta, metadata_text
from edgeseq.contract.digest import PLACEHOLDER, seal
from edgeseq.export.graph.interop import Provenance, describe_for_other_tools, set_property

#: The ONNX opset of every graph edgeseq writes (converted step graphs and generation graphs).
OPSET = 17


def op_counts(model: onnx.ModelProto) -> Counter:
    return Counter(node.op_type for node in model.graph.node)


def recurrent_summary(model: onnx.ModelProto) -> str:
    """'2 fused LSTM', '2 fused DynamicQuantizeLSTM' (int8) or '2 Loop (not fused)': what the
    runner will execute."""
    ops = op_counts(model)
    parts = [f"{ops[op]} fused {op}" for op in FUSED_OPS if ops[op]]
    if ops["Loop"]:
        parts.append(f"{ops['Loop']} Loop (not fused)")
    return ", ".join(parts) or "no recurrent op"


def attach_metadata(model: onnx.ModelProto, description: CharMeta | SeriesMeta) -> onnx.ModelProto:
    """Store the model's own description (JSON) in metadata_props, where any reader finds it,
    and the proto fields other tools show (edgeseq.export.graph.interop): dimension names,
    producer, version, domain, doc strings. Of other metadata keys, the author and license
    stay and the rest go (such as the keys a converter or quantizer leaves)."""
    provenance = Provenance.of(model)
    del model.metadata_props[:]
    set_property(model, METADATA_KEY, metadata_text(description))  # checked as a reader checks it
    provenance.apply(model)
    describe_for_other_tools(model, description)
    onnx.checker.check_model(model)
    return model


def model_bytes(model: onnx.ModelProto, description: CharMeta | SeriesMeta) -> bytes:
    """The bytes of the file: ``model`` with its description, sealed with the file's own digest
    (edgeseq.contract.digest). The exporter writes them (edgeseq.atomic.sets)."""
    attach_metadata(model, replace(description, file_sha256=PLACEHOLDER))
    return seal(model.SerializeToString())
