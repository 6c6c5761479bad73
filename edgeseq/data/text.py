"""Characters to integer ids and back, and training windows over a text.

The classic RNN lab this project grows out of (the hihello / ship exercises of a deep
learning course) built its vocabulary with ``list(set(text))``, whose order changes from
one Python process to the next, so a model trained in one run decodes garbage in another.
Here the vocabulary is the sorted set of characters: the same text always gives the same
ids, and the vocabulary travels inside the exported model.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeseq.choices import check_choice
from edgeseq.data.files import read_utf8
from edgeseq.data.samples import SAMPLES
from edgeseq.errors import InputError


@dataclass(frozen=True)
class Vocabulary:
    """Sorted distinct characters; a character's id is its position."""

    chars: str

    @classmethod
    def from_text(cls, text: str) -> "Vocabulary":
        return cls("".join(sorted(set(text))))

    def __len__(self) -> int:
        return len(self.chars)

    @property
    def index(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.chars)}

    def unknown(self, text: str) -> list[str]:
        """Characters of ``text`` that the vocabulary lacks, in order of appearance."""
        known = set(self.chars)
        return list(dict.fromkeys(c for c in text if c not in known))

    def encode(self, text: str) -> np.ndarray:
        missing = self.unknown(text)
        if missing:
            shown = ", ".join(repr(c) for c in missing)
            raise InputError(
                f"characters not in the model's vocabulary: {shown} "
                f"(the vocabulary is {self.chars!r})"
            )
        index = self.index
        return np.fromiter((index[c] for c in text), dtype=np.int32, count=len(text))

    def decode(self, ids) -> str:
        return "".join(self.chars[int(i)] for i in ids)


@dataclass(frozen=True)
class CharWindows:
    """Inputs and next-character targets, both int32 [n_windows, window]."""

    x: np.ndarray
    y: np.ndarray

    @property
    def window(self) -> int:
        return int(self.x.shape[1])


def sliding_windows(ids: np.ndarray, window: int) -> CharWindows:
    """Every window of ``window`` ids paired with the same window shifted by one.

    This is the lab's ``dataX = text[i:i+w]; dataY = text[i+1:i+w+1]``, for each start i.
    """
    if window < 1:
        raise InputError(f"--window must be at least 1, got {window}")
    if len(ids) < window + 1:
        raise InputError(
            f"the text has {len(ids)} characters; a window of {window} needs at least "
            f"{window + 1} (one more for the next-character target)"
        )
    starts = np.arange(len(ids) - window)
    cols = np.arange(window)
    x = ids[starts[:, None] + cols]
    y = ids[starts[:, None] + cols + 1]
    return CharWindows(x.astype(np.int32), y.astype(np.int32))


@dataclass(frozen=True)
class PaddedLines:
    """Sequences of different lengths padded at the end to one time axis.

    x, y: int32 [rows, time] (inputs and next-character targets, 0 after the end);
    weights: float32 [rows, time], 1 on valid steps and 0 on padding (the lab's
    sequence_loss weights); lengths: int32 [rows], valid steps per row.
    """

    x: np.ndarray
    y: np.ndarray
    weights: np.ndarray
    lengths: np.ndarray


#: The character a line model predicts after a line's last character: where a line ends.
LINE_END = "\n"


def split_lines(text: str) -> tuple[list[str], int]:
    """The non-empty lines of a text and how many empty ones were skipped."""
    lines = text.splitlines()
    usable = [line for line in lines if line]
    if not usable:
        raise InputError("no usable line: every line is empty")
    return usable, len(lines) - len(usable)


def pad_lines(lines: list[str], vocab: Vocabulary, pad_to: int | None = None) -> PaddedLines:
    """One row per line: input the line, target the line shifted by one and then LINE_END
    (so the model learns where lines end), padded at the end."""
    encoded = [vocab.encode(line + LINE_END) for line in lines]
    lengths = np.array([len(ids) - 1 for ids in encoded], np.int32)
    time = int(lengths.max()) if pad_to is None else pad_to
    if time < lengths.max():
        raise InputError(f"cannot pad to {time} steps: the longest line needs {lengths.max()}")
    x = np.zeros((len(lines), time), np.int32)
    y = np.zeros((len(lines), time), np.int32)
    for row, ids in enumerate(encoded):
        x[row, : len(ids) - 1] = ids[:-1]
        y[row, : len(ids) - 1] = ids[1:]
    weights = (np.arange(time)[None, :] < lengths[:, None]).astype(np.float32)
    return PaddedLines(x, y, weights, lengths)


