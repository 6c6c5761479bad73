"""Cold start, measured as whole processes, because startup cost is invisible inside one.

Importing onnxruntime or TensorFlow, and loading the shipped model, happen once per process;
only fresh interpreters started from scratch show what a user waits for. The commands run
interleaved (one of each per round), so a busy machine slows them alike, and the ratio that
matters is taken within the run: ``edgeseq run char --length 1`` against a bare
``python -c "import onnxruntime"``, the least any onnxruntime program pays.
"""
from __future__ import annotations

import compileall
import os
import re
import sys
from pathlib import Path

from bench.timing import Timing, process_times
from bench.workload import Sizes


def cold_start(repo: Path, size: Sizes) -> tuple[dict[str, tuple[Timing, Timing, list[str]]], list[float], str]:
    """Each command's (wall, CPU, stderrs), the first-character times ``edgeseq run`` reports,
    and the conditions (rounds, load average before and after)."""
    env = {**os.environ, "PYTHONPATH": str(repo) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    run_argv = [sys.executable, "-m", "edgeseq.cli", "run", "char", "--prompt", "if you", "--length", "1"]
    # the same command through edgeseq.cli.main, whose process exits the usual way (teardown
    # included): what edgeseq.cli.program's quick exit saves, measured beside it
    main_code = ("import sys; sys.argv = ['edgeseq', 'run', 'char', '--prompt', 'if you', '--length', '1']; "
                 "from edgeseq.cli import main; main()")
    commands = {"edgeseq run char --length 1": run_argv,
                "the same, with the interpreter's teardown": [sys.executable, "-c", main_code],
                'python -c "import tensorflow"': [sys.executable, "-c", "import tensorflow"],
                'python -c "import onnxruntime"': [sys.executable, "-c", "import onnxruntime"],
                'python -c "pass"': [sys.executable, "-c", "pass"]}
    # An installed edgeseq runs from bytecode pip compiled at install; a checkout with
    # PYTHONDONTWRITEBYTECODE set (as here) would compile every module on every start instead.
    compileall.compile_dir(str(repo / "edgeseq"), quiet=1)
    load_before = os.getloadavg()[0]
    cold = process_times(commands, size.processes, env)
    conditions = (f"{size.processes} interleaved rounds after one warm-up round; 1-minute load average "
                  f"{load_before:.2f} before, {os.getloadavg()[0]:.2f} after")
    cli_first = [float(m.group(1)) for err in cold["edgeseq run char --length 1"][2]
                 for m in [re.search(r"first after ([0-9.]+) ms", err)] if m]
    return cold, cli_first, conditions
