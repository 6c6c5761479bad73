"""One training run around the loop: where it writes, resuming, Ctrl-C, the final save.

The trainers build the model, data and ``Steps``; ``Session`` does what every run does around
``epochs.fit``. See docs/design.md, "The run folder and its checkpoints".
"""
from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

import numpy as np

from edgeseq.errors import Interrupted
from edgeseq.log import logger
from edgeseq.training.checkpoint import Checkpoints
from edgeseq.training.epochs import Outcome, Plan, Progress, StopRequest, TrainingDiverged, fit
from edgeseq.training.loop import Steps
from edgeseq.training.run_folder import RunPlace, save_run
from edgeseq.training.tf_setup import is_chief, worker_count


class Session:
    def __init__(self, steps: Steps, out: str | Path | None, options: dict, force: bool = False,
                 resume: bool = False):
        self.steps, self.force, self.resume = steps, force, resume
        self.chief = is_chief(steps.strategy)
        self.out = None if out is None else Path(out)
        self.scratch = None
        self.saved_to = self.checkpoints = None
        if out is not None:
            RunPlace(Path(out), force, resume)  # the CLI checked it before TensorFlow loaded; a library call here
            mine = Checkpoints.beside(out, options)
            self.restore_from = mine
            if self.chief:
                self.saved_to, self.checkpoints = self.out, mine
            else:  # another worker: the same files, somewhere temporary
                self.scratch = Path(tempfile.mkdtemp(prefix="edgeseq-worker-"))
                self.saved_to = self.scratch / self.out.name
                self.checkpoints = Checkpoints.beside(self.saved_to, options)
            stale = self.checkpoints.clean_stale()
            if stale:
                logger.info(f"removed {stale} half-written checkpoint file(s) of an interrupted run")
            if not resume and self.chief:
                self.checkpoints.remove()

    def fit(self, train, validation, plan: Plan) -> Outcome:
        """Train (from the checkpoint when resuming); the model ends with the kept weights."""
        model, optimizer = self.steps.task.model, self.steps.optimizer
        progress = Progress()
        if self.resume:
            progress = self.restore_from.restore(model, optimizer)
            if progress.epoch >= plan.epochs:  # stopped while saving: only the run folder is missing
                logger.info(f"the checkpoint holds all {progress.epoch} epochs: writing the run folder")
            else:
                logger.info(f"resuming after epoch {progress.epoch} of {plan.epochs} "
                            f"(best so far: epoch {progress.best_epoch})")
        save = None if self.checkpoints is None else (lambda p: self.checkpoints.save(p, model, optimizer))
        try:
            with StopRequest().listening() as stop:
                outcome = fit(self.steps, train, validation, plan, progress, save, stop)
        except TrainingDiverged:
            if self.resume:  # the epochs before this run are still good: keep them
                self.discard_scratch()
                logger.info("the checkpoint this run resumed from is kept")
            else:
                self.discard()
            raise
        if outcome.progress.best_weights is not None:
            model.set_weights(outcome.progress.best_weights)
        return outcome

    def write(self, config: dict, history: dict, metrics: dict) -> None:
        """The run folder (chief) or its stand-in (other workers)."""
        if self.saved_to is not None:
            save_run(self.saved_to, self.steps.task.model, config, history, metrics, self.force or self.resume)
            if self.chief:
                logger.info(f"saved run folder {self.saved_to}")

    def close(self, outcome: Outcome) -> None:
        """After the run folder: drop the checkpoints of a finished run, or explain how to go on."""
        progress = outcome.progress
        if worker_count(self.steps.strategy) > 1:  # every worker says what it computed
            logger.info(f"weights sha256 {weights_digest(self.steps.task.model)}")
        if outcome.stopped_by is None:
            if self.checkpoints is not None:
                self.checkpoints.remove()
            self.discard_scratch()
            return
        self.discard_scratch()
        where = f"interrupted at epoch {outcome.stopped_in or progress.epoch}"
        if progress.best_epoch == 0:
            logger.info(f"{where}, before any epoch ended; nothing was saved")
        elif self.out is not None and not self.chief:
            logger.info(f"{where}; this worker keeps nothing: the chief (worker 0) holds the run folder and "
                        "the checkpoint")
        elif self.out is not None:
            logger.info(f"{where}; run folder {self.out} holds epoch {progress.best_epoch}'s weights (resume with "
                        f"the same command and --resume; the checkpoint of epoch {progress.epoch} is kept)")
        else:
            logger.info(f"{where}; no run folder was asked for")
        raise Interrupted

    def discard(self) -> None:
        if self.checkpoints is not None:
            self.checkpoints.remove()
        self.discard_scratch()

    def discard_scratch(self) -> None:
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)


def spike_record(progress: Progress) -> dict:
    """What a run's config (and so its exported model's metadata) says about its spikes."""
    return {"rollbacks": progress.rollbacks, "stopped_early": progress.stopped_early}


def run_history(progress: Progress) -> dict:
    """history.json: each figure by epoch, and the rollbacks and early stop when there were any."""
    extra = {"rollbacks": progress.rollbacks} if progress.rollbacks or progress.stopped_early else {}
    return {**progress.history, **extra,
            **({"stopped_early": progress.stopped_early} if progress.stopped_early else {})}


def weights_digest(model) -> str:
    """sha256 of every weight's bytes, in order: equal on every worker of one run."""
    digest = hashlib.sha256()
    for w in model.get_weights():
        digest.update(np.ascontiguousarray(w).tobytes())
    return digest.hexdigest()
