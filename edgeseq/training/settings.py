"""Training settings shared by every task: what a user sets on the command line."""
from __future__ import annotations

from dataclasses import dataclass

from edgeseq.errors import InputError


@dataclass(frozen=True)
class TrainSettings:
    epochs: int = 50
    lr: float = 0.1
    batch_size: int | None = None  # None: the whole data set is one batch (the lab)
    seed: int = 0
    strategy: str = "default"

    def check(self) -> None:
        if self.epochs < 1:
            raise InputError(f"--epochs must be at least 1, got {self.epochs}")
        if not self.lr > 0:
            raise InputError(f"--lr must be positive, got {self.lr}")
        if self.batch_size is not None and self.batch_size < 1:
            raise InputError(f"--batch-size must be at least 1, got {self.batch_size}")
