"""Decoding: from a char model's logits to generated ids, three ways with one result.

``reference_decode`` re-reads everything, ``per_step_chunks`` calls the step graph once a
character, ``graph_chunks`` runs the generation graph; all draw the same uniforms, so a seed
gives the same ids. ``decode`` picks the model's engine.
"""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import onnxruntime as ort

from edgeseq.runtime.char_model import CharModel, GenerationGraph
from edgeseq.runtime.sampling import Sampler

#: characters per generation-graph call: a quick first character, then longer calls
#: (sizes 1 + a multiple of the graph's unroll run without its single-step remainder loop)
CHUNKS = (1, 5, 17, 65, 129)

Chunk = tuple[np.ndarray, np.ndarray | None]  # (tokens, state): see the module docstring


def reference_decode(model: CharModel, ids: np.ndarray, length: int, context: str,
                     sampler: Sampler) -> np.ndarray:
    """The next ``length`` ids [batch, length] after ids [batch, time], one plain step at a time."""
    ids = np.asarray(ids, np.int32)
    for _ in range(length):
        # 1. what the model reads: window, the last W ids from a zero state; stateful,
        #    everything from a zero state (the same as carrying the state along)
        seen = ids[:, -model.window:] if context == "window" else ids
        # 2. run the step graph over it
        logits, _ = model.logits(seen)
        # 3. the logits after the last id score every candidate for the next one;
        # 4. choose one per row: argmax, or temperature and top-k with one uniform per row
        token = sampler.choose_rows(logits[:, -1])
        # 5. append it and go round again
        ids = np.concatenate([ids, token[:, None].astype(np.int32)], axis=1)
    return ids[:, ids.shape[1] - length:]


def decode(model: CharModel, rows: list[np.ndarray], length: int, context: str, sampler: Sampler,
           state: np.ndarray | None = None) -> Iterator[Chunk]:
    """``length`` ids after each row of ids (rows of any lengths), in chunks, on the model's
    generation graph if it has a usable one, else per step.

    Stateful, ``state`` [batch, S, H] (None: zeros) has read what came before ``rows``.
    Rows of different lengths are first brought to one: stateful, one step-graph call reads
    them all and chooses each row's first token; window, the shorter rows grow a character
    per call until every row holds a full window.
    """
    if context == "window":
        rows = [row[-model.window:] for row in rows]
        while length > 0 and len({len(row) for row in rows}) > 1:
            token, _ = _ragged_step(model, rows, None, sampler)
            rows = [np.append(row, t).astype(np.int32)[-model.window:] for row, t in zip(rows, token)]
            length -= 1
            yield token[:, None], None
    elif length > 0 and len({len(row) for row in rows}) > 1:
        token, state = _ragged_step(model, rows, state, sampler)
        rows = list(token[:, None].astype(np.int32))
        length -= 1
        yield token[:, None], state
    if length <= 0:
        return
    ids = np.ascontiguousarray(np.stack(rows), np.int32)
    if model.graph is not None:
        yield from graph_chunks(model.graph, ids, length, context, model.window, model.state_shape,
                                sampler, initial_state=state)
    else:
        yield from per_step_chunks(model.session, ids, length, context, model.window, model.state_shape,
                                   sampler, initial_state=state)


def _ragged_step(model: CharModel, rows: list[np.ndarray], state: np.ndarray | None,
                 sampler: Sampler) -> tuple[np.ndarray, np.ndarray]:
    """Rows of different lengths in one step-graph call (padded, with their lengths): each
    row's next token, and the state after each row."""
    ids, lengths = pad_rows(rows)
    logits, new_state = model.logits(ids, state, lengths)
    return sampler.choose_rows(logits[np.arange(len(rows)), lengths - 1]), new_state


