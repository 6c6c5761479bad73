"""Writing a run folder and loading its Keras model (its layout: edgeseq.contract.run_config).

The folder is written whole or not at all (see ``edgeseq.atomic.new_folder``).
"""
from __future__ import annotations

import json
from pathlib import Path

from edgeseq.atomic import new_folder
from edgeseq.contract.reading import read_json_file
from edgeseq.contract.run_config import read_run_config, why_not_replace
from edgeseq.errors import InputError


def save_run(dest: str | Path, model, config: dict, history: dict,
             metrics: dict, force: bool = False) -> Path:
    with new_folder(dest, force, may_replace=why_not_replace) as tmp:
        model.save(tmp / "model.keras")
        for name, doc in (("config", config), ("history", history), ("metrics", metrics)):
            (tmp / f"{name}.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    return Path(dest)


def load_run(path: str | Path):
    """(keras model, config, metrics) of a run folder, with a clear error when it is not one."""
    from edgeseq.training.tf_setup import keras

    # every task's custom layers must be registered before Keras can rebuild a model
    import edgeseq.training.layers  # noqa: F401
    import edgeseq.training.series_network  # noqa: F401

    config = read_run_config(path)
    path = Path(path)
    metrics_file = path / "metrics.json"
    metrics = read_json_file(metrics_file) if metrics_file.exists() else {}
    if not isinstance(metrics, dict):
        raise InputError(f"{metrics_file}: must be a JSON object, found {type(metrics).__name__}; train the run again")
    try:
        model = keras.models.load_model(path / "model.keras")
    except Exception as e:  # Keras raises several types for a truncated or foreign file
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
        raise InputError(f"{path / 'model.keras'} is not a readable edgeseq Keras model ({first}); "
                         "train the run again") from None
    return model, config, metrics
