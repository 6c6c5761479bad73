"""The ``edgeseq`` command: train, export, run, verify, info, serve.

The entry point only: ``main`` adds the module of the command asked for, so ``edgeseq run``
loads no training code. These modules have no ``from __future__ import annotations``: Typer
evaluates each annotation.
"""
import importlib
import logging
import os
import signal
import sys

from edgeseq.cli.streams import to_devnull, usable_streams

COMMAND_MODULES = {"train": "train", "run": "run", "export": "file_commands", "verify": "file_commands", "info": "file_commands",
                   "serve": "serving"}
ALL_MODULES = ("file_commands", "run", "serving", "train")


def with_commands(modules):
    """The app, once the given command modules have added their commands to it."""
    for module in modules:
        importlib.import_module(f"edgeseq.cli.{module}")
    from edgeseq.cli.apps import app
    return app


def main():
    """The app holding the command named on the command line, run; the process then ends the
    usual way (``program``, the ``edgeseq`` script, ends it sooner)."""
    usable_streams()
    signal.signal(signal.SIGTERM, terminated)  # SIGTERM is Ctrl-C: the same line, exit code 130
    named = sys.argv[1] if len(sys.argv) > 1 else None
    modules = [COMMAND_MODULES[named]] if named in COMMAND_MODULES else ALL_MODULES
    with_commands(modules)()


def terminated(signum, frame):
    """SIGTERM (``kill``, a service manager stopping edgeseq) handled as Ctrl-C: raised as
    KeyboardInterrupt, so every write in progress is undone or finished as on Ctrl-C and the
    command ends with "interrupted" and exit code 130 (training notes it between steps)."""
    raise KeyboardInterrupt


#: commands after which ``program`` ends the process without the interpreter's teardown
QUICK_EXIT = ("run", "info", "verify")


def program():
    """The ``edgeseq`` script: ``main``, then its output flushed (``flushed``); after a
    quick-exit command the process ends at once with its exit code (the log handlers flushed
    first)."""
    try:
        main()
        code = 0
    except SystemExit as e:
        code = e.code
    except OSError as e:  # a write outside any command (--help, --version, a usage error)
        code = output_failure(e, 0)
    code = flushed(code)
    if not (len(sys.argv) > 1 and sys.argv[1] in QUICK_EXIT and (code is None or isinstance(code, int))):
        sys.exit(code)
    logging.shutdown()
    os._exit(code or 0)


def flushed(code):
    """The exit code once stdout is flushed: the same, or 2 when what it holds cannot be
    written (one line says so). A reader that left after the last write is no failure."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:  # as quiet as the command itself (apps.reports_errors)
        to_devnull(sys.stdout)
    except OSError as e:
        code = output_failure(e, code)
    sys.stderr.flush()
    return code


def output_failure(error: OSError, code):
    """``code`` (2 if it is 0) after the one line of output that cannot be written; any other
    OSError is a bug: one line saying where its trace is, exit code 1."""
    from edgeseq.cli.apps import internal_error, output_error  # main imported it

    failed = output_error(error)
    if failed is None:
        return internal_error(error).exit_code
    return code or failed.exit_code


def __getattr__(name):
    if name == "app":  # every command, as tests and other programs expect of the app
        return with_commands(ALL_MODULES)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["app", "main", "program"]
