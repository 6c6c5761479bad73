"""Rows and lanes: how many requests share one generation-graph call.

A ``Row`` is one request: prompt, length, context, sampling settings and its own random
stream. A ``Lane`` is the rows that advance together; they share the graph's scalar inputs
(context, temperature, top-k). A new row reads its prompt in its own call (``first_calls``),
as ``CharGenerator`` does, then joins a lane; window slots are rolled to the lane's phase.
An int8 window graph re-reads each row's last W ids, so its rows never share a lane.
"""
from __future__ import annotations

import time

import numpy as np

from edgeseq.runtime.char_model import CharModel
from edgeseq.runtime.sampling import Sampler


class Row:
    """One request being generated (see the module docstring). ``stop`` is set when it ends:
    "length", "line_end", or a reason the server gives (client gone, shutdown, ...)."""

    def __init__(self, model: CharModel, ids: np.ndarray, length: int, context: str, sampler: Sampler, sink=None):
        self.model, self.ids, self.length, self.context, self.sampler = model, ids, length, context, sampler
        self.sink = sink  # where its text goes (the server's connection); the scheduler never reads it
        self.chars = 0
        self.stop: str | None = None
        self.created = time.perf_counter()
        self.first_char_seconds: float | None = None
        self.seconds: float | None = None

    @property
    def key(self) -> tuple:
        """Rows with the same key can share a call (the graph's scalar inputs agree)."""
        return (self.context, self.sampler.temperature, 0 if self.sampler.greedy else self.sampler.top_k)

    def uniforms(self, n: int) -> np.ndarray:
        return np.zeros(n, np.float32) if self.sampler.greedy else self.sampler.uniforms(n)

    def prompt_ids(self) -> np.ndarray:
        """What its first call reads: the prompt (window context: its last W characters)."""
        return self.ids[-self.model.window:] if self.context == "window" else self.ids

    @property
    def rereads(self) -> bool:
        return self.context == "window" and self.model.graph.rereads_window

    def take(self, ids: np.ndarray) -> str:
        """The text of new ids this row keeps: at most what is left of its length, cut before
        a line model's line end (which ends the row)."""
        text = self.model.vocab.decode(ids[: self.length - self.chars])
        end = self.model.line_end
        if end is not None and end in text:
            text, self.stop = text[: text.index(end)], "line_end"
        self.chars += len(text)
        if self.stop is None and self.chars >= self.length:
            self.stop = "length"
        now = time.perf_counter()
        if text and self.first_char_seconds is None:
            self.first_char_seconds = now - self.created
        if self.stop is not None:
            self.seconds = now - self.created
        return text


def next_ids(ids: np.ndarray, tokens: np.ndarray, rereads: bool, window: int) -> np.ndarray:
    """What the next call reads: the last token of each row (a re-reading graph: the last W ids)."""
    if rereads:
        return np.ascontiguousarray(np.concatenate([ids, tokens], axis=1)[:, -window:], np.int32)
    return np.ascontiguousarray(tokens[:, -1:], np.int32)


def first_calls(rows: list[Row]) -> list[tuple[Row, np.ndarray, np.ndarray, np.ndarray, int]]:
    """Read the prompts of rows that share a key and a prompt length in one call, and choose
    each row's first character: (row, its token [1], the ids it feeds next [1, t], its state
    [1, slots, S, H], its position after). Alone, each row makes the very call
    ``CharGenerator`` makes for a request; together, the same per row (fp32)."""
    first = rows[0]
    model, window = first.model, first.model.window
    ids = np.ascontiguousarray(np.stack([row.prompt_ids() for row in rows]), np.int32)
    if first.context == "window":
        slots, width = (1 if model.graph.rereads_window else window), window
    else:
        slots, width = 1, 0
    state = np.zeros((len(rows), slots, *model.state_shape), np.float32)
    uniforms = np.stack([row.uniforms(1) for row in rows], axis=1)
    tokens, state = model.graph.run(ids, state, width, 0, uniforms, first.sampler.temperature, first.sampler.top_k)
    after = next_ids(ids, tokens, first.rereads, window)
    return [(row, tokens[i], after[i:i + 1], state[i:i + 1], ids.shape[1]) for i, row in enumerate(rows)]


class Lane:
    """Rows that advance together, one generation-graph call per round."""

    def __init__(self, model: CharModel, key: tuple, shared: bool):
        self.model, self.key, self.shared = model, key, shared
        self.context, self.temperature, self.top_k = key
        self.rows: list[Row] = []
        self.ids = self.state = None
        self.position = 0

    def add(self, row: Row, ids: np.ndarray, state: np.ndarray, position: int) -> None:
        """Take in a row after its first call (``first_calls``)."""
        window = self.model.window
        if not self.rows:
            self.rows, self.ids, self.state, self.position = [row], ids, state, position
            return
        if self.context == "window":  # its slots to the lane's phase: slot s of the row is slot s + shift here
            state = np.roll(state, (self.position - position) % window, axis=1)
        self.rows.append(row)
        self.ids = np.concatenate([self.ids, ids])
        self.state = np.concatenate([self.state, state])

    def keep(self, alive: list[bool]) -> None:
        """Drop the rows whose entry is False."""
        if all(alive):
            return
        index = np.flatnonzero(alive)
        self.rows = [self.rows[i] for i in index]
        self.ids, self.state = self.ids[index], self.state[index]

    def advance(self, chunk: int) -> np.ndarray:
        """One call: up to ``chunk`` more ids for every row, [rows, n]."""
        n = min(chunk, max(row.length - row.chars for row in self.rows))
        uniforms = np.stack([row.uniforms(n) for row in self.rows], axis=1)
        window = self.model.window if self.context == "window" else 0
        tokens, self.state = self.model.graph.run(self.ids, self.state, window, self.position, uniforms,
                                                  self.temperature, self.top_k)
        rereads = self.context == "window" and self.model.graph.rereads_window
        self.position = (self.position + self.ids.shape[1] + n - 1) % max(window, 1)
        self.ids = next_ids(self.ids, tokens, rereads, self.model.window)
        return tokens
