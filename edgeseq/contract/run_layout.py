"""The run folder `edgeseq train` leaves for `edgeseq export`, and its checkpoints: names and reading.

Layout, file names and every read of RUN/ and of .RUN.training/ live here, in the standard
library, so the CLI and the exporter check a run before TensorFlow loads. Writing them is
training's (edgeseq.training.run_folder, edgeseq.training.checkpoint). See docs/design.md.
"""
from __future__ import annotations

import re
from pathlib import Path

from edgeseq.contract.reading import Fields, read_json_file
from edgeseq.contract.schema import MAX_FEATURES, MAX_HORIZON, MAX_WINDOW, Int, Kind, Names, Text
from edgeseq.errors import InputError, ModelFileError

#: RUN/: the trained Keras model, its settings, the loss by epoch, the final figures
MODEL_FILE, CONFIG_FILE, HISTORY_FILE, METRICS_FILE = "model.keras", "config.json", "history.json", "metrics.json"
#: the most epochs a run (and so its checkpoint) may have
MAX_EPOCHS = 1_000_000
#: the version of a checkpoint's state.json
CHECKPOINT_FORMAT = 1
#: an epoch's checkpoint folder: epoch-000012
EPOCH_FOLDER = re.compile(r"epoch-(\d{6})")
#: the files of an epoch's checkpoint (best.npz only when the best epoch is an earlier one)
CHECKPOINT_FILES = ("state.json", "weights.npz", "optimizer.npz")

#: the fields of config.json that export reads before TensorFlow loads, by task
_FIELDS: dict[str, dict[str, Kind]] = {
    "char": {"window": Int(1, MAX_WINDOW), "vocabulary": Text(max_chars=1 << 16, nonempty=True)},
    "series": {"window": Int(1, MAX_WINDOW), "horizon": Int(1, MAX_HORIZON), "features": Names(MAX_FEATURES),
               "target": Text(nonempty=True)},
}


def read_run_config(path: str | Path) -> dict:
    """A run folder's config.json, or a one-line error saying what is wrong with the folder."""
    path = Path(path)
    if not path.is_dir():
        raise InputError(f"{path}: not a run folder (train one with 'edgeseq train')")
    missing = [n for n in (MODEL_FILE, CONFIG_FILE) if not (path / n).exists()]
    if missing:
        raise InputError(f"{path}: not a run folder, {', '.join(missing)} missing")
    where = str(path / CONFIG_FILE)
    try:
        config = read_json_file(path / CONFIG_FILE)
    except InputError as e:
        raise InputError(f"{e}; train the run again") from None
    if not isinstance(config, dict) or "task" not in config:
        raise InputError(f"{where} has no task; train the run again")
    fields = _FIELDS.get(config["task"]) if isinstance(config["task"], str) else None
    for key, kind in (fields or {}).items():
        if key not in config:
            raise InputError(f"{where}: {key!r} is missing; train the run again")
        try:
            kind.read(config[key], key, where)
        except ModelFileError as e:
            raise InputError(f"{e}; train the run again") from None
    if not isinstance(config.get("model"), dict) and fields:
        raise InputError(f"{where}: 'model' must be an object of model settings; train the run again")
    return config


def read_run_metrics(path: str | Path) -> dict:
    """A run folder's metrics.json ({} when it has none)."""
    where = Path(path) / METRICS_FILE
    metrics = read_json_file(where) if where.exists() else {}
    if not isinstance(metrics, dict):
        raise InputError(f"{where}: must be a JSON object, found {type(metrics).__name__}; train the run again")
    return metrics


def why_not_replace(path: str | Path) -> str | None:
    """Why ``--force`` must not replace ``path`` with a new run folder (None: it may): only a
    run folder or an empty folder is replaced, never a file or a folder of other things."""
    path = Path(path)
    if not path.is_dir():
        return f"{path} is a file, not a run folder; choose another -o"
    if any(True for _ in path.iterdir()) and not any((path / n).exists() for n in (MODEL_FILE, CONFIG_FILE)):
        return (f"{path} is not a run folder (it has no {CONFIG_FILE} or {MODEL_FILE}); --force replaces only "
                "run folders: choose another -o")
    return None


def checkpoint_folder(run: str | Path) -> Path:
    """The hidden folder beside a run folder where its unfinished training is checkpointed."""
    run = Path(run)
    return run.parent / f".{run.name}.training"


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
