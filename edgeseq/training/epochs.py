"""Epoch by epoch: validation, the best weights, divergence, checkpoints, a requested stop.

``fit`` runs the steps of ``edgeseq.training.loop`` over an epoch's batches and, after each
complete epoch: scores the validation part, keeps the weights of the lowest validation loss
(or of the last epoch without one), stops when the loss says the training diverged, writes
a checkpoint, and stops early after ``patience`` epochs without improvement.

Ctrl-C or SIGTERM does not stop a step half-way: the first one is noted and the epoch in
progress is abandoned at the next step boundary (its weights are not kept: they belong to
no complete epoch); a second one stops at once. Either way the checkpoint of the last
complete epoch is on disk untouched.
"""
from __future__ import annotations

import math
import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from edgeseq.data.batches import Source
from edgeseq.errors import InputError
from edgeseq.log import logger
from edgeseq.training.loop import Steps, add_to, round_up
from edgeseq.training.progress import ProgressBar

#: A loss still above ln V (a uniform guess over V characters) after this many epochs, and
#: at least DIVERGENCE_STEPS optimizer steps, in each of the last DIVERGENCE_EPOCHS epochs,
#: is a diverged training.
DIVERGENCE_EPOCHS, DIVERGENCE_STEPS = 3, 30


class TrainingDiverged(InputError):
    """The loss went non-finite, or stayed above a uniform guess: nothing is saved."""


@dataclass
class Plan:
    """How to fit, beyond the steps: epochs, batches and what to watch."""

    epochs: int
    batch_size: int | None
    seed: int = 0
    patience: int = 0  # stop after this many epochs without a lower validation loss (0: never)
    keep_best: bool = True  # keep the lowest validation loss's weights (else the last epoch's)
    uniform_loss: float | None = None  # ln V for a char model: the loss of knowing nothing
    lr: float = 0.0  # for the divergence message
    model_label: str = "this model"  # "2x128 units", for the divergence message


@dataclass
class Progress:
    """Where a fit stands: what a checkpoint stores and a resumed fit starts from."""

    epoch: int = 0  # complete epochs
    history: dict[str, list[float]] = field(default_factory=dict)
    best_epoch: int = 0
    best_weights: list[np.ndarray] | None = None
    steps: int = 0  # optimizer steps so far

    def best_loss(self) -> float:
        key = "val_loss" if "val_loss" in self.history else "loss"
        return self.history[key][self.best_epoch - 1] if self.best_epoch else math.inf


@dataclass
class Outcome:
    progress: Progress
    stopped_by: str | None = None  # the signal that stopped the fit early, if any
    patience_ran_out: bool = False


class StopRequest:
    """Ctrl-C / SIGTERM noted between steps instead of raised inside one."""

    def __init__(self):
        self.signal: str | None = None

    @contextmanager
    def listening(self):
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        signals = (signal.SIGINT, signal.SIGTERM)
        previous = {s: signal.getsignal(s) for s in signals}

        def note(signum, frame):
            if self.signal is not None:
                raise KeyboardInterrupt
            self.signal = signal.Signals(signum).name
            logger.info(f"\n{self.signal}: stopping at the end of this step (again to stop at once) ...")

        for s in signals:
            signal.signal(s, note)
        try:
            yield self
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)


def fit(steps: Steps, train: Source, validation: Source | None, plan: Plan, progress: Progress,
        on_epoch_end=None, stop: StopRequest | None = None) -> Outcome:
    """Train from ``progress`` (a new one, or a checkpoint's) up to ``plan.epochs``.

    ``on_epoch_end(progress)`` is called after each complete epoch (the checkpoint)."""
    stop = stop or StopRequest()
    rows = round_up(train.natural_rows(plan.batch_size), steps.replicas)
    model = steps.task.model
    bar = ProgressBar(plan.epochs, first=progress.epoch)
    outcome = Outcome(progress)
    bar.begin()
    try:
        for epoch in range(progress.epoch, plan.epochs):
            totals: dict[str, float] = {}
            state = steps.zero_state(rows) if train.carries_state else None
            count = train.steps(rows)
            for k, batch in enumerate(train.batches(rows, epoch, plan.seed)):
                sums, state = steps.run(batch, state, train=True)
                progress.steps += 1
                bar.step(epoch + 1, k + 1, count)
                if not math.isfinite(sums["loss"]):
                    raise TrainingDiverged(_advice(f"the loss became {sums['loss']} in epoch {epoch + 1}", plan))
                add_to(totals, sums)
                if stop.signal:
                    outcome.stopped_by = stop.signal
                    return outcome
            figures = steps.task.metrics(totals)
            if validation is not None:
                scored = steps.task.metrics(steps.evaluate(validation, rows))
                figures.update({f"val_{k}": v for k, v in scored.items()})
                if steps.task.bits:
                    figures["val_bpc"] = scored["loss"] / math.log(2)
            for k, v in figures.items():
                progress.history.setdefault(k, []).append(v)
            progress.epoch = epoch + 1
            _check_divergence(progress, plan)
            if (validation is None or not plan.keep_best or progress.best_epoch == 0
                    or figures["val_loss"] < progress.best_loss()):
                progress.best_epoch, progress.best_weights = progress.epoch, model.get_weights()
            bar.epoch_end(progress.epoch, figures)
            if on_epoch_end is not None:
                on_epoch_end(progress)
            if plan.patience and validation is not None and progress.epoch - progress.best_epoch >= plan.patience:
                outcome.patience_ran_out = True
                return outcome
            if stop.signal:
                outcome.stopped_by = stop.signal
                return outcome
        return outcome
    finally:
        bar.end()


def _check_divergence(progress: Progress, plan: Plan) -> None:
    losses = progress.history["loss"]
    if plan.uniform_loss is None or progress.epoch < DIVERGENCE_EPOCHS or progress.steps < DIVERGENCE_STEPS:
        return
    if all(loss > plan.uniform_loss for loss in losses[-DIVERGENCE_EPOCHS:]):
        vocab = round(math.exp(plan.uniform_loss))
        raise TrainingDiverged(_advice(f"loss {losses[-1]:.2f} is above ln {vocab} = {plan.uniform_loss:.2f} "
                                       f"(a uniform guess) after {progress.epoch} epochs", plan))


def _advice(what: str, plan: Plan) -> str:
    return (f"training diverged: {what}; the learning rate {plan.lr:g} is likely too high for "
            f"{plan.model_label}: try --lr {plan.lr / 10:g}")
