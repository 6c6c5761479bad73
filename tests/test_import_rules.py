"""Static check of the architecture: which stage may import what, read from the source.

Every import statement counts, also those inside functions (a lazy import escapes a
sys.modules check until its function runs). The stages and what each may use:

    contract, errors, log, display,  the bottom: the standard library only
    choices, atomic
    data, evaluation                 numpy; evaluation reads data's Series
    training                         TensorFlow, only through training.tf_setup; never the
                                     runtime, never onnxruntime
    runtime                          onnxruntime + numpy; never training or export
    serve                            the runtime, over the standard library's asyncio; never
                                     training or export
    export                           tf2onnx, onnx, training; the runtime, to check its own
                                     graphs with the code that will run them
    cli                              the top: anything

and no module imports itself back, directly or through others, at any depth: a module that
names its own parent package (``from edgeseq.cli import x`` inside edgeseq.cli) counts as
importing it.
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
    "training": {"data", "evaluation", "contract", "errors", "choices", "atomic", "log", "display"},
    "runtime": {"data", "evaluation", "contract", "errors", "choices", "log", "display"},
    "export": {"training", "runtime", "data", "evaluation", "contract", "errors", "atomic", "log", "display"},
    "atomic": {"errors", "log"},
    "serve": {"runtime", "contract", "data", "evaluation", "errors", "log", "display", "choices"},
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
    "serve": {"numpy", "onnxruntime"},  # HTTP from the standard library's asyncio: no server package
}


def module_name(path: Path, root: Path = REPO) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str, root: Path = REPO) -> bool:
    path = root.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def imports_of(path: Path, root: Path = REPO) -> set[str]:
    """Every module an import statement of ``path`` names, at any depth of the file."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            # `from edgeseq.x import y` imports the module edgeseq.x.y when there is one
            names |= {f"{node.module}.{a.name}" for a in node.names if is_module(f"{node.module}.{a.name}", root)}
    return names


def edgeseq_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """module -> the edgeseq modules it imports. Importing a.b.c runs a and a.b too, but a
    module's own packages are already being imported when it runs, so those implied parents
    are no edge; a module that names its own parent package is one."""
    graph = {}
    root = package.parent
    top = package.name
    for path in sorted(package.rglob("*.py")):
        me = module_name(path, root)
        ancestors = {me.rsplit(".", i)[0] for i in range(me.count(".") + 1)}  # imported before me anyway
        targets = set()
        for name in imports_of(path, root):
            if name == top or name.startswith(top + "."):
                parts = name.split(".")
                implied = {".".join(parts[:i]) for i in range(1, len(parts))}
                targets |= {m for m in implied - ancestors if is_module(m, root)}
                if is_module(name, root) and name != me:
                    targets.add(name)
        graph[me] = targets
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


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """The first import cycle found in ``graph`` (module -> modules), or None."""
    state: dict[str, str] = {}

    def visit(module: str, trail: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                raise Cycle(trail[trail.index(target):] + [module, target] if target in trail else [module, target])
            if target not in state:
                visit(target, trail + [module])
        state[module] = "done"

    try:
        for module in sorted(graph):
            if module not in state:
                visit(module, [])
    except Cycle as cycle:
        return cycle.args[0]
    return None


class Cycle(Exception):
    pass


def test_no_import_cycle_anywhere():
    cycle = find_cycle(edgeseq_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_a_module_that_imports_its_own_parent_package_back_is_a_cycle(tmp_path):
    """The parent package's __init__ imports a submodule, which imports the package back:
    the cycle edgeseq.cli once had, found; the same package without the back edge is clean."""
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("def main():\n    from pkg.sub.apps import app\n")
    (package / "sub" / "apps.py").write_text("from pkg.sub.streams import helper\napp = 1\n")
    (package / "sub" / "streams.py").write_text("helper = 1\n")
    assert find_cycle(edgeseq_graph(package)) is None
    (package / "sub" / "apps.py").write_text("from pkg.sub import main\napp = 1\n")
    assert find_cycle(edgeseq_graph(package)) == ["pkg.sub", "pkg.sub.apps", "pkg.sub"]


def test_only_tf_setup_imports_tensorflow_in_training():
    """Importing edgeseq.training (the package, its specs, cluster and run folder) loads no
    TensorFlow: every other training module takes tf and keras from training.tf_setup."""
    for path in sorted(PACKAGE.glob("training/*.py")):
        heavy = {n.split(".")[0] for n in imports_of(path)} & {"tensorflow", "keras"}
        assert not heavy or path.name == "tf_setup.py", f"{path.relative_to(REPO)} imports {heavy}"


def test_every_package_is_installed():
    """pip install . ships every folder of the package (a missing one works from a checkout only)."""
    declared = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {module_name(p) for p in PACKAGE.rglob("__init__.py")}
    assert found <= declared, f"not installed by pip: {sorted(found - declared)}"


def test_no_two_modules_share_a_file_name():
    names = [p.name for p in PACKAGE.rglob("*.py") if p.name not in ("__init__.py", "__main__.py")]
    assert sorted({n for n in names if names.count(n) > 1}) == []


def test_export_keeps_its_jobs_in_sub_packages():
    """export/'s top holds the exporter, the tasks and the checks; graph tools, the generation
    graph, int8 and the other targets (web folder, ORT format) each have their folder; the fp32 generation code never imports int8's."""
    top = sorted(p.name for p in (PACKAGE / "export").glob("*.py"))
    assert len(top) <= 8, top
    assert {p.name for p in (PACKAGE / "export").iterdir() if (p / "__init__.py").exists()} == {"graph", "generation", "int8", "targets"}
    for path in (PACKAGE / "export" / "generation").glob("*.py"):
        assert not any(".int8" in name for name in imports_of(path)), path
