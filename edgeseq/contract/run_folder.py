"""The run folder: what ``edgeseq train`` leaves for ``edgeseq export``.

    RUN/model.keras     the trained Keras model
    RUN/config.json     task, model settings, vocabulary or scaler, training settings
    RUN/history.json    per-epoch loss and metrics
    RUN/metrics.json    final figures (what the export copies into the ONNX metadata)

Reading its config needs no TensorFlow, so the exporter (and the CLI) can check a run folder
before TensorFlow takes seconds to load. Writing and loading the Keras model is training's
(edgeseq.training.run_folder).
"""
from __future__ import annotations

import json
from pathlib import Path

from edgeseq.errors import InputError

MODEL_FILE = "model.keras"
CONFIG_FILE = "config.json"


def read_run_config(path: str | Path) -> dict:
    """A run folder's config.json, or a one-line error saying what is wrong with the folder."""
    path = Path(path)
    if not path.is_dir():
        raise InputError(f"{path}: not a run folder (train one with 'edgeseq train')")
    missing = [n for n in (MODEL_FILE, CONFIG_FILE) if not (path / n).exists()]
    if missing:
        raise InputError(f"{path}: not a run folder, {', '.join(missing)} missing")
    try:
        config = json.loads((path / CONFIG_FILE).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InputError(f"{path / CONFIG_FILE} is not valid JSON; train the run again") from None
    if not isinstance(config, dict) or "task" not in config:
        raise InputError(f"{path / CONFIG_FILE} has no task; train the run again")
    return config
