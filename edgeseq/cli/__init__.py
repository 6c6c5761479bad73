"""The ``edgeseq`` command: train, export, run, verify, info.

Each command parses its options and hands over to one stage, imported inside the command,
so ``edgeseq run`` starts without TensorFlow. Options become typed specs
(``edgeseq.specs``), which own the defaults and check every value once; the choices an
option lists in its help are the ones it is checked against (``edgeseq.choices``).

* ``apps.py``: the Typer apps, the error policy (a known failure is one line and exit 2; a
  bug one line naming its trace file and exit 1), logging set up once.
* ``options.py``: help texts shared by several options, each built from its choice list.
* ``train.py``, ``run.py``: ``edgeseq train char|stock`` and ``edgeseq run char|stock``.
* ``files.py``: the commands on model files: ``export``, ``verify``, ``info``.

Start-up counts here (``edgeseq run`` is a whole process per use), so:

* stages are imported inside their command;
* the program (``main``) adds to the app only the module of the command it was asked for
  (every module for ``--help``, no command or an unknown one): Typer reads the annotations
  of every command it holds each time the program starts, and ``train.py`` pulls in the
  training specs; ``from edgeseq.cli import app`` gives the app with every command (so the
  apps live in ``apps.py``: a submodule named ``app`` would shadow that attribute);
* these modules have no ``from __future__ import annotations``: as strings each annotation
  would first be compiled and evaluated (about 15 ms of every run);
* the program itself (``program``: the ``edgeseq`` script and ``python -m edgeseq.cli``)
  leaves without tearing the interpreter down after the commands that hold no files open
  and start no threads of their own (``run``, ``info``, ``verify``): its output flushed, it
  ends the process. Teardown (every module's globals, onnxruntime's session and
  environment, a last garbage collection) took about 35 ms of a 215 ms ``edgeseq run char
  --length 1``; nothing of it reaches the user. The same trick Instagram's Python servers
  use (``atexit.register(os._exit, 0)``). ``train`` and ``export`` exit normally: TensorFlow
  registers its own clean-up.
"""
import importlib
import logging
import os
import sys

COMMAND_MODULES = {"train": "train", "run": "run", "export": "files", "verify": "files", "info": "files"}
ALL_MODULES = ("files", "run", "train")


def with_commands(modules):
    """The app, once the given command modules have added their commands to it."""
    for module in modules:
        importlib.import_module(f"edgeseq.cli.{module}")
    from edgeseq.cli.apps import app
    return app


def main():
    """The ``edgeseq`` program: the app holding the command named on the command line."""
    named = sys.argv[1] if len(sys.argv) > 1 else None
    modules = [COMMAND_MODULES[named]] if named in COMMAND_MODULES else ALL_MODULES
    with_commands(modules)()


#: commands after which ``program`` ends the process without the interpreter's teardown
QUICK_EXIT = ("run", "info", "verify")


def program():
    """The ``edgeseq`` script: ``main``, then, after a quick-exit command, the process ends at
    once with its exit code (stdout, stderr and the log handlers flushed first)."""
    try:
        main()
        code = 0
    except SystemExit as e:
        code = e.code
    if not (len(sys.argv) > 1 and sys.argv[1] in QUICK_EXIT and (code is None or isinstance(code, int))):
        sys.exit(code)
    logging.shutdown()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:  # the reader left after the last write: as quiet as the command itself
        pass
    os._exit(code or 0)


def __getattr__(name):
    if name == "app":  # every command, as tests and other programs expect of the app
        return with_commands(ALL_MODULES)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["app", "main", "program"]
