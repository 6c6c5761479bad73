"""Where a training run writes and which processes run it, checked before TensorFlow loads.

Standard library only, like ``edgeseq.training.specs``: a read-only output folder, a run folder that
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
import math
import os
import re
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from edgeseq.atomic import check_new_folder, probe_writable, refuse_link
from edgeseq.contract.reading import Fields, parse_json, read_json_file
from edgeseq.contract.run_config import why_not_replace
from edgeseq.display import shown
from edgeseq.errors import InputError
from edgeseq.log import logger
from edgeseq.training.specs import MAX_EPOCHS

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
        lr = fields.number("lr", optional=True)
        if lr is not None and not lr > 0:
            raise InputError(f"{where}: 'lr' must be a positive number, got {lr}")
        if not isinstance(state.get("rollbacks", []), list):
            raise InputError(f"{where}: 'rollbacks' must be a list")
        good = fields.object("good", optional=True)
        if good is not None:  # the epoch a spike goes back to (edgeseq.training.spikes)
            good.int("epoch", 0, epoch)
            good.int("steps", 0, 2**62)
            good.number("loss")
            for name in ("good.npz", "good-optimizer.npz"):
                if not (epoch_folder / name).is_file():
                    raise InputError(f"{epoch_folder / name} is missing")
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


#: seconds a multi-worker process waits for its peers when --cluster-timeout is not given
CLUSTER_TIMEOUT = 120.0
#: the jobs of a cluster a multi-worker strategy runs on (TF_CONFIG's "cluster" keys)
CLUSTER_JOBS = ("chief", "worker")
_TF_CONFIG_SHAPE = '{"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", "index": 0}}'


@dataclass(frozen=True)
class Cluster:
    """The processes of a ``--strategy multi-worker`` run.

    ``workers``: "HOST:PORT,HOST:PORT,..." (every worker in the same order) and
    ``worker_index``: this process's place in it (0 is the chief, which writes the run).
    Without them, TF_CONFIG must already describe the cluster. Either way it is read here,
    before TensorFlow: every address is HOST:PORT, the task is one of the cluster's, and this
    process's own port is free. ``timeout``: seconds to wait for the other processes
    (``wait_for_peers``)."""

    strategy: str
    workers: str | None = None
    worker_index: int | None = None
    timeout: float = CLUSTER_TIMEOUT

    def __post_init__(self):
        given = self.workers is not None or self.worker_index is not None
        if given and self.strategy != "multi-worker":
            raise InputError("--workers and --worker-index have no effect without --strategy multi-worker")
        if not (math.isfinite(self.timeout) and self.timeout > 0):
            raise InputError(f"--cluster-timeout must be a finite number of seconds above 0, got {self.timeout}")
        if self.strategy != "multi-worker":
            return
        if not given:
            jobs, task = self._tf_config()
        else:
            if self.workers is None or self.worker_index is None:
                raise InputError("--workers HOST:PORT,... and --worker-index I go together")
            addresses = self.addresses
            for address in addresses:
                _host_port(address, "--workers")
            if not 0 <= self.worker_index < len(addresses):
                raise InputError(f"--worker-index must be between 0 and {len(addresses) - 1} "
                                 f"(--workers lists {len(addresses)}), got {self.worker_index}")
            jobs, task = {"worker": addresses}, ("worker", self.worker_index)
        object.__setattr__(self, "jobs", jobs)
        object.__setattr__(self, "task", task)
        self._own_port_free()

    @property
    def addresses(self) -> list[str]:
        return [a.strip() for a in (self.workers or "").split(",") if a.strip()]

    def _tf_config(self) -> tuple[dict[str, list[str]], tuple[str, int]]:
        """TF_CONFIG's jobs and this process's task, each field checked (one line naming it)."""
        raw = os.environ.get("TF_CONFIG")
        if not raw:
            raise InputError("--strategy multi-worker needs the cluster: --workers HOST:PORT,... --worker-index I, "
                             "or the TF_CONFIG environment variable")
        try:
            config = Fields(parse_json(raw, "TF_CONFIG"), "TF_CONFIG")
            cluster, task = config.object("cluster"), config.object("task")
        except InputError as e:
            raise InputError(f"{e}; expected {_TF_CONFIG_SHAPE}") from None
        jobs = {}
        for job, addresses in cluster.doc.items():
            if job not in CLUSTER_JOBS:
                raise InputError(f"TF_CONFIG: 'cluster.{job}' is not a job edgeseq runs; name only "
                                 f"{' and '.join(CLUSTER_JOBS)}")
            if not isinstance(addresses, list) or not addresses or not all(isinstance(a, str) for a in addresses):
                raise InputError(f"TF_CONFIG: 'cluster.{job}' must be a list of \"host:port\" texts, got "
                                 f"{shown(addresses)}")
            for address in addresses:
                _host_port(address, f"TF_CONFIG 'cluster.{job}'")
            jobs[job] = list(addresses)
        if not jobs:
            raise InputError("TF_CONFIG lists no workers in its cluster")
        kind = task.get("type", lambda v: v in jobs, f"one of the cluster's jobs ({', '.join(jobs)})")
        index = task.int("index", 0, len(jobs[kind]) - 1)
        return jobs, (kind, index)

    def _own_port_free(self) -> None:
        """This process's own port must be free: TensorFlow's server listens on it."""
        kind, index = self.task
        address = self.jobs[kind][index]
        _, port = _host_port(address, "")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("", port))
            except OSError as e:
                raise InputError(f"{address}, this process's address ({kind} {index}), cannot be listened on: "
                                 f"{e.strerror or e}; choose a free port") from None

    def peers(self) -> list[tuple[str, str]]:
        """(who, HOST:PORT) of every other process of the cluster."""
        kind, index = self.task
        return [(f"{job} {i}", address) for job, addresses in self.jobs.items() for i, address in enumerate(addresses)
                if (job, i) != (kind, index)]

    def apply(self) -> None:
        """Write TF_CONFIG from --workers / --worker-index (TensorFlow reads it when the
        strategy is made)."""
        if self.strategy == "multi-worker" and self.workers is not None:
            os.environ["TF_CONFIG"] = json.dumps({"cluster": {"worker": self.addresses},
                                                  "task": {"type": "worker", "index": self.worker_index}})

    def wait_for_peers(self) -> None:
        """Meet the other processes before TensorFlow starts: listen on this process's own
        port, and wait until every other one listens on its own (on the same kind of socket,
        or already on TensorFlow's server); then give the port to TensorFlow. Says whom it
        waits for; one that has not come within ``timeout`` seconds is one line and exit code
        2 (TensorFlow itself would wait for ever, in C++, beyond the reach of Ctrl-C)."""
        if self.strategy != "multi-worker" or not self.peers():
            return
        kind, index = self.task
        _, port = _host_port(self.jobs[kind][index], "")
        waiting = self.peers()
        logger.info(f"waiting for {', '.join(f'{who} ({address})' for who, address in waiting)} "
                    f"(at most {self.timeout:g} s: --cluster-timeout)")
        deadline = time.monotonic() + self.timeout
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as meeting:
            meeting.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                meeting.bind(("", port))
                meeting.listen(64)
            except OSError as e:
                raise InputError(f"{self.jobs[kind][index]}, this process's address ({kind} {index}), cannot be "
                                 f"listened on: {e.strerror or e}; choose a free port") from None
            while True:
                waiting = [(who, address) for who, address in waiting if not _listening(address)]
                if not waiting:
                    return
                if time.monotonic() > deadline:
                    who, address = waiting[0]
                    host, _ = _host_port(address, "")
                    why = "" if _resolves(host) else f"; its host {host!r} does not resolve"
                    raise InputError(f"{who} ({address}) did not come within {self.timeout:g} s "
                                     f"(--cluster-timeout){why}: start it, or check the address")
                time.sleep(0.2)


def _host_port(address: str, where: str) -> tuple[str, int]:
    host, _, port = address.strip().rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError(f"{where}: {address!r} is not HOST:PORT")
    return host.strip("[]"), int(port)


def _resolves(host: str) -> bool:
    try:
        socket.getaddrinfo(host, None)
        return True
    except (OSError, UnicodeError):
        return False


def _listening(address: str) -> bool:
    host, port = _host_port(address, "")
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except (OSError, UnicodeError):
        return False
