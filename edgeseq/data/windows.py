"""A series cut into forecasting windows, split once into training and walk-forward test.

Letting the test period leak into training flatters a forecaster: through the scaler, or
through windows whose targets cross the split. One split point decides both here, and
nothing after it reaches the scaler or the training windows.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edgeseq.choices import TARGET_MODES, check_choice
from edgeseq.data.scaler import MinMaxScaler
from edgeseq.errors import InputError

__all__ = ["Windows", "split_point", "checked_split", "make_windows", "train_test_windows", "split_windows"]


@dataclass(frozen=True, eq=False)
class Windows:
    """Model inputs and targets cut from a scaled series; row i is one forecast."""

    x: np.ndarray  # float32 [n, window, features]
    y: np.ndarray  # float32 [n, horizon]: scaled target levels, or deltas from `last`
    last: np.ndarray  # float32 [n]: the last observed scaled target of each window
    target_row: np.ndarray  # int64 [n]: series row of the first predicted value
    target_mode: str

    def __len__(self) -> int:
        return int(self.x.shape[0])


def split_point(n_rows: int, train_fraction: float = 0.7) -> int:
    """Index of the first test row: the first ``train_fraction`` of the rows train."""
    if not 0.0 < train_fraction < 1.0:
        raise InputError(f"--train-fraction must be between 0 and 1, got {train_fraction}")
    # The small epsilon keeps e.g. 70 * 0.7 = 48.99999999999999 from flooring to 48.
    split = math.floor(n_rows * train_fraction + 1e-9)
    if split < 1 or split >= n_rows:
        raise InputError(
            f"--train-fraction {train_fraction} of {n_rows} rows leaves "
            f"{split} training and {n_rows - split} test rows; both need at least one"
        )
    return split


def make_windows(
    scaled: np.ndarray,
    target_index: int,
    window: int,
    horizon: int,
    target_mode: str,
) -> Windows:
    """Every window of ``window`` rows with the ``horizon`` target values that follow it.

    Window t reads rows t .. t+window-1 and predicts the target at rows
    t+window .. t+window+horizon-1. ``level`` targets are the scaled target values;
    ``delta`` targets are those minus the window's last scaled target.
    """
    scaled = np.asarray(scaled, dtype=np.float64)
    if scaled.ndim != 2:
        raise InputError(f"windows need a 2-D array [rows, features], got shape {scaled.shape}")
    n_rows, n_features = scaled.shape
    if window < 1 or horizon < 1:
        raise InputError(f"--window and --horizon must be at least 1, got {window} and {horizon}")
    check_choice("target mode", target_mode, TARGET_MODES)
    if not 0 <= target_index < n_features:
        raise InputError(f"target index {target_index} is out of range for {n_features} features")
    needed = window + horizon
    if n_rows < needed:
        raise InputError(
            f"window {window} + horizon {horizon} needs at least {needed} rows; "
            f"the series has {n_rows}"
        )

    n_windows = n_rows - needed + 1
    starts = np.arange(n_windows)[:, None]
    input_rows = starts + np.arange(window)  # [n, window]
    target_rows = starts + window + np.arange(horizon)  # [n, horizon]
    target = scaled[:, target_index]
    last = target[starts[:, 0] + window - 1]
    levels = target[target_rows]
    y = levels - last[:, None] if target_mode == "delta" else levels
    return Windows(
        x=scaled[input_rows].astype(np.float32),
        y=y.astype(np.float32),
        last=last.astype(np.float32),
        target_row=target_rows[:, 0].astype(np.int64),
        target_mode=target_mode,
    )


def train_test_windows(
    values: np.ndarray,
    target_index: int,
    window: int,
    horizon: int,
    target_mode: str = "level",
    train_fraction: float = 0.7,
    columns: Sequence[str] | None = None,
) -> tuple[MinMaxScaler, Windows, Windows]:
    """Scaler fitted on the training rows, training windows, walk-forward test windows.

    Training windows predict only rows before the split; test windows start predicting at
    or after it and may read their inputs from the training rows. With horizon > 1, the few
    windows whose predictions straddle the split belong to neither. ``columns`` names the
    features in error messages and in the scaler's metadata.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2:
        raise InputError(f"windows need a 2-D array [rows, features], got shape {values.shape}")
    if columns is None:
        columns = [f"#{index}" for index in range(values.shape[1])]
    split = checked_split(values.shape[0], window, horizon, train_fraction)
    scaler = MinMaxScaler().fit(values[:split], columns)
    every = make_windows(scaler.transform(values), target_index, window, horizon, target_mode)
    train, test = split_windows(every, split, horizon)
    return scaler, train, test


def checked_split(n_rows: int, window: int, horizon: int, train_fraction: float) -> int:
    """``split_point``, refused when the training part is too short to train on or the test part
    holds no forecast. Training needs two windows' worth of rows (and a window and its horizon):
    fewer leave a handful of nearly identical windows to fit and to validate on."""
    split = split_point(n_rows, train_fraction)
    needed = max(2 * window, window + horizon)
    if split < needed:
        raise InputError(
            f"the training part has {split} rows ({train_fraction:.0%} of {n_rows}) but window "
            f"{window} and horizon {horizon} need at least {needed} rows to train on (two windows' worth); use a "
            "larger --train-fraction, a longer file or a smaller --window"
        )
    if n_rows - split < horizon:
        raise InputError(
            f"the test part has {n_rows - split} rows but horizon {horizon} needs at least "
            f"{horizon}; use a longer file or a smaller --train-fraction"
        )
    return split


def split_windows(windows: Windows, split: int, horizon: int) -> tuple[Windows, Windows]:
    """(training windows: every predicted row before ``split``, test windows: from ``split`` on)."""
    last_predicted_row = windows.target_row + horizon - 1
    return _select(windows, last_predicted_row < split), _select(windows, windows.target_row >= split)


def _select(windows: Windows, keep: np.ndarray) -> Windows:
    return Windows(
        x=windows.x[keep],
        y=windows.y[keep],
        last=windows.last[keep],
        target_row=windows.target_row[keep],
        target_mode=windows.target_mode,
    )
