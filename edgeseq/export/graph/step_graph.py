"""Reading an exported step graph back: its input table, fused recurrent ops, head and state.

The generation graph is built from these parts, so it runs the step graph's kernels and
weights. An int8 step graph reads the same way; a graph of another shape is said plainly.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from edgeseq.errors import ExportCheckError
from edgeseq.contract import FUSED_OPS, STATES_PER_OP

#: ops that only move or reshape data: followed through when tracing the step graph
PASS_THROUGH = ("Squeeze", "Unsqueeze", "Identity", "Transpose", "Reshape", "Cast")


class GenerationUnsupported(ExportCheckError):
    """The step graph is not one the generation builder recognises (e.g. a Loop cell)."""


@dataclass
class Recurrent:
    op_type: str
    weights: list[str]  # W, R, B names (B may be ""): initializers, or DequantizeLinear outputs
    attributes: dict
    state_rows: list[int]  # rows of the packed state for initial_h (and initial_c)
    hidden: int
    domain: str = ""  # com.microsoft for DynamicQuantizeLSTM
    scales: list[str] = field(default_factory=list)  # DynamicQuantizeLSTM: inputs 8-11, the weights' scales


@dataclass
class StepParts:
    """What a step graph is made of, as far as generation needs it."""

    vocab: int
    table: np.ndarray  # [V, E]: the embedding, or the identity for a one-hot input
    layers: list[Recurrent]
    head_weight: np.ndarray | None  # [H, V] (int8 for an int8 head); None: the last layer's output is the logits
    head_bias: np.ndarray | None  # [V]
    state_count: int
    hidden: int
    initializers: list[TensorProto] = field(default_factory=list)
    head_scale: np.ndarray | None = None  # an int8 head: the weights' scale ([] or [V]) ...
    head_zero_point: np.ndarray | None = None  # ... and zero point
    weight_nodes: list[onnx.NodeProto] = field(default_factory=list)  # DequantizeLinear of stored-int8 weights

    @property
    def int8(self) -> bool:
        """Whether any kernel quantizes its input per call (so a result depends on what shares the call)."""
        return self.head_scale is not None or any(layer.domain for layer in self.layers)


class _Graph:
    def __init__(self, model: onnx.ModelProto):
        self.inits = {t.name: t for t in model.graph.initializer}
        self.producer = {}
        self.consumers: dict[str, list] = {}
        for node in model.graph.node:
            for i, out in enumerate(node.output):
                self.producer[out] = (node, i)
            for name in node.input:
                self.consumers.setdefault(name, []).append(node)

    def const(self, name: str) -> np.ndarray | None:
        if name in self.inits:
            return numpy_helper.to_array(self.inits[name])
        node = self.producer.get(name, (None,))[0]
        if node is not None and node.op_type == "Constant" and node.attribute[0].name == "value":
            return numpy_helper.to_array(node.attribute[0].t)
        return None

    def back(self, name: str) -> tuple:
        """Follow ``name`` back through reshaping ops to (the node that computes it, output index)."""
        while name in self.producer:
            node, index = self.producer[name]
            if node.op_type in PASS_THROUGH:
                name = node.input[0]
                continue
            return node, index
        return None, name

    def forward(self, name: str) -> list:
        """The first non-reshaping nodes that consume ``name``."""
        found, todo = [], [name]
        while todo:
            for node in self.consumers.get(todo.pop(), []):
                if node.op_type in PASS_THROUGH:
                    todo.append(node.output[0])
                else:
                    found.append(node)
        return found


def _state_row(g: _Graph, name: str) -> int:
    """The row of the packed state that a recurrent op's initial state is sliced from."""
    node, _ = g.back(name)
    if node is None or node.op_type not in ("Slice", "Gather") or g.back(node.input[0])[1] != "state":
        raise GenerationUnsupported(f"initial state {name!r} is not a slice of the 'state' input")
    if node.op_type == "Gather":
        return int(g.const(node.input[1]))
    starts = g.const(node.input[1])
    axes = g.const(node.input[3]) if len(node.input) > 3 and node.input[3] else None
    axes = list(range(len(starts))) if axes is None else [int(a) for a in axes]
    return int(starts[axes.index(1)])


