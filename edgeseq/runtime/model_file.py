"""Opening an edgeseq ONNX file: checked, then its session, its description and the defaults.

Bytes read once, digest, description, then the description held to the graph, before
anything runs. ``int8_beside`` finds NAME.int8.onnx for ``precision="int8"``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnxruntime as ort

import edgeseq
from edgeseq.choices import check_choice
from edgeseq.contract import METADATA_KEY, PRECISIONS, CharMeta, ModelFiles, SeriesMeta
from edgeseq.contract.siblings import int8_made_from
from edgeseq.contract.card import AUTHOR_KEY, LICENSE_KEY
from edgeseq.contract.meta import read_document
from edgeseq.contract.reading import read_file_bytes
from edgeseq.contract.digest import KEY as DIGEST_KEY, bytes_sha256, check_digest
from edgeseq.contract.graph_io import check_graph_io
from edgeseq.contract.model_props import check_metadata_sizes
from edgeseq.contract.reading import MAX_META_CHARS, load_document
from edgeseq.display import printable
from edgeseq.errors import EdgeseqError, InputError, IntegrityError, ModelFileError, ParameterError

DEFAULT_MODELS = {"char": "ship.onnx", "series": "stock.onnx"}
MAX_MODEL_BYTES = (2 << 30) - 1


@dataclass
class ModelFile:
    path: Path
    session: ort.InferenceSession
    meta: dict  # the stored JSON document, as written (what `edgeseq info` prints)
    description: CharMeta | SeriesMeta  # the same, checked and typed: what the runner reads
    sha256: str = ""  # of the file's bytes: how its siblings name it
    provenance: dict = field(default_factory=dict)  # author and license, when export was given them

    @property
    def task(self) -> str:
        return self.description.task


def exported_dir() -> Path:
    """Where the shipped models are: inside an installed package, or the checkout's exported/."""
    package = Path(edgeseq.__file__).resolve().parent
    installed = package / "exported"
    return installed if installed.is_dir() else package.parent / "exported"


def default_model_path(task: str) -> Path:
    path = exported_dir() / DEFAULT_MODELS[task]
    if not path.exists():
        raise ModelFileError(f"the shipped default {task} model is missing ({path}); pass --model FILE")
    return path


def check_threads(threads: int) -> int:
    """``threads`` (--threads) from 1 to the machine's cores: more only makes onnxruntime's threads wait."""
    cores = os.cpu_count() or 1
    if not 1 <= threads <= cores:
        raise ParameterError("threads", f" must be from 1 to {cores} (the cores of this machine), got {threads}")
    return threads


