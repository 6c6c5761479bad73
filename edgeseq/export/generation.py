"""The generation graph: many characters per onnxruntime call, sampling inside the graph.

The step graph (``ids, state -> logits, new_state``) costs one onnxruntime call per
character, and from Python a call costs more than the recurrent kernels do. The generation
graph moves the character loop into ONNX: a ``Loop`` whose body is one step of the model
followed by the choice of the next character, so one call yields a chunk of characters.
It is built from the exported step graph itself (its fused recurrent ops with their
weights, the input table and the head), not from TensorFlow, so it runs the kernels the
step graph runs; the exporter checks it against the per-step path before writing it.

Inputs and outputs (batch may be > 1: one row per prompt)::

    ids          int32   [batch, time]     characters to consume first: the prompt (window
                                           context: its last W characters), or, to continue,
                                           the last character of the previous chunk
    state        float32 [batch, slots, S, H]
                                           stateful: slots = 1, the step graph's state;
                                           window: slots = W, one state per window slot
                                           (zeros to start)
    window       int64   []                0: stateful; W > 0: each character from the last
                                           W characters from a zero state (slots must be W)
    position     int64   []                window context: characters consumed since the
                                           slots were zero (0 to start); ignored when stateful
    uniforms     float32 [steps, batch]    one uniform in [0, 1) per character to generate;
                                           their count is the chunk length (values are
                                           ignored when greedy)
    temperature  float32 []                0: greedy (ArgMax); > 0: sample at this temperature
    top_k        int64   []                sample among the k largest logits (0 or >= V: all)
    ->
    tokens       int32   [batch, steps]    the generated character ids
    new_state    float32 [batch, slots, S, H]
                                           the state after ``ids`` and every token but the
                                           last: to continue, feed the last token as ``ids``
                                           (window: with position + time + steps - 1)

Choosing a character is the runtime's ``sampling.pick`` in ONNX ops: z = logits / T, keep
the k largest (``z >= `` the k-th largest), weights exp(z - max(z)) (0 where dropped),
CumSum, and the index is how many cumulative weights are ``<= u * total`` (numpy's
``searchsorted(side="right")``), capped at V - 1. The uniforms come from the caller's
seeded numpy generator, one per character in order, so a seed gives the same text here and
on the per-step path.

Stateful: the Loop body is one step at time 1 for the whole batch, unrolled ``unroll``
times per Loop iteration (a second, single-step Loop does the remainder) to save the
per-iteration cost of the Loop.

Window ("each character from the last W characters, from a zero state"): instead of
re-reading the window for every character, the graph keeps W staggered states. Slot j is
zeroed after character k whenever k = j (mod W), so after character k, slot k mod W has
read exactly the last min(k + 1, W) characters: its output is the prediction, then it is
zeroed and starts over. Each character is one batched step over batch x W rows instead of
W dependent steps (the same arithmetic, better matrix shapes, measured in bench/).

Rows share ``ids``' time axis and ``position``. The runtime brings prompts of different
lengths to that shape first (CharGenerator.generate_batch): stateful, one step-graph call
with ``lengths`` consumes every prompt and the graph continues from the states it left;
window, rows shorter than W step through the step graph with ``lengths`` until every row
holds a full window, and the graph takes over from there.

The graph has no ``If``: each mode (stateful or window, greedy or sampled) is its own chain
of top-level Loops, and the modes not asked for run zero iterations (see ``build``).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from edgeseq.errors import ExportCheckError
from edgeseq.export.onnx_graph import RECURRENT_OPS

STATES_PER_OP = {"LSTM": 2, "GRU": 1, "RNN": 1}
#: ops that only move or reshape data: followed through when tracing the step graph
PASS_THROUGH = ("Squeeze", "Unsqueeze", "Identity", "Transpose", "Reshape", "Cast")
GEN_OPSET = 17
DEFAULT_UNROLL = 4

F, I32, I64, BOOL = TensorProto.FLOAT, TensorProto.INT32, TensorProto.INT64, TensorProto.BOOL


class GenerationUnsupported(ExportCheckError):
    """The step graph is not one the generation builder recognises (e.g. a Loop cell)."""


@dataclass
class Recurrent:
    op_type: str
    weights: list[str]  # W, R, B initializer names (B may be "")
    attributes: dict
    state_rows: list[int]  # rows of the packed state for initial_h (and initial_c)
    hidden: int


@dataclass
class StepParts:
    """What a step graph is made of, as far as generation needs it."""

    vocab: int
    table: np.ndarray  # [V, E]: the embedding, or the identity for a one-hot input
    layers: list[Recurrent]
    head_weight: np.ndarray | None  # [H, V]; None: the last layer's output is the logits
    head_bias: np.ndarray | None  # [V]
    state_count: int
    hidden: int
    initializers: list[TensorProto] = field(default_factory=list)


# ------------------------------------------------------------------ reading the step graph

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


def _read_head(g: _Graph, last) -> tuple[np.ndarray | None, np.ndarray | None]:
    if _logits_source(g) == (last, 0):
        return None, None
    matmuls = [n for n in g.forward(last.output[0]) if n.op_type in ("MatMul", "Gemm")]
    if len(matmuls) != 1 or matmuls[0].op_type != "MatMul" or g.const(matmuls[0].input[1]) is None:
        raise GenerationUnsupported("the head is not one MatMul by a constant after the last layer")
    mm = matmuls[0]
    adds = [n for n in g.forward(mm.output[0]) if n.op_type == "Add"]
    if len(adds) != 1 or _logits_source(g)[0] is not adds[0]:
        raise GenerationUnsupported("the head's bias Add does not give the logits")
    add = adds[0]
    bias = g.const(add.input[1] if g.back(add.input[0])[0] is mm else add.input[0])
    if bias is None:
        raise GenerationUnsupported("the head's bias is not a constant")
    return g.const(mm.input[1]).astype(np.float32), bias.astype(np.float32).reshape(-1)


def read_step_graph(model: onnx.ModelProto) -> StepParts:
    """Find the input table, the fused recurrent layers and the head of an exported step graph."""
    g = _Graph(model)
    nodes = [n for n in model.graph.node if n.op_type in RECURRENT_OPS]
    if not nodes:
        loops = sorted({n.op_type for n in model.graph.node} & {"Loop", "Scan"})
        raise GenerationUnsupported(
            f"no fused recurrent op in the step graph (it has {', '.join(loops) or 'no recurrent op'})")
    outputs = [o.name for o in model.graph.output]
    if outputs[:2] != ["logits", "new_state"]:
        raise GenerationUnsupported(f"the step graph's outputs are {outputs}, not logits, new_state")
    table = _read_input_table(g, nodes[0])
    layers = []
    for i, node in enumerate(nodes):
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if attrs.get("direction", b"forward") not in (b"forward", "forward") or attrs.get("layout", 0):
            raise GenerationUnsupported(f"{node.op_type} {i}: only forward direction, layout 0")
        # sequence_lens (the step graph's optional padding lengths) is not needed: no padding here
        if len(node.input) > 7 and node.input[7]:
            raise GenerationUnsupported(f"{node.op_type} {i}: peepholes are not supported")
        weights = list(node.input[1:4]) + [""] * (4 - len(node.input[:4]))
        if any(w and g.const(w) is None for w in weights):
            raise GenerationUnsupported(f"{node.op_type} {i}: weights are not constants")
        if i > 0 and g.back(node.input[0]) != (nodes[i - 1], 0):
            raise GenerationUnsupported(f"{node.op_type} {i}: its input is not the previous layer's output")
        count = STATES_PER_OP[node.op_type]
        if sum(1 for k in range(count) if len(node.input) > 5 + k and node.input[5 + k]) != count:
            raise GenerationUnsupported(f"{node.op_type} {i}: initial state not taken from 'state'")
        rows = [_state_row(g, node.input[5 + k]) for k in range(count)]
        layers.append(Recurrent(node.op_type, weights, attrs, rows, int(attrs["hidden_size"])))
    concat, _ = g.back("new_state")  # a Concat of the final states (one state: just that one)
    sources = concat.input if concat is not None and concat.op_type == "Concat" else ["new_state"]
    for row, name in enumerate(sources):
        node, index = g.back(name)
        if node not in nodes or index < 1 or layers[nodes.index(node)].state_rows[index - 1] != row:
            raise GenerationUnsupported(f"new_state row {row} is not the final state of the row it came from")
    head_weight, head_bias = _read_head(g, nodes[-1])
    vocab = layers[-1].hidden if head_weight is None else head_weight.shape[1]
    if table.shape[0] != vocab:
        raise GenerationUnsupported(f"the input table has {table.shape[0]} rows but the logits {vocab}")
    hidden = {layer.hidden for layer in layers}
    if len(hidden) != 1:
        raise GenerationUnsupported("layers of different sizes do not fit one packed state")
    state_count = sum(len(layer.state_rows) for layer in layers)
    if sorted(r for layer in layers for r in layer.state_rows) != list(range(state_count)):
        raise GenerationUnsupported("the state rows do not cover the packed state")
    inits = [g.inits[w] for layer in layers for w in layer.weights if w]
    return StepParts(vocab, table, layers, head_weight, head_bias, state_count, hidden.pop(), inits)


# ------------------------------------------------------------------ building the graph

class _Builder:
    """Nodes of one (sub)graph; every name is unique across the whole model."""

    def __init__(self, counter):
        self.nodes: list[onnx.NodeProto] = []
        self.counter = counter

    def fresh(self, hint: str) -> str:
        return f"{hint}_{next(self.counter)}"

    def add(self, op: str, inputs: list[str], outputs: int | list[str] = 1, **attrs):
        names = [self.fresh(op.lower()) for _ in range(outputs)] if isinstance(outputs, int) else outputs
        self.nodes.append(helper.make_node(op, inputs, names, **attrs))
        return names[0] if len(names) == 1 else names

    def sub(self) -> "_Builder":
        return _Builder(self.counter)


def _value(name: str, elem: int, shape=None) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem, shape)


class _Generation:
    """Builds the generation graph for one step graph's parts."""

    def __init__(self, parts: StepParts, unroll: int):
        self.p = parts
        self.unroll = unroll
        self.counter = itertools.count()
        self.consts: dict[str, np.ndarray] = {}

    def const(self, value, dtype) -> str:
        """A shared constant initializer (one per distinct value)."""
        value = np.asarray(value, dtype)
        key = f"c_{value.dtype}_{'x'.join(map(str, value.shape))}_{'_'.join(map(str, value.reshape(-1).tolist()))}"
        key = key.replace("-", "m").replace(".", "p")
        self.consts.setdefault(key, value)
        return key

    # -------------------------------------------------------------- pieces

    def layers(self, b: _Builder, x: str, states: list[str], sequence_out: bool) -> tuple[str, list[str]]:
        """The recurrent layers over x [time, rows, E] from states (each [1, rows, H]).

        Returns (the last layer's final h [1, rows, H], the new states). Only the layers
        below the last write their whole output sequence (the next layer's input)."""
        new = list(states)
        for i, layer in enumerate(self.p.layers):
            last = i == len(self.p.layers) - 1
            count = len(layer.state_rows)
            y = "" if last or not sequence_out else b.fresh("y")
            finals = [b.fresh("final") for _ in range(count)]
            b.add(layer.op_type, [x, *layer.weights, "", *(states[r] for r in layer.state_rows)],
                  outputs=[y, *finals], **layer.attributes)
            for r, name in zip(layer.state_rows, finals):
                new[r] = name
            # time 1: the final h is the output sequence, already [1, rows, H]
            x = b.add("Squeeze", [y, self.const([1], np.int64)]) if y else finals[0]
        return x, new

    def head(self, b: _Builder, h: str) -> str:
        if self.p.head_weight is None:
            return h
        return b.add("Add", [b.add("MatMul", [h, "head_weight"]), "head_bias"])

    def choose(self, b: _Builder, logits: str, u: str | None) -> str:
        """Ids int64 [...] from logits [..., V]: ArgMax when u is None, else the inverse-CDF draw
        with u [...]; the same arithmetic as runtime.sampling.pick."""
        if u is None:
            return b.add("ArgMax", [logits], axis=-1, keepdims=0)
        last = self.const([-1], np.int64)
        z = b.add("Div", [logits, "safe_temperature"])
        top = b.add("TopK", [z, "top_k_1d"], outputs=2, axis=-1, largest=1, sorted=1)[0]
        kth = b.add("Gather", [top, self.const(-1, np.int64)], axis=-1)
        keep = b.add("GreaterOrEqual", [z, b.add("Unsqueeze", [kth, last])])
        exp = b.add("Exp", [b.add("Sub", [z, b.add("ReduceMax", [z], axes=[-1], keepdims=1)])])
        weights = b.add("Where", [keep, exp, self.const(0.0, np.float32)])
        cumulative = b.add("CumSum", [weights, self.const(-1, np.int64)])
        total = b.add("Gather", [cumulative, self.const(-1, np.int64)], axis=-1)
        target = b.add("Unsqueeze", [b.add("Mul", [u, total]), last])
        below = b.add("Cast", [b.add("LessOrEqual", [cumulative, target])], to=I64)
        index = b.add("ReduceSum", [below, last], keepdims=0)
        return b.add("Min", [index, self.const(self.p.vocab - 1, np.int64)])

    def loop(self, b: _Builder, count: str, carried: list[tuple[str, int]], body_fn, scans: int) -> list[str]:
        """A Loop of ``count`` iterations. body_fn(builder, iteration, carried names) returns
        (new carried names, scan output names)."""
        body = b.sub()
        iteration, cond = body.fresh("iter"), body.fresh("cond")
        names_in = [body.fresh("in") for _ in carried]
        new, scan_names = body_fn(body, iteration, names_in)
        outs, seen = [], set(names_in)
        for name in [*new, *scan_names]:  # a body output must be a distinct, computed name
            outs.append(body.add("Identity", [name]) if name in seen else name)
            seen.add(name)
        cond_out = body.add("Identity", [cond])
        graph = helper.make_graph(
            body.nodes, body.fresh("body"),
            [_value(iteration, I64, []), _value(cond, BOOL, []),
             *(_value(n, t) for n, (_, t) in zip(names_in, carried))],
            [_value(cond_out, BOOL, []),
             *(_value(n, t) for n, (_, t) in zip(outs[:len(carried)], carried)),
             *(_value(n, I64) for n in outs[len(carried):])],
        )
        results = b.add("Loop", [count, "", *(n for n, _ in carried)], outputs=len(carried) + scans, body=graph)
        return results if isinstance(results, list) else [results]

    # -------------------------------------------------------------- the whole graph
    #
    # onnxruntime pre-packs the recurrent weights of kernels in a subgraph directly under
    # the main graph, but not in deeper ones (a Loop inside an If branch ran 30% slower),
    # so the graph has no If: every mode (stateful / window, greedy / sample) is a chain
    # of Loops at the top level, and the modes not asked for run zero iterations (a Loop
    # of zero iterations passes its carried values through). The tokens of all Loops are
    # concatenated: only the active ones have any.

    def build(self) -> onnx.GraphProto:
        b = _Builder(self.counter)
        p = self.p
        s, hsize, e = p.state_count, p.hidden, p.table.shape[1]
        i64 = lambda v: self.const(v, np.int64)  # noqa: E731
        zero_i, one_i, axis0, axis1 = i64(0), i64(1), i64([0]), i64([1])
        # -- modes and sizes
        steps = b.add("Squeeze", [b.add("Shape", ["uniforms"], start=0, end=1), axis0])
        batch = b.add("Shape", ["ids"], start=0, end=1)  # [1]
        time = b.add("Squeeze", [b.add("Shape", ["ids"], start=1, end=2), axis0])
        greedy = b.add("Equal", ["temperature", self.const(0.0, np.float32)])
        windowed = b.add("Greater", ["window", zero_i])
        stateful = b.add("Not", [windowed])
        to_i = lambda flag: b.add("Cast", [flag], to=I64)  # noqa: E731
        greedy_i, sample_i = to_i(greedy), to_i(b.add("Not", [greedy]))
        stateful_i, windowed_i = to_i(stateful), to_i(windowed)
        gated = lambda count, *flags: b.add("Mul", [count, *flags] if len(flags) == 1 else  # noqa: E731
                                            [b.add("Mul", [count, flags[0]]), flags[1]])
        # sampling settings: temperature 1 when greedy (the sampled choice is then unused)
        b.add("Where", [greedy, self.const(1.0, np.float32), "temperature"], outputs=["safe_temperature"])
        k = b.add("Where", [b.add("Greater", ["top_k", zero_i]), b.add("Min", ["top_k", i64(p.vocab)]), i64(p.vocab)])
        b.add("Reshape", [k, i64([1])], outputs=["top_k_1d"])
        rest = b.add("Sub", [steps, one_i])  # characters after the first
        unroll = i64(self.unroll)
        iterations, remainder = b.add("Div", [rest, unroll]), b.add("Mod", [rest, unroll])
        split = b.add("Unsqueeze", [b.add("Add", [one_i, b.add("Mul", [iterations, unroll])]), axis0])
        big = i64([np.iinfo(np.int64).max])
        u_main = b.add("Reshape", [b.add("Slice", ["uniforms", i64([1]), split, axis0]),
                                   b.add("Concat", [i64([-1, self.unroll]), batch], axis=0)])  # [iterations, U, B]
        u_tail = b.add("Slice", ["uniforms", split, big, axis0])  # [remainder, B]
        u_rest = b.add("Slice", ["uniforms", i64([1]), big, axis0])  # [steps - 1, B]

        # -- stateful: a one-iteration Loop consumes ids, then Loops of U steps and of 1 step
        rows = b.add("Transpose", [b.add("Gather", ["state", zero_i], axis=1)], perm=[1, 0, 2])  # [S, B, H]
        states = [b.add("Slice", [rows, i64([r]), i64([r + 1]), axis0]) for r in range(s)]
        x_ids = b.add("Gather", ["input_table", b.add("Transpose", ["ids"], perm=[1, 0])])  # [T, B, E]
        h_start = b.add("Expand", [self.const(0.0, np.float32), b.add("Concat", [axis1, batch, i64([hsize])], axis=0)])

        def prefill(bb: _Builder, iteration: str, names: list[str]):
            h, st = self.layers(bb, x_ids, names[1:], sequence_out=True)
            return [h, *st], []

        pre = self.loop(b, stateful_i, [(h_start, F)] + [(st, F) for st in states], prefill, 0)
        logits_s = b.add("Squeeze", [self.head(b, pre[0]), axis0])  # [B, V]

        # -- window: W staggered slots; a Loop consumes ids one character at a time
        rows_w = b.add("Transpose", [b.add("Reshape", ["state", i64([-1, s, hsize])])], perm=[1, 0, 2])  # [S, BW, H]
        states_w = [b.add("Slice", [rows_w, i64([r]), i64([r + 1]), axis0]) for r in range(s)]
        window_1d = b.add("Unsqueeze", ["window", axis0])
        slot_of_row = b.add("Reshape", [b.add("Tile", [b.add("Range", [zero_i, "window", one_i]), batch]),
                                        i64([1, -1, 1])])  # [1, BW, 1]
        expand_shape = b.add("Concat", [batch, window_1d, i64([e])], axis=0)  # [B, W, E]
        slots_shape = b.add("Concat", [batch, window_1d, i64([hsize])], axis=0)  # [B, W, H]
        ids_t = b.add("Cast", [b.add("Transpose", ["ids"], perm=[1, 0])], to=I64)  # [T, B]

        def slot_step(bb: _Builder, token: str, st: list[str], k: str):
            """Every slot reads token [B]: (the h of slot k mod W [B, H], the states, that slot zeroed)."""
            x = bb.add("Gather", ["input_table", token])  # [B, E]
            x = bb.add("Expand", [bb.add("Unsqueeze", [x, axis1]), expand_shape])
            x = bb.add("Reshape", [x, i64([1, -1, e])])  # [1, BW, E]
            h, st = self.layers(bb, x, st, sequence_out=False)
            slot = bb.add("Mod", [bb.add("Add", ["position", k]), "window"])
            read = bb.add("Gather", [bb.add("Reshape", [h, slots_shape]), slot], axis=1)  # [B, H]
            keep = bb.add("Cast", [bb.add("Not", [bb.add("Equal", [slot_of_row, slot])])], to=F)  # [1, BW, 1]
            return read, [bb.add("Mul", [state, keep]) for state in st]

        def window_prefill(bb: _Builder, iteration: str, names: list[str]):
            read, st = slot_step(bb, bb.add("Gather", [ids_t, iteration]), names[1:], iteration)
            return [read, *st], []

        h_start_w = b.add("Squeeze", [h_start, axis0])  # [B, H]
        pre_w = self.loop(b, gated(time, windowed_i), [(h_start_w, F)] + [(st, F) for st in states_w],
                          window_prefill, 0)
        logits_w = self.head(b, pre_w[0])  # [B, V]

        # -- the first character, from whichever prefill ran
        logits = b.add("Where", [windowed, logits_w, logits_s])  # [B, V]
        first = b.add("Where", [greedy, self.choose(b, logits, None),
                                self.choose(b, logits, b.add("Gather", ["uniforms", zero_i]))])  # [B]
        first_s = b.add("Unsqueeze", [first, axis0])  # [1, B]

        def stateful_body(unrolled: int, greedy_body: bool, uniforms: str):
            def fn(bb: _Builder, iteration: str, names: list[str]):
                token, st = names[0], names[1:]
                block = None if greedy_body else bb.add("Gather", [uniforms, iteration])  # [U, B] or [B]
                tokens = []
                for j in range(unrolled):
                    h, st = self.layers(bb, bb.add("Gather", ["input_table", token]), st, sequence_out=False)
                    u = None if greedy_body else (bb.add("Gather", [block, i64(j)]) if unrolled > 1 else block)
                    token = self.choose(bb, self.head(bb, h), u)  # [1, B]
                    tokens.append(token)
                return [token, *st], [bb.add("Concat", tokens, axis=0) if unrolled > 1 else tokens[0]]
            return fn

        def window_body(greedy_body: bool):
            def fn(bb: _Builder, iteration: str, names: list[str]):
                read, st = slot_step(bb, names[0], names[1:], bb.add("Add", [time, iteration]))
                u = None if greedy_body else bb.add("Gather", [u_rest, iteration])
                token = self.choose(bb, self.head(bb, read), u)  # [B]
                return [token, *st], [token]
            return fn

        scans = []
        chain = [first_s, *pre[1:]]
        for unrolled, count, uniforms in ((self.unroll, iterations, u_main), (1, remainder, u_tail)):
            for greedy_body, flag in ((True, greedy_i), (False, sample_i)):
                out = self.loop(b, gated(count, stateful_i, flag), [(chain[0], I64)] + [(st, F) for st in chain[1:]],
                                stateful_body(unrolled, greedy_body, uniforms), 1)
                chain, scans = out[:-1], scans + [out[-1]]
        final_s = chain[1:]
        chain = [first, *pre_w[1:]]
        for greedy_body, flag in ((True, greedy_i), (False, sample_i)):
            out = self.loop(b, gated(rest, windowed_i, flag), [(chain[0], I64)] + [(st, F) for st in chain[1:]],
                            window_body(greedy_body), 1)
            chain, scans = out[:-1], scans + [out[-1]]
        final_w = chain[1:]

        # -- outputs: the tokens of every Loop (only the active ones have any), the state of the mode
        flat = b.add("Concat", [i64([-1]), batch], axis=0)
        tokens = b.add("Concat", [b.add("Reshape", [t, flat]) for t in [first, *scans]], axis=0)  # [steps, B]
        b.add("Cast", [b.add("Transpose", [tokens], perm=[1, 0])], outputs=["tokens"], to=I32)
        packed_s = b.add("Unsqueeze", [b.add("Transpose", [b.add("Concat", final_s, axis=0)], perm=[1, 0, 2]), axis1])
        packed_w = b.add("Reshape", [b.add("Transpose", [b.add("Concat", final_w, axis=0)], perm=[1, 0, 2]),
                                     b.add("Concat", [batch, i64([-1, s, hsize])], axis=0)])  # [B, slots, S, H]
        slots = b.add("Shape", ["state"], start=1, end=2)
        keep_s = b.add("Slice", [packed_s, axis0, b.add("Unsqueeze", [stateful_i, axis0]), axis1])
        keep_w = b.add("Slice", [packed_w, axis0, b.add("Mul", [slots, windowed_i]), axis1])
        b.add("Concat", [keep_s, keep_w], outputs=["new_state"], axis=1)
        inits = [numpy_helper.from_array(p.table, "input_table"), *p.initializers,
                 *(numpy_helper.from_array(v, k) for k, v in self.consts.items())]
        if p.head_weight is not None:
            inits += [numpy_helper.from_array(p.head_weight, "head_weight"),
                      numpy_helper.from_array(p.head_bias, "head_bias")]
        return helper.make_graph(
            b.nodes, "edgeseq_generation",
            [_value("ids", I32, ["batch", "time"]), _value("state", F, ["batch", "slots", s, hsize]),
             _value("window", I64, []), _value("position", I64, []),
             _value("uniforms", F, ["steps", "batch"]), _value("temperature", F, []), _value("top_k", I64, [])],
            [_value("tokens", I32, ["batch", "steps"]), _value("new_state", F, ["batch", "slots", s, hsize])],
            initializer=inits)


