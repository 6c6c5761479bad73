"""The runner never loads TensorFlow: a machine with onnxruntime alone runs edgeseq models."""
from __future__ import annotations

import subprocess
import sys

from conftest import REPO

HEAVY = ("tensorflow", "tf2onnx", "keras", "onnx")

CHECK = """
import sys
{body}
heavy = [m for m in {heavy!r} if m in sys.modules]
print("HEAVY:" + ",".join(heavy))
"""


def run_python(body: str, block_heavy: bool = False) -> subprocess.CompletedProcess:
    if block_heavy:  # a None entry makes any import of the module fail, as on a runner-only machine
        body = "".join(f"sys.modules[{m!r}] = None\n" for m in HEAVY) + body
    code = CHECK.format(body=body, heavy=HEAVY)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)


def test_import_edgeseq_runtime_loads_no_tensorflow():
    done = run_python("import edgeseq.runtime")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("HEAVY:")


def test_edgeseq_run_char_loads_no_tensorflow():
    body = ("from edgeseq.cli import app\n"
            "try:\n    app(['run', 'char', '--prompt', 'if you', '--length', '20'])\n"
            "except SystemExit as e:\n    assert e.code in (0, None), e.code\n")
    done = run_python(body)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(" want to build a shi\n")
    assert done.stdout.strip().endswith("HEAVY:")


def test_edgeseq_run_char_works_with_tensorflow_unimportable():
    body = ("from edgeseq.cli import app\n"
            "try:\n    app(['run', 'char', '--prompt', 'if you', '--length', '8'])\n"
            "except SystemExit as e:\n    assert e.code in (0, None), e.code\n")
    done = run_python(body, block_heavy=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(" want to")


def test_training_without_the_extra_says_what_to_install(tmp_path):
    body = ("from edgeseq.cli import app\n"
            f"app(['train', 'char', '--sample', 'hihello', '-o', {str(tmp_path / 'r')!r}])\n")
    done = run_python(body, block_heavy=True)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "edgeseq: error: this command needs the train extra (tensorflow is not installed): pip install 'edgeseq[train]'"]


def test_export_graph_modules_load_no_tensorflow():
    """Only the modules that convert load TensorFlow; the ONNX graph code can be used without it."""
    modules = ("generation.build", "generation.check", "graph.canonical", "graph.fuse", "graph.step_graph", "verify",
               "graph.onnx_graph", "task")
    body = (f"import {', '.join('edgeseq.export.' + m for m in modules)}\n"
            "print('TF:' + ','.join(m for m in ('tensorflow', 'tf2onnx', 'keras') if m in sys.modules))\n")
    done = run_python(body)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "TF:"


def test_edgeseq_run_char_loads_only_what_it_uses():
    """Start-up is paid per run: greedy generation loads no forecaster, no numpy.random, no
    server (nor asyncio under it) and, with the typer pyproject allows (< 0.29), no pydantic."""
    unused = ("edgeseq.runtime.series_model", "edgeseq.data.series", "numpy.random", "edgeseq.serve", "asyncio",
              "pydantic")
    body = ("from edgeseq.cli import app\n"
            "try:\n    app(['run', 'char', '--prompt', 'if you', '--length', '1'])\n"
            "except SystemExit as e:\n    assert e.code in (0, None), e.code\n"
            f"print('LOADED:' + ','.join(m for m in {unused!r} if m in sys.modules))\n")
    done = run_python(body)
    assert done.returncode == 0, done.stderr
    loaded = done.stdout.splitlines()[-2].removeprefix("LOADED:").split(",")
    from importlib.metadata import version

    typer_version = tuple(int(part) for part in version("typer").split(".")[:2])
    allowed = {""} | ({"pydantic"} if typer_version >= (0, 29) else set())  # 0.29+ imports it for every command
    assert set(loaded) <= allowed, loaded


