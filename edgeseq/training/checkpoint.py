"""A checkpoint after every epoch in .RUN.training/, and resuming from the last one.

Each epoch's folder is written under a temporary name and renamed into place before the
previous one goes. Its layout and reading are edgeseq.contract.run_layout's.
"""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from edgeseq.atomic import new_folder, refuse_link
from edgeseq.atomic.steps import remove
from edgeseq.errors import InputError
from edgeseq.contract.run_layout import CHECKPOINT_FORMAT, checkpoint_epochs, checkpoint_folder, read_checkpoint_state
from edgeseq.training.epochs import Progress
from edgeseq.training.spikes import Snapshot

class Checkpoints:
    """The checkpoint folder of one run; ``options`` name what must match to resume."""

    def __init__(self, folder: Path, options: dict):
        self.folder, self.options = Path(folder), options

    @classmethod
    def beside(cls, run: str | Path, options: dict) -> "Checkpoints":
        return cls(checkpoint_folder(run), options)

    def epochs(self) -> list[Path]:
        refuse_link(self.folder)
        return checkpoint_epochs(self.folder)

    def latest(self) -> Path | None:
        found = self.epochs()
        return found[-1] if found else None

    def clean_stale(self) -> int:
        """Remove what a killed run left half-written; returns how many entries went."""
        refuse_link(self.folder)
        stale = [p for p in self.folder.glob(".*")] if self.folder.is_dir() else []
        for path in stale:
            remove(path)
        return len(stale)

    def remove(self) -> None:
        refuse_link(self.folder)
        remove(self.folder)

    def save(self, progress: Progress, model, optimizer) -> Path:
        """Write the checkpoint of ``progress`` (a complete epoch) and drop the older ones."""
        dest = self.folder / f"epoch-{progress.epoch:06d}"
        best_is_last = progress.best_epoch == progress.epoch
        state = {"format": CHECKPOINT_FORMAT, "epoch": progress.epoch, "history": progress.history,
                 "best_epoch": progress.best_epoch, "steps": progress.steps, "options": self.options,
                 "lr": progress.lr, "rollbacks": progress.rollbacks,
                 "data_order": "each epoch's is drawn from (seed, epoch)"}
        good = progress.good
        if good is not None:
            state["good"] = {"epoch": good.epoch, "steps": good.steps, "loss": good.loss}
        refuse_link(self.folder)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with new_folder(dest, force=True) as tmp:
                np.savez(tmp / "weights.npz", *model.get_weights())
                np.savez(tmp / "optimizer.npz", *[v.numpy() for v in optimizer.variables])
                if not best_is_last:
                    np.savez(tmp / "best.npz", *progress.best_weights)
                if good is not None:
                    np.savez(tmp / "good.npz", *good.weights)
                    np.savez(tmp / "good-optimizer.npz", *good.optimizer)
                if progress.start is not None:
                    np.savez(tmp / "start.npz", *progress.start)
                (tmp / "state.json").write_text(json.dumps(state) + "\n")
        except OSError as e:
            raise InputError(f"{dest}: cannot write the checkpoint: {e.strerror or e}") from None
        for old in self.epochs():
            if old != dest:
                remove(old)
        return dest

    def restore(self, model, optimizer) -> Progress:
        """Load the latest checkpoint into ``model`` and ``optimizer`` (after checking that it
        was made with the same options) and return where it stood."""
        latest = self.latest()
        if latest is None:
            raise InputError(f"nothing to resume: no checkpoint in {self.folder}")
        state = read_checkpoint_state(latest)
        self.check_options(state["options"])
        weight_shapes = [w.shape for w in model.get_weights()]
        moment_shapes = [tuple(v.shape) for v in optimizer.variables]
        weights = _arrays(latest / "weights.npz", weight_shapes, "the model's weights")
        best = (_arrays(latest / "best.npz", weight_shapes, "the model's weights")
                if (latest / "best.npz").exists() else weights)
        moments = _arrays(latest / "optimizer.npz", moment_shapes, "the optimizer's variables")
        good = state.get("good")
        if good is not None:
            good = Snapshot(good["epoch"], good["steps"], good["loss"],
                            _arrays(latest / "good.npz", weight_shapes, "the model's weights"),
                            _arrays(latest / "good-optimizer.npz", moment_shapes, "the optimizer's variables"))
        start = None
        if (latest / "start.npz").exists():
            start = _arrays(latest / "start.npz", weight_shapes, "the model's weights")
        model.set_weights(weights)  # every file read and every shape checked: only now is anything restored
        for variable, value in zip(optimizer.variables, moments):
            variable.assign(value)
        return Progress(state["epoch"], state["history"], state["best_epoch"], best, state["steps"],
                        state.get("lr"), state.get("rollbacks", []), good, start)

    def check_options(self, saved: dict) -> None:
        """Refuse to resume with an option that differs from the checkpoint's, naming it."""
        for option in sorted(set(saved) | set(self.options)):
            then, now = saved.get(option), self.options.get(option)
            if then != now:
                raise InputError(f"cannot resume: {option} was {_shown(then)} in the checkpoint and is "
                                 f"{_shown(now)} now; give the interrupted run's options, or --force to start again")


def _arrays(path: Path, shapes: list[tuple], what: str) -> list[np.ndarray]:
    """The arrays of a checkpoint's .npz file, held to ``shapes`` (those of ``what`` in the model
    now), or one line naming the file."""
    try:
        with np.load(path, allow_pickle=False) as f:
            if sorted(f.files) != sorted(f"arr_{i}" for i in range(len(f.files))):
                raise ValueError("not a checkpoint's arrays")
            arrays = [f[f"arr_{i}"] for i in range(len(f.files))]
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as e:
        detail = str(e).splitlines()[0][:100] if str(e) else type(e).__name__
        raise InputError(f"{path}: unreadable checkpoint file ({detail}); start again with --force") from None
    if len(arrays) != len(shapes):
        raise InputError(f"{path} holds {len(arrays)} arrays, but {what} are {len(shapes)}; "
                         "start again with --force")
    for i, (array, shape) in enumerate(zip(arrays, shapes)):
        if tuple(array.shape) != tuple(shape) or not np.issubdtype(array.dtype, np.number):
            raise InputError(f"{path}: array {i} is {array.dtype} {list(array.shape)}, but {what} need "
                             f"{list(shape)} there; start again with --force")
    return arrays


def _shown(value) -> str:
    return "not given" if value is None else str(value)