def pad_rows(rows: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ids padded at the end into [batch, longest], and their lengths."""
    lengths = np.array([len(r) for r in rows], np.int32)
    ids = np.zeros((len(rows), lengths.max()), np.int32)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = row
    return ids, lengths


# ---------------------------------------------------------------- the generation graph

def graph_chunks(graph: GenerationGraph, ids: np.ndarray, length: int, context: str, window: int,
                 state_shape: tuple, sampler: Sampler, chunks: tuple = CHUNKS,
                 initial_state: np.ndarray | None = None) -> Iterator[Chunk]:
    """Generate with the generation graph: chunks of ids [batch, n] (sizes from ``chunks``).

    Stateful, ``initial_state`` [batch, S, H] is the state before ``ids`` (None: zeros)."""
    batch = ids.shape[0]
    reread = context == "window" and graph.rereads_window
    if context == "window":
        ids = ids[:, -window:]  # older characters cannot reach any prediction
        slots, width, initial_state = (1 if reread else window), window, None
    else:
        slots, width = 1, 0
    state = (np.zeros((batch, slots, *state_shape), np.float32) if initial_state is None
             else np.ascontiguousarray(initial_state[:, None], np.float32))
    position, done, calls = 0, 0, 0
    while done < length:
        n = min(chunks[min(calls, len(chunks) - 1)], length - done)
        uniforms = (np.zeros((n, batch), np.float32) if sampler.greedy
                    else sampler.uniforms(n * batch).reshape(n, batch))
        tokens, state = graph.run(ids, state, width, position, uniforms, sampler.temperature, sampler.top_k)
        position += ids.shape[1] + n - 1
        if reread:  # the graph re-reads the window: give it the last W ids every call
            ids = np.ascontiguousarray(np.concatenate([ids, tokens], axis=1)[:, -window:], np.int32)
        else:
            ids = np.ascontiguousarray(tokens[:, -1:])
        done, calls = done + n, calls + 1
        yield tokens, (state[:, 0] if context == "stateful" else None)


# ---------------------------------------------------------------- the per-step path

def per_step_chunks(session: ort.InferenceSession, ids: np.ndarray, length: int, context: str,
                    window: int, state_shape: tuple, sampler: Sampler,
                    initial_state: np.ndarray | None = None) -> Iterator[Chunk]:
    """Generate with the step graph, one call per character: chunks of ids [batch, 1].

    Stateful, ``initial_state`` [batch, S, H] is the state before ``ids`` (None: zeros)."""
    if context == "window":
        return _step_windowed(session, ids, length, window, state_shape, sampler)
    return _step_stateful(session, ids, length, state_shape, sampler, initial_state)


def _step_stateful(session: ort.InferenceSession, ids: np.ndarray, length: int, state_shape: tuple,
                   sampler: Sampler, state: np.ndarray | None) -> Iterator[Chunk]:
    if state is None:
        state = np.zeros((ids.shape[0], *state_shape), np.float32)
    logits, state = session.run(["logits", "new_state"], {"ids": ids, "state": state})
    token = sampler.choose_rows(logits[:, -1])
    yield token[:, None], state
    if length == 1:
        return
    step = _BoundStep(session, state)
    for _ in range(length - 1):
        token = sampler.choose_rows(step(token))
        yield token[:, None], step.state


def _step_windowed(session: ort.InferenceSession, ids: np.ndarray, length: int, window: int,
                   state_shape: tuple, sampler: Sampler) -> Iterator[Chunk]:
    """Each character from the last ``window`` characters, from a zero state: one call each."""
    zero = np.zeros((ids.shape[0], *state_shape), np.float32)
    history = ids[:, -window:]
    while history.shape[1] < window and length > 0:  # a short prompt: growing windows
        logits, _ = session.run(["logits", "new_state"], {"ids": history, "state": zero})
        token = sampler.choose_rows(logits[:, -1])
        yield token[:, None], None
        history = np.concatenate([history, token[:, None].astype(np.int32)], axis=1)
        length -= 1
    if length <= 0:
        return
    step = _BoundWindow(session, history, zero)
    for _ in range(length):
        token = sampler.choose_rows(step())
        yield token[:, None], None
        step.push(token)


class _BoundStep:
    """Ids [batch] in, their logits [batch, V] out, with the state kept in two preallocated
    buffers: two IOBindings alternate them (A -> B, then B -> A), so no step allocates."""

    def __init__(self, session: ort.InferenceSession, state: np.ndarray):
        batch, vocab = state.shape[0], session.get_outputs()[0].shape[-1]
        self.ids = np.zeros((batch, 1), np.int32)
        self.out = np.zeros((batch, 1, vocab), np.float32)
        self.states = [np.array(state, np.float32), np.empty_like(state, np.float32)]
        self.session = session
        values = [ort.OrtValue.ortvalue_from_numpy(a) for a in (self.ids, self.out, *self.states)]
        ids_value, out_value, state_a, state_b = values
        self.bindings = []
        for src, dst in ((state_a, state_b), (state_b, state_a)):
            binding = session.io_binding()
            binding.bind_ortvalue_input("ids", ids_value)
            binding.bind_ortvalue_input("state", src)
            binding.bind_ortvalue_output("logits", out_value)
            binding.bind_ortvalue_output("new_state", dst)
            self.bindings.append(binding)
        self._values = values  # the OrtValues must outlive the bindings
        self.turn = 0

    @property
    def state(self) -> np.ndarray:
        """The state after the last ids given (the buffer the next step reads)."""
        return self.states[self.turn]

    def __call__(self, tokens: np.ndarray) -> np.ndarray:
        self.ids[:, 0] = tokens
        self.session.run_with_iobinding(self.bindings[self.turn])
        self.turn ^= 1
        return self.out[:, 0]


class _BoundWindow:
    """The last W ids [batch, W] from a zero state -> the logits after them, bound once."""

    def __init__(self, session: ort.InferenceSession, history: np.ndarray, zero: np.ndarray):
        batch, window = history.shape
        vocab = session.get_outputs()[0].shape[-1]
        self.ids = np.array(history, np.int32)  # its own copy: push() shifts it in place
        self.out = np.zeros((batch, window, vocab), np.float32)
        self.scratch = np.zeros_like(zero)
        self.session = session
        values = [ort.OrtValue.ortvalue_from_numpy(a) for a in (self.ids, zero, self.out, self.scratch)]
        self.binding = session.io_binding()
        for name, value in zip(("ids", "state"), values[:2]):
            self.binding.bind_ortvalue_input(name, value)
        for name, value in zip(("logits", "new_state"), values[2:]):
            self.binding.bind_ortvalue_output(name, value)
        self._values = values

    def __call__(self) -> np.ndarray:
        self.session.run_with_iobinding(self.binding)
        return self.out[:, -1]

    def push(self, tokens: np.ndarray) -> None:
        self.ids[:, :-1] = self.ids[:, 1:]
        self.ids[:, -1] = tokens