def build_generation(step: onnx.ModelProto, unroll: int = DEFAULT_UNROLL) -> onnx.ModelProto:
    """The generation graph for the exported step graph ``step`` (see the module docstring)."""
    if unroll < 1:
        raise ValueError(f"unroll must be at least 1, got {unroll}")
    parts = read_step_graph(step)
    graph = _Generation(parts, unroll).build()
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", GEN_OPSET)],
                              producer_name="edgeseq")
    model.ir_version = min(step.ir_version, model.ir_version)
    onnx.checker.check_model(model, full_check=True)
    return model


__all__ = ["build_generation", "read_step_graph", "GenerationUnsupported", "DEFAULT_UNROLL"]


# ------------------------------------------------------------------ checking and describing

def verify_generation(checklist, step_bytes: bytes, gen_model: onnx.ModelProto, window: int,
                      state_shape: tuple, length: int = 40, seed: int = 0) -> None:
    """The generation graph against the per-step path of the runtime, token for token.

    Both contexts; greedy, temperature and top-k sampling; batch 1 and 3; prompts shorter
    than, as long as and longer than the window; ``length`` characters in chunks of 1, 5,
    17, ... (so every chunk size, the unrolled loop and its remainder, and chunk-to-chunk
    continuation are exercised). One checklist line per context and sampling.
    """
    from edgeseq.export.verify import session
    from edgeseq.runtime.char_runner import GenerationGraph, graph_chunks, per_step_chunks
    from edgeseq.runtime.sampling import Sampler

    step = session(step_bytes)
    graph = GenerationGraph(session(gen_model.SerializeToString()), {}, None)
    vocab = step.get_outputs()[0].shape[-1]
    rng = np.random.default_rng(seed)
    for context in ("stateful", "window"):
        for label, temperature, top_k in (("greedy", 0.0, 0), ("sampled T=0.9", 0.9, 0),
                                          ("sampled T=1.3 top-3", 1.3, 3)):
            same, cases = True, 0
            for batch in (1, 3):
                for time in (1, max(1, window - 3), window + 4):
                    ids = rng.integers(0, vocab, (batch, time), dtype=np.int32)
                    case_seed = int(rng.integers(1 << 30))
                    runs = []
                    for make in (lambda s: graph_chunks(graph, ids, length, context, window, state_shape, s),
                                 lambda s: per_step_chunks(step, ids, length, context, window, state_shape, s)):
                        chunks = list(make(Sampler(temperature, top_k, case_seed)))
                        runs.append(np.concatenate(chunks, axis=1))
                    same &= runs[0].shape == runs[1].shape and bool((runs[0] == runs[1]).all())
                    cases += 1
            checklist.require(f"generation graph = per-step path: {context}, {label} "
                              f"({cases} prompts x {length} chars)", same)


