"""Streaming text generation from an exported char model.

Two ways to give the model its context, because how a model was trained decides how it
must be run:

* ``window``: every new character is predicted from the last W characters, starting from a
  zero state, exactly as the model saw its training windows.
* ``stateful``: the prompt is consumed in one call and the recurrent state is carried from
  character to character: O(1) per character, for models trained to carry state.

A model trained on windows from a zero state drifts when its state is carried far beyond
the window, so the default is what the model's metadata says it was trained for.

Two ways to run either context, with the same results:

* the generation graph (``NAME.gen.onnx`` beside ``NAME.onnx``, written by the exporter):
  the character loop runs inside onnxruntime, sampling included, and one call returns a
  chunk of characters. Chunks start small (the first character comes after one call) and
  grow, so the per-call cost is spread over up to ``CHUNKS[-1]`` characters. In the window
  context the graph keeps W staggered states instead of re-reading the window (see
  ``edgeseq.export.generation``).
* the per-step path, for model files without a generation graph (or ``generation=False``):
  one step-graph call per character. The stateful loop binds its buffers once (IOBinding)
  and alternates two state buffers, so no step allocates; the window loop binds a rolling
  [batch, W] window the same way.

Both draw their random numbers from the same seeded numpy generator, one uniform per
character (per row) in the same order, and choose with the same inverse-CDF rule, so a seed
gives the same text on either path; greedy text is the same by construction.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnxruntime as ort

from edgeseq.data.text import Vocabulary
from edgeseq.errors import InputError, ModelFileError
from edgeseq.evaluation.text import cross_entropy
from edgeseq.contract import METADATA_KEY, CharMeta, ModelFiles, file_sha256, parse_meta
from edgeseq.runtime.model_file import ModelFile, default_model_path, open_model, session_options
from edgeseq.runtime.sampling import Sampler

CONTEXTS = ("window", "stateful")
#: characters per generation-graph call: a quick first character, then longer calls
#: (sizes 1 + a multiple of the graph's unroll run without its single-step remainder loop)
CHUNKS = (1, 5, 17, 65, 129)


class GenerationGraph:
    """A loaded generation graph: ``run`` generates one chunk for a batch of rows."""

    def __init__(self, session: ort.InferenceSession, meta: CharMeta | None, path: Path | None):
        self.session = session
        self.meta = meta
        self.path = path

    @classmethod
    def beside(cls, step_path: str | Path, threads: int = 1) -> tuple["GenerationGraph | None", str]:
        """The generation graph of the step model at ``step_path`` if there is a usable one
        (made from that very file), and why not otherwise."""
        step_path = Path(step_path)
        path = ModelFiles(step_path).generation
        if not path.is_file():
            return None, f"no {path.name} beside {step_path.name}"
        try:
            session = ort.InferenceSession(str(path), session_options(threads),
                                           providers=["CPUExecutionProvider"])
            meta = parse_meta(session.get_modelmeta().custom_metadata_map[METADATA_KEY], str(path))
        except Exception as e:  # a broken or foreign file: the per-step path still works
            return None, f"{path.name} is not a loadable generation graph ({type(e).__name__})"
        if (not isinstance(meta, CharMeta) or meta.generation is None
                or meta.generation.of_sha256 != file_sha256(step_path)):
            return None, f"{path.name} was not made from this {step_path.name} (re-export the model)"
        return cls(session, meta, path), ""

    def step_meta(self) -> CharMeta:
        """The step model's own description, as the generation graph carries it."""
        return self.meta.step_meta()

    def run(self, ids: np.ndarray, state: np.ndarray, window: int, position: int,
            uniforms: np.ndarray, temperature: float, top_k: int) -> tuple[np.ndarray, np.ndarray]:
        tokens, new_state = self.session.run(["tokens", "new_state"], {
            "ids": ids, "state": state, "window": np.array(window, np.int64),
            "position": np.array(position, np.int64), "uniforms": uniforms,
            "temperature": np.array(temperature, np.float32), "top_k": np.array(top_k, np.int64)})
        return tokens, new_state


