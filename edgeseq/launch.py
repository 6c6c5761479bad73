"""Where a training run writes and which processes run it, checked before TensorFlow loads.

Standard library only, like ``edgeseq.specs``: a read-only output folder, a run folder that
would be overwritten, a checkpoint that is missing (or present and ignored), a malformed
worker list, all fail in one line before TensorFlow takes seconds to import and long before
a training run is wasted.

* ``RunPlace``: the run folder, its checkpoint folder beside it (``.RUN.training``), --force
  and --resume.
* ``Cluster``: the multi-worker cluster, from --workers / --worker-index or the standard
  TF_CONFIG variable (``apply`` writes TF_CONFIG for TensorFlow to read).
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from edgeseq.atomic import check_new_folder, probe_writable, refuse_link
from edgeseq.contract.reading import Fields, read_json_file
from edgeseq.contract.run_folder import why_not_replace
from edgeseq.errors import InputError
from edgeseq.specs import MAX_EPOCHS

#: the version of a checkpoint's state.json
CHECKPOINT_FORMAT = 1


def checkpoint_folder(run: str | Path) -> Path:
    """The hidden folder beside a run folder where its unfinished training is checkpointed."""
    run = Path(run)
    return run.parent / f".{run.name}.training"


#: an epoch's checkpoint folder: epoch-000012
EPOCH_FOLDER = re.compile(r"epoch-(\d{6})")
#: the files of an epoch's checkpoint (best.npz only when the best epoch is an earlier one)
CHECKPOINT_FILES = ("state.json", "weights.npz", "optimizer.npz")


def checkpoint_epochs(folder: Path) -> list[Path]:
    """The complete epoch folders in the checkpoint folder ``folder``, oldest first; an
    ``epoch-*`` entry that edgeseq did not name so (``epoch-zzz``) is refused in one line."""
    if not folder.is_dir():
        return []
    found = []
    for entry in sorted(folder.glob("epoch-*")):
        if not EPOCH_FOLDER.fullmatch(entry.name) or not entry.is_dir() or entry.is_symlink():
            raise InputError(f"{entry}: not a checkpoint edgeseq wrote (epoch folders are named epoch-NNNNNN); "
                             "move it away, or start again with --force")
        if (entry / "state.json").exists():
            found.append(entry)
    return found


def latest_checkpoint(run: str | Path) -> int | None:
    """The last complete epoch checkpointed for ``run``, or None."""
    done = checkpoint_epochs(checkpoint_folder(run))
    return int(EPOCH_FOLDER.fullmatch(done[-1].name).group(1)) if done else None


def read_checkpoint_state(epoch_folder: Path) -> dict:
    """An epoch folder's state.json, every field checked (and its files present), or one line
    naming the file and the field: read before TensorFlow loads, and again to restore."""
    where = epoch_folder / "state.json"
    advice = "; start again with --force"
    try:
        for name in CHECKPOINT_FILES:
            if not (epoch_folder / name).is_file():
                raise InputError(f"{epoch_folder / name} is missing")
        state = read_json_file(where)
        fields = Fields(state, str(where))
        fields.int("format", CHECKPOINT_FORMAT, CHECKPOINT_FORMAT)
        epoch = fields.int("epoch", 1, MAX_EPOCHS)
        number = int(EPOCH_FOLDER.fullmatch(epoch_folder.name).group(1))
        if epoch != number:
            raise InputError(f"{where}: 'epoch' is {epoch} in the folder of epoch {number}")
        history = fields.object("history")
        history.numbers("loss", epoch)
        for name in history.doc:
            history.numbers(name, epoch)
        fields.int("best_epoch", 0, epoch)
        fields.int("steps", 0, 2**62)
        fields.object("options")
    except InputError as e:
        raise InputError(f"{e}{advice}") from None
    return state


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


@dataclass(frozen=True)
class Cluster:
    """The processes of a ``--strategy multi-worker`` run.

    ``workers``: "HOST:PORT,HOST:PORT,..." (every worker in the same order) and
    ``worker_index``: this process's place in it (0 is the chief, which writes the run).
    Without them, TF_CONFIG must already describe the cluster."""

    strategy: str
    workers: str | None = None
    worker_index: int | None = None

    def __post_init__(self):
        given = self.workers is not None or self.worker_index is not None
        if given and self.strategy != "multi-worker":
            raise InputError("--workers and --worker-index have no effect without --strategy multi-worker")
        if self.strategy != "multi-worker":
            return
        if not given:
            self._check_tf_config()
            return
        if self.workers is None or self.worker_index is None:
            raise InputError("--workers HOST:PORT,... and --worker-index I go together")
        addresses = self.addresses
        for address in addresses:
            host, _, port = address.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise InputError(f"--workers: {address!r} is not HOST:PORT")
        if not 0 <= self.worker_index < len(addresses):
            raise InputError(f"--worker-index must be between 0 and {len(addresses) - 1} "
                             f"(--workers lists {len(addresses)}), got {self.worker_index}")

    @property
    def addresses(self) -> list[str]:
        return [a.strip() for a in (self.workers or "").split(",") if a.strip()]

    def _check_tf_config(self) -> None:
        raw = os.environ.get("TF_CONFIG")
        if not raw:
            raise InputError("--strategy multi-worker needs the cluster: --workers HOST:PORT,... --worker-index I, "
                             "or the TF_CONFIG environment variable")
        try:
            config = json.loads(raw)
            workers = config["cluster"]
            task = config["task"]
            task["type"], int(task["index"])
        except (ValueError, KeyError, TypeError):
            raise InputError("TF_CONFIG is not a cluster description: expected "
                             '{"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", "index": 0}}') from None
        if not isinstance(workers, dict) or not workers:
            raise InputError("TF_CONFIG lists no workers in its cluster")

    def apply(self) -> None:
        """Write TF_CONFIG from --workers / --worker-index (TensorFlow reads it when the
        strategy is made)."""
        if self.strategy == "multi-worker" and self.workers is not None:
            os.environ["TF_CONFIG"] = json.dumps({"cluster": {"worker": self.addresses},
                                                  "task": {"type": "worker", "index": self.worker_index}})
