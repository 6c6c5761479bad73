"""Streaming text generation from an exported char model.

Two ways to give the model its context, because how a model was trained decides how it
must be run:

* ``window``: every new character is predicted from the last W characters, starting from a
  zero state, exactly as the model saw its training windows. One call per character.
* ``stateful``: the prompt is consumed in one call and the recurrent state is carried from
  character to character: O(1) per character, for models trained to carry state.

A model trained on windows from a zero state drifts when its state is carried far beyond
the window, so the default is what the model's metadata says it was trained for.

The stateful loop keeps onnxruntime's per-call overhead small: input and output buffers
are allocated once and bound with IOBinding, and two bindings alternate the state buffers
(A -> B, then B -> A) so that no step allocates or copies the state.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnxruntime as ort

from edgeseq.data.text import Vocabulary
from edgeseq.errors import InputError
from edgeseq.runtime.model_file import ModelFile, open_model
from edgeseq.runtime.sampling import Sampler

CONTEXTS = ("window", "stateful")


class CharGenerator:
    """A char model ready to generate: ``stream()`` yields characters, ``text()`` joins them."""

    def __init__(self, model: str | Path | ModelFile | None = None, *, context: str | None = None,
                 temperature: float = 0.0, top_k: int = 0, seed: int | None = None,
                 threads: int = 1):
        self.model = model if isinstance(model, ModelFile) else open_model(model, "char", threads)
        meta = self.model.meta
        self.vocab = Vocabulary(meta["vocabulary"])
        self.window = int(meta["window"])
        self.context = context or meta.get("context", "window")
        if self.context not in CONTEXTS:
            raise InputError(f"unknown --context {self.context!r}; choose one of: {', '.join(CONTEXTS)}")
        self.state_shape = tuple(meta["state"]["shape"][1:])
        self.sampler = Sampler(temperature, top_k, seed)
        self.session = self.model.session

    def zero_state(self, batch: int = 1) -> np.ndarray:
        return np.zeros((batch, *self.state_shape), np.float32)

    def logits(self, ids: np.ndarray, state: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """One call of the graph: ids [batch, time] -> (logits [batch, time, V], new state)."""
        ids = np.ascontiguousarray(ids, np.int32)
        if state is None:
            state = self.zero_state(ids.shape[0])
        logits, new_state = self.session.run(["logits", "new_state"], {"ids": ids, "state": state})
        return logits, new_state

    def stream(self, prompt: str, length: int) -> Iterator[str]:
        """An iterator of ``length`` generated characters, each yielded as it is chosen.

        Not itself a generator function, so that a bad prompt or length fails here, at the
        call, before anything is printed.
        """
        if not prompt:
            raise InputError("--prompt must have at least one character")
        if length <= 0:
            raise InputError(f"--length must be a positive number of characters, got {length}")
        ids = self.vocab.encode(prompt)
        if self.context == "window":
            return self._stream_windowed(ids, length)
        return self._stream_stateful(ids, length)

    def text(self, prompt: str, length: int) -> str:
        return "".join(self.stream(prompt, length))

    def _stream_windowed(self, ids: np.ndarray, length: int) -> Iterator[str]:
        history = list(ids[-self.window:])
        state = self.zero_state()
        for _ in range(length):
            context = np.asarray([history[-self.window:]], np.int32)
            logits, _ = self.logits(context, state)
            next_id = self.sampler.choose(logits[0, -1])
            history.append(next_id)
            yield self.vocab.chars[next_id]

    def _stream_stateful(self, ids: np.ndarray, length: int) -> Iterator[str]:
        logits, state = self.logits(ids[None, :])
        next_id = self.sampler.choose(logits[0, -1])
        yield self.vocab.chars[next_id]
        if length == 1:
            return
        step = _BoundStep(self.session, state)
        for _ in range(length - 1):
            next_id = self.sampler.choose(step(next_id))
            yield self.vocab.chars[next_id]


class _BoundStep:
    """One character in, its logits out, with the state kept in two preallocated buffers."""

    def __init__(self, session: ort.InferenceSession, state: np.ndarray):
        vocab = session.get_outputs()[0].shape[-1]
        self.ids = np.zeros((1, 1), np.int32)
        self.out = np.zeros((1, 1, vocab), np.float32)
        self.states = [np.ascontiguousarray(state, np.float32), np.empty_like(state, np.float32)]
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

    def __call__(self, token: int) -> np.ndarray:
        self.ids[0, 0] = token
        self.session.run_with_iobinding(self.bindings[self.turn])
        self.turn ^= 1
        return self.out[0, 0]
