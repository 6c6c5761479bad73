"""A one-line training progress bar on stderr (stdout stays free for results).

A line per epoch buries a 500-epoch run; this bar redraws a single line on a terminal (also
within a long epoch, every step or so) and prints a line every tenth of the run elsewhere
(CI logs). It is not a log line (a redrawn line has no place in a log), so it writes to
sys.stderr itself, as sys.stderr is when training starts; everything else goes through
edgeseq.log. A resumed run starts its bar at the epoch it resumes from.
"""
from __future__ import annotations

import sys
import time


class ProgressBar:
    def __init__(self, epochs: int, first: int = 0, width: int = 24):
        self.epochs, self.first, self.width = epochs, first, width
        self.every = max(1, epochs // 10)

    def begin(self) -> None:
        self.stream = sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.started = self.drawn = time.perf_counter()
        self.done = self.first

    def step(self, epoch: int, step: int, steps: int) -> None:
        """Within a long epoch, on a terminal: the step count, redrawn at most twice a second."""
        now = time.perf_counter()
        if not self.tty or now - self.drawn < 0.5:
            return
        self.drawn = now
        self.stream.write(f"\repoch {epoch}/{self.epochs}: step {step}/{steps}  {now - self.started:.1f}s\033[K")
        self.stream.flush()

    def epoch_end(self, done: int, figures: dict[str, float]) -> None:
        self.done = done
        if not self.tty and done % self.every and done != self.epochs:
            return
        filled = int(self.width * done / self.epochs)
        bar = "#" * filled + "-" * (self.width - filled)
        shown = "  ".join(f"{k} {v:.4f}" for k, v in figures.items())
        line = f"epoch {done:>{len(str(self.epochs))}}/{self.epochs} [{bar}] {shown}  {time.perf_counter() - self.started:.1f}s"
        if self.tty:
            self.stream.write("\r" + line + "\033[K" + ("\n" if done == self.epochs else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def end(self) -> None:
        if self.tty and self.first < self.done < self.epochs:  # stopped early: end the line that expected more
            self.stream.write("\n")
            self.stream.flush()
