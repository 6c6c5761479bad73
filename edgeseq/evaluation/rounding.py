"""Does a model amplify float rounding? The growing-difference rule export and training share.

Differences that grow with the sequence length by GROWTH or more mean a chaotic model: its
text after many steps depends on the runtime and the CPU.
"""
from __future__ import annotations

#: Largest difference allowed between two computations of a char model's logits.
LOGIT_TOLERANCE = 1e-4
#: Growth from the shortest to the longest sequence that makes differences "growing".
GROWTH = 10


def grows(by_time: dict[int, float]) -> bool:
    """Whether the largest differences, by sequence length, rise steadily by GROWTH or more."""
    times = sorted(by_time)
    diffs = [by_time[t] for t in times]
    return len(times) >= 2 and diffs == sorted(diffs) and diffs[-1] >= GROWTH * max(diffs[0], 1e-12)


def by_length(by_time: dict[int, float]) -> str:
    """'time 1: 2.0e-06, time 10: 3.0e-03'."""
    return ", ".join(f"time {t}: {by_time[t]:.1e}" for t in sorted(by_time))
