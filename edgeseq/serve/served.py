"""The models a server holds, loaded once at start-up, after the checks ``edgeseq verify`` makes.

A model is named by its file's stem (``ship`` for ship.onnx). A char model must have its
generation graph (the server batches rows in it); a series model is served by a
``SeriesModel``. A file that fails any verify check is refused before the port is bound.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edgeseq.errors import ModelFileError
from edgeseq.runtime.char_model import CharModel
from edgeseq.runtime.series_model import SeriesModel
from edgeseq.runtime.model_file import default_model_path, int8_sibling, open_model
from edgeseq.runtime.verify_files import verify_path


@dataclass
class Served:
    name: str
    task: str  # "char" or "series"
    path: Path
    description: dict  # what `edgeseq info --json` prints of the file
    char: CharModel | None = None
    forecaster: SeriesModel | None = None


def shipped_models() -> list[Path]:
    return [default_model_path("char"), default_model_path("series")]


def load_models(paths: list[Path], threads: int = 1, precision: str | None = None,
                checker: Callable[[bytes], None] | None = None) -> dict[str, Served]:
    """Every model of ``paths``, checked as ``edgeseq verify`` checks it, then loaded."""
    served: dict[str, Served] = {}
    for path in paths:
        path = Path(path)
        name = path.name.removesuffix(".onnx")
        if name in served:
            raise ModelFileError(f"two models are named {name!r} ({served[name].path} and {path}); rename one")
        failed = [check.line() for check in verify_path(path, checker) if check.status == "FAIL"]
        if failed:
            more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
            raise ModelFileError(f"{path} fails 'edgeseq verify': {failed[0]}{more}; nothing is served")
        opened = open_model(path, None, threads)
        int8 = int8_sibling(opened)
        description = {**opened.meta, **({"provenance": opened.provenance} if opened.provenance else {}),
                       **({"int8_beside": int8} if int8 else {})}
        if opened.task == "char":
            model = CharModel(opened if precision is None else path, threads=threads, precision=precision)
            if model.graph is None:
                raise ModelFileError(f"{path}: the server batches rows in the generation graph, and {model.why_per_step}")
            served[name] = Served(name, "char", path, description, char=model)
        else:
            served[name] = Served(name, "series", path, description,
                                  forecaster=SeriesModel(opened if precision is None else path, threads, precision))
    return served
