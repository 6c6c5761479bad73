"""Does a model amplify float rounding? The growing-difference rule export and training share.

Differences that grow with the sequence length by GROWTH or more mean a chaotic model: its
text after many steps depends on the runtime and the CPU.
The inputs export draws are drawn here, so that training can replay them.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: Largest difference allowed between two computations of a char model's logits.
LOGIT_TOLERANCE = 1e-4
#: Batches a char model's graphs are compared at.
CHAR_BATCHES = (1, 3)
#: Growth from the shortest to the longest sequence that makes differences "growing".
GROWTH = 10


def grows(by_time: dict[int, float]) -> bool:
    """Whether the largest differences, by sequence length, rise steadily by GROWTH or more."""
    times = sorted(by_time)
    diffs = [by_time[t] for t in times]
    return len(times) >= 2 and diffs == sorted(diffs) and diffs[-1] >= GROWTH * max(diffs[0], 1e-12)


def char_lengths(window: int) -> list[int]:
    """The lengths a char model's dynamic graph is compared at: a step, the window, beyond it."""
    return [1, window, window + 7]


def random_char_inputs(rng: np.random.Generator, vocab_size: int, state_shape: tuple[int, int], batch: int,
                       time: int) -> dict[str, np.ndarray]:
    """Random ids from random states (not only zeros: a stream goes on from any state)."""
    ids = rng.integers(0, vocab_size, (batch, time), dtype=np.int32)
    state = (rng.standard_normal((batch, *state_shape)) * 0.5).astype(np.float32)
    return {"ids": ids, "state": state}


def parity_inputs(sample: Callable[[np.random.Generator, int, int], dict], batches, times,
                  seed: int = 0) -> tuple[np.random.Generator, list[tuple[int, int, dict]]]:
    """(the generator, then [(batch, time, inputs)]): one generator seeded ``seed`` draws each
    batch at each length, in that order. Export's parity cases for one graph."""
    rng = np.random.default_rng(seed)
    return rng, [(batch, time, sample(rng, batch, time)) for batch in batches for time in times]


def by_length(by_time: dict[int, float]) -> str:
    """'time 1: 2.0e-06, time 10: 3.0e-03'."""
    return ", ".join(f"time {t}: {by_time[t]:.1e}" for t in sorted(by_time))
