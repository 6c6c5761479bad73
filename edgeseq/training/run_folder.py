"""The run folder: everything a training run produced, enough to export it later.

    RUN/model.keras     the trained Keras model
    RUN/config.json     task, model settings, vocabulary or scaler, training settings
    RUN/history.json    per-epoch loss and metrics
    RUN/metrics.json    final figures (what the export copies into the ONNX metadata)

The folder is written whole or not at all (see ``edgeseq.atomic.new_folder``).
"""
from __future__ import annotations

import json
from pathlib import Path

from edgeseq.atomic import new_folder
from edgeseq.errors import InputError


def save_run(dest: str | Path, model, config: dict, history: dict,
             metrics: dict, force: bool = False) -> Path:
    with new_folder(dest, force) as tmp:
        model.save(tmp / "model.keras")
        for name, doc in (("config", config), ("history", history), ("metrics", metrics)):
            (tmp / f"{name}.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    return Path(dest)


def read_run_config(path: str | Path) -> dict:
    """A run folder's config.json, or a one-line error saying what is wrong with the folder.

    Needs no TensorFlow, so the CLI can check a run before importing it.
    """
    path = Path(path)
    if not path.is_dir():
        raise InputError(f"{path}: not a run folder (train one with 'edgeseq train')")
    missing = [n for n in ("model.keras", "config.json") if not (path / n).exists()]
    if missing:
        raise InputError(f"{path}: not a run folder, {', '.join(missing)} missing")
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InputError(f"{path / 'config.json'} is not valid JSON; train the run again") from None
    if not isinstance(config, dict) or "task" not in config:
        raise InputError(f"{path / 'config.json'} has no task; train the run again")
    return config


def load_run(path: str | Path):
    """(keras model, config, metrics) of a run folder, with a clear error when it is not one."""
    import keras

    # every task's custom layers must be registered before Keras can rebuild a model
    import edgeseq.training.layers  # noqa: F401
    import edgeseq.training.series_model  # noqa: F401

    config = read_run_config(path)
    path = Path(path)
    metrics_file = path / "metrics.json"
    metrics = json.loads(metrics_file.read_text()) if metrics_file.exists() else {}
    try:
        model = keras.models.load_model(path / "model.keras")
    except Exception as e:  # Keras raises several types for a truncated or foreign file
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
        raise InputError(f"{path / 'model.keras'} is not a readable edgeseq Keras model ({first}); "
                         "train the run again") from None
    return model, config, metrics
