"""Export = convert + verify: compare every output of ONNX against a reference, one checklist line each.

All failures are collected before anything is refused. The reference is any callable
returning its outputs by name; no TensorFlow here.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import onnxruntime as ort

from edgeseq.errors import ExportCheckError
from edgeseq.evaluation.rounding import by_length, grows
from edgeseq.log import logger
from edgeseq.runtime.model_file import session_options


@dataclass
class Check:
    """One line of the checklist: a parity maximum against its tolerance, or a condition."""

    label: str
    max_diff: float
    tolerance: float
    condition: bool | None = None

    @property
    def ok(self) -> bool:
        if self.condition is not None:
            return self.condition
        return bool(self.max_diff <= self.tolerance)

    def line(self) -> str:
        mark = "ok  " if self.ok else "FAIL"
        if self.condition is not None:
            return f"  {mark} {self.label}"
        return f"  {mark} {self.label:<48} max|Δ| {self.max_diff:.2e}  (≤ {self.tolerance:.0e})"


@dataclass
class Checklist:
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, label: str, a, b, tolerance: float) -> None:
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        if a.shape != b.shape:
            self.checks.append(Check(f"{label} shape {a.shape} vs {b.shape}", float("inf"), tolerance))
            return
        diff = float(np.abs(a - b).max()) if a.size else 0.0
        self.checks.append(Check(label, diff, tolerance))

    def require(self, label: str, condition: bool) -> None:
        self.checks.append(Check(label, 0.0, 0.0, bool(condition)))

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def max_diff(self, prefix: str = "") -> float:
        return max((c.max_diff for c in self.checks
                    if c.condition is None and c.label.startswith(prefix)), default=0.0)

    def report(self) -> str:
        return "\n".join([*(c.line() for c in self.checks), *(f"  note {n}" for n in self.notes)])

    def growth_with_time(self) -> str | None:
        """When checks failed and the largest difference grows with the sequence length (10x
        or more from the shortest to the longest), why: one line, else None."""
        by_time: dict[int, float] = {}
        for check in self.checks:
            found = re.search(r"\btime (\d+)\b", check.label)
            if found and check.condition is None:
                by_time[int(found[1])] = max(by_time.get(int(found[1]), 0.0), check.max_diff)
        if not self.failures or not grows(by_time):
            return None
        return (f"the differences grow with the sequence length ({by_length(by_time)}): the model amplifies float "
                "rounding step by step, as a chaotic or diverged model does; check its training loss and "
                "retrain it (a lower --lr usually helps)")

    def log_and_enforce(self, what: str, allow_failed: bool) -> None:
        """Log the checklist; then refuse on a failure, or with ``allow_failed`` only warn."""
        logger.info(self.report())
        growth = self.growth_with_time()
        if growth:
            logger.info(f"  why: {growth}")
        if not allow_failed:
            self.raise_if_failed(what)
        elif self.failures:
            logger.warning(f"warning: {len(self.failures)} check(s) failed; writing anyway (--allow-failed-checks)")

    def raise_if_failed(self, what: str) -> None:
        if self.failures:
            names = "; ".join(c.label.strip() for c in self.failures[:3])
            more = f" (+{len(self.failures) - 3} more)" if len(self.failures) > 3 else ""
            growth = self.growth_with_time()
            raise ExportCheckError(
                f"{what}: {len(self.failures)} check(s) failed: {names}{more}; "
                + ("the differences grow with the sequence length, a sign of a chaotic or diverged model "
                   "(retrain it); " if growth else "")
                + "pass --allow-failed-checks to write it anyway"
            )


def session(model_bytes: bytes) -> ort.InferenceSession:
    """A session set up exactly as the runtime sets up its own (one thread, quiet)."""
    return ort.InferenceSession(model_bytes, session_options(threads=1), providers=["CPUExecutionProvider"])


#: One parity case: (label before the output name, label after it, the inputs by name).
Case = tuple[str, str, dict[str, np.ndarray]]


def check_parity(checklist: Checklist, reference: Callable, sess: ort.InferenceSession,
                 cases: Iterable[Case], tolerance: float | Callable) -> None:
    """Every output of ``sess`` against ``reference`` on each case's inputs: one line per output.

    ``tolerance``: one for every output, or ``tolerance(output name, reference value)``.

    ``reference`` takes the inputs in the case's order and returns a mapping from output
    name to value. Labels read "PREFIX OUTPUT SUFFIX", output names padded to one width so
    that the lines of one case align ("dynamic logits    batch 1 time 10").
    """
    names = [output.name for output in sess.get_outputs()]
    width = max(map(len, names))
    for prefix, suffix, feeds in cases:
        want = reference(*feeds.values())
        for name, got in zip(names, sess.run(names, feeds)):
            expected = np.asarray(want[name])
            limit = tolerance(name, expected) if callable(tolerance) else tolerance
            checklist.add(f"{prefix} {name:<{width}} {suffix}".rstrip(), got, expected, limit)
