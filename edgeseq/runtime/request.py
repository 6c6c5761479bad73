"""One generation request: iterate it for the text as it is made, then ``append`` and ``more``.

The live state of a request is what the model has read: its last W characters (window
context) or the recurrent state carried from character to character (stateful). ``append``
reads more text into it and ``more(n)`` starts a new round from there. A line model's text
ends at the end of a line. How the characters are made is edgeseq.runtime.decoding's.
"""
from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np

from edgeseq.errors import InputError, ParameterError
from edgeseq.runtime.char_model import CharModel
from edgeseq.runtime.decoding import decode
from edgeseq.runtime.sampling import Sampler


class Request:
    """One generation: iterate it for chunks of text (a list of chunks, one per row, for
    several prompts), or call ``text()``. See the module docstring."""

    def __init__(self, model: CharModel, context: str, line_end: str | None, rows: list[np.ndarray], length: int,
                 sampler: Sampler, batch: bool):
        self._model, self._context, self._line_end = model, context, line_end
        self.sampler, self.batch = sampler, batch
        self._rows = rows  # per row, the ids still to read (window: the last W characters)
        self._state = None  # stateful: [rows, S, H] that has read all before them; None: zeros
        self._start(length)

    def _start(self, length: int) -> None:
        self.length = length
        self.stop_reason: str | None = None  # "length" or "line_end" once the round has ended
        self.first_char_seconds: float | None = None
        self.seconds: float | None = None  # the whole round, once it has ended
        self.chars = 0
        self._pieces = [[] for _ in self._rows]
        self._open = [True] * len(self._rows)  # rows that have not ended their line
        self._carry = None  # the engine's state after the last chunk (see decoding)
        self._settled = False
        self._round = self._generate()

    def __iter__(self) -> Request:
        return self

    def __next__(self) -> str | list[str]:
        return next(self._round)

    def text(self) -> str | list[str]:
        """The round's text, generating what is left of it first."""
        for _ in self:
            pass
        texts = ["".join(pieces) for pieces in self._pieces]
        return texts if self.batch else texts[0]

    @property
    def chars_per_second(self) -> float | None:
        return self.chars / self.seconds if self.seconds else None

    def summary(self) -> str:
        """The timing line `edgeseq run char` prints (a round still running is run to its end)."""
        self.text()
        if self.seconds is None:
            return f"{self.chars} chars (the round was stopped before its end)"
        ms = self.seconds * 1e3
        if self.batch:
            return (f"{len(self._rows)} prompts x {self.length} chars in {ms:.1f} ms "
                    f"({self.chars_per_second:,.0f} chars/s)")
        if self.chars == 0:
            return "0 chars: the first character generated was the line end"
        ended = (f", stopped at the line end (a line model's text ends there; asked for {self.length})"
                 if self.stop_reason == "line_end" else "")
        return (f"{self.chars} chars in {ms:.1f} ms ({self.chars_per_second:,.0f} chars/s; first after "
                f"{self.first_char_seconds * 1e3:.2f} ms){ended}")

    def append(self, text: str | list[str]) -> Request:
        """Read ``text`` (for several prompts: one text for all, or one per row) into the live
        state after what this request has generated; then ``more(n)`` goes on from there."""
        texts = [text] * len(self._rows) if isinstance(text, str) else list(text)
        if len(texts) != len(self._rows):
            raise InputError(f"give one text for every row or one per row ({len(self._rows)}), got {len(texts)}")
        encoded = [self._model.vocab.encode(t) for t in texts]
        self._settle()
        self._rows = [self._extend(row, ids) for row, ids in zip(self._rows, encoded)]
        return self

    def more(self, length: int) -> Request:
        """Start a new round of up to ``length`` characters from the live state; returns the
        request itself (iterate it, or call ``text()``)."""
        check_length(length)
        self._settle()
        self._start(length)
        return self

    # ------------------------------------------------------------ the loop and the live state

    def _generate(self) -> Iterator[str | list[str]]:
        started = time.perf_counter()
        chunks = decode(self._model, self._rows, self.length, self._context, self.sampler, self._state)
        for tokens, state in chunks:
            self._carry = state
            pieces = [self._keep(row, ids) for row, ids in enumerate(tokens)]
            if any(pieces):
                if self.first_char_seconds is None:
                    self.first_char_seconds = time.perf_counter() - started
                yield pieces if self.batch else pieces[0]
            if not any(self._open):
                break
        self.seconds = time.perf_counter() - started
        self.stop_reason = "length" if any(self._open) else "line_end"

    def _keep(self, row: int, ids: np.ndarray) -> str:
        """The text of a row's new ids, cut before the line end (which closes the row)."""
        if not self._open[row]:
            return ""
        text = self._model.vocab.decode(ids)
        end = self._line_end
        if end is not None and end in text:
            text = text[:text.index(end)]
            self._open[row] = False
        self._pieces[row].append(text)
        self.chars += len(text)
        return text

    def _settle(self) -> None:
        """Stop the round where it is and move the live state past the text it yielded."""
        if self._settled:
            return
        self._round.close()
        self._settled = True
        kept = [self._model.vocab.encode("".join(pieces)) for pieces in self._pieces]
        if self._context == "window" or self._carry is None:
            self._rows = [self._extend(row, ids) for row, ids in zip(self._rows, kept)]
            return
        # stateful: a row that ran on has its state in the engine's carry, with its last
        # token still to read; a row cut at its line end keeps the state it started from
        # and reads all it kept next time
        before = self._model.zero_state(len(kept)) if self._state is None else self._state
        states, rows = [], []
        for r, (row, ids) in enumerate(zip(self._rows, kept)):
            states.append(self._carry[r] if self._open[r] else before[r])
            rows.append(ids[-1:] if self._open[r] else self._extend(row, ids))
        self._state, self._rows = np.stack(states), rows

    def _extend(self, row: np.ndarray, ids: np.ndarray) -> np.ndarray:
        joined = np.concatenate([row, ids]).astype(np.int32)
        return joined[-self._model.window:] if self._context == "window" else joined


def check_length(length: int) -> None:
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)):
        raise ParameterError("length", f" must be a whole number of characters, got {length!r}")
    if length <= 0:
        raise ParameterError("length", f" must be a positive number of characters, got {length}")
