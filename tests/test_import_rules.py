"""Static check of the architecture: what each stage may import, read from the source.

A lazy import inside a function escapes a sys.modules check until that function runs;
reading every import statement catches it at once.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from conftest import REPO

ALLOWED_THIRD_PARTY = {
    "contract": set(),  # the model-file contract: the standard library only
    "data": {"numpy"},
    "runtime": {"numpy", "onnxruntime"},
}
HEAVY = {"tensorflow", "tf2onnx", "keras", "onnx", "matplotlib"}


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("stage", sorted(ALLOWED_THIRD_PARTY))
def test_stage_imports_only_what_it_may(stage):
    import sys

    stdlib = sys.stdlib_module_names
    for path in sorted((REPO / "edgeseq" / stage).glob("*.py")):
        for name in imported_modules(path):
            top = name.split(".")[0]
            if top in stdlib or top == "__future__":
                continue
            if top == "edgeseq":
                assert not name.startswith(("edgeseq.training", "edgeseq.export", "edgeseq.plot")), (path, name)
                continue
            assert top in ALLOWED_THIRD_PARTY[stage], f"{path.relative_to(REPO)} imports {name}"


def test_tensorflow_is_imported_only_in_training_and_export():
    for path in sorted((REPO / "edgeseq").rglob("*.py")):
        stage = path.relative_to(REPO / "edgeseq").parts[0]
        heavy = {n.split(".")[0] for n in imported_modules(path)} & {"tensorflow", "tf2onnx", "keras"}
        if heavy:
            assert stage in ("training", "export"), f"{path.relative_to(REPO)} imports {heavy}"
