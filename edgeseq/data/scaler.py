"""Min-max scaling fitted on the training rows alone, its parameters stored in the model.

Exactly ``(x - min) / range``: a constant column is refused, naming it, not hidden by an epsilon.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from edgeseq.errors import InputError, ModelFileError

#: The "kind" tag in ``to_dict()``; lets a reader of model metadata check what it holds.
SCALER_KIND = "minmax"


class MinMaxScaler:
    """Per-column min-max scaling to [0, 1] over the rows it was fitted on."""

    def __init__(self) -> None:
        self.columns: tuple[str, ...] = ()
        self.min_: np.ndarray | None = None
        self.range_: np.ndarray | None = None

    def fit(self, values: np.ndarray, columns: Sequence[str]) -> MinMaxScaler:
        """Learn each column's min and range from ``values`` [rows, columns]; returns self."""
        values = np.asarray(values, dtype=np.float64)
        columns = tuple(columns)
        if values.ndim != 2 or values.shape[1] != len(columns):
            raise InputError(
                f"scaler needs a 2-D array with one column per name {list(columns)}, "
                f"got shape {values.shape}"
            )
        n_rows = values.shape[0]
        if n_rows == 0:
            raise InputError("scaler needs at least one training row, got none")
        for index, name in enumerate(columns):
            if not np.all(np.isfinite(values[:, index])):
                raise InputError(
                    f"column '{name}' has missing or infinite values; the scaler needs numbers"
                )
        minimum = values.min(axis=0)
        value_range = values.max(axis=0) - minimum
        for index, name in enumerate(columns):
            if value_range[index] == 0:
                raise InputError(
                    f"column '{name}' is constant over the {n_rows} training rows; "
                    "min-max scaling needs a range: drop it from --features"
                )
        self.columns, self.min_, self.range_ = columns, minimum, value_range
        return self

    def transform(self, values: np.ndarray) -> np.ndarray:
        """Scale every column of ``values`` [rows, columns] (float64)."""
        minimum, value_range = self._fitted()
        return (self._as_columns(values) - minimum) / value_range

    def inverse_transform(self, scaled: np.ndarray) -> np.ndarray:
        """Undo ``transform`` for a [rows, columns] array."""
        minimum, value_range = self._fitted()
        return self._as_columns(scaled) * value_range + minimum

    def _as_columns(self, array: np.ndarray) -> np.ndarray:
        """``array`` as float64 [rows, columns], or a clear error if it has other columns."""
        array = np.asarray(array, dtype=np.float64)
        if array.ndim != 2 or array.shape[1] != len(self.columns):
            raise InputError(
                f"scaler was fitted on {len(self.columns)} columns {list(self.columns)}, "
                f"got an array of shape {array.shape}"
            )
        return array

    def inverse_transform_column(self, scaled: np.ndarray, column_index: int) -> np.ndarray:
        """Undo the scaling of one column (e.g. the target) for an array of any shape."""
        minimum, value_range = self._fitted()
        if not 0 <= column_index < len(self.columns):
            raise InputError(
                f"column index {column_index} is out of range for the scaler's "
                f"{len(self.columns)} columns {list(self.columns)}"
            )
        scaled = np.asarray(scaled, dtype=np.float64)
        return scaled * value_range[column_index] + minimum[column_index]

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable parameters, for the exported model's metadata."""
        minimum, value_range = self._fitted()
        return {
            "kind": SCALER_KIND,
            "columns": list(self.columns),
            "min": [float(v) for v in minimum],
            "range": [float(v) for v in value_range],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MinMaxScaler:
        """Rebuild a fitted scaler from ``to_dict()`` output (e.g. read from a model file)."""
        if not isinstance(data, dict) or data.get("kind") != SCALER_KIND:
            raise ModelFileError(f"scaler metadata is not a '{SCALER_KIND}' scaler: {data!r}")
        try:
            columns = tuple(str(name) for name in data["columns"])
            minimum = np.array(data["min"], dtype=np.float64)
            value_range = np.array(data["range"], dtype=np.float64)
        except (KeyError, TypeError, ValueError) as error:
            raise ModelFileError(f"scaler metadata is incomplete or malformed: {error}") from None
        if not (len(columns) == minimum.shape[0] == value_range.shape[0]) or minimum.ndim != 1:
            raise ModelFileError(
                f"scaler metadata has {len(columns)} columns but {minimum.size} mins "
                f"and {value_range.size} ranges"
            )
        if np.any(value_range == 0):
            raise ModelFileError("scaler metadata has a zero range; the model file is damaged")
        scaler = cls()
        scaler.columns, scaler.min_, scaler.range_ = columns, minimum, value_range
        return scaler

    def _fitted(self) -> tuple[np.ndarray, np.ndarray]:
        if self.min_ is None or self.range_ is None:
            raise RuntimeError("MinMaxScaler used before fit() or from_dict()")
        return self.min_, self.range_
