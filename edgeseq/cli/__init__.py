"""The ``edgeseq`` command: train, export, run, verify, info.

Each command parses its options and hands over to one stage, imported inside the command,
so ``edgeseq run`` starts without TensorFlow. Options become typed specs
(``edgeseq.specs``), which own the defaults and check every value once; the choices an
option lists in its help are the ones it is checked against (``edgeseq.choices``).

* ``app.py``: the Typer apps, the error policy (a known failure is one line and exit 2; a
  bug one line naming its trace file and exit 1), logging set up once.
* ``options.py``: help texts shared by several options, each built from its choice list.
* ``train.py``, ``run.py``: ``edgeseq train char|stock`` and ``edgeseq run char|stock``.
* ``files.py``: the commands on model files: ``export``, ``verify``, ``info``.

Start-up counts here (``edgeseq run`` is a whole process per use), so: stages are imported
inside their command, and these modules have no ``from __future__ import annotations``:
Typer reads every command's annotations each time the program starts, and as strings each
one would first be compiled and evaluated (about 15 ms of every run).
"""
from edgeseq.cli import files, run, train  # noqa: F401  (each module adds its commands to app)
from edgeseq.cli.app import app

__all__ = ["app"]
