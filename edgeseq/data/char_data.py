"""A text as training data: windows, lines or stateful streams, and a validation part.

The validation part is the end of the text, scored in the shape training uses; its windows
do not overlap, so each character counts once.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgeseq.data.batches import LineSource, Source, StreamSource, WindowSource
from edgeseq.data.text import LINE_END, Vocabulary, compact_dtype
from edgeseq.errors import InputError

#: What str.splitlines splits on: the line separators a --by-line text may use.
LINE_SEPARATORS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"
#: A text longer than this, read in windows that repeat each character this many times or
#: more, gets a note suggesting a larger --stride or --context stateful.
LONG_TEXT, REPEATS = 100_000, 5


class NoRoomToValidate(InputError):
    """The validation part asked for is too short to hold one example."""


@dataclass(frozen=True)
class CharData:
    """What a char model is fitted and validated on, and how it must then be run."""

    vocab: Vocabulary
    train: Source
    validation: Source | None
    window: int  # the longest context seen from a zero state (stateful: the chunk)
    context: str  # "window" or "stateful"
    summary: str  # what was cut, for the training line: "170 windows of 10"
    line_end: str | None = None  # line models: the character that ends a generated line
    notes: tuple[str, ...] = ()  # advice about the chosen cut, for the log

    @property
    def streams(self) -> int | None:
        return self.train.streams if isinstance(self.train, StreamSource) else None

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays the training and validation parts keep (shared ones once)."""
        sources = [self.train] + ([self.validation] if self.validation is not None else [])
        arrays = {id(a.base if a.base is not None else a): a.base if a.base is not None else a
                  for source in sources for a in source.arrays}
        return sum(a.nbytes for a in arrays.values())


def held_out(length: int, fraction: float) -> int:
    """How many of ``length`` items (characters, lines) the validation part takes."""
    return int(round(length * fraction))


def _percent(fraction: float) -> str:
    return f"{fraction * 100:g}%"


def window_data(text: str, window: int | None, stride: int = 1, val_fraction: float = 0.0,
                vocab: Vocabulary | None = None) -> CharData:
    """Windows of ``window`` characters every ``stride`` (window None: the whole text as one
    sequence, as the lab's hihello); the last ``val_fraction`` of the text validates."""
    vocab = vocab or Vocabulary.from_text(text)
    ids = vocab.ids(text)
    if window is None:
        if val_fraction:
            raise InputError("--val-fraction needs windows; this text is one sequence: give --window")
        window = len(ids) - 1
    if window < 1 or stride < 1:
        raise InputError(f"--window and --stride must be at least 1, got {window} and {stride}")
    split = len(ids) - held_out(len(ids), val_fraction)
    if split < window + 1:
        part = "text" if split == len(ids) else "training part of the text"
        error = NoRoomToValidate if len(ids) >= window + 1 else InputError  # the validation part took it
        raise error(f"the {part} has {split} characters; a window of {window} needs at least "
                    f"{window + 1} (one more for the next-character target)")
    train = WindowSource(ids, window, stride, 0, split)
    summary = f"{train.count} windows of {window}" + (f" every {stride} characters" if stride > 1 else "")
    validation = None
    if split < len(ids):
        if len(ids) - split < window + 1:
            raise NoRoomToValidate(f"the validation part (the last {_percent(val_fraction)} of the text, "
                             f"{len(ids) - split} characters) is shorter than a window of {window} plus its "
                             "target; use a smaller --window, a larger --val-fraction or --val-fraction 0")
        validation = WindowSource(ids, window, window, split, len(ids))
        summary += f"; validating on the last {len(ids) - split:,} characters ({validation.count} windows)"
    notes = ()
    if len(ids) > LONG_TEXT and window / stride >= REPEATS:
        notes = (f"note: with --stride {stride} each character is read in {window // stride} windows of "
                 f"{window} ({train.count:,} windows an epoch); on a long text --stride {max(2, window // 2)} "
                 "or --context stateful trains faster",)
    return CharData(vocab, train, validation, window, "window", summary, notes=notes)


