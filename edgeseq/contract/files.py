"""Where a model's sibling files live, and how a file is named by its content.

An export writes a set of files beside each other, all named after the step graph::

    NAME.onnx            the step graph (dynamic time axis, state in/out): the model
    NAME.fixed.onnx      the same model with time fixed to the training window
    NAME.gen.onnx        the generation graph (char models): the character loop in ONNX

The runtime finds the siblings of the NAME.onnx it is given by these same rules, and a
sibling made from a step file names that file by its sha256, so a stale sibling beside a
re-exported model is never paired with it.
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

    def all(self) -> tuple[Path, ...]:
        """Every file an export of this model may write, step graph first."""
        return (self.step, self.fixed, self.generation)

    def of_task(self, task: str) -> tuple[Path, ...]:
        """The files an export of a ``task`` model writes: a series model has no generation graph."""
        return self.all() if task == "char" else (self.step, self.fixed)
