"""The two contexts of an int8 generation graph: the calls of the per-step path, inside a Loop.

int8 rounds by what shares a call, so prefill and the window are done as the per-step path
does them, and the graph chooses the int8 step graph's very characters. Why: docs/design.md,
"int8".
"""
from __future__ import annotations

from functools import partial

import numpy as np

from edgeseq.export.generation.build import DEFAULT_UNROLL, build_generation, rereads_window
from edgeseq.export.generation.contexts import Modes, StatefulContext, Uniforms
from edgeseq.export.generation.step_nodes import StepNodes
from edgeseq.export.graph.onnx_builder import F, I64, GraphBuilder


def last_row_logits(step: StepNodes, graph: GraphBuilder, x: str, states: list[str]) -> tuple[str, list[str]]:
    """The layers over x [time, rows, E] from ``states``, the head over every step (as the step
    graph does), and the last step's logits [rows, V]; with the new states."""
    sequence, states = step.layers(graph, x, states, sequence_out=True, last_sequence=True)
    logits = step.head(graph, sequence)  # [time, rows, V]
    return graph.add("Gather", [logits, graph.i64(-1)], axis=0), states


class SequenceHeadStateful(StatefulContext):
    """The stateful context with the prompt's head applied over the whole prompt."""

    def prefill(self) -> str:
        top, i64, parts = self.top, self.top.i64, self.step.parts
        states, x_ids = self.prompt_inputs()
        no_logits = top.add("Expand", [top.const(0.0, np.float32),
                                       top.add("Concat", [self.modes.batch, i64([parts.vocab])], axis=0)])
        out = top.loop(self.modes.stateful_i, [(no_logits, F)] + [(st, F) for st in states],
                       partial(self._sequence_prefill_body, x_ids=x_ids), 0)
        self.states = out[1:]
        return out[0]

    def _sequence_prefill_body(self, body: GraphBuilder, iteration: str, names: list[str], x_ids: str):
        logits, states = last_row_logits(self.step, body, x_ids, names[1:])
        return [logits, *states], []


class RereadWindowContext:
    """Each character from the last W characters from a zero state, re-read for every character."""

    def __init__(self, step: StepNodes, top: GraphBuilder, modes: Modes):
        self.step, self.top, self.modes = step, top, modes

    def prefill(self, zero_h: str) -> str:
        """The logits [B, V] after the last (up to) W ids, from a zero state. ``zero_h``: zeros [1, B, H]."""
        top, i64 = self.top, self.top.i64
        self.zeros = [zero_h] * self.step.parts.state_count
        self.start = top.add("Unsqueeze", [top.add("Neg", ["window"]), i64([0])])  # [-W]
        self.history = top.add("Cast", [top.add("Slice", ["ids", self.start, i64([np.iinfo(np.int64).max]),
                                                          i64([1])])], to=I64)  # [B, n <= W]
        no_logits = top.add("Expand", [top.const(0.0, np.float32),
                                       top.add("Concat", [self.modes.batch, i64([self.step.parts.vocab])], axis=0)])
        return top.loop(self.modes.windowed_i, [(no_logits, F)], self._prefill_body, 0)[0]

    def _prefill_body(self, body: GraphBuilder, iteration: str, names: list[str]):
        return [self.read(body, self.history)], []

    def read(self, graph: GraphBuilder, history: str) -> str:
        """Logits [B, V] after reading history [B, n] from a zero state."""
        x = graph.add("Gather", ["input_table", graph.add("Transpose", [history], perm=[1, 0])])  # [n, B, E]
        return last_row_logits(self.step, graph, x, self.zeros)[0]

    def generate(self, first: str, uniforms: Uniforms) -> tuple[list[str], None]:
        """A Loop of one character per iteration, greedy or sampled: (tokens, no states)."""
        top, modes, scans, chain = self.top, self.modes, [], [first, self.history]
        for greedy, flag in ((True, modes.greedy_i), (False, modes.sample_i)):
            body = partial(self._generate_body, greedy=greedy, uniforms=uniforms.each)
            out = top.loop(top.count_if(uniforms.count, modes.windowed_i, flag), [(chain[0], I64), (chain[1], I64)],
                           body, 1)
            chain, scans = out[:-1], scans + [out[-1]]
        return scans, None

    def _generate_body(self, body: GraphBuilder, iteration: str, names: list[str], greedy: bool, uniforms: str):
        token, history = names
        longer = body.add("Concat", [history, body.add("Unsqueeze", [token, body.i64([1])])], axis=1)
        history = body.add("Slice", [longer, self.start, body.i64([np.iinfo(np.int64).max]), body.i64([1])])
        u = None if greedy else body.add("Gather", [uniforms, iteration])
        token = self.step.choose(body, self.read(body, history), u)  # [B]
        return [token, history], [token]


def build_int8_generation(step, unroll: int = DEFAULT_UNROLL):
    """The generation graph of a step graph made by ``--quantize int8``: with these contexts
    where it has int8 kernels; a GRU or RNN, dequantized at load, takes the fp32 ones."""
    if not rereads_window(step):
        return build_generation(step, unroll)
    return build_generation(step, unroll, contexts=(SequenceHeadStateful, RereadWindowContext))
