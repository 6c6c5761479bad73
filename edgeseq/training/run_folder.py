"""Where a training run writes: the place checked before TensorFlow loads, the run folder
written whole, and its Keras model loaded back for export.

The folder's names and reading are edgeseq.contract.run_layout's; the all-or-nothing write is
edgeseq.atomic's. TensorFlow is imported only inside ``load_run``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from edgeseq.atomic import check_new_folder, new_folder, probe_writable, refuse_link
from edgeseq.contract.run_layout import (CONFIG_FILE, HISTORY_FILE, METRICS_FILE, MODEL_FILE, checkpoint_epochs,
                                         checkpoint_folder, latest_checkpoint, read_checkpoint_state,
                                         read_run_config, read_run_metrics, why_not_replace)
from edgeseq.errors import InputError


@dataclass(frozen=True)
class RunPlace:
    """The run folder ``out``: writable, not overwritten without ``force``, and with a
    checkpoint when ``resume`` (which then replaces the interrupted run's folder)."""

    out: Path
    force: bool = False
    resume: bool = False

    def __post_init__(self):
        out = Path(self.out)
        refuse_link(out)
        refuse_link(checkpoint_folder(out))
        epoch = latest_checkpoint(out)
        if self.resume and self.force:
            raise InputError("--resume continues a run and --force starts it again: give one of them")
        if self.resume and epoch is None:
            raise InputError(f"nothing to resume: {out} has no checkpoint ({checkpoint_folder(out).name} beside it)")
        if self.resume:  # a damaged checkpoint: one line now, not an error after TensorFlow loaded
            read_checkpoint_state(checkpoint_epochs(checkpoint_folder(out))[-1])
        if epoch is not None and not (self.resume or self.force):
            raise InputError(f"{out} has an unfinished training (checkpoint of epoch {epoch}); pass --resume to "
                             "continue it or --force to start again")
        if not self.resume:
            check_new_folder(out, self.force, why_not_replace)
        probe_writable(out)


def save_run(dest: str | Path, model, config: dict, history: dict,
             metrics: dict, force: bool = False) -> Path:
    with new_folder(dest, force, may_replace=why_not_replace) as tmp:
        model.save(tmp / MODEL_FILE)
        for name, doc in ((CONFIG_FILE, config), (HISTORY_FILE, history), (METRICS_FILE, metrics)):
            (tmp / name).write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    return Path(dest)


def load_run(path: str | Path):
    """(keras model, config, metrics) of a run folder, with a clear error when it is not one."""
    from edgeseq.training.tf_setup import keras

    # every task's custom layers must be registered before Keras can rebuild a model
    import edgeseq.training.layers  # noqa: F401
    import edgeseq.training.series_network  # noqa: F401

    config = read_run_config(path)
    metrics = read_run_metrics(path)
    path = Path(path)
    try:
        model = keras.models.load_model(path / MODEL_FILE)
    except Exception as e:  # Keras raises several types for a truncated or foreign file
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
        raise InputError(f"{path / MODEL_FILE} is not a readable edgeseq Keras model ({first}); "
                         "train the run again") from None
    return model, config, metrics
