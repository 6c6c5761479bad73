"""Where a model's sibling files live, and how a file is named by its content.

NAME.onnx is the step graph; NAME.fixed.onnx, NAME.gen.onnx, NAME.int8.onnx,
NAME.int8.gen.onnx and NAME.json sit beside it. A sibling names its step file by sha256,
so a stale one beside a re-exported model is never paired with it.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path


def file_sha256(path: str | Path) -> str:
    """The hex sha256 of a file: how manifests and generation graphs name the file they mean."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


#: what each sibling of NAME.onnx is, by the ending of its name (the longest ending first)
SIBLING_ENDINGS = {".int8.gen.onnx": "the int8 generation graph", ".int8.onnx": "the int8 model",
                   ".fixed.onnx": "the fixed-window graph", ".gen.onnx": "the generation graph"}


def sibling_ending(path: str | Path) -> str | None:
    """The sibling ending of a file name (``foo.int8.onnx`` -> ``.int8.onnx``), or None for a
    name that can be a step file's."""
    name = Path(path).name
    return next((ending for ending in SIBLING_ENDINGS if name.endswith(ending) and len(name) > len(ending)), None)


INT8_ENDING = ".int8.onnx"


def int8_made_from(path: str | Path) -> Path | None:
    """NAME.onnx for an int8 model file NAME.int8.onnx (the fp32 step file it is made from);
    None for any other name."""
    path = Path(path)
    if sibling_ending(path) != INT8_ENDING:
        return None
    return path.with_name(path.name.removesuffix(INT8_ENDING) + ".onnx")


@dataclass(frozen=True)
class ModelFiles:
    """The file names of one exported model, from its step graph's path."""

    step: Path

    def __init__(self, step: str | Path):
        object.__setattr__(self, "step", Path(step))

    def _sibling(self, tag: str) -> Path:
        return self.step.with_name(f"{self.step.stem}.{tag}{self.step.suffix}")

    @property
    def fixed(self) -> Path:
        """ship.onnx -> ship.fixed.onnx"""
        return self._sibling("fixed")

    @property
    def generation(self) -> Path:
        """ship.onnx -> ship.gen.onnx"""
        return self._sibling("gen")

    @property
    def int8(self) -> Path:
        """ship.onnx -> ship.int8.onnx"""
        return self._sibling("int8")

    @property
    def int8_generation(self) -> Path:
        """ship.onnx -> ship.int8.gen.onnx (the generation graph of ship.int8.onnx)"""
        return ModelFiles(self.int8).generation

    @property
    def sidecar(self) -> Path:
        """ship.onnx -> ship.json (edgeseq.contract.sidecar)"""
        return self.step.with_name(f"{self.step.stem}.json")

    def all(self) -> tuple[Path, ...]:
        """Every file an export of this model may write, step graph first."""
        return (self.step, self.fixed, self.generation, self.int8, self.int8_generation)

    def of_task(self, task: str, int8: bool = False) -> tuple[Path, ...]:
        """The files an export of a ``task`` model writes (``int8``: with ``--quantize int8``): a
        series model has no generation graph."""
        fp32 = (self.step, self.fixed, self.generation) if task == "char" else (self.step, self.fixed)
        if not int8:
            return fp32
        return (*fp32, self.int8, self.int8_generation) if task == "char" else (*fp32, self.int8)
