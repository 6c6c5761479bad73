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
  environment, a last garbage collection) is about 30 ms of ``edgeseq run char --length 1``
  (bench/RESULTS.md, the cold-start table, measures both); nothing of it reaches the user.
  The same trick Instagram's Python servers use (``atexit.register(os._exit, 0)``). ``train`` and ``export`` exit normally: TensorFlow
  registers its own clean-up.

Standard streams that are closed or fail (``usable_streams``, then ``program``'s last flush):
diagnostics with nowhere to go (``2>&-``, ``2>/dev/full``) are dropped, and the command's
output and exit code stay what they would be; output that cannot be written (``>/dev/full``,
``>&-``) is one line, ``edgeseq: error: cannot write the output: ...``, and exit code 2,
whether the write fails inside the command or only at the last flush; a reader that left
(``| head``) ends the command quietly, as its own choice.
"""
import errno
import importlib
import logging
import os
import signal
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


class OutputError(OSError):
    """A write to stdout that failed (a full disk, a quota, a closed descriptor), not a reader
    that left: what ``edgeseq.cli.apps.output_error`` turns into one line and exit code 2.
    Only writes to stdout raise it (``Output``), so no other OSError is mistaken for one."""


class Output:
    """sys.stdout of the program: its write failures raised as OutputError (a reader that
    left, BrokenPipeError, stays what it is)."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text: str) -> int:
        return self._marked(self.stream.write, text)

    def flush(self) -> None:
        self._marked(self.stream.flush)

    @staticmethod
    def _marked(call, *args):
        try:
            return call(*args)
        except BrokenPipeError:
            raise
        except OSError as e:
            raise OutputError(e.errno, e.strerror) from None

    def __getattr__(self, name):  # encoding, isatty, fileno, ...: the stream's own
        return getattr(self.stream, name)


class ClosedStdout:
    """sys.stdout of a process started without one (``edgeseq run ... >&-``): writing to it
    fails as writing to a full disk does, so the command ends with one line and exit code 2.

    Not a quiet exit like ``| head``: there the reader took what it wanted and left; here
    nothing was read at all, and a script that closed stdout by mistake must hear of it (as
    ``ls >&-`` fails with "write error"). A command whose only stdout is its closing report
    (``train stock``'s table) fails so too, after its run folder is written."""

    encoding = "utf-8"

    def write(self, text: str) -> int:
        raise OutputError(errno.EBADF, "standard output is closed")

    def flush(self) -> None:
        pass


class Diagnostics:
    """sys.stderr that drops what it cannot write (``2>/dev/full``): the first failed write
    points its descriptor at os.devnull, so the bytes it holds and all later lines go there."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text: str) -> int:
        try:
            return self.stream.write(text)
        except OSError:
            to_devnull(self.stream)
            return len(text)

    def flush(self) -> None:
        try:
            self.stream.flush()
        except OSError:
            to_devnull(self.stream)

    def __getattr__(self, name):  # encoding, isatty, fileno, ...: the stream's own
        return getattr(self.stream, name)


def to_devnull(stream) -> None:
    """Point ``stream``'s file descriptor at os.devnull (a stream without one: nothing to do)."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return
    devnull_at(fd)


def devnull_at(fd: int) -> None:
    """os.devnull opened as file descriptor ``fd`` (whatever ``fd`` was, or if it was closed)."""
    null = os.open(os.devnull, os.O_WRONLY)  # the lowest free number: ``fd`` itself when it was closed
    if null != fd:
        os.dup2(null, fd)
        os.close(null)


def usable_streams() -> None:
    """A closed stdout or stderr (the process started with ``>&-`` or ``2>&-``: Python sets
    it to None, and ``print(file=None)`` would write to stdout) gets os.devnull under its
    descriptor, so no file edgeseq opens takes that number; stdout then refuses every write
    (``ClosedStdout``), stderr writes to os.devnull. Any stdout marks its write failures
    (``Output``); any stderr drops what it cannot write."""
    for fd, name in ((1, "stdout"), (2, "stderr")):
        if getattr(sys, name) is None:
            devnull_at(fd)
    if sys.stdout is None:
        sys.stdout = ClosedStdout()
    elif not isinstance(sys.stdout, (Output, ClosedStdout)):
        sys.stdout = Output(sys.stdout)
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w")
    elif not isinstance(sys.stderr, Diagnostics):
        sys.stderr = Diagnostics(sys.stderr)


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
    from edgeseq.cli.apps import internal_error, output_error  # main imported them

    failed = output_error(error)
    if failed is None:
        return internal_error(error).exit_code
    return code or failed.exit_code


def __getattr__(name):
    if name == "app":  # every command, as tests and other programs expect of the app
        return with_commands(ALL_MODULES)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["app", "main", "program"]
