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

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from edgeseq.export.step_graph import GenerationUnsupported, StepParts, read_step_graph

__all__ = ["build_generation", "read_step_graph", "GenerationUnsupported", "DEFAULT_UNROLL"]

GEN_OPSET = 17
DEFAULT_UNROLL = 4

F, I32, I64, BOOL = TensorProto.FLOAT, TensorProto.INT32, TensorProto.INT64, TensorProto.BOOL


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
