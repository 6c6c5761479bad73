"""Training batches cut one at a time from the data's own arrays.

Memory grows with the text, not with text x window; an epoch's order is a function of
(seed, epoch), and every batch has the rows asked for, padded with weight 0.
See docs/design.md, "Data".
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Batch:
    """x, y and weights of one batch; rows past ``real`` are padding (weight 0)."""

    x: np.ndarray  # int32 [rows, time] ids, or float32 [rows, time, features]
    y: np.ndarray  # int32 [rows, time] next ids, or float32 [rows, horizon]
    weights: np.ndarray  # float32 [rows, time] (or [rows]): 1 counts, 0 is padding
    real: int

    @property
    def rows(self) -> int:
        return int(self.x.shape[0])


def epoch_order(count: int, seed: int, epoch: int) -> np.ndarray:
    """A permutation of 0 .. count-1 that depends only on (seed, epoch); 4 bytes an entry."""
    order = np.arange(count, dtype=np.int32 if count < 2**31 else np.int64)
    np.random.default_rng([seed, epoch]).shuffle(order)
    return order


def padded(a: np.ndarray, rows: int) -> np.ndarray:
    """``a`` with zero rows appended up to ``rows``."""
    if len(a) == rows:
        return a
    out = np.zeros((rows, *a.shape[1:]), a.dtype)
    out[:len(a)] = a
    return out


class Source:
    """Examples (windows, lines, rows of a series) that batches are cut from."""

    #: True when consecutive batches continue each other row by row (the state is carried)
    carries_state = False

    @property
    def count(self) -> int:
        """Examples per epoch."""
        raise NotImplementedError

    @property
    def arrays(self) -> list[np.ndarray]:
        """The arrays the source keeps (views of the data's own): its share of memory."""
        raise NotImplementedError

    def natural_rows(self, batch_size: int | None) -> int:
        """Rows of a batch before padding: ``batch_size``, or everything (None)."""
        return min(batch_size, self.count) if batch_size else self.count

    def steps(self, rows: int) -> int:
        return -(-self.count // rows)

    def batches(self, rows: int, epoch: int = 0, seed: int = 0, shuffle: bool = True) -> Iterator[Batch]:
        """The epoch's batches of ``rows`` rows each, shuffled by (seed, epoch) when asked."""
        order = epoch_order(self.count, seed, epoch) if shuffle and rows < self.count else None
        for k in range(self.steps(rows)):
            stop = min((k + 1) * rows, self.count)
            index = np.arange(k * rows, stop) if order is None else order[k * rows:stop]
            yield self.cut(index.astype(np.int64), rows)

    def cut(self, index: np.ndarray, rows: int) -> Batch:
        """Examples ``index`` as one batch padded to ``rows``."""
        raise NotImplementedError


class WindowSource(Source):
    """Windows of ``window`` ids every ``stride`` ids over ids[first:last], each with its
    next-id targets (so a window needs window + 1 ids)."""

    def __init__(self, ids: np.ndarray, window: int, stride: int = 1, first: int = 0, last: int | None = None):
        self.ids, self.window, self.stride = ids, window, stride
        self.first = first
        self.last = len(ids) if last is None else last
        self._count = max(0, (self.last - self.first - 1 - window) // stride + 1)

    @property
    def count(self) -> int:
        return self._count

    @property
    def arrays(self):
        return [self.ids]

    def cut(self, index, rows):
        positions = (self.first + index * self.stride)[:, None] + np.arange(self.window)
        x, y = self.ids[positions].astype(np.int32), self.ids[positions + 1].astype(np.int32)
        weights = np.ones(x.shape, np.float32)
        return Batch(padded(x, rows), padded(y, rows), padded(weights, rows), len(index))


class LineSource(Source):
    """One example per line: ids[starts[i]:ends[i]], then the line-end id as the last
    target. Each batch is padded at the end to its longest line (or to ``pad_to``)."""

    def __init__(self, ids: np.ndarray, starts: np.ndarray, ends: np.ndarray, end_id: int,
                 pad_to: int | None = None):
        self.ids, self.starts, self.ends, self.end_id, self.pad_to = ids, starts, ends, end_id, pad_to

    @property
    def count(self) -> int:
        return len(self.starts)

    @property
    def arrays(self):
        return [self.ids, self.starts, self.ends]

    @property
    def lengths(self) -> np.ndarray:
        return self.ends - self.starts

    def cut(self, index, rows):
        starts, lengths = self.starts[index].astype(np.int64), self.lengths[index].astype(np.int64)
        time = self.pad_to or int(lengths.max())
        steps = np.arange(time)
        positions = starts[:, None] + steps
        last = len(self.ids) - 1
        valid = steps < lengths[:, None]
        x = np.where(valid, self.ids[np.minimum(positions, last)], 0).astype(np.int32)
        y = np.where(steps < lengths[:, None] - 1, self.ids[np.minimum(positions + 1, last)], 0).astype(np.int32)
        y[np.arange(len(index)), lengths - 1] = self.end_id
        weights = valid.astype(np.float32)
        return Batch(padded(x, rows), padded(y, rows), padded(weights, rows), len(index))


class StreamSource(Source):
    """ids[first:last] as ``streams`` consecutive streams cut into chunks of ``chunk``.

    Batch k holds chunk k of every stream, row i continuing row i of batch k - 1, so the
    state a batch ends with is the state the next one starts from (truncated
    backpropagation through time, as char-rnn trains). Never shuffled.
    """

    carries_state = True

    def __init__(self, ids: np.ndarray, streams: int, chunk: int, first: int = 0, last: int | None = None):
        self.ids, self.streams, self.chunk, self.first = ids, streams, chunk, first
        last = len(ids) if last is None else last
        self.per_stream = (last - first - 1) // streams
        self.chunks = self.per_stream // chunk

    @property
    def count(self) -> int:
        return self.chunks * self.streams

    @property
    def arrays(self):
        return [self.ids]

    def natural_rows(self, batch_size=None) -> int:
        return self.streams

    def steps(self, rows: int) -> int:
        return self.chunks

    def batches(self, rows, epoch=0, seed=0, shuffle=True):
        starts = self.first + np.arange(self.streams) * self.per_stream
        for k in range(self.chunks):
            positions = (starts + k * self.chunk)[:, None] + np.arange(self.chunk)
            x, y = self.ids[positions].astype(np.int32), self.ids[positions + 1].astype(np.int32)
            yield Batch(padded(x, rows), padded(y, rows), padded(np.ones(x.shape, np.float32), rows), self.streams)


class ArraySource(Source):
    """Examples that are already arrays (a series' windows): row i of x and of y."""

    def __init__(self, x: np.ndarray, y: np.ndarray):
        self.x, self.y = x, y

    @property
    def count(self) -> int:
        return len(self.x)

    @property
    def arrays(self):
        return [self.x, self.y]

    def cut(self, index, rows):
        return Batch(padded(self.x[index], rows), padded(self.y[index], rows),
                     padded(np.ones(len(index), np.float32), rows), len(index))