def _read_input_table(g: _Graph, first_layer) -> np.ndarray:
    node, _ = g.back(first_layer.input[0])
    if node is not None and node.op_type == "Gather" and g.const(node.input[0]) is not None:
        return g.const(node.input[0]).astype(np.float32)
    if node is not None and node.op_type == "OneHot":
        depth = int(np.asarray(g.const(node.input[1])).reshape(-1)[0])
        values = g.const(node.input[2])
        if values is None or [float(v) for v in np.asarray(values).reshape(-1)] != [0.0, 1.0]:
            raise GenerationUnsupported("a one-hot input with values other than (0, 1)")
        return np.eye(depth, dtype=np.float32)
    raise GenerationUnsupported("the first recurrent layer's input is neither an embedding nor a one-hot")


def _logits_source(g: _Graph):
    """The node computing the logits, looking through the padding mask (a Where) if any."""
    node, index = g.back("logits")
    while node is not None and node.op_type == "Where":
        node, index = g.back(node.input[1])
    return node, index


@dataclass
class _Head:
    weight: np.ndarray | None = None  # None: no head
    bias: np.ndarray | None = None
    scale: np.ndarray | None = None  # int8 heads only
    zero_point: np.ndarray | None = None


def _read_head(g: _Graph, last) -> _Head:
    if _logits_source(g) == (last, 0):
        return _Head()
    after = [n for n in g.forward(last.output[0]) if n.op_type in ("MatMul", "Gemm", "DynamicQuantizeLinear")]
    if len(after) == 1 and after[0].op_type == "DynamicQuantizeLinear":
        return _read_int8_head(g, after[0])
    if len(after) != 1 or after[0].op_type != "MatMul" or g.const(after[0].input[1]) is None:
        raise GenerationUnsupported("the head is not one MatMul by a constant after the last layer")
    mm = after[0]
    return _Head(g.const(mm.input[1]).astype(np.float32), _read_bias(g, mm))


def _read_bias(g: _Graph, product) -> np.ndarray:
    """The constant the head's product is added to, where the Add gives the logits."""
    adds = [n for n in g.forward(product.output[0]) if n.op_type == "Add"]
    if len(adds) != 1 or _logits_source(g)[0] is not adds[0]:
        raise GenerationUnsupported("the head's bias Add does not give the logits")
    add = adds[0]
    bias = g.const(add.input[1] if g.back(add.input[0])[0] is product else add.input[0])
    if bias is None:
        raise GenerationUnsupported("the head's bias is not a constant")
    return bias.astype(np.float32).reshape(-1)


def _read_int8_head(g: _Graph, quantize) -> _Head:
    """x -> DynamicQuantizeLinear -> MatMulInteger(q, W, x zero point, W zero point) -> Cast ->
    Mul(., Mul(x scale, W scale)) -> Add(bias): quantize_dynamic's MatMul by a constant."""
    q, x_scale, x_zero = quantize.output
    (matmul, *more) = g.consumers.get(q, [None])
    (scales, *more_scales) = g.consumers.get(x_scale, [None])
    if (more or more_scales or matmul is None or matmul.op_type != "MatMulInteger" or scales is None
            or scales.op_type != "Mul" or list(matmul.input[::2]) != [q, x_zero]
            or g.const(matmul.input[1]) is None or g.const(matmul.input[3]) is None):
        raise GenerationUnsupported("the int8 head is not a MatMulInteger by a constant")
    w_scale = g.const(scales.input[1] if scales.input[0] == x_scale else scales.input[0])
    (cast, *more) = g.consumers.get(matmul.output[0], [None])
    (product, *more_products) = g.consumers.get(cast.output[0], [None]) if cast is not None else [None]
    if (more or more_products or w_scale is None or cast.op_type != "Cast" or product is None
            or product.op_type != "Mul" or scales.output[0] not in product.input):
        raise GenerationUnsupported("the int8 head's scales are not the pattern quantize_dynamic writes")
    return _Head(g.const(matmul.input[1]), _read_bias(g, product), w_scale.astype(np.float32),
                 g.const(matmul.input[3]))


