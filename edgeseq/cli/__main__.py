"""``python -m edgeseq.cli``: the same as the ``edgeseq`` command."""
from edgeseq.cli import program

program()
