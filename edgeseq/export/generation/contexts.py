"""The two contexts of the generation graph, each a chain of top-level Loops.

Stateful: the prompt in one call, then unrolled Loops. Window: W staggered states advanced
by one batched step per character. A Loop of the mode not asked for runs zero times.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np

from edgeseq.export.generation.step_nodes import StepNodes
from edgeseq.export.graph.onnx_builder import F, I64, GraphBuilder


@dataclass
class Modes:
    """Names in the main graph that every part reads: sizes, and each mode as a 0/1 flag."""

    steps: str  # characters to generate (the uniforms' length)
    batch: str  # [1]
    time: str  # the length of ids
    greedy: str
    windowed: str
    greedy_i: str
    sample_i: str
    stateful_i: str
    windowed_i: str


@dataclass
class Uniforms:
    """The uniforms after the first character's, cut for the Loops that generate the rest."""

    count: str  # characters after the first
    blocks: str  # [iterations, unroll, B]: the unrolled stateful Loop's, a block per iteration
    iterations: str
    tail: str  # [remainder, B]: the single-step stateful Loop's
    remainder: str
    each: str  # [steps - 1, B]: the window Loop's, one per character


class StatefulContext:
    """Carry the recurrent state: the prompt in one step of time T, then one step per character."""

    def __init__(self, step: StepNodes, top: GraphBuilder, modes: Modes, unroll: int):
        self.step, self.top, self.modes, self.unroll = step, top, modes, unroll

    def prefill(self) -> str:
        """Read ids from the given state; the logits [B, V] for the first character.

        Also leaves ``zero_h`` (zeros [1, B, H]) and ``states`` (each [1, B, H]) behind."""
        top = self.top
        states, x_ids = self.prompt_inputs()
        out = top.loop(self.modes.stateful_i, [(self.zero_h, F)] + [(st, F) for st in states],
                       partial(self._prefill_body, x_ids=x_ids), 0)
        self.states = out[1:]
        return top.add("Squeeze", [self.step.head(top, out[0]), top.i64([0])])

    def prompt_inputs(self) -> tuple[list[str], str]:
        """(the given state's rows, each [1, B, H]; the prompt's inputs [T, B, E]); sets ``zero_h``."""
        top, i64, parts = self.top, self.top.i64, self.step.parts
        rows = top.add("Transpose", [top.add("Gather", ["state", i64(0)], axis=1)], perm=[1, 0, 2])  # [S, B, H]
        states = [top.add("Slice", [rows, i64([r]), i64([r + 1]), i64([0])]) for r in range(parts.state_count)]
        x_ids = top.add("Gather", ["input_table", top.add("Transpose", ["ids"], perm=[1, 0])])  # [T, B, E]
        self.zero_h = top.add("Expand", [top.const(0.0, np.float32),
                                         top.add("Concat", [i64([1]), self.modes.batch, i64([parts.hidden])], axis=0)])
        return states, x_ids

    def _prefill_body(self, body: GraphBuilder, iteration: str, names: list[str], x_ids: str):
        h, states = self.step.layers(body, x_ids, names[1:], sequence_out=True)
        return [h, *states], []

    def generate(self, first: str, uniforms: Uniforms) -> tuple[list[str], list[str]]:
        """Loops of ``unroll`` steps, then of one step, each greedy or sampled: (tokens, states)."""
        top, modes, scans = self.top, self.modes, []
        chain = [top.add("Unsqueeze", [first, top.i64([0])]), *self.states]  # token [1, B]
        for unrolled, count, block in ((self.unroll, uniforms.iterations, uniforms.blocks),
                                       (1, uniforms.remainder, uniforms.tail)):
            for greedy, flag in ((True, modes.greedy_i), (False, modes.sample_i)):
                body = partial(self._generate_body, unrolled=unrolled, greedy=greedy, uniforms=block)
                out = top.loop(top.count_if(count, modes.stateful_i, flag),
                               [(chain[0], I64)] + [(st, F) for st in chain[1:]], body, 1)
                chain, scans = out[:-1], scans + [out[-1]]
        return scans, chain[1:]

    def _generate_body(self, body: GraphBuilder, iteration: str, names: list[str], unrolled: int, greedy: bool,
                       uniforms: str):
        token, states = names[0], names[1:]
        block = None if greedy else body.add("Gather", [uniforms, iteration])  # [U, B] or [B]
        tokens = []
        for j in range(unrolled):
            h, states = self.step.layers(body, body.add("Gather", ["input_table", token]), states,
                                         sequence_out=False)
            u = None if greedy else (body.add("Gather", [block, body.i64(j)]) if unrolled > 1 else block)
            token = self.step.choose(body, self.step.head(body, h), u)  # [1, B]
            tokens.append(token)
        return [token, *states], [body.add("Concat", tokens, axis=0) if unrolled > 1 else tokens[0]]


