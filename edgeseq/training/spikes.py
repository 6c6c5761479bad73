"""A loss spike is rolled back instead of ending the run: back to the best epoch, half the lr.

A spike is a non-finite loss, several times the lowest so far, or above a uniform guess for
a few epochs. The good epoch's weights and Adam's state come back and the lr is halved; a
model that ends chaotic goes back to its initial weights. After ``ROLLBACKS`` rollbacks a
spike stops the run at the good epoch, marked stopped early; with no good epoch, exit 2.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

from edgeseq.errors import InputError

#: A spike: an epoch's training loss above SPIKE_FACTOR times the lowest so far that also
#: gives back at least SPIKE_SHARE of the ground gained since the first epoch (a loss of
#: 0.003 after 0.001, on a model that started at 1.4, is noise, not a spike).
SPIKE_FACTOR, SPIKE_SHARE = 3.0, 0.1
#: Rollbacks allowed in one run, after spikes or a chaotic model; each halves the learning rate.
ROLLBACKS = 3
#: A loss still above ln V (a uniform guess over V characters) after this many epochs, and
#: at least DIVERGENCE_STEPS optimizer steps, in each of the last DIVERGENCE_EPOCHS epochs,
#: is a diverged training.
DIVERGENCE_EPOCHS, DIVERGENCE_STEPS = 3, 30
#: Test hook, not a user option: "EPOCH:FACTOR[:TIMES]" multiplies the gradients of the first
#: batch of epoch EPOCH (counted from 1) by FACTOR, the first TIMES times that epoch runs.
SPIKE_HOOK = "EDGESEQ_TEST_SPIKE"
#: Test hook, not a user option: "N" judges the weights a char run keeps chaotic, whatever
#: export's chaos test says, until the run has recorded N rollbacks.
CHAOS_HOOK = "EDGESEQ_TEST_CHAOS"


class TrainingDiverged(InputError):
    """The loss went non-finite, or stayed above a uniform guess, with no good epoch to go back to."""


@dataclass
class Snapshot:
    """A good epoch to return to: the weights and optimizer state after it.

    ``loss``: the training loss of the epoch that started from these weights (with one
    batch an epoch, exactly their loss). A snapshot is taken as each epoch starts and kept
    when that epoch's loss is the lowest so far, so a step that spikes is never kept."""

    epoch: int
    steps: int
    loss: float
    weights: list[np.ndarray]
    optimizer: list[np.ndarray]

    @classmethod
    def take(cls, epoch: int, steps: int, loss: float, model, optimizer) -> "Snapshot":
        return cls(epoch, steps, loss, model.get_weights(), [v.numpy() for v in optimizer.variables])

    def restore(self, model, optimizer) -> None:
        model.set_weights(self.weights)
        for variable, value in zip(optimizer.variables, self.optimizer):
            variable.assign(value)


def is_good(loss: float, uniform_loss: float | None) -> bool:
    """An epoch worth returning to: finite, and (char models) better than a uniform guess."""
    return math.isfinite(loss) and (uniform_loss is None or loss < uniform_loss)


@dataclass(frozen=True)
class Spike:
    """What went wrong in an epoch: ``why`` for the rollback line; ``diverged``, when it is
    more than a spike, the error to stop with if there is no good epoch to go back to."""

    why: str
    diverged: str | None = None


def spike(losses: list[float], loss: float, epoch: int, steps: int, uniform_loss: float | None) -> Spike | None:
    """Whether epoch ``epoch`` (counted from 1) of training loss ``loss``, after ``losses``, spiked.

    ``steps``: optimizer steps so far (the uniform test waits for DIVERGENCE_STEPS)."""
    if not math.isfinite(loss):
        return Spike(f"loss {loss}", f"the loss became {loss} in epoch {epoch}")
    recent = [*losses[-(DIVERGENCE_EPOCHS - 1):], loss]
    if (uniform_loss is not None and len(recent) == DIVERGENCE_EPOCHS and steps >= DIVERGENCE_STEPS
            and all(x > uniform_loss for x in recent)):
        vocab = round(math.exp(uniform_loss))
        return Spike(f"loss {loss:.2f} above a uniform guess for {DIVERGENCE_EPOCHS} epochs",
                     f"loss {loss:.2f} is above ln {vocab} = {uniform_loss:.2f} (a uniform guess) after {epoch} epochs")
    if losses:
        lowest = min(losses)
        if loss > SPIKE_FACTOR * lowest and loss - lowest > SPIKE_SHARE * (losses[0] - lowest):
            return Spike(f"loss {loss:.2f} spiked")
    return None


def forced_chaos(rollbacks: int) -> str | None:
    """The rollback's reason when CHAOS_HOOK asks for one after ``rollbacks`` rollbacks."""
    wanted = int(os.environ.get(CHAOS_HOOK) or 0)
    return f"the model amplifies float rounding (forced by {CHAOS_HOOK})" if rollbacks < wanted else None


class GradientSpikes:
    """The test hook: the gradient factor for each batch (1.0 but where SPIKE_HOOK says)."""

    def __init__(self, spec: str | None = None):
        spec = os.environ.get(SPIKE_HOOK, "") if spec is None else spec
        self.epoch, self.factor, self.times = 0, 1.0, 0
        if spec:
            parts = spec.split(":")
            self.epoch, self.factor = int(parts[0]), float(parts[1])
            self.times = int(parts[2]) if len(parts) > 2 else 1

    def factor_for(self, epoch: int, batch: int) -> float:
        """``epoch`` counted from 1, ``batch`` from 0."""
        if self.times and epoch == self.epoch and batch == 0:
            self.times -= 1
            return self.factor
        return 1.0
