"""Shared fixtures: trained runs are expensive, so each is trained once per test session."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from edgeseq.log import setup_cli_logging

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
setup_cli_logging()  # the edgeseq logger's lines on (captured) stderr, as the CLI shows them

REPO = Path(__file__).resolve().parents[1]
EXPORTED = REPO / "exported"


def pytest_collection_modifyitems(items):
    """Longest scopes first, for pytest-xdist's ``--dist loadscope`` (with ``--no-loadscope-reorder``):
    the scopes (a module, or a class) holding a slow test, then the others, each group by its
    number of tests. A worker that finishes early then takes only short scopes, so both end together."""
    def scope(item) -> str:
        return item.nodeid.rsplit("::", 1)[0]  # xdist's own split

    first, tests, slow = {}, {}, set()
    for index, item in enumerate(items):
        first.setdefault(scope(item), index)
        tests[scope(item)] = tests.get(scope(item), 0) + 1
        if item.get_closest_marker("slow"):
            slow.add(scope(item))
    items.sort(key=lambda item: (scope(item) not in slow, -tests[scope(item)], first[scope(item)]))


def edited_copy(source, target, edit=None, seal: bool = True):
    """A copy of the model file ``source`` at ``target`` with its metadata document passed
    through ``edit(doc)`` (which changes it in place, or returns the new document, or a str:
    the raw metadata text). ``seal``: give the copy its own correct digest (as an export
    would), so that only the edit itself is tested; False leaves the old digest, as a hand
    edit does."""
    import json

    import onnx

    from edgeseq.contract.digest import PLACEHOLDER, seal as seal_bytes

    model = onnx.load(str(source))
    doc = json.loads(model.metadata_props[0].value)
    if edit is not None:
        doc = edit(doc) or doc
    if seal and isinstance(doc, dict) and "file_sha256" in doc:
        doc["file_sha256"] = PLACEHOLDER
    model.metadata_props[0].value = doc if isinstance(doc, str) else json.dumps(doc, ensure_ascii=False)
    data = model.SerializeToString()
    if seal and data.count(f'"file_sha256": "{PLACEHOLDER}"'.encode()) == 1:
        data = seal_bytes(data)
    with open(target, "wb") as file:
        file.write(data)
    return target


def bench_smoke(module: str, out: Path) -> str:
    """``python -m MODULE --smoke --out OUT`` from the repository (a bench's smoke run); its report."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", module, "--smoke", "--out", str(out)], cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return out.read_text()


def cli(*args: str):
    """Run the edgeseq CLI in-process; returns the click Result (stdout, stderr, exit_code)."""
    from typer.testing import CliRunner

    from edgeseq.cli import app

    return CliRunner().invoke(app, list(args))


def built_once(tmp_path_factory, name: str, build, load):
    """``build(folder)``'s result, built once per test session. With pytest-xdist the first worker
    to ask builds it in a folder of the session's shared temporary folder, under a lock; the
    others wait for it and return ``load(folder)``. A build that failed half-way is built again."""
    import fcntl

    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # this session's folder, above every worker's own
    folder, done = shared / f"shared-{name}", shared / f"shared-{name}.built"
    with open(shared / f"shared-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if done.exists():
            return load(folder)
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        built = build(folder)
        done.touch()
        return built


@pytest.fixture(scope="session")
def ship_run(tmp_path_factory):
    """(run folder, Keras model, config, metrics) of the lab's ship setup: 2-layer LSTM + dense
    head, windows of 10, full batch, 500 epochs; trained once per test session (``built_once``)."""
    from edgeseq.data.text import sample_text
    from edgeseq.training.char_training import CharModelSpec, TrainSettings, train_char
    from edgeseq.training.run_folder import load_run

    def build(folder):
        text, window = sample_text("ship")
        return folder / "ship", *train_char(text, window, CharModelSpec(cell="lstm", layers=2, hidden=64, head="dense"),
                                            TrainSettings(epochs=500, lr=0.1, seed=0), out=folder / "ship",
                                            source="sample:ship")

    return built_once(tmp_path_factory, "ship", build, lambda folder: (folder / "ship", *load_run(folder / "ship")))


@pytest.fixture(scope="session")
def char_export(tmp_path_factory):
    """``char_export(cell, layers, head)`` -> (Keras model, model.onnx): a small model of the ship
    windows (3 epochs), trained and exported once per test session (``built_once``) for every
    test that needs that cell, depth and head (export parity, ragged batches, ...)."""
    from edgeseq.data.text import sample_text
    from edgeseq.export.exporter import export_run
    from edgeseq.training.char_training import CharModelSpec, TrainSettings, train_char
    from edgeseq.training.run_folder import load_run

    built = {}

    def build(cell: str, layers: int, head: str):
        def train_and_export(folder):
            text, window = sample_text("ship")
            model, _, _ = train_char(text, window, CharModelSpec(cell=cell, layers=layers, head=head,
                                                                 hidden=25 if head == "none" else 16),
                                     TrainSettings(epochs=3, seed=1), out=folder / "model", source="sample:ship")
            export_run(folder / "model", folder / "model.onnx")
            return model, folder / "model.onnx"

        def load(folder):
            return load_run(folder / "model")[0], folder / "model.onnx"

        if (cell, layers, head) not in built:
            built[cell, layers, head] = built_once(tmp_path_factory, f"{cell}{layers}{head}", train_and_export, load)
        return built[cell, layers, head]

    return build


@pytest.fixture(scope="session")
def ship_export(ship_run, tmp_path_factory):
    from edgeseq.export.exporter import export_run

    run_dir = ship_run[0]
    out = tmp_path_factory.mktemp("exported") / "ship.onnx"
    result = export_run(run_dir, out)
    return out, result


@pytest.fixture(scope="session")
def stateful_export(tmp_path_factory):
    """(text, Keras model, config, long.onnx): the ship sentence repeated to 4,000 characters,
    trained with the state carried (chunks of 50, 8 streams) and exported; once per session."""
    from edgeseq.data.char_data import stateful_data
    from edgeseq.data.text import sample_text
    from edgeseq.export.exporter import export_run
    from edgeseq.training.char_training import CharModelSpec, TrainSettings, train_char_data
    from edgeseq.training.run_folder import load_run

    sentence, _ = sample_text("ship")
    text = ((sentence + " ") * 25)[:4000]

    def build(folder):
        model, config, _ = train_char_data(stateful_data(text, chunk=50, streams=8),
                                           CharModelSpec(cell="lstm", layers=2, hidden=64),
                                           TrainSettings(epochs=30, lr=0.01, seed=0), out=folder / "run")
        export_run(folder / "run", folder / "long.onnx")
        return text, model, config, folder / "long.onnx"

    def load(folder):
        model, config, _ = load_run(folder / "run")
        return text, model, config, folder / "long.onnx"

    return built_once(tmp_path_factory, "stateful", build, load)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A char run trained in seconds (1 LSTM layer of 8, 3 epochs): for tests of files, not of learning."""
    from edgeseq.data.text import sample_text
    from edgeseq.training.char_training import CharModelSpec, TrainSettings, train_char

    def build(folder):
        text, window = sample_text("ship")
        train_char(text, window, CharModelSpec(cell="lstm", layers=1, hidden=8), TrainSettings(epochs=3, seed=0),
                   out=folder / "run", source="sample:ship")
        return folder / "run"

    return built_once(tmp_path_factory, "tiny", build, lambda folder: folder / "run")


@pytest.fixture(scope="session")
def tiny_export(tiny_run, tmp_path_factory):
    """tiny.onnx, tiny.fixed.onnx and tiny.gen.onnx exported from ``tiny_run``: {name: bytes}."""
    from edgeseq.export.exporter import export_run

    def build(folder):
        (folder / "set").mkdir()
        paths = export_run(tiny_run, folder / "set" / "tiny.onnx").paths
        (folder / "names.txt").write_text("\n".join(path.name for path in paths))
        return load(folder)

    def load(folder):
        return {name: (folder / "set" / name).read_bytes() for name in (folder / "names.txt").read_text().split("\n")}

    return built_once(tmp_path_factory, "tiny-export", build, load)


def copy_set(name: str, folder, source=EXPORTED, int8: bool = False):
    """The fp32 files of ``name`` (and its int8 ones) copied into ``folder``; returns the step file."""
    for path in source.glob(f"{name}.*onnx"):
        if int8 or ".int8." not in path.name:
            shutil.copy(path, folder / path.name)
    return folder / f"{name}.onnx"
