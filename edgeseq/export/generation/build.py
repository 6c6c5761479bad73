"""The generation graph: many characters per onnxruntime call, sampling inside the graph.

Built from the verified step graph, not from TensorFlow: a chain of Loops whose body is one
step and the choice of the next character. This module assembles it; the contexts are in
``contexts``, one step in ``step_nodes``. Inputs, outputs and the window slots are in
docs/design.md, "The generation graph".
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from edgeseq.export.generation.contexts import Modes, StatefulContext, Uniforms, WindowContext
from edgeseq.export.generation.step_nodes import StepNodes
from edgeseq.export.graph.interop import Provenance
from edgeseq.export.graph.onnx_builder import F, I32, I64, GraphBuilder, value_info
from edgeseq.export.graph.onnx_graph import OPSET
from edgeseq.export.graph.step_graph import GenerationUnsupported, StepParts, read_step_graph

__all__ = ["build_generation", "read_step_graph", "rereads_window", "GenerationUnsupported", "DEFAULT_UNROLL"]

DEFAULT_UNROLL = 4
#: the opset of onnxruntime's own ops (DynamicQuantizeLSTM) in an int8 graph
MS_DOMAIN, MS_OPSET = "com.microsoft", 1


class _Generation:
    """The generation graph of one step graph's parts: every mode a chain of top-level Loops,
    no If (docs/design.md). The tokens of all Loops are concatenated: only the active ones have any.
    """

    def __init__(self, parts: StepParts, unroll: int, contexts: tuple):
        self.parts, self.unroll, self.contexts = parts, unroll, contexts
        self.step = StepNodes(parts)
        self.top = GraphBuilder()
        for value in (0, 1, [0], [1]):  # the first constants: their order names the initializers
            self.top.i64(value)

    def build(self) -> onnx.GraphProto:
        self.top.nodes.extend(self.parts.weight_nodes)  # int8-stored weights, dequantized (folded at load)
        modes = self.modes()
        self.sampling_settings(modes)
        uniforms = self.split_uniforms(modes)
        stateful_context, window_context = self.contexts
        stateful = stateful_context(self.step, self.top, modes, self.unroll)
        window = window_context(self.step, self.top, modes)
        logits_stateful = stateful.prefill()
        logits_window = window.prefill(stateful.zero_h)
        first = self.first_character(modes, logits_stateful, logits_window)
        tokens_stateful, final_stateful = stateful.generate(first, uniforms)
        tokens_window, final_window = window.generate(first, uniforms)
        self.outputs(modes, [first, *tokens_stateful, *tokens_window], final_stateful, final_window)
        return self.graph()

    def modes(self) -> Modes:
        top, axis0 = self.top, self.top.i64([0])
        steps = top.add("Squeeze", [top.add("Shape", ["uniforms"], start=0, end=1), axis0])
        batch = top.add("Shape", ["ids"], start=0, end=1)  # [1]
        time = top.add("Squeeze", [top.add("Shape", ["ids"], start=1, end=2), axis0])
        greedy = top.add("Equal", ["temperature", top.const(0.0, np.float32)])
        windowed = top.add("Greater", ["window", top.i64(0)])
        stateful = top.add("Not", [windowed])
        greedy_i, sample_i = top.as_i64(greedy), top.as_i64(top.add("Not", [greedy]))
        return Modes(steps, batch, time, greedy, windowed, greedy_i, sample_i, top.as_i64(stateful),
                     top.as_i64(windowed))

    def sampling_settings(self, modes: Modes) -> None:
        """safe_temperature (1 when greedy: the sampled choice is then unused) and top_k_1d (k in 1..V)."""
        top, vocab = self.top, self.parts.vocab
        top.add("Where", [modes.greedy, top.const(1.0, np.float32), "temperature"], outputs=["safe_temperature"])
        k = top.add("Where", [top.add("Greater", ["top_k", top.i64(0)]), top.add("Min", ["top_k", top.i64(vocab)]),
                              top.i64(vocab)])
        top.add("Reshape", [k, top.i64([1])], outputs=["top_k_1d"])

    def split_uniforms(self, modes: Modes) -> Uniforms:
        """The first character uses uniforms[0]; the rest are cut for the Loops that follow."""
        top, i64, axis0, one = self.top, self.top.i64, self.top.i64([0]), self.top.i64(1)
        count = top.add("Sub", [modes.steps, one])
        unroll = i64(self.unroll)
        iterations, remainder = top.add("Div", [count, unroll]), top.add("Mod", [count, unroll])
        split = top.add("Unsqueeze", [top.add("Add", [one, top.add("Mul", [iterations, unroll])]), axis0])
        end = i64([np.iinfo(np.int64).max])
        blocks = top.add("Reshape", [top.add("Slice", ["uniforms", i64([1]), split, axis0]),
                                     top.add("Concat", [i64([-1, self.unroll]), modes.batch], axis=0)])
        tail = top.add("Slice", ["uniforms", split, end, axis0])
        each = top.add("Slice", ["uniforms", i64([1]), end, axis0])
        return Uniforms(count, blocks, iterations, tail, remainder, each)

    def first_character(self, modes: Modes, logits_stateful: str, logits_window: str) -> str:
        """The first character [B], from whichever prefill ran."""
        top, choose = self.top, self.step.choose
        logits = top.add("Where", [modes.windowed, logits_window, logits_stateful])  # [B, V]
        return top.add("Where", [modes.greedy, choose(top, logits, None),
                                 choose(top, logits, top.add("Gather", ["uniforms", top.i64(0)]))])

    def outputs(self, modes: Modes, tokens: list[str], final_stateful: list[str],
                final_window: list[str] | None) -> None:
        """tokens: every Loop's (only the active ones have any); new_state: the active mode's
        (``final_window`` None: the window context keeps no state, ``state`` passes through)."""
        top, i64, axis0, axis1 = self.top, self.top.i64, self.top.i64([0]), self.top.i64([1])
        flat = top.add("Concat", [i64([-1]), modes.batch], axis=0)
        joined = top.add("Concat", [top.add("Reshape", [t, flat]) for t in tokens], axis=0)  # [steps, B]
        top.add("Cast", [top.add("Transpose", [joined], perm=[1, 0])], outputs=["tokens"], to=I32)
        packed_s = top.add("Unsqueeze", [self._rows_first(final_stateful), axis1])  # [B, 1, S, H]
        packed_w = "state" if final_window is None else top.add(
            "Reshape", [self._rows_first(final_window),  # [B, W, S, H]
                        top.add("Concat", [modes.batch, i64([-1, self.parts.state_count, self.parts.hidden])], axis=0)])
        slots = top.add("Shape", ["state"], start=1, end=2)
        keep_s = top.add("Slice", [packed_s, axis0, top.add("Unsqueeze", [modes.stateful_i, axis0]), axis1])
        keep_w = top.add("Slice", [packed_w, axis0, top.add("Mul", [slots, modes.windowed_i]), axis1])
        top.add("Concat", [keep_s, keep_w], outputs=["new_state"], axis=1)

    def _rows_first(self, states: list[str]) -> str:
        """States (each [1, rows, H]) packed as [rows, S, H]."""
        return self.top.add("Transpose", [self.top.add("Concat", states, axis=0)], perm=[1, 0, 2])

    def graph(self) -> onnx.GraphProto:
        parts, s, hidden = self.parts, self.parts.state_count, self.parts.hidden
        inits = [numpy_helper.from_array(parts.table, "input_table"), *parts.initializers, *self.top.initializers()]
        if parts.head_weight is not None:
            inits += [numpy_helper.from_array(parts.head_weight, "head_weight"),
                      numpy_helper.from_array(parts.head_bias, "head_bias")]
        if parts.head_scale is not None:
            inits += [numpy_helper.from_array(parts.head_scale, "head_scale"),
                      numpy_helper.from_array(parts.head_zero_point, "head_zero_point")]
        return helper.make_graph(
            self.top.nodes, "edgeseq_generation",
            [value_info("ids", I32, ["batch", "time"]), value_info("state", F, ["batch", "slots", s, hidden]),
             value_info("window", I64, []), value_info("position", I64, []),
             value_info("uniforms", F, ["steps", "batch"]), value_info("temperature", F, []),
             value_info("top_k", I64, [])],
            [value_info("tokens", I32, ["batch", "steps"]), value_info("new_state", F, ["batch", "slots", s, hidden])],
            initializer=inits)


def build_generation(step: onnx.ModelProto, unroll: int = DEFAULT_UNROLL,
                     contexts: tuple = (StatefulContext, WindowContext)) -> onnx.ModelProto:
    """The generation graph for the exported step graph ``step`` (see the module docstring);
    ``contexts``: the stateful and window Loop builders (int8 passes its own)."""
    if unroll < 1:
        raise ValueError(f"unroll must be at least 1, got {unroll}")
    parts = read_step_graph(step)
    if parts.int8 and contexts == (StatefulContext, WindowContext):
        raise ValueError("an int8 step graph is built by edgeseq.export.int8.int8_contexts.build_int8_generation")
    graph = _Generation(parts, unroll, contexts).build()
    opsets = [helper.make_opsetid("", OPSET)]
    if any(layer.domain == MS_DOMAIN for layer in parts.layers):
        opsets.append(helper.make_opsetid(MS_DOMAIN, MS_OPSET))
    model = helper.make_model(graph, opset_imports=opsets, producer_name="edgeseq")
    model.ir_version = min(step.ir_version, model.ir_version)
    Provenance.of(step).apply(model)  # the step graph's author and license, if it has them
    onnx.checker.check_model(model, full_check=True)
    return model


def rereads_window(step: onnx.ModelProto) -> bool:
    """Whether the generation graph of the step graph ``step`` re-reads the window for every
    character (an int8 step graph: see generation_int8) instead of keeping W slots."""
    return read_step_graph(step).int8
