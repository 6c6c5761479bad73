"""The standard streams of the ``edgeseq`` process: what happens when they are closed or fail.

Diagnostics with nowhere to go are dropped; output that cannot be written is ``OutputError``;
a reader that left ends the command quietly.
"""
import errno
import os
import sys


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
