"""Generating text from a char model: ``CharGenerator`` and the ``Request`` it hands out.

Shaped like onnxruntime-genai: the model is loaded once, the sampling settings belong to
each request, and the caller drives the loop by iterating the request::

    gen = CharGenerator("ship.onnx")              # loads the model once (None: the shipped one)
    request = gen.request("if you", 100, temperature=0.8, top_k=5, seed=1)
    for chunk in request:                         # the text as it is generated
        print(chunk, end="", flush=True)
    request.stop_reason                           # "length" or "line_end"
    request.first_char_seconds, request.chars_per_second, request.summary()
    request.append(" and the sea")                # read more text into the live state ...
    print(request.more(40).text())                # ... and generate 40 more characters from there

    gen.text("if you", 100, temperature=0.8)      # one request, joined; stream() yields its characters
    gen.request(["if you", "ship"], 40).text()    # several prompts in one batch: a list of texts

``request``, ``stream`` and ``text`` take the same settings: ``length`` (default
DEFAULT_LENGTH), ``temperature``, ``top_k`` and ``seed``. Those not given fall back to the
generator's (``CharGenerator(..., temperature=, top_k=, seed=)``); requests without a seed of
their own draw from the generator's one random stream, one after another. Changing the
settings opens nothing. A bad value is one ParameterError naming the argument.

Two ways to give the model its context, because how a model was trained decides how it
must be run. A model trained on windows from a zero state drifts when its state is carried
far beyond the window, so the default is what the model's metadata says it was trained for:

* ``window``: every new character is predicted from the last W characters, starting from a
  zero state, exactly as the model saw its training windows. The live state of a request
  is its last W characters.
* ``stateful``: the prompt is read in one call and the recurrent state is carried from
  character to character: O(1) per character, for models trained to carry state. The live
  state is that state, plus what it has not read yet (the last character generated, and
  any text appended).

``append(text)`` adds text to the live state (for several prompts: one text for all, or a
list with one per row) and ``more(n)`` generates n more characters from there, as a new
round of the same request: its chunks, ``text()``, stop reason and timing are then those
of the new round, and it goes on drawing from the same random stream. Either of them stops
a round still running where the caller left it: the live state holds what was yielded.

A model trained on lines (metadata ``line_end``) stops at the end of a line, whichever
engine made the characters: the request cuts the text before the line end and ends when
every row has ended its line; ``length`` is then the most it generates.

How the characters are made (generation graph or per step, the same either way) is
``decoding``'s business; loading the model and pairing its files, ``char_model``'s.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from edgeseq.choices import check_choice, check_range
from edgeseq.contract.memory import require_memory
from edgeseq.contract.meta import CONTEXTS
from edgeseq.errors import InputError, ParameterError
from edgeseq.runtime.char_model import CharModel
from edgeseq.runtime.decoding import decode
from edgeseq.runtime.model_file import ModelFile
from edgeseq.runtime.sampling import Sampler

#: How many characters a request generates when not told (``edgeseq run char --length``'s default too).
DEFAULT_LENGTH = 100
#: copies of a generation graph's window of states a request holds at its peak (given, returned
#: and the graph's own), measured on window-context requests
STATE_COPIES = 9


class CharGenerator:
    """A char model ready to generate: ``request()`` for a request, ``stream()`` yields its
    characters, ``text()`` joins them.

    ``model``: a path, None for the shipped model, a ModelFile, or a CharModel to share
    (then ``threads``, ``generation`` and ``precision`` are the CharModel's). ``generation=False``
    runs the per-step path even when the model has a generation graph (the same text).
    ``precision="int8"`` runs NAME.int8.onnx beside the model (``edgeseq export --quantize
    int8``): a smaller file (faster only for LSTM models, mainly in batches), its measured cost
    in its metadata; its activations are quantized per call, so a prompt's int8 text (greedy
    too) may depend on the other prompts of its batch. None (the default) runs the file given,
    NAME.int8.onnx in int8; "fp32" refuses a file named so. ``temperature``, ``top_k`` and
    ``seed`` are the defaults of every request. ``stop_at_line_end=False`` lets a line model
    go on past the end of a line.
    """

    def __init__(self, model: str | Path | ModelFile | CharModel | None = None, *, context: str | None = None,
                 temperature: float = 0.0, top_k: int = 0, seed: int | None = None,
                 threads: int = 1, generation: bool = True, stop_at_line_end: bool = True,
                 precision: str | None = None):
        self.model = model if isinstance(model, CharModel) else CharModel(model, threads=threads,
                                                                           generation=generation, precision=precision)
        self.context = context or self.model.description.context
        check_choice("context", self.context, CONTEXTS)
        self.defaults = Sampler(temperature, top_k, seed)  # its stream serves requests without a seed
        self.line_end = self.model.line_end if stop_at_line_end else None

    @property
    def vocab(self):
        return self.model.vocab

    @property
    def window(self) -> int:
        return self.model.window

    @property
    def engine(self) -> str:
        """'generation graph' or 'per-step': how characters are produced."""
        return self.model.engine

    @property
    def why_per_step(self) -> str:
        return self.model.why_per_step

    def request(self, prompt: str | list[str], length: int = DEFAULT_LENGTH, *, temperature: float | None = None,
                top_k: int | None = None, seed: int | None = None) -> Request:
        """A request to continue ``prompt`` (or each of a list of prompts) by up to ``length``
        characters; settings not given are the generator's. Everything is checked here;
        nothing runs until it is iterated."""
        sampler = Sampler(self.defaults.temperature if temperature is None else temperature,
                          self.defaults.top_k if top_k is None else top_k,
                          self.defaults if seed is None else seed)  # no seed: the generator's stream
        check_range("top_k", sampler.top_k, 0, len(self.vocab), "the vocabulary size; 0: all")
        prompts = [prompt] if isinstance(prompt, str) else list(prompt)
        if not prompts:
            raise ParameterError("prompt", "", before="give at least one ")
        if not all(prompts):
            raise ParameterError("prompt", " must have at least one character")
        _check_length(length)
        rows = [self.vocab.encode(p) for p in prompts]
        self.check_memory(len(rows))
        return Request(self, rows, length, sampler, batch=not isinstance(prompt, str))

    def check_memory(self, rows: int) -> None:
        """Refuse a request whose state cannot fit: in the window context a generation graph
        keeps one state per window slot for every row (rows x W x S x H floats, held about
        STATE_COPIES times: given, returned and inside the graph), and any path reads rows x W
        ids to logits of the vocabulary's width."""
        graph, window = self.model.graph, self.window
        rows_of_state = self.model.state_shape[0] * self.model.state_shape[1]
        slots = window if self.context == "window" and graph is not None and not graph.rereads_window else 1
        need = 4 * rows * (STATE_COPIES * slots * rows_of_state + window * (len(self.vocab) + rows_of_state))
        require_memory(need, f"{rows} prompt(s) at the context window of {window:,} of {self.model.path.name}",
                       "give fewer prompts per call (or --context stateful)")

    def stream(self, prompt: str, length: int = DEFAULT_LENGTH, *, temperature: float | None = None,
               top_k: int | None = None, seed: int | None = None) -> Iterator[str]:
        """An iterator of the generated characters of one prompt, each yielded as it is
        chosen. A bad setting fails here, at the call, before anything is printed."""
        if not isinstance(prompt, str):
            raise ParameterError("prompt", " of stream() is one text; request() takes a list of prompts")
        request = self.request(prompt, length, temperature=temperature, top_k=top_k, seed=seed)
        return (char for chunk in request for char in chunk)

    def text(self, prompt: str | list[str], length: int = DEFAULT_LENGTH, *, temperature: float | None = None,
             top_k: int | None = None, seed: int | None = None) -> str | list[str]:
        """The whole text of one request: a str, or a list of texts for a list of prompts."""
        return self.request(prompt, length, temperature=temperature, top_k=top_k, seed=seed).text()

    def summary(self) -> str:
        """One line: the model, the context and the engine (and why per step)."""
        meta = self.model.description
        window = f" {self.window}" if self.context == "window" else ""
        why = f" ({self.why_per_step})" if self.model.graph is None else ""
        int8 = " in int8" if self.model.precision == "int8" else ""
        return (f"model {self.model.path.name}: {meta.layers}x{meta.cell.upper()}({meta.hidden}){int8}, "
                f"context {self.context}{window}, {self.engine}{why}")