def stateful_data(text: str, chunk: int, streams: int, val_fraction: float = 0.0) -> CharData:
    """``streams`` consecutive streams cut into chunks of ``chunk``, the state carried from
    batch to batch; the last ``val_fraction`` of the text validates the same way."""
    if streams < 1 or chunk < 1:
        raise InputError(f"--streams and --window must be at least 1, got {streams} and {chunk}")
    vocab = Vocabulary.from_text(text)
    ids = vocab.ids(text)
    split = len(ids) - held_out(len(ids), val_fraction)
    train = StreamSource(ids, streams, chunk, 0, split)
    if train.chunks < 1:
        part = "text" if split == len(ids) else "training part of the text"
        error = NoRoomToValidate if StreamSource(ids, streams, chunk).chunks >= 1 else InputError
        raise error(f"the {part} has {split} characters: too short for {streams} streams of at "
                         f"least one chunk of {chunk} (needs {streams * chunk + 1})")
    summary = f"{streams} streams x {train.chunks} chunks of {chunk} (state carried)"
    validation = None
    if split < len(ids):
        val_streams = min(streams, (len(ids) - split - 1) // chunk)
        if val_streams < 1:
            raise NoRoomToValidate(f"the validation part (the last {_percent(val_fraction)} of the text, "
                             f"{len(ids) - split} characters) is shorter than a chunk of {chunk} plus its "
                             "target; use a smaller --window, a larger --val-fraction or --val-fraction 0")
        validation = StreamSource(ids, val_streams, chunk, split, len(ids))
        summary += (f"; validating on the last {len(ids) - split:,} characters "
                    f"({val_streams} streams x {validation.chunks} chunks)")
    return CharData(vocab, train, validation, chunk, "stateful", summary)


def line_data(lines: list[str], pad_to: int | None = None, vocab: Vocabulary | None = None,
              val_fraction: float = 0.0) -> CharData:
    """One sequence per (non-empty) string, any lengths; the last ``val_fraction`` validates."""
    if not lines or not all(lines):
        raise InputError("line_data needs non-empty lines (edgeseq.data.text.split_lines skips empty ones)")
    vocab = vocab or Vocabulary.from_text("".join(lines) + LINE_END)
    lengths = np.array([len(line) for line in lines], np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths + 1)[:-1]])
    return _lines(vocab, vocab.ids(LINE_END.join(lines) + LINE_END), starts, starts + lengths, pad_to,
                  val_fraction)


def text_line_data(text: str, val_fraction: float = 0.0) -> tuple[CharData, int]:
    """The non-empty lines of ``text`` (split as str.splitlines does) and how many empty ones
    were skipped; found in the id array, not as a Python string per line."""
    every = Vocabulary.from_text(text)
    ids = every.ids(text)
    separator = np.zeros(len(every), bool)
    separator[[i for i, c in enumerate(every.chars) if c in LINE_SEPARATORS]] = True
    breaks = np.flatnonzero(separator[ids])
    index = every.index
    pair = np.zeros(len(breaks), bool)  # "\r\n" is one break, two characters wide
    if "\r" in index and "\n" in index:
        inside = breaks + 1 < len(ids)
        pair[inside] = (ids[breaks[inside]] == index["\r"]) & (ids[breaks[inside] + 1] == index["\n"])
        single = ~np.isin(breaks, breaks[pair] + 1)
        breaks, pair = breaks[single], pair[single]
    starts = np.concatenate([[0], breaks + 1 + pair])
    ends = np.concatenate([breaks, [len(ids)]])
    if starts[-1] == len(ids):  # the text ends with a break: no line after it
        starts, ends = starts[:-1], ends[:-1]
    keep = ends > starts
    if not keep.any():
        raise InputError("no usable line: every line is empty")
    vocab = Vocabulary("".join(sorted({c for c in every.chars if c not in LINE_SEPARATORS} | {LINE_END})))
    remap = np.array([vocab.index.get(c, 0) for c in every.chars], compact_dtype(len(vocab)))
    return _lines(vocab, remap[ids], starts[keep], ends[keep], None, val_fraction), int((~keep).sum())


def _lines(vocab: Vocabulary, ids: np.ndarray, starts: np.ndarray, ends: np.ndarray, pad_to: int | None,
           val_fraction: float) -> CharData:
    index = np.int32 if len(ids) < 2**31 else np.int64
    starts, ends = starts.astype(index), ends.astype(index)
    longest = int((ends - starts).max())
    if pad_to is not None and pad_to < longest:
        raise InputError(f"cannot pad to {pad_to} steps: the longest line needs {longest}")
    split = len(starts) - held_out(len(starts), val_fraction)
    if val_fraction and (split < 1 or split == len(starts)):
        raise NoRoomToValidate(f"--val-fraction {val_fraction:g} of {len(starts)} lines leaves "
                         f"{'no line to train on' if split < 1 else 'no line to validate on'}")
    end_id = vocab.index[LINE_END]
    train = LineSource(ids, starts[:split], ends[:split], end_id, pad_to)
    lengths = train.lengths
    summary = f"{train.count} lines of {lengths.min()}-{lengths.max()} steps, " + (
        f"padded to {pad_to}" if pad_to else "each batch padded to its longest")
    validation = None
    if split < len(starts):
        validation = LineSource(ids, starts[split:], ends[split:], end_id, pad_to)
        summary += f"; validating on the last {validation.count} lines"
    return CharData(vocab, train, validation, longest, "window", summary, line_end=LINE_END)
