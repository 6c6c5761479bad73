"""Static check of the architecture: which stage may import what, read from the source.

Every import statement counts, also those inside functions (a lazy import escapes a
sys.modules check until its function runs). The stages and what each may use:

    contract, errors, log, display,  the bottom: the standard library only
    choices
    data, evaluation                 numpy; evaluation reads data's Series
    training                         TensorFlow; never the runtime, never onnxruntime
    runtime                          onnxruntime + numpy; never training or export
    export                           tf2onnx, onnx, training; the runtime, to check its own
                                     graphs with the code that will run them
    cli, plot, specs, launch, atomic the top-level glue

and no module imports itself back, directly or through others, at any depth.
"""
from __future__ import annotations

import ast
import sys
import tomllib
from pathlib import Path

import pytest

from conftest import REPO

PACKAGE = REPO / "edgeseq"
#: stage -> the edgeseq stages it may import (itself always)
ALLOWED_STAGES = {
    "contract": {"errors", "display"},
    "errors": set(),
    "log": set(),
    "display": set(),
    "choices": {"contract", "errors"},
    "data": {"contract", "errors", "choices"},
    "evaluation": {"data", "contract", "errors"},
    "training": {"data", "evaluation", "contract", "errors", "choices", "specs", "launch", "atomic", "log"},
    "runtime": {"data", "evaluation", "contract", "errors", "choices", "log", "display"},
    "export": {"training", "runtime", "data", "evaluation", "contract", "errors", "atomic", "log", "display"},
    "atomic": {"errors", "log"},
}
#: stage -> third-party packages it may import (the standard library always)
ALLOWED_THIRD_PARTY = {
    "contract": set(),  # the model-file contract: the standard library only
    "errors": set(),
    "log": set(),
    "display": set(),
    "choices": set(),
    "atomic": set(),
    "data": {"numpy"},
    "evaluation": {"numpy"},
    "training": {"numpy", "tensorflow", "keras"},
    "runtime": {"numpy", "onnxruntime"},
    "export": {"numpy", "onnx", "onnxruntime", "tf2onnx", "tensorflow", "keras"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    path = REPO.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def imports_of(path: Path) -> set[str]:
    """Every module an import statement of ``path`` names, at any depth of the file."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            # `from edgeseq.x import y` imports the module edgeseq.x.y when there is one
            names |= {f"{node.module}.{a.name}" for a in node.names if is_module(f"{node.module}.{a.name}")}
    return names


def edgeseq_graph() -> dict[str, set[str]]:
    """module -> the edgeseq modules it imports (importing a.b.c runs a and a.b too, but a
    module's own packages are already being imported when it runs, so they are no edge)."""
    graph = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        targets = set()
        for name in imports_of(path):
            if name == "edgeseq" or name.startswith("edgeseq."):
                parts = name.split(".")
                targets |= {".".join(parts[:i]) for i in range(1, len(parts) + 1) if is_module(".".join(parts[:i]))}
        me = module_name(path)
        ancestors = {me.rsplit(".", i)[0] for i in range(me.count(".") + 1)}  # imported before me anyway
        graph[me] = targets - ancestors
    return graph


def stage_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "edgeseq"


@pytest.mark.parametrize("stage", sorted(ALLOWED_STAGES))
def test_stage_imports_only_what_it_may(stage):
    stdlib = sys.stdlib_module_names
    for path in sorted(PACKAGE.glob(f"{stage}/**/*.py")) + sorted(PACKAGE.glob(f"{stage}.py")):
        for name in imports_of(path):
            top = name.split(".")[0]
            if top in stdlib or top == "__future__":
                continue
            where = path.relative_to(REPO)
            if top == "edgeseq":
                used = stage_of(name)
                assert used in ALLOWED_STAGES[stage] | {stage, "edgeseq"}, f"{where} imports {name}"
                continue
            assert top in ALLOWED_THIRD_PARTY[stage], f"{where} imports {name}"


def test_the_package_itself_imports_nothing_heavy():
    assert {n.split(".")[0] for n in imports_of(PACKAGE / "__init__.py")} <= {"__future__"}


def test_tensorflow_is_imported_only_in_training_and_export():
    for path in sorted(PACKAGE.rglob("*.py")):
        stage = stage_of(module_name(path))
        heavy = {n.split(".")[0] for n in imports_of(path)} & {"tensorflow", "tf2onnx", "keras"}
        if heavy:
            assert stage in ("training", "export"), f"{path.relative_to(REPO)} imports {heavy}"


def test_no_import_cycle_anywhere():
    graph = edgeseq_graph()
    state: dict[str, str] = {}

    def visit(module: str, trail: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                cycle = trail[trail.index(target):] + [module, target] if target in trail else [module, target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target, trail + [module])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [])


def test_every_package_is_installed():
    """pip install . ships every folder of the package (a missing one works from a checkout only)."""
    declared = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {module_name(p) for p in PACKAGE.rglob("__init__.py")}
    assert found <= declared, f"not installed by pip: {sorted(found - declared)}"
