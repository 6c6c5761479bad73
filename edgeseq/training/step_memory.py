"""How much memory one training step needs, refused in one line before TensorFlow loads.

An estimate from the shapes alone: a setting that cannot fit fails here, not as an abort
inside TensorFlow after the data was read.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from edgeseq.contract.memory import require_memory

if TYPE_CHECKING:
    from edgeseq.data.char_data import CharData
    from edgeseq.training.specs import CharModelSpec, SeriesModelSpec, TrainSettings

#: floats a recurrent layer keeps per unit, row and step for backpropagation (its gates, its
#: states and their gradients): what a training step's memory grows with
FLOATS_PER_UNIT_STEP = 12
#: floats a series training keeps per window value (float64 levels, scale-free copy, float32 input)
FLOATS_PER_SERIES_VALUE = 5


def check_char_memory(data: CharData, model: CharModelSpec, settings: TrainSettings) -> None:
    """Refuse, before TensorFlow loads, a char setting whose training step cannot fit in memory:
    rows x steps x (input + logits + layers x hidden x FLOATS_PER_UNIT_STEP) float32 values,
    rows being a batch (the streams when stateful) and steps the window, chunk or longest line."""
    rows = data.streams or data.train.natural_rows(settings.batch_size)
    inputs = len(data.vocab) if model.input == "onehot" else model.embedding_dim
    per_step = inputs + 3 * len(data.vocab) + model.layers * model.hidden * FLOATS_PER_UNIT_STEP
    steps = "the longest line" if data.line_end is not None else "--window"
    require_memory(4 * rows * data.window * per_step,
                   f"training {rows:,} row(s) of {data.window:,} steps ({steps}) per batch",
                   "lower --batch-size, --window or --hidden (with --by-line: split the long lines)")


def check_series_memory(rows: int, model: SeriesModelSpec, features: int, batch_size: int | None) -> None:
    """The same for a forecaster: every window of the series is cut at once (rows x window x
    features), and a step holds a batch of windows through the recurrent layers."""
    windows = max(rows - model.window - model.horizon + 1, 0)
    data = 8 * FLOATS_PER_SERIES_VALUE * windows * model.window * features
    step = 4 * min(batch_size or windows, windows) * model.window * (
        features + model.layers * model.hidden * FLOATS_PER_UNIT_STEP)
    require_memory(data + step, f"training on {windows:,} windows of {model.window:,} rows",
                   "lower --window (or --batch-size), or train on fewer rows")