class Request:
    """One generation: iterate it for chunks of text (a list of chunks, one per row, for
    several prompts), or call ``text()``. See the module docstring."""

    def __init__(self, generator: CharGenerator, rows: list[np.ndarray], length: int, sampler: Sampler,
                 batch: bool):
        self.generator, self.sampler, self.batch = generator, sampler, batch
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
        encoded = [self.generator.vocab.encode(t) for t in texts]
        self._settle()
        self._rows = [self._extend(row, ids) for row, ids in zip(self._rows, encoded)]
        return self

    def more(self, length: int) -> Request:
        """Start a new round of up to ``length`` characters from the live state; returns the
        request itself (iterate it, or call ``text()``)."""
        _check_length(length)
        self._settle()
        self._start(length)
        return self

    # ------------------------------------------------------------ the loop and the live state

    def _generate(self) -> Iterator[str | list[str]]:
        g = self.generator
        started = time.perf_counter()
        chunks = decode(g.model, self._rows, self.length, g.context, self.sampler, self._state)
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
        text = self.generator.vocab.decode(ids)
        end = self.generator.line_end
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
        kept = [self.generator.vocab.encode("".join(pieces)) for pieces in self._pieces]
        if self.generator.context == "window" or self._carry is None:
            self._rows = [self._extend(row, ids) for row, ids in zip(self._rows, kept)]
            return
        # stateful: a row that ran on has its state in the engine's carry, with its last
        # token still to read; a row cut at its line end keeps the state it started from
        # and reads all it kept next time
        before = self.generator.model.zero_state(len(kept)) if self._state is None else self._state
        states, rows = [], []
        for r, (row, ids) in enumerate(zip(self._rows, kept)):
            states.append(self._carry[r] if self._open[r] else before[r])
            rows.append(ids[-1:] if self._open[r] else self._extend(row, ids))
        self._state, self._rows = np.stack(states), rows

    def _extend(self, row: np.ndarray, ids: np.ndarray) -> np.ndarray:
        joined = np.concatenate([row, ids]).astype(np.int32)
        return joined[-self.generator.window:] if self.generator.context == "window" else joined


def _check_length(length: int) -> None:
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)):
        raise ParameterError("length", f" must be a whole number of characters, got {length!r}")
    if length <= 0:
        raise ParameterError("length", f" must be a positive number of characters, got {length}")
