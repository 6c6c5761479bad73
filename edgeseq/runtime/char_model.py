"""A char model loaded once: its description, its sessions, and the two things it computes.

The generation graph beside NAME.onnx is used only when it names that very step file; else
the model runs per step and ``why_per_step`` says why. The step session opens on first use.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from edgeseq.contract import METADATA_KEY, CharMeta, ModelFiles
from edgeseq.contract.meta import read_document
from edgeseq.contract.model_props import metadata_text
from edgeseq.contract.reading import load_document
from edgeseq.contract.siblings import int8_made_from
from edgeseq.contract.digest import bytes_sha256, check_digest
from edgeseq.data.text import Vocabulary
from edgeseq.display import printable
from edgeseq.errors import InputError, IntegrityError, ModelFileError
from edgeseq.evaluation.text_metrics import cross_entropy
from edgeseq.runtime.model_file import (ModelFile, check_made_from, default_model_path, int8_beside, load_model,
                                        open_model, read_model_bytes)


class GenerationGraph:
    """A loaded generation graph: ``run`` generates one chunk for a batch of rows, and refuses
    ids outside the vocabulary of ``vocab_size`` characters (a damaged or foreign graph).

    ``rereads_window``: the graph reads the window context from the last W ids it is given on
    every call (an int8 graph), not from W slots of state (see decoding.graph_chunks)."""

    def __init__(self, session: ort.InferenceSession, meta: CharMeta | None, path: Path | None, vocab_size: int,
                 rereads_window: bool | None = None):
        self.session = session
        self.meta = meta
        self.path = path
        self.vocab_size = vocab_size
        if rereads_window is None:
            rereads_window = meta is not None and meta.generation is not None and meta.generation.rereads_window
        self.rereads_window = rereads_window

    @classmethod
    def beside(cls, step_path: str | Path, step_sha256: str, threads: int = 1) -> tuple[GenerationGraph | None, str]:
        """The generation graph of the step model at ``step_path`` (whose bytes have the sha256
        ``step_sha256``) if there is a usable one, made from that very file, and why not otherwise.

        A damaged one (its bytes do not match its digest) is refused: one line, nothing runs.
        A missing, stale, foreign or unreadable one is left out: the per-step path is the same."""
        step_path = Path(step_path)
        path = ModelFiles(step_path).generation
        if not path.is_file():
            return None, f"no {path.name} beside {step_path.name}"
        try:
            # an fp32 graph opens unoptimized (as fast per character, half the opening time:
            # model_file.session_options); an int8 one is optimized, renamed ones too
            data, named_int8 = read_model_bytes(path), int8_made_from(step_path) is not None
            model = load_model(path, data, threads, optimize=named_int8)
            if model.description.quantization is not None and not named_int8:
                model = load_model(path, data, threads)
        except IntegrityError as e:
            raise IntegrityError(f"{e} (or delete it to run per step)") from None
        except ModelFileError as e:  # a broken, foreign or newer file: the per-step path still works
            reason = str(e).removeprefix(f"{path}: ")
            return None, f"{path.name} is not a usable generation graph ({reason[:200]})"
        meta = model.description
        if not isinstance(meta, CharMeta) or meta.generation is None or meta.generation.of_sha256 != step_sha256:
            return None, f"{path.name} was not made from this {step_path.name} (re-export the model)"
        step = step_description(step_path)
        if step is not None and meta.step_meta() != step.step_meta():
            differ = next((name for name in ("vocabulary", "window", "cell", "layers", "hidden", "state", "context")
                           if getattr(meta, name, None) != getattr(step, name, None)), "description")
            return None, (f"{path.name} is not a usable generation graph (its {differ} differs from "
                          f"{step_path.name}'s)")
        graph = cls(model.session, meta, path, meta.vocab_size)
        try:  # the step graph's check, held to this graph: the last id of its vocabulary must be one it reads
            graph.outputs(np.array([[meta.vocab_size - 1]], np.int32),
                      np.zeros((1, 1, meta.state.rows, meta.state.hidden), np.float32), 0, 0,
                      np.zeros((1, 1), np.float32), 0.0, 0)
        except ModelFileError:
            return None, (f"{path.name} is not a usable generation graph (it cannot read character id "
                          f"{meta.vocab_size - 1}, the last of its vocabulary of {meta.vocab_size})")
        return graph, ""

    def run(self, ids: np.ndarray, state: np.ndarray, window: int, position: int,
            uniforms: np.ndarray, temperature: float, top_k: int) -> tuple[np.ndarray, np.ndarray]:
        """One call: read ``ids``, then generate ``len(uniforms)`` tokens per row (see the
        inputs and outputs in the file's metadata); the tokens checked."""
        tokens, new_state = self.outputs(ids, state, window, position, uniforms, temperature, top_k)
        if tokens.shape != (ids.shape[0], uniforms.shape[0]) or new_state.shape != state.shape:
            raise ModelFileError(f"{self.path}: the generation graph returned tokens {list(tokens.shape)} and a "
                                 f"state {list(new_state.shape)} for {ids.shape[0]} rows of {uniforms.shape[0]}")
        if tokens.size and (tokens.min() < 0 or tokens.max() >= self.vocab_size):
            bad = int(tokens.min()) if tokens.min() < 0 else int(tokens.max())
            raise ModelFileError(f"{self.path}: the generation graph produced character id {bad}, outside the "
                                 f"vocabulary of {self.vocab_size}; export the model again")
        return tokens, new_state

    def outputs(self, ids: np.ndarray, state: np.ndarray, window: int, position: int,
                uniforms: np.ndarray, temperature: float, top_k: int) -> tuple[np.ndarray, np.ndarray]:
        """The graph's tokens and new state as it gives them; its failure is one line."""
        try:
            tokens, new_state = self.session.run(["tokens", "new_state"], {
                "ids": ids, "state": state, "window": np.array(window, np.int64),
                "position": np.array(position, np.int64), "uniforms": uniforms,
                "temperature": np.array(temperature, np.float32), "top_k": np.array(top_k, np.int64)})
        except Exception as e:  # onnxruntime's own error types: a graph that fails on its own inputs
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise ModelFileError(f"{self.path}: the generation graph failed ({printable(first[-160:])}); "
                                 "export the model again") from None
        return tokens, new_state


def step_description(step_path: Path) -> CharMeta | None:
    """The description the step file ``step_path`` carries, read from its bytes without opening
    a session on it (the generation graph's copy must be this very description: a step
    graph's own is held to its graph when its session opens). None when it has none that
    reads: opening the step file then says why."""
    text = metadata_text(read_model_bytes(step_path), METADATA_KEY)
    try:
        description = read_document(load_document(text, str(step_path)), str(step_path))
    except ModelFileError:
        return None
    return description if isinstance(description, CharMeta) else None


class CharModel:
    """A char step model and, when there is a matching one, its generation graph.

    ``model``: a path to NAME.onnx, None for the shipped model, or an opened ModelFile.
    ``generation=False`` ignores the generation graph: the same text, per step. ``precision``:
    None, "fp32" or "int8", as model_file.int8_beside reads it.
    """

    def __init__(self, model: str | Path | ModelFile | None = None, *, threads: int = 1,
                 generation: bool = True, precision: str | None = None):
        opened = model if isinstance(model, ModelFile) else None
        path = opened.path if opened else default_model_path("char") if model is None else Path(model)
        path, made_from = int8_beside(path, precision)
        if made_from is not None:
            opened = None  # the int8 file is another file
        data = None
        if opened is None:  # read and checked once: its sha256 pairs the generation graph
            data = read_model_bytes(path)
            check_digest(data, str(path))
        self.step_sha256 = opened.sha256 if opened else bytes_sha256(data)
        self.graph, self.why_per_step = None, "generation=False"
        if generation:
            self.graph, self.why_per_step = GenerationGraph.beside(path, self.step_sha256, threads)
        if opened is None and self.graph is None:
            opened = load_model(path, data, threads)
        # with a usable generation graph, its copy of the step file's description serves and
        # the step session waits until something needs it
        description = opened.description if opened else self.graph.meta.step_meta()
        check_made_from(path, opened.description if opened else self.graph.meta, made_from)
        self._session = opened.session if opened else None
        if description.task != "char":
            raise ModelFileError(f"{path}: a {description.task!r} model, but a char model is needed")
        if description.graph in ("generation", "fixed"):
            raise ModelFileError(f"{path}: the {description.graph} graph of a model; pass its "
                                 f"step model NAME.onnx (which finds NAME.gen.onnx beside it)")
        self.path, self.description, self.threads = path, description, threads
        self.vocab = Vocabulary(description.vocabulary)
        self.window = description.window
        self.state_shape = (description.state.rows, description.state.hidden)
        self.line_end = description.line_end

    @property
    def session(self) -> ort.InferenceSession:
        """The step graph's session, opened (and its file checked) on first use."""
        if self._session is None:
            opened = open_model(self.path, "char", self.threads)
            if opened.sha256 != self.step_sha256 or opened.description.step_meta() != self.description:
                raise ModelFileError(f"{printable(str(self.path))} changed since it was loaded, or its "
                                     "description differs from its generation graph's; export it again")
            self._session = opened.session
        return self._session

    @property
    def engine(self) -> str:
        """'generation graph' or 'per-step': how characters are produced."""
        return "generation graph" if self.graph is not None else "per-step"

    @property
    def precision(self) -> str:
        return self.description.precision

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
            if "lengths" not in {i.name for i in self.session.get_inputs()}:
                raise InputError(f"{self.path.name} has no lengths input (an ORT-format file has none): run prompts "
                                 f"of different lengths in one batch with {self.path.stem}.onnx")
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