def session_options(threads: int, optimize: bool = True) -> ort.SessionOptions:
    """One session's options. ``session.disable_quant_qdq`` folds an int8 GRU or RNN file's
    DequantizeLinear weights into fp32 constants once, at load; fp32 and int8 LSTM files
    optimize to the same graph either way. ``optimize=False`` skips the graph optimizations,
    for a graph that runs as fast without them and so opens sooner; an int8 graph needs them."""
    check_threads(threads)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = (ort.GraphOptimizationLevel.ORT_ENABLE_ALL if optimize
                                        else ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
    options.add_session_config_entry("session.disable_quant_qdq", "1")
    options.log_severity_level = 4  # fatal only: an error reaches the user as edgeseq's one line, not as ORT's log
    return options


def read_model_bytes(path: Path) -> bytes:
    """A model file's bytes, or one line saying why they cannot be read."""
    if path.is_dir():
        raise ModelFileError(f"{path} is a folder; pass the .onnx file (an exported model), not a folder")
    if not path.exists():
        raise ModelFileError(f"{path}: no such model file")
    try:  # a regular file of at most 2 GiB, the largest ONNX file protobuf reads
        return read_file_bytes(path, MAX_MODEL_BYTES, "model file")
    except InputError as e:
        raise ModelFileError(str(e)) from None


def io_of(session: ort.InferenceSession) -> tuple[dict, dict]:
    """The session's inputs and outputs as {name: (type, shape)}."""
    return ({a.name: (a.type, a.shape) for a in session.get_inputs()},
            {a.name: (a.type, a.shape) for a in session.get_outputs()})


def load_model(path: Path, data: bytes, threads: int = 1, optimize: bool = True) -> ModelFile:
    """Steps 2-4 of the module docstring on ``data``, the bytes of ``path`` (``optimize``: see
    ``session_options``)."""
    where = str(path)
    digest = check_digest(data, where)
    too_large = check_metadata_sizes(data, MAX_META_CHARS)  # before onnxruntime copies every entry out
    if too_large:
        raise ModelFileError(f"{path}: {too_large}")
    options = session_options(threads, optimize)
    try:
        session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises several types for a broken file
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelFileError(f"{path}: not a loadable ONNX model ({printable(first[:160])})") from None
    props = session.get_modelmeta().custom_metadata_map
    raw = props.get(METADATA_KEY)
    if raw is None:
        raise ModelFileError(f"{path}: an ONNX model without edgeseq metadata; export it with 'edgeseq export'")
    doc = load_document(raw, where)
    description = read_document(doc, where)
    if description.file_sha256 != digest:
        raise ModelFileError(f"{path}: its metadata and its bytes name different digests; export it again")
    check_graph_io(description, *io_of(session), where)
    if isinstance(description, SeriesMeta):
        probe_horizon(session, description, where)
    if digest is None:
        raise IntegrityError(f"{path}: it carries no digest ({DIGEST_KEY}), which edgeseq writes into every file "
                             "it exports: the file is damaged or was edited after export; export it again")
    provenance = {key: props[key] for key in (AUTHOR_KEY, LICENSE_KEY) if key in props}
    return ModelFile(path, session, doc, description, bytes_sha256(data), provenance)


def probe_horizon(session: ort.InferenceSession, meta: SeriesMeta, where: str) -> None:
    """One call on zeros [1, window, features]: the graph must give [1, horizon]."""
    x = np.zeros((1, meta.window, len(meta.features)), np.float32)
    try:
        y = session.run(None, {session.get_inputs()[0].name: x})[0]
    except Exception as e:  # a graph that cannot run on its own promised input
        raise ModelFileError(f"{where}: the graph fails on an input of its own shape "
                             f"({printable(str(e).strip()[:120])})") from None
    if y.shape != (1, meta.horizon):
        raise ModelFileError(f"{where}: the graph gives {list(y.shape[1:])} values per forecast, but the "
                             f"metadata says horizon {meta.horizon}")


def open_model(path: str | Path | None, task: str | None = None, threads: int = 1,
               precision: str | None = None) -> ModelFile:
    """Load a model file and its description, checked; ``task`` makes sure it is the right kind.
    ``precision``: see ``int8_beside`` (None: the file itself)."""
    path = default_model_path(task) if path is None else Path(path)
    check_threads(threads)
    path, made_from = int8_beside(path, precision)
    model = load_model(path, read_model_bytes(path), threads)
    if task is not None and model.task != task:
        raise ModelFileError(f"{path}: a {model.task!r} model, but this command needs a {task!r} model")
    check_made_from(path, model.description, made_from)
    return model


def int8_beside(path: Path, precision: str | None) -> tuple[Path, tuple[str, str] | None]:
    """The file to run for ``precision`` given the file ``path``, and the step file it must
    name as made from, (name, sha256) (None: nothing to check).

    None: ``path`` itself, in the precision it was made in (NAME.int8.onnx runs in int8: the
    file was named; it must be made from the NAME.onnx beside it, when there is one). fp32: ``path`` itself, but not one named NAME.int8.onnx (one line says to
    pass NAME.onnx). int8: NAME.int8.onnx beside ``path`` (or ``path`` itself when it is one),
    or one line saying how to make it."""
    if precision is not None:
        check_choice("precision", precision, PRECISIONS)
    fp32 = int8_made_from(path)
    named_int8 = fp32 is not None
    if precision == "fp32" and named_int8:
        raise InputError(f"{path.name} is an int8 file; pass {fp32} for fp32 (or --precision int8)")
    if named_int8 and fp32.is_file():  # named directly: it must still be made from the NAME.onnx beside it
        return path, (fp32.name, bytes_sha256(read_model_bytes(fp32)))
    if precision in (None, "fp32") or named_int8:
        return path, None
    int8 = ModelFiles(path).int8
    if not int8.is_file():
        import shlex  # only this message needs it

        raise ModelFileError(f"no {int8.name} beside {path.name}; make it with: edgeseq export "
                             f"{shlex.quote(str(path))} --quantize int8")
    return int8, (path.name, bytes_sha256(read_model_bytes(path)))


def check_made_from(path: Path, description: CharMeta | SeriesMeta, step: tuple[str, str] | None) -> None:
    """Refuse an int8 file that was not made from the step file ``step`` (name, sha256; None: no check)."""
    if step is None:
        return
    made_from = description.made_from
    if description.quantization is None or made_from is None or made_from.of_sha256 != step[1]:
        raise ModelFileError(f"{path.name} was not made from the {step[0]} beside it (a stale int8 file); export "
                             "again with --quantize int8 --force")


def int8_sibling(model: ModelFile) -> dict | None:
    """For an fp32 step file with NAME.int8.onnx beside it: what ``edgeseq info`` shows of that
    file, ``{file, size_ratios, quantization, summary}`` (its name, its size and its generation
    graph's against fp32's, its quantization record, the measured cost in one line); or, when
    it cannot be run (damaged, stale, not an int8 file), ``{file, problem}``: the fp32 file is
    described all the same. None when there is none."""
    files = ModelFiles(model.path)
    if model.description.quantization is not None or model.description.graph != "dynamic" or not files.int8.is_file():
        return None
    try:
        int8 = open_model(files.int8)
        check_made_from(files.int8, int8.description, (model.path.name, model.sha256))
        if int8.description.quantization is None:
            raise ModelFileError(f"{files.int8.name} is not an int8 file (it has no quantization record)")
    except EdgeseqError as e:
        return {"file": files.int8.name, "problem": str(e).removeprefix(f"{files.int8}: ")}
    sizes = {files.int8.name: round(files.int8.stat().st_size / model.path.stat().st_size, 6)}
    if files.int8_generation.is_file() and files.generation.is_file():
        sizes[files.int8_generation.name] = round(files.int8_generation.stat().st_size
                                                  / files.generation.stat().st_size, 6)
    quantization = int8.description.quantization
    return {"file": files.int8.name, "size_ratios": sizes, "quantization": int8.meta.get("quantization"),
            "summary": quantization.summary(size=False)}
