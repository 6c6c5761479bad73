"""A one-line training progress bar on stderr (stdout stays free for results).

Keras' own bar prints a line per epoch, which buries a 500-epoch run; this one redraws a
single line on a terminal and prints a line every tenth of the run elsewhere (CI logs).
"""
from __future__ import annotations

import sys
import time

import keras


class ProgressBar(keras.callbacks.Callback):
    def __init__(self, epochs: int, stream=None, width: int = 24):
        super().__init__()
        self.epochs = epochs
        self.stream = stream or sys.stderr
        self.width = width
        self.every = max(1, epochs // 10)
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def on_train_begin(self, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        done = epoch + 1
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
