"""The run folder: what ``edgeseq train`` leaves for ``edgeseq export``.

    RUN/model.keras     the trained Keras model
    RUN/config.json     task, model settings, vocabulary or scaler, training settings
    RUN/history.json    per-epoch loss and metrics
    RUN/metrics.json    final figures (what the export copies into the ONNX metadata)

Reading its config needs no TensorFlow, so the exporter (and the CLI) can check a run folder
before TensorFlow takes seconds to load: the task, the window and the fields the export
reads are checked here (an unknown model setting is found when the model's settings are
built, edgeseq.export.task). ``why_not_replace`` is the rule ``--force`` follows: only a run
folder (or an empty folder) is replaced by a new run. Writing and loading the Keras model is
training's (edgeseq.training.run_folder).
"""
from __future__ import annotations

from pathlib import Path

from edgeseq.contract.schema import MAX_FEATURES, MAX_HORIZON, MAX_WINDOW, Int, Kind, Names, Text
from edgeseq.contract.reading import read_json_file
from edgeseq.errors import InputError, ModelFileError

MODEL_FILE = "model.keras"
CONFIG_FILE = "config.json"

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