def _weight_nodes(g: _Graph, names: list[str], where: str) -> list:
    """The DequantizeLinear nodes computing any of ``names`` from constants ([] when all are
    constants themselves); anything else is not a weight the builder can carry."""
    nodes = []
    for name in names:
        if not name or g.const(name) is not None:
            continue
        node = g.producer.get(name, (None,))[0]
        if node is None or node.op_type != "DequantizeLinear" or any(g.const(i) is None for i in node.input if i):
            raise GenerationUnsupported(f"{where}: weights are not constants")
        nodes.append(node)
    return nodes


def read_step_graph(model: onnx.ModelProto) -> StepParts:
    """Find the input table, the fused recurrent layers and the head of an exported step graph."""
    g = _Graph(model)
    nodes = [n for n in model.graph.node if n.op_type in FUSED_OPS]
    if not nodes:
        loops = sorted({n.op_type for n in model.graph.node} & {"Loop", "Scan"})
        raise GenerationUnsupported(
            f"no fused recurrent op in the step graph (it has {', '.join(loops) or 'no recurrent op'})")
    outputs = [o.name for o in model.graph.output]
    if outputs[:2] != ["logits", "new_state"]:
        raise GenerationUnsupported(f"the step graph's outputs are {outputs}, not logits, new_state")
    table = _read_input_table(g, nodes[0])
    layers, weight_nodes = [], []
    for i, node in enumerate(nodes):
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if attrs.get("direction", b"forward") not in (b"forward", "forward") or attrs.get("layout", 0):
            raise GenerationUnsupported(f"{node.op_type} {i}: only forward direction, layout 0")
        # sequence_lens (the step graph's optional padding lengths) is not needed: no padding here
        if len(node.input) > 7 and node.input[7]:
            raise GenerationUnsupported(f"{node.op_type} {i}: peepholes are not supported")
        weights = list(node.input[1:4]) + [""] * (4 - len(node.input[:4]))
        scales = list(node.input[8:]) if node.domain else []
        weight_nodes += _weight_nodes(g, weights + scales, f"{node.op_type} {i}")
        if i > 0 and g.back(node.input[0]) != (nodes[i - 1], 0):
            raise GenerationUnsupported(f"{node.op_type} {i}: its input is not the previous layer's output")
        count = STATES_PER_OP[node.op_type]
        if sum(1 for k in range(count) if len(node.input) > 5 + k and node.input[5 + k]) != count:
            raise GenerationUnsupported(f"{node.op_type} {i}: initial state not taken from 'state'")
        rows = [_state_row(g, node.input[5 + k]) for k in range(count)]
        layers.append(Recurrent(node.op_type, weights, attrs, rows, int(attrs["hidden_size"]), node.domain, scales))
    concat, _ = g.back("new_state")  # a Concat of the final states (one state: just that one)
    sources = concat.input if concat is not None and concat.op_type == "Concat" else ["new_state"]
    for row, name in enumerate(sources):
        node, index = g.back(name)
        if node not in nodes or index < 1 or layers[nodes.index(node)].state_rows[index - 1] != row:
            raise GenerationUnsupported(f"new_state row {row} is not the final state of the row it came from")
    head = _read_head(g, nodes[-1])
    vocab = layers[-1].hidden if head.weight is None else head.weight.shape[1]
    if table.shape[0] != vocab:
        raise GenerationUnsupported(f"the input table has {table.shape[0]} rows but the logits {vocab}")
    hidden = {layer.hidden for layer in layers}
    if len(hidden) != 1:
        raise GenerationUnsupported("layers of different sizes do not fit one packed state")
    state_count = sum(len(layer.state_rows) for layer in layers)
    if sorted(r for layer in layers for r in layer.state_rows) != list(range(state_count)):
        raise GenerationUnsupported("the state rows do not cover the packed state")
    computed = {out for node in weight_nodes for out in node.output}
    names = [w for layer in layers for w in [*layer.weights, *layer.scales] if w and w not in computed]
    names += [i for node in weight_nodes for i in node.input if i]
    return StepParts(vocab, table, layers, head.weight, head.bias, state_count, hidden.pop(),
                     [g.inits[name] for name in dict.fromkeys(names)], head.scale, head.zero_point, weight_nodes)
