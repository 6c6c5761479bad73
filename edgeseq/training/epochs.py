"""Epoch by epoch: validation, the best weights, spikes, chaos, checkpoints, a requested stop.

``fit`` runs an epoch's steps, then checks for a spike, scores validation, keeps the best
weights, writes a checkpoint and stops early after ``patience`` epochs without progress.
Rollbacks are ``edgeseq.training.spikes``. Ctrl-C or SIGTERM abandons the epoch at the next
step boundary (a second one stops at once); the last complete epoch's checkpoint stays.
"""
from __future__ import annotations

import math
import signal
import threading
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from edgeseq.data.batches import Source
from edgeseq.log import logger
from edgeseq.training.loop import Steps, add_to, round_up
from edgeseq.training.progress import ProgressBar
from edgeseq.training.spikes import (ROLLBACKS, GradientSpikes, Snapshot, Spike, TrainingDiverged, forced_chaos,
                                     is_good, spike)

__all__ = ["Outcome", "Plan", "Progress", "StopRequest", "TrainingDiverged", "fit"]


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
    rollbacks: int = ROLLBACKS  # rollbacks (spikes, a chaotic end) allowed before the run stops early
    unit: str = "windows"  # what a batch's weights count, for the progress line
    #: why export would refuse weights as chaotic, or None; None: no such check (edgeseq.training.rounding_check)
    rounding: Callable[[list[np.ndarray]], str | None] | None = None


@dataclass
class Progress:
    """Where a fit stands: what a checkpoint stores and a resumed fit starts from."""

    epoch: int = 0  # complete epochs
    history: dict[str, list[float]] = field(default_factory=dict)
    best_epoch: int = 0
    best_weights: list[np.ndarray] | None = None
    steps: int = 0  # optimizer steps so far
    lr: float | None = None  # the learning rate now (halved by each rollback); None: the plan's
    rollbacks: list[dict] = field(default_factory=list)  # {"epoch", "loss", "back_to", "lr": [from, to]}
    good: Snapshot | None = None  # the good epoch of the lowest training loss: where a spike goes back to
    start: list[np.ndarray] | None = None  # the initial weights: where a chaotic model goes back to
    stopped_early: str | None = None  # why the run stopped before its last epoch (rollbacks spent)

    def best_loss(self) -> float:
        key = "val_loss" if "val_loss" in self.history else "loss"
        return self.history[key][self.best_epoch - 1] if self.best_epoch else math.inf


