"""Exporting a trained forecaster: what is its own in an export (see edgeseq.export.task).

The dynamic graph takes x [batch, time, features] for any number of rows; the fixed graph
pins time to the training window for runtimes that want static shapes. Both keep the batch
axis dynamic (tf2onnx fuses LSTM only then) and output y [batch, horizon], the next target
values in scaled units. They are compared with TensorFlow on scaled windows that also reach
beyond the training range (batch 1 and 64), and the file's metadata receives everything the
runner needs: features, target, window, horizon, target mode, the scaler, and the
walk-forward evaluation table from training.
"""
from __future__ import annotations

import numpy as np

from edgeseq.contract import Baselines, SeriesMeta
from edgeseq.export.task import ExportTask
from edgeseq.export.verify import Checklist
from edgeseq.training.series_model import SeriesModelConfig, forecast_function

TOLERANCE = 1e-5  # scaled units: 1e-5 of the target's training range


class SeriesExport(ExportTask):
    tolerance = TOLERANCE
    batches = (1, 64)

    def __init__(self, model, config: dict, metrics: dict):
        super().__init__(model, config, metrics, SeriesModelConfig(**config["model"]))

    def mismatch(self) -> str:
        features, horizon = self.model.input_shape[-1], self.model.get_layer("head").units
        if features != len(self.config["features"]) or horizon != self.config["horizon"]:
            return (f"it reads {features} features and predicts {horizon} values, the config says "
                    f"{len(self.config['features'])} and {self.config['horizon']}")
        return ""

    def reference(self, time: int | None):
        return forecast_function(self.model, self.model_config, time)

    def times(self, time: int | None) -> list[int]:
        return [self.window, 1, 2 * self.window] if time is None else [time]

    def sample(self, rng: np.random.Generator, batch: int, time: int) -> dict[str, np.ndarray]:
        """Scaled windows in [-0.25, 1.25]: prices a little beyond the training range."""
        return {"x": rng.uniform(-0.25, 1.25, (batch, time, self.model_config.features)).astype(np.float32)}

    def metadata_for(self, graph: str, ops: str, checklist: Checklist) -> SeriesMeta:
        config, cfg = self.config, self.model_config
        return SeriesMeta(
            graph=graph, features=tuple(config["features"]), target=config["target"], window=config["window"],
            horizon=config["horizon"], target_mode=config["target_mode"], scaler=config["scaler"],
            cell=cfg.cell, layers=cfg.layers, hidden=cfg.hidden, recurrent_ops=ops,
            date_column=config.get("date_column"), evaluation=self.metrics.get("evaluation"),
            test=self.metrics.get("test"), parity_max_abs_diff=checklist.max_diff(), data=config.get("data", {}),
            training=config.get("training", {}), missing=config.get("missing"), date_format=config.get("date_format"),
            baselines=Baselines(**config["baselines"]) if config.get("baselines") else None)


__all__ = ["SeriesExport", "TOLERANCE"]