class WindowContext:
    """Each character from the last W characters from a zero state, through W staggered slots."""

    def __init__(self, step: StepNodes, top: GraphBuilder, modes: Modes):
        self.step, self.top, self.modes = step, top, modes

    def prefill(self, zero_h: str) -> str:
        """Read ids one character at a time through the slots; the logits [B, V] for the first
        character. ``zero_h``: zeros [1, B, H]. Leaves ``states`` (each [1, B*W, H]) behind."""
        top, i64, modes = self.top, self.top.i64, self.modes
        s, hidden, embedding = self.step.parts.state_count, self.step.parts.hidden, self.step.parts.table.shape[1]
        rows = top.add("Transpose", [top.add("Reshape", ["state", i64([-1, s, hidden])])], perm=[1, 0, 2])
        states = [top.add("Slice", [rows, i64([r]), i64([r + 1]), i64([0])]) for r in range(s)]  # [1, BW, H]
        window_1d = top.add("Unsqueeze", ["window", i64([0])])
        self.slot_of_row = top.add("Reshape", [top.add("Tile", [top.add("Range", [i64(0), "window", i64(1)]),
                                                                modes.batch]), i64([1, -1, 1])])  # [1, BW, 1]
        self.expand_shape = top.add("Concat", [modes.batch, window_1d, i64([embedding])], axis=0)  # [B, W, E]
        self.slots_shape = top.add("Concat", [modes.batch, window_1d, i64([hidden])], axis=0)  # [B, W, H]
        ids_t = top.add("Cast", [top.add("Transpose", ["ids"], perm=[1, 0])], to=I64)  # [T, B]
        zero_h = top.add("Squeeze", [zero_h, i64([0])])  # [B, H]
        out = top.loop(top.count_if(modes.time, modes.windowed_i), [(zero_h, F)] + [(st, F) for st in states],
                       partial(self._prefill_body, ids_t=ids_t), 0)
        self.states = out[1:]
        return self.step.head(top, out[0])

    def _prefill_body(self, body: GraphBuilder, iteration: str, names: list[str], ids_t: str):
        read, states = self.slot_step(body, body.add("Gather", [ids_t, iteration]), names[1:], iteration)
        return [read, *states], []

    def slot_step(self, graph: GraphBuilder, token: str, states: list[str], k: str) -> tuple[str, list[str]]:
        """Every slot reads token [B]: (the h of slot k mod W [B, H], the states, that slot zeroed)."""
        x = graph.add("Gather", ["input_table", token])  # [B, E]
        x = graph.add("Expand", [graph.add("Unsqueeze", [x, graph.i64([1])]), self.expand_shape])
        x = graph.add("Reshape", [x, graph.i64([1, -1, self.step.parts.table.shape[1]])])  # [1, BW, E]
        h, states = self.step.layers(graph, x, states, sequence_out=False)
        slot = graph.add("Mod", [graph.add("Add", ["position", k]), "window"])
        read = graph.add("Gather", [graph.add("Reshape", [h, self.slots_shape]), slot], axis=1)  # [B, H]
        keep = graph.add("Cast", [graph.add("Not", [graph.add("Equal", [self.slot_of_row, slot])])], to=F)
        return read, [graph.add("Mul", [state, keep]) for state in states]

    def generate(self, first: str, uniforms: Uniforms) -> tuple[list[str], list[str]]:
        """A Loop of one character per iteration, greedy or sampled: (tokens, states)."""
        top, modes, scans, chain = self.top, self.modes, [], [first, *self.states]
        for greedy, flag in ((True, modes.greedy_i), (False, modes.sample_i)):
            body = partial(self._generate_body, greedy=greedy, uniforms=uniforms.each)
            out = top.loop(top.count_if(uniforms.count, modes.windowed_i, flag),
                           [(chain[0], I64)] + [(st, F) for st in chain[1:]], body, 1)
            chain, scans = out[:-1], scans + [out[-1]]
        return scans, chain[1:]

    def _generate_body(self, body: GraphBuilder, iteration: str, names: list[str], greedy: bool, uniforms: str):
        read, states = self.slot_step(body, names[0], names[1:], body.add("Add", [self.modes.time, iteration]))
        u = None if greedy else body.add("Gather", [uniforms, iteration])
        token = self.step.choose(body, self.step.head(body, read), u)  # [B]
        return [token, *states], [token]
