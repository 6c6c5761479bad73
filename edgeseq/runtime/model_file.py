"""Opening an edgeseq ONNX file: the session, its description, and the shipped defaults.

The description lives in the file's metadata_props (key ``edgeseq``), which onnxruntime
exposes without the onnx package, so the runner reads models with onnxruntime alone.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import onnxruntime as ort

import edgeseq
from edgeseq.contract import METADATA_KEY, CharMeta, SeriesMeta, parse_meta
from edgeseq.errors import ModelFileError

DEFAULT_MODELS = {"char": "ship.onnx", "series": "stock.onnx"}


@dataclass
class ModelFile:
    path: Path
    session: ort.InferenceSession
    meta: dict  # the stored JSON document, as written (what `edgeseq info` prints)
    description: CharMeta | SeriesMeta  # the same, checked and typed: what the runner reads

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


def session_options(threads: int) -> ort.SessionOptions:
    if threads < 1:
        raise ModelFileError(f"--threads must be at least 1, got {threads}")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    return options


def open_model(path: str | Path | None, task: str | None = None, threads: int = 1) -> ModelFile:
    """Load a model file and its description; ``task`` makes sure it is the right kind."""
    path = default_model_path(task) if path is None else Path(path)
    if path.is_dir():
        raise ModelFileError(f"{path} is a folder; pass the .onnx file (an exported model), not a folder")
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    options = session_options(threads)
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises several types for a broken file
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelFileError(f"{path}: not a loadable ONNX model ({first[:160]})") from None
    raw = session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
    if raw is None:
        raise ModelFileError(f"{path}: an ONNX model without edgeseq metadata; export it with 'edgeseq export'")
    description = parse_meta(raw, str(path))
    if task is not None and description.task != task:
        raise ModelFileError(f"{path}: a {description.task!r} model, but this command needs a {task!r} model")
    return ModelFile(path, session, json.loads(raw), description)
