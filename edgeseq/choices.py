"""The values an option may take, in one place: what the help text lists is what is checked.

Every choice is one tuple, here or in ``contract`` where a model file records it; an unknown
value always reads ``unknown --cell 'tcn'; choose one of: rnn, lstm, gru``. Counts, ranges
and fractions are checked here too. Standard library only.
"""
from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence

from edgeseq.contract.cells import CELLS
# --context, --head, --input, --target-mode, --date-format: what a model file records, so the contract lists them
from edgeseq.contract.meta import CONTEXTS, DATE_FORMATS, HEADS, INPUTS, MISSING_VALUES, PRECISIONS, TARGET_MODES
from edgeseq.contract.run_layout import MAX_EPOCHS
from edgeseq.contract.schema import MAX_HIDDEN, MAX_HORIZON, MAX_LAYERS, MAX_WINDOW
from edgeseq.errors import InputError, ParameterError

#: --strategy: where training runs.
STRATEGIES: tuple[str, ...] = ("default", "mirrored", "multi-worker")
#: --fill: how empty CSV cells are filled (none given: an empty cell is an error).
FILL_METHODS: tuple[str, ...] = ("ffill",)
# DATE_FORMATS (--date-format: how a CSV writes its dates) and MISSING_VALUES (what --fill or
# --drop-missing did with a missing value) are recorded in the model file, so they live in contract.

# PRECISIONS (--precision fp32|int8; --quantize takes the others) name the files a model has: contract.

#: --seed: what every random generator edgeseq seeds accepts (numpy's legacy seed is 32 bits).
SEED_MAX = 2**32 - 1
#: --temperature: the lowest that samples. Logits are divided by it in float32: below 0.01 a
#: character whose logit is 1 below the best gets the weight e^-100, which float32 rounds to
#: 0, so the draw is greedy anyway; near 1e-38 the scaled logits overflow float32 and the
#: text becomes garbage. Below it only 0 (greedy) is taken.
MIN_TEMPERATURE = 0.01

__all__ = ["CELLS", "CONTEXTS", "HEADS", "INPUTS", "TARGET_MODES", "STRATEGIES", "FILL_METHODS", "DATE_FORMATS",
           "MISSING_VALUES", "PRECISIONS", "SEED_MAX", "MIN_TEMPERATURE", "check_choice", "check_range", "check_positive_number",
           "check_counts", "check_fraction", "refuse_no_effect", "missing_choice",
           "either", "metavar", "explain"]


def check_choice(option: str, value: object, choices: Collection[str]) -> None:
    """Refuse a value that is not one of ``choices``, naming ``option`` as the user gave it
    (``--cell`` on the command line; a library function names its own argument)."""
    if value not in choices:
        raise ParameterError(option, f" {value!r}; choose one of: {', '.join(choices)}", before="unknown ")


def missing_choice(fill: str | None, drop_missing: bool) -> str | None:
    """``--fill`` and ``--drop-missing`` as one of MISSING_VALUES, or None (a missing value is an error)."""
    # The one unknown choice not worded by check_choice: both `--fill` and `fill=` reach this
    # check, and users (and tests) know this wording.
    if fill is not None and fill not in FILL_METHODS:
        raise InputError(f"unknown fill method '{fill}': use {' or '.join(repr(m) for m in FILL_METHODS)} "
                         "or leave it out")
    if fill is not None and drop_missing:
        raise InputError("--fill and --drop-missing both say what to do with a missing value; choose one")
    return "drop" if drop_missing else fill


def check_range(option: str, value: int | None, lo: int, hi: int, meaning: str = "") -> None:
    """Refuse a whole number outside [lo, hi] (None: not given), naming ``option``;
    ``meaning`` says what the upper bound is ("the vocabulary size")."""
    if value is not None and not lo <= value <= hi:
        bound = f"{hi} ({meaning})" if meaning else f"{hi}"
        raise ParameterError(option, f" must be from {lo} to {bound}, got {value}")


def check_positive_number(option: str, value: float, zero: str | None = None) -> None:
    """Refuse NaN, infinities and negatives (and 0 unless ``zero`` says what 0 means)."""
    if not math.isfinite(value) or value < 0 or (value == 0 and zero is None):
        allowed = f"0 ({zero}) or a finite positive number" if zero else "a finite positive number"
        raise ParameterError(option, f" must be {allowed}, got {value}")


MAX_BATCH = 2**31 - 1
#: the most of a count an option takes: the model file's limits (edgeseq.contract.schema), so
#: anything trained can be exported and run
COUNT_LIMITS = {"--window": MAX_WINDOW, "--horizon": MAX_HORIZON, "--layers": MAX_LAYERS, "--hidden": MAX_HIDDEN,
                "--epochs": MAX_EPOCHS, "--batch-size": MAX_BATCH, "--streams": MAX_BATCH}


def check_counts(*options: tuple[str, int | None]) -> None:
    """Counts (None: not given): at least 1, and at most the option's COUNT_LIMITS."""
    for option, value in options:
        if value is not None and value < 1:
            raise InputError(f"{option} must be at least 1, got {value}")
        if value is not None and value > COUNT_LIMITS.get(option, value):
            raise InputError(f"{option} must be at most {COUNT_LIMITS[option]}, got {value}")


def check_fraction(option: str, value: float | None) -> None:
    if value is not None and not 0 <= value < 1:
        raise InputError(f"{option} must be at least 0 and below 1, got {value:g}")


def refuse_no_effect(option: str, given: bool, why: str) -> None:
    if given:
        raise InputError(f"{option} has no effect {why}; leave it out")


def either(choices: Sequence[str]) -> str:
    """'rnn, lstm or gru': a choice list as a help text reads it."""
    return choices[0] if len(choices) == 1 else f"{', '.join(choices[:-1])} or {choices[-1]}"


def metavar(choices: Sequence[str]) -> str:
    """'[fp32|int8]': the choices where an option's help shows the value it takes."""
    return f"[{'|'.join(choices)}]"


def explain(meanings: Mapping[str, str], choices: Sequence[str]) -> str:
    """'a: what a does; b: what b does' for a help text, in the order of ``choices``.

    Refuses (at import of the CLI, so a test sees it) meanings that name other choices than
    the list the option is checked against.
    """
    if tuple(meanings) != tuple(choices):
        raise ValueError(f"help text explains {tuple(meanings)}, but the choices are {tuple(choices)}")
    return "; ".join(f"{choice}: {meaning}" for choice, meaning in meanings.items())