def stateful_chunks(ids: np.ndarray, streams: int, chunk: int) -> CharWindows:
    """A long text as ``streams`` consecutive streams cut into chunks, batch by batch.

    Row ``k * streams + i`` is chunk k of stream i, so that with a batch of ``streams``
    rows, each row of batch k continues the same row of batch k - 1: the recurrent state
    carried between batches is the state of the text just before (truncated
    backpropagation through time, as char-rnn trains).
    """
    if streams < 1 or chunk < 1:
        raise InputError(f"--streams and --window must be at least 1, got {streams} and {chunk}")
    per_stream = (len(ids) - 1) // streams
    chunks = per_stream // chunk
    if chunks < 1:
        raise InputError(
            f"the text has {len(ids)} characters: too short for {streams} streams of at least "
            f"one chunk of {chunk} (needs {streams * chunk + 1})"
        )
    usable = chunks * chunk
    starts = np.arange(streams) * per_stream
    x = np.stack([ids[s: s + usable] for s in starts]).reshape(streams, chunks, chunk)
    y = np.stack([ids[s + 1: s + usable + 1] for s in starts]).reshape(streams, chunks, chunk)
    order = lambda a: a.transpose(1, 0, 2).reshape(chunks * streams, chunk)  # noqa: E731
    return CharWindows(order(x).astype(np.int32), order(y).astype(np.int32))


@dataclass(frozen=True)
class CharData:
    """What the model is fitted on, and how the trained model must be run."""

    vocab: Vocabulary
    x: np.ndarray
    y: np.ndarray
    weights: np.ndarray | None  # None: every step counts
    window: int  # the longest context seen from a zero state (stateful: the chunk)
    context: str  # "window" or "stateful"
    summary: str  # what was cut, for the training line: "183 windows of 10"
    streams: int | None = None  # stateful: rows per batch, each a consecutive stream
    line_end: str | None = None  # line models: the character that ends a generated line


def window_data(text: str, window: int | None) -> CharData:
    """The whole text as one sequence (window None) or sliding windows, as the lab cuts it."""
    vocab = Vocabulary.from_text(text)
    ids = vocab.encode(text)
    w = sliding_windows(ids, len(ids) - 1 if window is None else window)
    return CharData(vocab, w.x, w.y, None, w.window, "window", f"{len(w.x)} windows of {w.window}")


def line_data(lines: list[str], pad_to: int | None = None, vocab: Vocabulary | None = None) -> CharData:
    """One sequence per line, padded at the end; padding carries no weight."""
    vocab = vocab or Vocabulary.from_text("".join(lines) + LINE_END)
    padded = pad_lines(lines, vocab, pad_to)
    return CharData(vocab, padded.x, padded.y, padded.weights, int(padded.lengths.max()), "window",
                    f"{len(lines)} lines of {padded.lengths.min()}-{padded.lengths.max()} steps, "
                    f"padded to {padded.x.shape[1]}", line_end=LINE_END)


def stateful_data(text: str, chunk: int, streams: int) -> CharData:
    vocab = Vocabulary.from_text(text)
    w = stateful_chunks(vocab.encode(text), streams, chunk)
    return CharData(vocab, w.x, w.y, None, chunk, "stateful",
                    f"{streams} streams x {len(w.x) // streams} chunks of {chunk} (state carried)", streams)


def read_text(path: str | Path) -> str:
    """A UTF-8 text file's content; an empty file is an error too."""
    text = read_utf8(path)
    if not text:
        raise InputError(f"{path} is empty")
    return text


def sample_text(name: str) -> tuple[str, int | None]:
    """One of the built-in samples: (text, window)."""
    check_choice("sample", name, SAMPLES)
    return SAMPLES[name]
