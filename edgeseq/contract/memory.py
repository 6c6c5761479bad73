"""The memory budget every large setting is checked against, before the work starts.

Each stage estimates what its setting needs and asks ``require_memory``: half of the
physical memory, refused in one line rather than as an allocator abort.
"""
from __future__ import annotations

import os

from edgeseq.errors import InputError

#: the share of the physical memory one setting may need
BUDGET_FRACTION = 0.5


def machine_bytes() -> int:
    """The physical memory of this machine, in bytes (os.sysconf; 8 GiB where it cannot say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 8 << 30


def budget_bytes() -> int:
    return int(machine_bytes() * BUDGET_FRACTION)


def gigabytes(count: float) -> str:
    """'5.7 GB', '0.1 GB', '24 GB': a size in a message."""
    gb = count / 1e9
    return f"{gb:.0f} GB" if gb >= 10 else f"{gb:.1f} GB" if gb >= 0.1 else f"{gb:.2g} GB"


def require_memory(need: float, what: str, advice: str) -> None:
    """Refuse ``what`` (a setting, worded for the user) when it needs about ``need`` bytes, more
    than the budget; ``advice`` says which option lowers it."""
    if need > budget_bytes():
        raise InputError(f"{what} would need about {gigabytes(need)} of memory; this machine has "
                         f"{gigabytes(machine_bytes())} and edgeseq uses at most half of it: {advice}")
