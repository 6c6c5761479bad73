"""The int8 step graph: onnxruntime's dynamic quantization, and int8 storage where it has no kernel.

LSTM layers become DynamicQuantizeLSTM and the head a MatMulInteger; GRU and RNN weights are
stored int8 behind a DequantizeLinear. The choices are in docs/design.md, "int8". Pure ONNX.
"""
from __future__ import annotations

import logging
import tempfile
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

from edgeseq.contract import FUSED_OPS, INT8_OPS

#: a MatMul by a constant of fewer weights than this stays fp32
MIN_MATMUL_WEIGHTS = 1024
#: cells whose fused op onnxruntime cannot run in int8: weights stored int8 only
WEIGHT_ONLY_OPS = ("GRU", "RNN")
#: how the int8 numbers are made, for the file's description: int8 kernels, int8 storage
DYNAMIC = ("onnxruntime dynamic quantization (quantize_dynamic: int8 symmetric weights, per channel, all 8 bits; "
           "activations quantized to uint8 on every call from that call's own range)")
WEIGHT_ONLY = "weight-only int8 (symmetric, per gate row; DequantizeLinear folded into fp32 constants at load)"


def quantize_step(model: onnx.ModelProto) -> tuple[onnx.ModelProto, str, str]:
    """The int8 twin of the fp32 step graph ``model`` (unchanged); how it was quantized and what
    was, in words (the scheme, and op by op)."""
    named = _with_node_names(model)
    small = [n.name for n in named.graph.node if n.op_type == "MatMul" and not _large_constant(named, n.input[1])]
    with tempfile.TemporaryDirectory() as tmp, _quiet_quantizer():
        from onnxruntime.quantization import QuantType, quantize_dynamic

        out = Path(tmp) / "int8.onnx"
        quantize_dynamic(named, out, op_types_to_quantize=["LSTM", "MatMul"], per_channel=True,
                         reduce_range=False, weight_type=QuantType.QInt8, nodes_to_exclude=small)
        quantized = onnx.load(str(out))
    stored = store_weights_int8(quantized, WEIGHT_ONLY_OPS)
    del quantized.graph.value_info[:]  # the quantizer's shape hints: onnxruntime infers them itself
    used = {node.domain for node in quantized.graph.node}
    kept = [o for o in quantized.opset_import if o.domain in ("", "ai.onnx") or o.domain in used]
    del quantized.opset_import[:]  # the quantizer declares ai.onnx.ml, which no node uses
    quantized.opset_import.extend(kept)
    counts = _op_counts(quantized)
    dynamic = any(counts[op] for op in (*INT8_OPS.values(), "MatMulInteger"))
    scheme = "; ".join([DYNAMIC] * dynamic + [f"{'/'.join(sorted(set(stored)))} {WEIGHT_ONLY}"] * bool(stored))
    return quantized, scheme or "nothing to quantize", describe(model, quantized, stored)


def store_weights_int8(model: onnx.ModelProto, op_types: tuple[str, ...]) -> list[str]:
    """W and R of every ``op_types`` node stored int8 behind a DequantizeLinear (in place).

    Symmetric, one scale per gate row (axis 1 of [directions, gates x hidden, inputs]), zero
    point 0, the range -127..127. Returns the op types changed, one entry per node."""
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    dequantize, changed = [], []
    for node in graph.node:
        if node.op_type not in op_types:
            continue
        for name in node.input[1:3]:
            weights = numpy_helper.to_array(inits[name]).astype(np.float32)
            scale = (np.maximum(np.abs(weights).max(axis=(0, 2)), 1e-30) / 127.0).astype(np.float32)
            q = np.clip(np.round(weights / scale[None, :, None]), -127, 127).astype(np.int8)
            graph.initializer.remove(inits[name])
            graph.initializer.extend([numpy_helper.from_array(q, f"{name}_int8"),
                                      numpy_helper.from_array(scale, f"{name}_scale"),
                                      numpy_helper.from_array(np.zeros_like(scale, np.int8), f"{name}_zero_point")])
            dequantize.append(helper.make_node("DequantizeLinear", [f"{name}_int8", f"{name}_scale",
                                                                    f"{name}_zero_point"], [name], axis=1,
                                               name=f"{name}_dequantize"))
        changed.append(node.op_type)
    nodes = dequantize + list(graph.node)  # constants first: the graph stays in topological order
    del graph.node[:]
    graph.node.extend(nodes)
    return changed


def describe(fp32: onnx.ModelProto, int8: onnx.ModelProto, stored: list[str]) -> str:
    """'2 LSTM -> DynamicQuantizeLSTM; head MatMul 64x25 -> MatMulInteger; ...': what changed."""
    before, after = _op_counts(fp32), _op_counts(int8)
    parts = []
    for op, kernel in INT8_OPS.items():
        if after[kernel]:
            parts.append(f"{after[kernel]} {op} -> {kernel} (int8 weights per gate row, input and state quantized "
                         "per call)")
    for op, count in sorted(Counter(stored).items()):
        parts.append(f"{count} {op}: weights stored int8 per gate row, dequantized to fp32 at load (onnxruntime "
                     f"has no int8 {op}; the {op} runs in fp32)")
    inits = {t.name: t for t in fp32.graph.initializer}
    int8_inits = {t.name for t in int8.graph.initializer}
    for node in fp32.graph.node:
        if node.op_type == "MatMul" and node.input[1] in inits:
            shape = "x".join(map(str, inits[node.input[1]].dims))
            if f"{node.input[1]}_quantized" in int8_inits:  # the quantizer's name for the int8 weights
                parts.append(f"MatMul {shape} -> MatMulInteger (int8 weights per column, input quantized per call)")
            else:
                parts.append(f"MatMul {shape} kept fp32 (under {MIN_MATMUL_WEIGHTS} weights)")
    kept = (["embedding table"] if _has_embedding(fp32) else ["one-hot input"] if before["OneHot"] else [])
    kept += ["biases", "state"]
    fused = sum(after[op] for op in FUSED_OPS)
    loops = "no Loop" if not after["Loop"] else f"{after['Loop']} Loop"
    return f"{'; '.join(parts)}; kept fp32: {', '.join(kept)}; {fused} fused recurrent op(s), {loops}"


def _op_counts(model: onnx.ModelProto) -> Counter:
    return Counter(node.op_type for node in model.graph.node)


def _has_embedding(model: onnx.ModelProto) -> bool:
    inits = {t.name for t in model.graph.initializer}
    return any(n.op_type == "Gather" and n.input[0] in inits for n in model.graph.node)


def _large_constant(model: onnx.ModelProto, name: str) -> bool:
    for tensor in model.graph.initializer:
        if tensor.name == name:
            return int(np.prod(tensor.dims)) >= MIN_MATMUL_WEIGHTS
    return False


def _with_node_names(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of ``model`` whose every node has a name (the quantizer excludes nodes by name)."""
    named = onnx.ModelProto()
    named.CopyFrom(model)
    taken = {node.name for node in named.graph.node}
    for i, node in enumerate(named.graph.node):
        if not node.name:
            node.name = next(n for n in (f"{node.op_type}_{i}_{k}" for k in range(len(taken) + 1)) if n not in taken)
            taken.add(node.name)
    return named


@contextmanager
def _quiet_quantizer():
    """The quantizer logs advice through the root logger ("consider pre-processing ..."): not ours."""
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)
