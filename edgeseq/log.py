"""Diagnostics on stderr through the standard logging module: the "edgeseq" logger.

The CLI calls ``setup_cli_logging()`` once: bare messages to whatever sys.stderr is then.
Library users get nothing unless they configure logging.
"""
from __future__ import annotations

import logging
import sys

logger = logging.getLogger("edgeseq")


class _CurrentStderr(logging.StreamHandler):
    """A handler that writes to sys.stderr as it is when each line is emitted."""

    def __init__(self):
        super().__init__()
        self.setFormatter(logging.Formatter("%(message)s"))

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):  # logging.StreamHandler assigns it in __init__; ignore
        pass


def setup_cli_logging(level: int = logging.INFO) -> None:
    """Send the edgeseq logger's lines to stderr, once per process."""
    if not any(isinstance(h, _CurrentStderr) for h in logger.handlers):
        logger.addHandler(_CurrentStderr())
    logger.setLevel(level)
    logger.propagate = False
