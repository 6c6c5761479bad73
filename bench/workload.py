"""How much work a measurement does, chosen in one place.

The full run and the smoke test share every measurement; only the sizes differ. Keeping the
sizes apart from the code that measures lets every block, and the report, read the same
choice without passing a dozen numbers around.
"""
from __future__ import annotations


class Sizes:
    """How much work per measurement: the full run, or the smoke test's few iterations."""

    def __init__(self, smoke: bool):
        self.smoke = smoke
        self.rounds = 1 if smoke else 7
        self.chars = 40 if smoke else 3000  # per block, fast peers
        self.slow_chars = 10 if smoke else 300  # per block, TensorFlow and per-call loops
        self.window_chars = 20 if smoke else 600
        self.window_slow = 5 if smoke else 150
        self.batch_chars = 10 if smoke else 300
        self.stock_calls = 20 if smoke else 3000
        self.stock_slow = 5 if smoke else 300
        self.big_batch = 64 if smoke else 4096
        self.processes = 1 if smoke else 15  # whole processes per command, interleaved (cold start)
