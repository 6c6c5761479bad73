"""Exporting a trained forecaster: what is its own in an export (see edgeseq.export.task).

Both graphs keep the batch axis dynamic and are compared with TensorFlow beyond the training
range. A ``change`` graph takes the rows as they are and gives y, lower, upper and change,
each held to its own tolerance (docs/export.md).
"""
from __future__ import annotations

import numpy as np

from edgeseq.contract import Baselines, SeriesMeta
from edgeseq.export.task import ExportTask
from edgeseq.export.verify import Checklist
from edgeseq.training.change_network import forecast_function as change_forecast
from edgeseq.training.series_network import SeriesModelConfig, forecast_function

TOLERANCE = 1e-5  # scaled units: 1e-5 of the target's training range


class SeriesExport(ExportTask):
    tolerance = TOLERANCE
    batches = (1, 64)

    def __init__(self, model, config: dict, metrics: dict):
        super().__init__(model, config, metrics, SeriesModelConfig(**config["model"]))
        self.transform = config.get("transform") if config["target_mode"] == "change" else None
        if self.transform is not None:
            self.tolerance = self.change_tolerance

    def mismatch(self) -> str:
        features, horizon = self.model.input_shape[-1], self.model.get_layer("head").units
        if features != len(self.config["features"]) or horizon != self.config["horizon"]:
            return (f"it reads {features} features and predicts {horizon} values, the config says "
                    f"{len(self.config['features'])} and {self.config['horizon']}")
        return ""

    def reference(self, time: int | None):
        if self.transform is not None:
            return change_forecast(self.model, self.model_config, self.transform, time)
        return forecast_function(self.model, self.model_config, time)

    def times(self, time: int | None) -> list[int]:
        if time is None:
            return [self.window, 2 * self.window] if self.transform is not None else [self.window, 1, 2 * self.window]
        return [time]

    def sample(self, rng: np.random.Generator, batch: int, time: int) -> dict[str, np.ndarray]:
        """Scaled windows in [-0.25, 1.25] (prices a little beyond the training range), or for
        a change model positive random walks from levels of 1 to 1000, the last one flat."""
        features = self.model_config.features
        if self.transform is None:
            return {"x": rng.uniform(-0.25, 1.25, (batch, time, features)).astype(np.float32)}
        level = 10 ** rng.uniform(0, 3, (batch, 1, features))
        x = level * np.exp(np.cumsum(0.02 * rng.standard_normal((batch, time, features)), axis=1))
        x[-1] = level[-1]  # a window that does not move: its scale is the floor
        return {"x": x.astype(np.float32)}

    def parity(self, checklist: Checklist) -> float:
        """A change model records its ``change`` output's parity (units of s); the others every output's."""
        if self.transform is None:
            return checklist.max_diff()
        return max((c.max_diff for c in checklist.checks if c.condition is None and " change " in c.label),
                   default=0.0)

    def change_tolerance(self, name: str, want: np.ndarray) -> float:
        """1e-5 for ``change``; for y, lower and upper see the module notes."""
        if name == "change":
            return TOLERANCE
        target = self.model_config.target_index
        s = self.transform["typical_change"][target]
        largest = float(np.max(np.abs(want)))
        unit = s * largest if self.transform["modes"][target] == "log" else s
        return TOLERANCE * unit + 4 * float(np.spacing(np.float32(largest)))

    def metadata_for(self, graph: str, ops: str, checklist: Checklist) -> SeriesMeta:
        config, cfg = self.config, self.model_config
        return SeriesMeta(
            graph=graph, features=tuple(config["features"]), target=config["target"], window=config["window"],
            horizon=config["horizon"], target_mode=config["target_mode"], scaler=config.get("scaler"),
            **self.change_fields(),
            cell=cfg.cell, layers=cfg.layers, hidden=cfg.hidden, recurrent_ops=ops,
            date_column=config.get("date_column"), evaluation=self.metrics.get("evaluation"),
            test=self.metrics.get("test"), parity_max_abs_diff=self.parity(checklist), data=config.get("data", {}),
            training=config.get("training", {}), missing=config.get("missing"), date_format=config.get("date_format"),
            frequency=config.get("frequency"),
            baselines=Baselines(**config["baselines"]))


    def change_fields(self) -> dict:
        """A change model's transform and interval, as SeriesMeta records them."""
        t = self.transform
        if t is None:
            return {}
        return dict(modes=tuple(t["modes"]), typical_change=tuple(t["typical_change"]),
                    interval_level=t["interval_level"], interval_quantiles=tuple(t["quantiles"]))


__all__ = ["SeriesExport", "TOLERANCE"]
