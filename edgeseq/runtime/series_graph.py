"""A series model's ONNX graph and the windows it reads: rows in price units in, forecasts out.

A ``delta`` or ``level`` graph reads min-max scaled rows and gives scaled forecasts; a
``change`` graph reads the rows as they are (it makes them scale-free itself) and gives an
interval too. ``SeriesModel`` checks the rows and labels the forecasts around it.
"""
from __future__ import annotations

import numpy as np

from edgeseq.data.scale_free import ScaleFree, on_exact_last, raw_windows
from edgeseq.data.scaler import MinMaxScaler
from edgeseq.evaluation.backtest import Predictions
from edgeseq.runtime.model_file import ModelFile

#: windows per onnxruntime call
BATCH = 1024


class SeriesGraph:
    """``inputs`` makes the graph's x from rows, ``run`` calls it, ``forecasts`` does both in price units."""

    def __init__(self, model: ModelFile):
        meta = model.description
        self.session = model.session
        self.window, self.horizon, self.level = meta.window, meta.horizon, meta.interval_level
        self.scaler = MinMaxScaler.from_dict(meta.scaler) if meta.scaler is not None else None
        self.transform = (ScaleFree(meta.features, meta.modes, meta.typical_change) if meta.target_mode == "change"
                          else None)
        self._input, self._output = self.session.get_inputs()[0].name, self.session.get_outputs()[0].name

    def inputs(self, values: np.ndarray, target_row: np.ndarray) -> np.ndarray:
        """The graph's x for the forecasts of ``target_row``: the ``window`` rows before each, scaled
        (delta, level) or as they are (change)."""
        if self.transform is None:
            rows = np.asarray(target_row)[:, None] - self.window + np.arange(self.window)
            return self.scaler.transform(values)[rows].astype(np.float32)
        return raw_windows(values, target_row, self.window)

    def run(self, x: np.ndarray) -> np.ndarray:
        """The graph's first output for inputs x [n, time, features], up to ``BATCH`` windows a call."""
        x = np.ascontiguousarray(x, np.float32)
        parts = [self.session.run([self._output], {self._input: x[i:i + BATCH]})[0]
                 for i in range(0, len(x), BATCH)]
        return np.concatenate(parts) if parts else np.zeros((0, self.horizon), np.float32)

    def forecasts(self, values: np.ndarray, target_row: np.ndarray, target_index: int) -> Predictions:
        """The forecasts made from the ``window`` rows before each of ``target_row``, in price units."""
        x = self.inputs(values, target_row)
        if self.transform is None:
            return Predictions(self.scaler.inverse_transform_column(self.run(x), target_index))
        names = ["y", "lower", "upper"]
        parts = [self.session.run(names, {self._input: x[i:i + BATCH]}) for i in range(0, len(x), BATCH)]
        last = values[np.asarray(target_row) - 1, target_index]
        y, lower, upper = (on_exact_last(np.concatenate([p[k] for p in parts]) if parts
                                         else np.zeros((0, self.horizon)), last) for k in range(3))
        return Predictions(y, lower, upper, self.level)