class CharGenerator:
    """A char model ready to generate: ``stream()`` yields characters, ``text()`` joins them.

    ``generation=False`` runs the per-step path even when the model has a generation graph
    (the two give the same text; the per-step path is the reference). A model trained on
    lines (its metadata has ``line_end``) stops at the end of a line unless
    ``stop_at_line_end=False``; ``length`` is then the most it generates.
    """

    def __init__(self, model: str | Path | ModelFile | None = None, *, context: str | None = None,
                 temperature: float = 0.0, top_k: int = 0, seed: int | None = None,
                 threads: int = 1, generation: bool = True, stop_at_line_end: bool = True):
        if isinstance(model, ModelFile):
            self.model = model
            self.graph, self.why_per_step = (GenerationGraph.beside(model.path, threads) if generation
                                             else (None, "generation=False"))
        else:
            self.model, self.graph, self.why_per_step = _open(model, threads, generation)
        meta = self.model.description
        if meta.graph in ("generation", "fixed"):
            raise ModelFileError(f"{self.model.path}: the {meta.graph} graph of a model; pass its "
                                 f"step model NAME.onnx (which finds NAME.gen.onnx beside it)")
        self.vocab = Vocabulary(meta.vocabulary)
        self.window = meta.window
        self.context = context or meta.context
        if self.context not in CONTEXTS:
            raise InputError(f"unknown --context {self.context!r}; choose one of: {', '.join(CONTEXTS)}")
        self.state_shape = (meta.state.rows, meta.state.hidden)
        self.sampler = Sampler(temperature, top_k, seed)
        self.line_end = meta.line_end if stop_at_line_end else None

    @property
    def session(self) -> ort.InferenceSession:
        """The step graph's session (opened on first use when the generation graph is used)."""
        return self.model.session

    @property
    def engine(self) -> str:
        """'generation graph' or 'per-step': how characters are produced."""
        return "generation graph" if self.graph is not None else "per-step"

    def zero_state(self, batch: int = 1) -> np.ndarray:
        return np.zeros((batch, *self.state_shape), np.float32)

    def logits(self, ids: np.ndarray, state: np.ndarray | None = None,
               lengths: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """One call of the step graph: ids [batch, time] -> (logits [batch, time, V], new state).

        ``lengths`` [batch]: rows padded at the end; logits past a row's length are 0 and
        its new state is the one after its last valid step (the lab's dynamic_rnn).
        """
        ids = np.ascontiguousarray(ids, np.int32)
        feeds = {"ids": ids, "state": self.zero_state(ids.shape[0]) if state is None else state}
        if lengths is not None:
            feeds["lengths"] = checked_lengths(lengths, ids.shape)
        logits, new_state = self.session.run(["logits", "new_state"], feeds)
        return logits, new_state

    def char_losses(self, text: str, chunk: int = 256) -> np.ndarray:
        """Per-character cross-entropy (nats) of ``text`` under the model, teacher forced.

        The text is fed ``chunk`` characters per call with the state carried from call to
        call, as a stateful stream would run; entry i scores character i + 1.
        """
        ids = self.vocab.encode(text)
        if len(ids) < 2:
            raise InputError("the text needs at least two characters to score one")
        state, losses = self.zero_state(), []
        for start in range(0, len(ids) - 1, chunk):
            inputs, targets = ids[start:start + chunk], ids[start + 1:start + chunk + 1]
            inputs = inputs[: len(targets)]
            logits, state = self.logits(inputs[None, :], state)
            losses.append(cross_entropy(logits[0], targets))
        return np.concatenate(losses)

    def generate_batch(self, prompts: list[str], length: int) -> list[str]:
        """Continue several prompts of any lengths at once: one prefill call for all of them
        (padded, with their lengths), then every step for the whole batch."""
        if not prompts:
            raise InputError("give at least one --prompt")
        encoded = [self._check(prompt, length) for prompt in prompts]
        if self.context == "stateful":
            tokens = self._batch_stateful(encoded, length)
        else:
            tokens = self._batch_windowed(encoded, length)
        generated = np.concatenate(list(tokens), axis=1)
        texts = [self.vocab.decode(row) for row in generated]
        return texts if self.line_end is None else [text.split(self.line_end)[0] for text in texts]

    def _batch_stateful(self, encoded: list[np.ndarray], length: int) -> Iterator[np.ndarray]:
        ids, lengths = pad_rows(encoded)
        logits, state = self.logits(ids, lengths=lengths)
        first = self.sampler.choose_rows(logits[np.arange(len(ids)), lengths - 1])
        yield first[:, None]
        if length > 1:
            yield from self._continue(first[:, None].astype(np.int32), state, length - 1)

    def _continue(self, ids: np.ndarray, state: np.ndarray, length: int) -> Iterator[np.ndarray]:
        """Stateful generation from a state that has not yet read ``ids`` [batch, 1]."""
        if self.graph is not None:
            return graph_chunks(self.graph, ids, length, "stateful", self.window, self.state_shape,
                                self.sampler, initial_state=state[:, None])
        return _step_stateful(self.session, ids, length, self.state_shape, self.sampler, state)

    def _batch_windowed(self, encoded: list[np.ndarray], length: int) -> Iterator[np.ndarray]:
        """Rows shorter than the window step with lengths until every row fills a window;
        from then on every row is a full window and the fast path takes over."""
        histories = [list(ids[-self.window:]) for ids in encoded]
        while length > 0 and min(map(len, histories)) < self.window:
            ids, lengths = pad_rows([np.asarray(h[-self.window:], np.int32) for h in histories])
            logits, _ = self.logits(ids, lengths=lengths)
            token = self.sampler.choose_rows(logits[np.arange(len(ids)), lengths - 1])
            for history, t in zip(histories, token):
                history.append(int(t))
            length -= 1
            yield token[:, None]
        if length > 0:
            yield from self.generate_ids(np.array([h[-self.window:] for h in histories], np.int32), length)

    def stream(self, prompt: str, length: int) -> Iterator[str]:
        """An iterator of ``length`` generated characters, each yielded as it is chosen.

        Not itself a generator function, so that a bad prompt or length fails here, at the
        call, before anything is printed.
        """
        return (char for chunk in self.chunks(prompt, length) for char in chunk)

    def chunks(self, prompt: str, length: int) -> Iterator[str]:
        """Like ``stream`` but yields the characters as they come, a chunk at a time
        (one character per chunk on the per-step path)."""
        ids = self._check(prompt, length)[None, :]
        chunks = (self.vocab.decode(tokens[0]) for tokens in self.generate_ids(ids, length))
        return chunks if self.line_end is None else _until(chunks, self.line_end)

    def text(self, prompt: str, length: int) -> str:
        return "".join(self.stream(prompt, length))

    def generate_ids(self, ids: np.ndarray, length: int) -> Iterator[np.ndarray]:
        """Ids [batch, time] (rows of one length) -> chunks of generated ids [batch, n],
        ``length`` in all per row. The uniforms of a chunk are drawn step by step, row by
        row within a step, on both paths."""
        ids = np.ascontiguousarray(ids, np.int32)
        if self.graph is not None:
            return graph_chunks(self.graph, ids, length, self.context, self.window, self.state_shape,
                                self.sampler)
        return per_step_chunks(self.session, ids, length, self.context, self.window, self.state_shape,
                               self.sampler)

    def _check(self, prompt: str, length: int) -> np.ndarray:
        if not prompt:
            raise InputError("--prompt must have at least one character")
        if length <= 0:
            raise InputError(f"--length must be a positive number of characters, got {length}")
        return self.vocab.encode(prompt)


def _until(chunks: Iterator[str], end: str) -> Iterator[str]:
    """The chunks up to (not including) the first ``end``; generation stops there."""
    for chunk in chunks:
        head, found, _ = chunk.partition(end)
        if head:
            yield head
        if found:
            return


def checked_lengths(lengths, shape: tuple) -> np.ndarray:
    """Lengths [batch] as int32, each from 1 to the padded time axis, or a one-line error."""
    lengths = np.asarray(lengths)
    batch, time = shape
    if lengths.shape != (batch,) or not np.issubdtype(lengths.dtype, np.integer):
        raise InputError(f"lengths must be {batch} whole numbers, one per row, got shape {lengths.shape}")
    if (lengths < 1).any():
        raise InputError(f"lengths must be at least 1, got {lengths.min()} (row {int(np.argmin(lengths))})")
    if (lengths > time).any():
        row = int(np.argmax(lengths))
        raise InputError(f"length {lengths[row]} of row {row} is longer than the padded time axis ({time})")
    return lengths.astype(np.int32)


def pad_rows(rows: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ids padded at the end into [batch, longest], and their lengths."""
    lengths = np.array([len(r) for r in rows], np.int32)
    ids = np.zeros((len(rows), lengths.max()), np.int32)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = row
    return ids, lengths


def _open(path: str | Path | None, threads: int, generation: bool):
    """(step model, generation graph or None, why per step). With a usable generation graph
    the step model's session is left unopened until something needs it: generating does not,
    and a session costs tens of milliseconds of start-up."""
    step_path = default_model_path("char") if path is None else Path(path)
    if generation and step_path.is_file():
        graph, why = GenerationGraph.beside(step_path, threads)
        if graph is not None:
            return _LazyModelFile(step_path, graph.step_meta(), threads), graph, ""
        model = open_model(step_path, "char", threads)
        return model, graph, why
    model = open_model(step_path, "char", threads)
    graph, why = GenerationGraph.beside(step_path, threads) if generation else (None, "generation=False")
    return model, graph, why


class _LazyModelFile(ModelFile):
    """A ModelFile whose session opens on first use (``open_model`` checks it then)."""

    def __init__(self, path: Path, description: CharMeta, threads: int):  # not the dataclass __init__
        self.path, self.description, self._threads, self._session = path, description, threads, None
        self.meta = description.to_json()

    @property
    def session(self) -> ort.InferenceSession:
        if self._session is None:
            self._session = open_model(self.path, "char", self._threads).session
        return self._session


# ---------------------------------------------------------------- the generation graph

def graph_chunks(graph: GenerationGraph, ids: np.ndarray, length: int, context: str, window: int,
                 state_shape: tuple, sampler: Sampler, chunks: tuple = CHUNKS,
                 initial_state: np.ndarray | None = None) -> Iterator[np.ndarray]:
    """Generate with the generation graph: chunks of ids [batch, n] (sizes from ``chunks``).

    ``initial_state`` [batch, 1, S, H] (stateful only): the state before ``ids``."""
    batch = ids.shape[0]
    if context == "window":
        ids = ids[:, -window:]  # older characters cannot reach any prediction
        slots, width = window, window
    else:
        slots, width = 1, 0
    state = np.zeros((batch, slots, *state_shape), np.float32) if initial_state is None else initial_state
    position, done, calls = 0, 0, 0
    while done < length:
        n = min(chunks[min(calls, len(chunks) - 1)], length - done)
        uniforms = (np.zeros((n, batch), np.float32) if sampler.greedy
                    else sampler.uniforms(n * batch).reshape(n, batch))
        tokens, state = graph.run(ids, state, width, position, uniforms, sampler.temperature, sampler.top_k)
        position += ids.shape[1] + n - 1
        ids = np.ascontiguousarray(tokens[:, -1:])
        done, calls = done + n, calls + 1
        yield tokens


# ---------------------------------------------------------------- the per-step path

def per_step_chunks(session: ort.InferenceSession, ids: np.ndarray, length: int, context: str,
                    window: int, state_shape: tuple, sampler: Sampler) -> Iterator[np.ndarray]:
    """Generate with the step graph, one call per character: ids [batch, 1] at a time."""
    if context == "window":
        return _step_windowed(session, ids, length, window, state_shape, sampler)
    return _step_stateful(session, ids, length, state_shape, sampler)


def _step_stateful(session: ort.InferenceSession, ids: np.ndarray, length: int, state_shape: tuple,
                   sampler: Sampler, state: np.ndarray | None = None) -> Iterator[np.ndarray]:
    batch = ids.shape[0]
    if state is None:
        state = np.zeros((batch, *state_shape), np.float32)
    logits, state = session.run(["logits", "new_state"], {"ids": ids, "state": state})
    token = sampler.choose_rows(logits[:, -1])
    yield token[:, None]
    if length == 1:
        return
    step = _BoundStep(session, state)
    for _ in range(length - 1):
        token = sampler.choose_rows(step(token))
        yield token[:, None]


def _step_windowed(session: ort.InferenceSession, ids: np.ndarray, length: int, window: int,
                   state_shape: tuple, sampler: Sampler) -> Iterator[np.ndarray]:
    """Each character from the last ``window`` characters, from a zero state: one call each."""
    batch = ids.shape[0]
    zero = np.zeros((batch, *state_shape), np.float32)
    history = ids[:, -window:]
    while history.shape[1] < window and length > 0:  # a short prompt: growing windows
        logits, _ = session.run(["logits", "new_state"], {"ids": history, "state": zero})
        token = sampler.choose_rows(logits[:, -1])
        yield token[:, None]
        history = np.concatenate([history, token[:, None].astype(np.int32)], axis=1)
        length -= 1
    if length <= 0:
        return
    step = _BoundWindow(session, history, zero)
    for _ in range(length):
        token = sampler.choose_rows(step())
        yield token[:, None]
        step.push(token)


class _BoundStep:
    """Ids [batch] in, their logits [batch, V] out, with the state kept in two preallocated
    buffers: two IOBindings alternate them (A -> B, then B -> A), so no step allocates."""

    def __init__(self, session: ort.InferenceSession, state: np.ndarray):
        batch, vocab = state.shape[0], session.get_outputs()[0].shape[-1]
        self.ids = np.zeros((batch, 1), np.int32)
        self.out = np.zeros((batch, 1, vocab), np.float32)
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
        self.ids = np.ascontiguousarray(history, np.int32)
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
