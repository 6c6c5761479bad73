"""Training progress on stderr: where a run is, and how long it has left.

On a terminal one line redrawn at most REFRESH times a second; elsewhere one plain line per
epoch, so a log and the Ctrl-C message name the same epochs.
"""
from __future__ import annotations

import sys
import time

from edgeseq.log import logger

#: Redraws a second, at most, of the terminal line.
REFRESH = 4


def clock(seconds: float) -> str:
    """12.3s, 4:05, 1:02:03."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}" if minutes >= 60 else f"{minutes}:{secs:02d}"


def rate(per_second: float) -> str:
    return f"{per_second / 1000:.1f}k" if per_second >= 1000 else f"{per_second:.0f}"


class ProgressBar:
    def __init__(self, epochs: int, first: int = 0, unit: str = "windows", width: int = 20):
        self.epochs, self.first, self.unit, self.width = epochs, first, unit, width

    def begin(self) -> None:
        self.stream = sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.started = self.drawn = time.perf_counter()
        self.run = 0  # epochs completed by this process (rolled back ones too)
        self.pending = False  # a redrawn line is on the terminal, not yet ended

    # ------------------------------------------------------------------ within an epoch

    def epoch_begin(self, epoch: int, batches: int) -> None:
        self.epoch, self.batches = epoch, batches
        self.epoch_started = time.perf_counter()
        self.timed_from = self.timed_units = None  # measured from the end of the first batch (it compiles)
        self.units = 0.0

    def step(self, done: int, units: float) -> None:
        """Batch ``done`` of the epoch ended, having trained on ``units`` characters (or windows)."""
        now = time.perf_counter()
        self.units += units
        if self.timed_from is None:
            self.timed_from, self.timed_units, self.timed_batches = now, self.units, done
            return
        if not self.tty or done == self.batches or (self.pending and now - self.drawn < 1 / REFRESH):
            return
        per_batch = (now - self.timed_from) / (done - self.timed_batches)
        epoch_left = per_batch * (self.batches - done)
        run_left = epoch_left + (self.epochs - self.epoch) * self.epoch_seconds(per_batch)
        speed = (self.units - self.timed_units) / max(now - self.timed_from, 1e-9)
        self.draw(f"epoch {self.epoch}/{self.epochs} {self.bar(self.epoch - 1 + done / self.batches)} "
                  f"batch {done}/{self.batches}  {rate(speed)} {self.unit}/s  "
                  f"ETA {clock(epoch_left)} epoch, {clock(run_left)} run", now)

    def epoch_seconds(self, per_batch: float) -> float:
        """An epoch's expected wall time: the mean of those run, else the batches' pace."""
        if self.run:
            return (self.epoch_started - self.started) / self.run
        return per_batch * self.batches

    # ------------------------------------------------------------------ between epochs

    def epoch_end(self, done: int, figures: dict[str, float]) -> None:
        now = time.perf_counter()
        self.run += 1
        elapsed = now - self.started
        left = (self.epochs - done) * elapsed / self.run
        shown = "  ".join(f"{k} {v:.4f}" for k, v in figures.items())
        line = (f"epoch {done:>{len(str(self.epochs))}}/{self.epochs} {self.bar(done)} {shown}  {clock(elapsed)}"
                + (f"  ETA {clock(left)}" if done < self.epochs else ""))
        if not self.tty:
            self.stream.write(line + "\n")
            self.stream.flush()
        elif done == self.epochs or not self.pending or now - self.drawn >= 1 / REFRESH:
            self.draw(line, now)

    def clear(self) -> None:
        """Take the redrawn line off the terminal, for a log line in its place."""
        if self.tty and self.pending:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self.pending = False

    def end(self, finished: bool) -> None:
        """End the redrawn line; a run that was not interrupted gets its wall time."""
        if self.tty and self.pending:
            self.stream.write("\n")
            self.stream.flush()
        if finished:
            logger.info(f"{self.run} epoch{'s' if self.run != 1 else ''} run in "
                        f"{clock(time.perf_counter() - self.started)} (wall time)")

    def bar(self, epochs_done: float) -> str:
        filled = int(self.width * epochs_done / self.epochs)
        return "[" + "#" * filled + "-" * (self.width - filled) + "]"

    def draw(self, line: str, now: float) -> None:
        self.stream.write("\r" + line + "\033[K")
        self.stream.flush()
        self.drawn, self.pending = now, True