def describe_generation(step_description: dict, step_name: str, step_sha256: str, window: int,
                        unroll: int = DEFAULT_UNROLL) -> dict:
    """The generation graph's metadata: the step model's description, its own inputs and
    outputs, and which step file it was made from (the runtime uses it only beside that file)."""
    s, h = step_description["state"]["shape"][1:]
    v = len(step_description["vocabulary"])
    return {
        **step_description,
        "graph": "generation",
        "inputs": {
            "ids": "int32 [batch, time]: characters to consume first (the prompt; window context: "
                   "its last W; to continue: the last generated character)",
            "state": f"float32 [batch, slots, {s}, {h}]: stateful: slots 1, the step graph's state; "
                     f"window: slots W, one state per window slot; zeros to start",
            "window": f"int64 []: 0 for the stateful context; W > 0 (the model's: {window}) for the window context",
            "position": "int64 []: window context: characters consumed since the slots were zero",
            "uniforms": "float32 [steps, batch]: one uniform in [0, 1) per character to generate "
                        "(their count is the chunk length; ignored when greedy)",
            "temperature": "float32 []: 0 greedy (ArgMax), > 0 sample at this temperature",
            "top_k": "int64 []: sample among the k most likely characters (0: all)",
        },
        "outputs": {
            "tokens": f"int32 [batch, steps]: generated character ids (< {v})",
            "new_state": "like state: after ids and every token but the last; to continue, feed the "
                         "last token as ids (window: position + time + steps - 1)",
        },
        "generation": {"of": step_name, "of_sha256": step_sha256, "unroll": unroll,
                       "contexts": ["stateful", "window"], "sampling": "greedy, temperature, top-k"},
        # the step file's own entries, so that the runtime can describe it without opening it
        "step": {k: step_description[k] for k in ("graph", "inputs", "outputs")},
    }


def build_and_verify(checklist, step_model: onnx.ModelProto, window: int, state_shape: tuple,
                     log=None) -> onnx.ModelProto | None:
    """The exporter's entry point: build the generation graph of ``step_model`` and check it.

    The generation graph is an optional speed-up: a step graph the builder does not
    recognise, or a generation graph that disagrees with the per-step path, gets a note and
    no graph (the model then runs per step, correctly); it never blocks the step graphs.
    """
    from edgeseq.export.verify import Checklist

    if log is not None:
        print("building the generation graph ...", file=log)
    try:
        gen = build_generation(step_model)
    except GenerationUnsupported as e:
        checklist.notes.append(f"no generation graph ({e}); the runtime will run this model per step")
        return None
    own = Checklist()
    verify_generation(own, step_model.SerializeToString(), gen, window, state_shape)
    if own.failures:
        failed = "; ".join(c.label for c in own.failures)
        checklist.notes.append(f"no generation graph: it disagreed with the per-step path ({failed}); "
                               "the runtime will run this model per step")
        return None
    checklist.checks.extend(own.checks)
    return gen
