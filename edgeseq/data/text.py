"""Characters to integer ids and back, and training windows over a text.

The lab built its vocabulary with ``list(set(text))``, whose order changes from one Python
process to the next, so a model trained in one run decodes garbage in another. Here the
vocabulary is the sorted set of characters: the same text always gives the same ids, and
the vocabulary travels inside the exported model.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeseq.errors import InputError

#: The lab's three programs, by name: (text, window). A window of None means "the whole
#: text is one sequence" (hihello: hihell -> ihello).
SAMPLES: dict[str, tuple[str, int | None]] = {
    "hihello": ("hihello", None),
    "fighting": (" 화이팅입니다", None),
    "ship": (
        "if you want to build a ship, don't drum up people together to collect wood and "
        "don't assign them tasks and work, but rather teach them to long for the endless "
        "immensity of the sea.",
        10,
    ),
}


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


def read_text(path: str | Path) -> str:
    """A UTF-8 text file's content, with a one-line error for the usual failures."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{p}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{p}: is a directory, not a text file") from None
    except OSError as e:
        raise InputError(f"{p}: cannot read: {e.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(
            f"{p}: not UTF-8 text (byte 0x{raw[e.start]:02x} at offset {e.start})"
        ) from None
    if not text:
        raise InputError(f"{p}: the file is empty")
    return text


def sample_text(name: str) -> tuple[str, int | None]:
    """One of the built-in samples: (text, window)."""
    try:
        return SAMPLES[name]
    except KeyError:
        raise InputError(
            f"unknown sample {name!r}; choose one of: {', '.join(SAMPLES)}"
        ) from None