def test_the_program_loads_only_the_module_of_the_command_it_runs():
    """``edgeseq run ...`` adds only the run commands (Typer reads every command it holds at
    each start); ``edgeseq --help`` and ``from edgeseq.cli import app`` hold every command."""
    modules = ("edgeseq.cli.run", "edgeseq.cli.serving", "edgeseq.cli.train", "edgeseq.cli.file_commands",
               "edgeseq.training.specs")
    program = ("from edgeseq.cli import main\nsys.argv = ['edgeseq', *{args!r}]\n"
               "try:\n    main()\nexcept SystemExit as e:\n    assert e.code in (0, None), e.code\n"
               f"print('LOADED:' + ','.join(m for m in {modules!r} if m in sys.modules))\n")
    done = run_python(program.format(args=["run", "char", "--prompt", "if you", "--length", "1"]))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-2] == "LOADED:edgeseq.cli.run"
    done = run_python(program.format(args=["--help"]))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-2] == "LOADED:" + ",".join(modules)
    assert [line.split()[0] for line in done.stdout.split("Commands:")[1].splitlines()[1:-2]] == [
        "export", "verify", "info", "serve", "train", "run"]
    done = run_python(f"from edgeseq.cli import app\nprint('LOADED:' + ','.join(m for m in {modules!r} if m in sys.modules))\n")
    assert done.stdout.splitlines()[0] == "LOADED:" + ",".join(modules)
    import typer

    from edgeseq.cli import COMMAND_MODULES, app
    assert set(typer.main.get_command(app).commands) == set(COMMAND_MODULES)  # every command is found


def test_the_program_skips_the_interpreters_teardown_only_after_commands_without_tensorflow():
    """``edgeseq run`` ends its process once its output is flushed (edgeseq.cli.program): an
    atexit hook never runs, the exit code and every line still arrive; ``train`` exits normally."""
    program = ("import atexit\natexit.register(lambda: print('TEARDOWN', flush=True))\n"
               "sys.argv = ['edgeseq', *{args!r}]\nfrom edgeseq.cli import program\nprogram()\n")
    done = run_python(program.format(args=["run", "char", "--prompt", "if you", "--length", "20"]))
    assert (done.returncode, done.stdout) == (0, " want to build a shi\n"), done.stderr
    assert done.stderr.startswith("model ship.onnx: 2xLSTM(64)") and "20 chars in" in done.stderr
    done = run_python(program.format(args=["run", "char", "--prompt", "if", "--length", "0"]))
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.splitlines()[-1].startswith("edgeseq: error: ")
    done = run_python(program.format(args=["train", "char", "--epochs", "0"]))
    assert done.returncode == 2 and done.stdout == "TEARDOWN\n"


def test_the_int8_files_of_an_exported_model_are_made_without_tensorflow(tmp_path):
    """``edgeseq export NAME.onnx --quantize int8``: onnx and onnxruntime's quantizer, and
    TensorFlow never imported; the fp32 files are left as they are."""
    import shutil

    from conftest import EXPORTED

    for name in ("stock.onnx", "stock.fixed.onnx"):
        shutil.copy(EXPORTED / name, tmp_path / name)
    fp32 = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    body = ("from edgeseq.cli import app\n"
            f"try:\n    app(['export', {str(tmp_path / 'stock.onnx')!r}, '--quantize', 'int8'])\n"
            "except SystemExit as e:\n    assert e.code in (0, None), e.code\n")
    done = run_python(body)  # from the repository: stock's CSV is exported/sample_prices.csv
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("HEAVY:onnx")
    assert done.stderr.splitlines()[-1].startswith("int8: 1 LSTM -> DynamicQuantizeLSTM")
    assert {path.name: path.read_bytes() for path in tmp_path.iterdir() if path.name in fp32} == fp32
    assert (tmp_path / "stock.int8.onnx").read_bytes() == (EXPORTED / "stock.int8.onnx").read_bytes()
