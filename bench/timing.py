"""Timing helpers: interleaved rounds, best and median, and a description of the machine.

Every figure in a table is measured in the same process, in rounds that visit every peer
once per round (so a noisy neighbour slows all of them, not just one), and the best round
is the figure; the median is shown beside it. ``Timing.per_unit`` is seconds per unit
(character, window or call).
"""
from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Timing:
    label: str
    per_unit: list[float] = field(default_factory=list)  # seconds per unit, one per round

    @property
    def best(self) -> float:
        return min(self.per_unit)

    @property
    def median(self) -> float:
        return statistics.median(self.per_unit)

    @property
    def rate(self) -> float:
        """Units per second, from the best round."""
        return 1.0 / self.best


def interleaved(peers: dict[str, Callable[[], int]], rounds: int) -> dict[str, Timing]:
    """Run each peer once per round; a peer returns how many units it did."""
    timings = {name: Timing(name) for name in peers}
    for fn in peers.values():  # warm-up: first calls allocate, JIT, build plans
        fn()
    for _ in range(rounds):
        for name, fn in peers.items():
            started = time.perf_counter()
            units = fn()
            timings[name].per_unit.append((time.perf_counter() - started) / units)
    return timings


def process_times(commands: dict[str, list[str]], runs: int,
                  env: dict | None = None) -> dict[str, tuple[Timing, Timing, list[str]]]:
    """Wall and CPU (user + sys) seconds of whole processes, and their stderrs, by label.

    Interleaved like ``interleaved``: each round starts every command once, in turn, so
    load from elsewhere slows all of them alike; one warm-up round first (file caches)."""
    wall = {label: Timing(" ".join(argv)) for label, argv in commands.items()}
    cpu = {label: Timing(" ".join(argv)) for label, argv in commands.items()}
    errs: dict[str, list[str]] = {label: [] for label in commands}
    for round_ in range(runs + 1):
        for label, argv in commands.items():
            before = os.times()
            started = time.perf_counter()
            done = subprocess.run(argv, capture_output=True, text=True, env=env)
            elapsed = time.perf_counter() - started
            after = os.times()
            if done.returncode != 0:
                raise RuntimeError(f"{argv} failed ({done.returncode}): {done.stderr[-2000:]}")
            if round_ == 0:
                continue
            wall[label].per_unit.append(elapsed)
            cpu[label].per_unit.append((after.children_user - before.children_user)
                                       + (after.children_system - before.children_system))
            errs[label].append(done.stderr)
    return {label: (wall[label], cpu[label], errs[label]) for label in commands}


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, str]:
    import numpy
    import onnxruntime

    versions = {"python": platform.python_version(), "numpy": numpy.__version__,
                "onnxruntime": onnxruntime.__version__}
    for name in ("onnx", "tensorflow", "tf2onnx", "keras"):
        try:
            versions[name] = __import__(name).__version__
        except ImportError:
            versions[name] = "not installed"
    import edgeseq

    versions["edgeseq"] = edgeseq.__version__
    try:
        cache = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        caches = [line.split(":", 1)[1].strip() for line in cache.splitlines()
                  if line.startswith(("L1d", "L2", "L3"))]
    except OSError:
        caches = []
    return {
        "cpu": cpu_model(),
        "cores": f"{os.cpu_count()} logical, {len(os.sched_getaffinity(0))} usable by this process",
        "caches": ", ".join(f"{k} {v}" for k, v in zip(("L1d", "L2", "L3"), caches)) or "unknown",
        "os": f"{platform.system()} {platform.release()}",
        "load": "load average {:.2f} {:.2f} {:.2f} at start".format(*os.getloadavg()),
        "versions": ", ".join(f"{k} {v}" for k, v in versions.items()),
        "python_executable": sys.executable,
    }
