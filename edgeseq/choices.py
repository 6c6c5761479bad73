"""The values an option may take, in one place: what the help text lists is what is checked.

Every choice an option offers is one tuple here (or in ``contract`` where the model file
records it), and an unknown value always reads the same way, built from that tuple:

    unknown --cell 'tcn'; choose one of: rnn, lstm, gru

The CLI's help texts list the same tuples through ``either`` and ``explain``, so a new
choice appears in the help and in the check at once. Standard library only: the CLI builds
its help and checks its options before numpy or TensorFlow load.
"""
from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from edgeseq.contract.cells import CELLS
from edgeseq.contract.meta import CONTEXTS
from edgeseq.errors import InputError

#: --head: what turns the recurrent outputs into logits.
HEADS: tuple[str, ...] = ("dense", "none")
#: --input: how character ids enter the model.
INPUTS: tuple[str, ...] = ("onehot", "embedding")
#: --target-mode: what a series model's dense layer predicts (the default first).
TARGET_MODES: tuple[str, ...] = ("delta", "level")
#: --strategy: where training runs.
STRATEGIES: tuple[str, ...] = ("default", "mirrored", "multi-worker")
#: --fill: how empty CSV cells are filled (none given: an empty cell is an error).
FILL_METHODS: tuple[str, ...] = ("ffill",)

__all__ = ["CELLS", "CONTEXTS", "HEADS", "INPUTS", "TARGET_MODES", "STRATEGIES", "FILL_METHODS",
           "check_choice", "either", "explain"]


def check_choice(option: str, value: object, choices: Collection[str]) -> None:
    """Refuse a value that is not one of ``choices``, naming ``option`` as the user gave it
    (``--cell`` on the command line; a library function names its own argument)."""
    if value not in choices:
        raise InputError(f"unknown {option} {value!r}; choose one of: {', '.join(choices)}")


def either(choices: Sequence[str]) -> str:
    """'rnn, lstm or gru': a choice list as a help text reads it."""
    return choices[0] if len(choices) == 1 else f"{', '.join(choices[:-1])} or {choices[-1]}"


def explain(meanings: Mapping[str, str], choices: Sequence[str]) -> str:
    """'a: what a does; b: what b does' for a help text, in the order of ``choices``.

    Refuses (at import of the CLI, so a test sees it) meanings that name other choices than
    the list the option is checked against.
    """
    if tuple(meanings) != tuple(choices):
        raise ValueError(f"help text explains {tuple(meanings)}, but the choices are {tuple(choices)}")
    return "; ".join(f"{choice}: {meaning}" for choice, meaning in meanings.items())