@dataclass
class Outcome:
    progress: Progress
    stopped_by: str | None = None  # the signal that stopped the fit early, if any
    stopped_in: int = 0  # the epoch in progress when the signal stopped it (0: between epochs)
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

    ``on_epoch_end(progress)`` is called after each complete epoch and after each rollback
    (the checkpoint)."""
    stop = stop or StopRequest()
    rows = round_up(train.natural_rows(plan.batch_size), steps.replicas)
    model, optimizer = steps.task.model, steps.optimizer
    progress.lr = plan.lr if progress.lr is None else progress.lr
    hook = GradientSpikes()
    bar = ProgressBar(plan.epochs, first=progress.epoch, unit=plan.unit)
    outcome = Outcome(progress)
    failed = False
    ahead = None  # the weights and Adam's state as the last epoch left them, when they were taken
    bar.begin()
    try:
        while progress.epoch < plan.epochs:
            epoch = progress.epoch
            totals: dict[str, float] = {}
            state = steps.zero_state(rows) if train.carries_state else None
            count = train.steps(rows)
            bar.epoch_begin(epoch + 1, count)
            entering, ahead = ahead or Snapshot.take(epoch, progress.steps, math.inf, model, optimizer), None
            if epoch == 0:
                progress.start = entering.weights
            loss = None
            for k, batch in enumerate(train.batches(rows, epoch, plan.seed)):
                sums, state = steps.run(batch, state, train=True, gradient_factor=hook.factor_for(epoch + 1, k))
                progress.steps += 1
                bar.step(k + 1, float(batch.weights.sum()))
                if not math.isfinite(sums["loss"]):
                    loss = sums["loss"]
                    break
                add_to(totals, sums)
                if stop.signal:
                    outcome.stopped_by, outcome.stopped_in = stop.signal, epoch + 1
                    return outcome
            figures = steps.task.metrics(totals) if loss is None else {}
            loss = figures["loss"] if loss is None else loss
            found = spike(progress.history.get("loss", []), loss, epoch + 1, progress.steps, plan.uniform_loss)
            if found is not None and (progress.good is not None or found.diverged is not None):
                bar.clear()
                if not _roll_back(found, epoch + 1, loss, progress, plan, model, optimizer):
                    return outcome  # rollbacks spent: stopped early with the good epoch's weights
                if on_epoch_end is not None:
                    on_epoch_end(progress)
                continue
            if validation is not None:
                scored = steps.task.metrics(steps.evaluate(validation, rows))
                figures.update({f"val_{k}": v for k, v in scored.items()})
                if steps.task.bits:
                    figures["val_bpc"] = scored["loss"] / math.log(2)
            for k, v in figures.items():
                progress.history.setdefault(k, []).append(v)
            progress.epoch = epoch + 1
            if (validation is None or not plan.keep_best or progress.best_epoch == 0
                    or figures["val_loss"] < progress.best_loss()):
                ahead = Snapshot.take(progress.epoch, progress.steps, math.inf, model, optimizer)  # the next epoch's
                progress.best_epoch, progress.best_weights = progress.epoch, ahead.weights
            if epoch and is_good(loss, plan.uniform_loss) and (progress.good is None or loss < progress.good.loss):
                entering.loss, progress.good = loss, entering  # a trained epoch's weights, as this one measured them
            bar.epoch_end(progress.epoch, figures)
            patience_ran_out = plan.patience and validation is not None and (
                progress.epoch - progress.best_epoch >= plan.patience)
            if (progress.epoch == plan.epochs or patience_ran_out) and _start_again(steps, epoch + 1, loss, progress,
                                                                                     plan):
                ahead = None
                continue  # the same epochs again, from the initial weights
            if on_epoch_end is not None:
                on_epoch_end(progress)
            if patience_ran_out:
                outcome.patience_ran_out = True
                return outcome
            if stop.signal:
                outcome.stopped_by = stop.signal
                return outcome
        return outcome
    except BaseException:
        failed = True
        raise
    finally:
        bar.end(not failed and outcome.stopped_by is None)


def _roll_back(found: Spike, epoch: int, loss: float, progress: Progress, plan: Plan, model, optimizer) -> bool:
    """Back to the good epoch at half the learning rate (True), or, with the rollbacks spent,
    back to it to stop there (False). No good epoch at all: the training diverged."""
    good = progress.good
    if good is None:
        raise TrainingDiverged(_advice(found.diverged, plan))
    good.restore(model, optimizer)
    progress.history = {k: v[:good.epoch] for k, v in progress.history.items()}
    progress.epoch, progress.steps = good.epoch, good.steps
    if progress.best_epoch > good.epoch:  # the best was on the path just abandoned
        progress.best_epoch, progress.best_weights = good.epoch, good.weights
    if len(progress.rollbacks) >= plan.rollbacks:
        progress.stopped_early = (f"epoch {epoch}: {found.why} after {len(progress.rollbacks)} rollback(s); "
                                  f"stopped early with epoch {good.epoch}'s weights (loss {good.loss:.4f})")
        logger.info(f"{progress.stopped_early}; a lower --lr than {plan.lr:g} may train further")
        return False
    lr = progress.lr / 2
    optimizer.learning_rate.assign(lr)
    progress.rollbacks.append({"epoch": epoch, "loss": loss if math.isfinite(loss) else None,
                               "why": found.why, "back_to": good.epoch, "lr": [progress.lr, lr]})
    logger.info(f"epoch {epoch}: {found.why}; back to epoch {good.epoch}'s weights, lr {progress.lr:g} -> {lr:g}")
    progress.lr = lr
    return True


def _start_again(steps: Steps, epoch: int, loss: float, progress: Progress, plan: Plan) -> bool:
    """When the weights the run keeps fail export's chaos test and rollbacks are left: back to
    the initial weights at half the learning rate (True). The chaos comes from the path the
    training took early on, so a later epoch at a lower rate mostly stays chaotic."""
    if plan.rounding is None or progress.start is None:
        return False
    why = plan.rounding(progress.best_weights) or forced_chaos(len(progress.rollbacks))
    if not steps.any_worker(why is not None) or len(progress.rollbacks) >= plan.rollbacks:
        return False  # nothing to do, or the chaotic model is kept: the line after training says so
    why = why or "another worker's model amplifies float rounding"
    model, optimizer = steps.task.model, steps.optimizer
    model.set_weights(progress.start)
    for variable in optimizer.variables:  # Adam as built: no steps, no moments
        variable.assign(np.zeros(variable.shape, variable.dtype))
    progress.history, progress.epoch, progress.steps = {}, 0, 0
    progress.best_epoch, progress.best_weights, progress.good = 0, None, None
    lr = progress.lr / 2
    optimizer.learning_rate.assign(lr)
    progress.rollbacks.append({"epoch": epoch, "loss": loss, "why": why, "back_to": 0, "lr": [progress.lr, lr]})
    logger.info(f"epoch {epoch}: {why}; back to the initial weights, lr {progress.lr:g} -> {lr:g}")
    progress.lr = lr
    return True


def _advice(what: str, plan: Plan) -> str:
    return (f"training diverged: {what}; the learning rate {plan.lr:g} is likely too high for "
            f"{plan.model_label}: try --lr {plan.lr / 10:g}")
