"""NAME.json: what a JavaScript runner reads of a char model, in a file beside it.

onnxruntime's JavaScript API does not give metadata_props, so export writes the runner's
fields here and names the model files by sha256 and size; ``edgeseq verify`` remakes it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from edgeseq.contract.char_meta import CharMeta

SIDECAR_FORMAT = "edgeseq-js"
SIDECAR_VERSION = 1
#: the largest NAME.json a reader takes (a vocabulary of a few thousand characters fits)
MAX_SIDECAR_BYTES = 1 << 20


@dataclass(frozen=True)
class Described:
    """One file the JSON names: its name, the sha256 and size of its bytes."""

    name: str
    sha256: str
    size: int

    def to_json(self) -> dict:
        return {"name": self.name, "sha256": self.sha256, "bytes": self.size}


def sidecar_document(meta: CharMeta, step: Described, generation: Described | None,
                     generation_meta: CharMeta | None) -> dict:
    """The JSON document of a char model whose step file is ``step`` (its description
    ``meta``) and generation graph ``generation`` (None: the runner goes per step)."""
    files = {"step": step.to_json()}
    if generation is not None:
        info = generation_meta.generation
        files["generation"] = {**generation.to_json(), "window": info.window or "slots", "unroll": info.unroll}
    return {"format": SIDECAR_FORMAT, "format_version": SIDECAR_VERSION, "task": "char", "vocabulary": meta.vocabulary, "window": meta.window, "context": meta.context,
            "line_end": meta.line_end, "state": {"rows": meta.state.rows, "hidden": meta.state.hidden},
            "model": {"cell": meta.cell, "layers": meta.layers, "hidden": meta.hidden},
            "precision": meta.precision, "files": files}


def sidecar_bytes(document: dict) -> bytes:
    """The file's bytes: the document as indented JSON (ASCII only, so any reader decodes it)."""
    return (json.dumps(document, indent=2, ensure_ascii=True) + "\n").encode("ascii")


def first_difference(found, expected, where: str = "") -> str | None:
    """The first field (dotted) where ``found`` differs from ``expected``, None if they agree."""
    if isinstance(expected, dict) and isinstance(found, dict):
        for key in (*expected, *(k for k in found if k not in expected)):
            if key not in found or key not in expected:
                return f"{where}{key}"
            differs = first_difference(found[key], expected[key], f"{where}{key}.")
            if differs is not None:
                return differs
        return None
    same = found == expected and type(found) is type(expected)
    return None if same else where.rstrip(".") or "the document"
