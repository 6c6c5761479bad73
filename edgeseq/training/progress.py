"""A one-line training progress bar on stderr (stdout stays free for results).

Keras' own bar prints a line per epoch, which buries a 500-epoch run; this one redraws a
single line on a terminal and prints a line every tenth of the run elsewhere (CI logs).
It is not a log line (a redrawn line has no place in a log), so it writes to sys.stderr
itself, as sys.stderr is when training starts; everything else goes through edgeseq.log.
"""
from __future__ import annotations

import sys
import time

import keras


class ProgressBar(keras.callbacks.Callback):
    def __init__(self, epochs: int, width: int = 24):
        super().__init__()
        self.epochs = epochs
        self.width = width
        self.every = max(1, epochs // 10)

    def on_train_begin(self, logs=None):
        self.stream = sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.started = time.perf_counter()
        self.done = 0

    def on_epoch_end(self, epoch, logs=None):
        self.done = done = epoch + 1
        if not self.tty and done % self.every and done != self.epochs:
            return
        filled = int(self.width * done / self.epochs)
        bar = "#" * filled + "-" * (self.width - filled)
        figures = "  ".join(f"{k} {v:.4f}" for k, v in (logs or {}).items())
        line = f"epoch {done:>{len(str(self.epochs))}}/{self.epochs} [{bar}] {figures}  {time.perf_counter() - self.started:.1f}s"
        if self.tty:
            self.stream.write("\r" + line + ("\n" if done == self.epochs else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def on_train_end(self, logs=None):
        if self.tty and 0 < self.done < self.epochs:  # stopped early: end the line that expected more
            self.stream.write("\n")
            self.stream.flush()
