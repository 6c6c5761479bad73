"""Converting a tf.function to ONNX with tf2onnx, every recurrent layer as a fused op.

TensorFlow is imported quietly first, through edgeseq.training.tf_setup. After conversion
come the fused ops, the ``lengths`` input and, last, the canonical form.
"""
from __future__ import annotations

import onnx

import edgeseq.training.tf_setup  # noqa: F401  (TensorFlow, quietly, before tf2onnx loads it)
import tf2onnx

from edgeseq.contract import CELL_OPS
from edgeseq.export.graph.canonical import canonicalize
from edgeseq.export.graph.fuse import add_lengths_input, fuse_recurrent_loops
from edgeseq.export.graph.onnx_graph import OPSET, op_counts, recurrent_summary
from edgeseq.export.verify import Checklist


def convert(function, signature) -> onnx.ModelProto:
    model, _ = tf2onnx.convert.from_function(function, input_signature=signature, opset=OPSET)
    return model


def convert_recurrent(function, signature, layers: list, cell: str, checklist: Checklist, label: str,
                      lengths: bool = False) -> tuple[onnx.ModelProto, str]:
    """tf2onnx, then every recurrent layer as a fused op (and ``lengths`` wired in), in its
    canonical form, checked.

    Returns the graph and a summary of its recurrent ops for the checklist and metadata.
    """
    model = convert(function, signature)
    fuse_recurrent_loops(model, layers)
    if lengths:
        add_lengths_input(model)
    canonicalize(model)
    summary = recurrent_summary(model)
    counts = op_counts(model)
    op = CELL_OPS[cell]
    checklist.require(f"{label} graph: {len(layers)} fused {op} and no Loop (got {summary})",
                      counts[op] == len(layers) and not counts["Loop"])
    return model, summary
