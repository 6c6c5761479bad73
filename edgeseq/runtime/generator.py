"""Generating text from a char model: ``CharGenerator`` loads it once and hands out requests.

Shaped like onnxruntime-genai: the sampling settings belong to each request, and the caller
drives the loop by iterating the request (edgeseq.runtime.request). ``stream`` yields one
prompt's characters and ``text`` joins them; both take ``request``'s settings. The context
defaults to what the model was trained for; docs/generation.md shows the API.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from edgeseq.choices import check_choice, check_range
from edgeseq.contract.memory import require_memory
from edgeseq.contract.meta import CONTEXTS
from edgeseq.errors import ParameterError
from edgeseq.runtime.char_model import CharModel
from edgeseq.runtime.model_file import ModelFile
from edgeseq.runtime.request import Request, check_length
from edgeseq.runtime.sampling import Sampler

#: How many characters a request generates when not told (``edgeseq run char --length``'s default too).
DEFAULT_LENGTH = 100
#: copies of a generation graph's window of states a request holds at its peak: given,
#: returned and the graph's own
STATE_COPIES = 9


class CharGenerator:
    """A char model ready to generate: ``request()`` for a request, ``stream()`` yields its
    characters, ``text()`` joins them.

    ``model``: a path, None for the shipped model, a ModelFile, or a CharModel to share
    (then ``threads``, ``generation`` and ``precision`` are the CharModel's). ``generation=False``
    runs the per-step path even when the model has a generation graph (the same text).
    ``precision="int8"`` runs NAME.int8.onnx beside the model (docs/int8.md); None runs the
    file given. ``temperature``, ``top_k`` and ``seed`` are the defaults of every request.
    ``stop_at_line_end=False`` lets a line model go on past the end of a line.
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
        check_length(length)
        rows = [self.vocab.encode(p) for p in prompts]
        self.check_memory(len(rows))
        return Request(self.model, self.context, self.line_end, rows, length, sampler,
                       batch=not isinstance(prompt, str))

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


__all__ = ["CharGenerator", "Request", "DEFAULT_LENGTH"]
