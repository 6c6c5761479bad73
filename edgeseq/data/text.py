"""Characters to integer ids and back; reading a text and the built-in samples.

The vocabulary is the sorted set of characters, so the same text always gives the same ids.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from edgeseq.choices import check_choice
from edgeseq.data.user_files import read_utf8
from edgeseq.data.samples import SAMPLES
from edgeseq.errors import InputError


#: Characters encoded per pass when a long text is turned into ids (bounds the temporaries).
CHUNK = 1 << 20
#: Unicode code points: the size of a table indexed by any character.
CODE_POINTS = 0x110000


def code_points(text: str) -> np.ndarray:
    """The text's characters as uint32 code points (4 bytes each: call it on chunks)."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), np.uint32)


def compact_dtype(size: int) -> np.dtype:
    """The smallest unsigned dtype that holds ids 0 .. size-1."""
    return np.dtype(np.uint8 if size <= 1 << 8 else np.uint16 if size <= 1 << 16 else np.int32)


@dataclass(frozen=True)
class Vocabulary:
    """Sorted distinct characters; a character's id is its position.

    Texts become ids through numpy, a chunk at a time (a table from code point to id), so a
    50 MB text never becomes a Python object per character.
    """

    chars: str

    @classmethod
    def from_text(cls, text: str) -> "Vocabulary":
        if len(text) < CHUNK:
            return cls("".join(sorted(set(text))))
        seen = np.zeros(CODE_POINTS, bool)
        for start in range(0, len(text), CHUNK):
            seen |= np.bincount(code_points(text[start:start + CHUNK]), minlength=CODE_POINTS) > 0
        return cls("".join(map(chr, np.flatnonzero(seen))))

    def __len__(self) -> int:
        return len(self.chars)

    @property
    def index(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.chars)}

    @cached_property
    def _table(self) -> np.ndarray:
        """code point -> id, -1 for a character the vocabulary lacks."""
        points = code_points(self.chars)
        table = np.full(int(points.max(initial=0)) + 1, -1, np.int32)
        table[points] = np.arange(len(points), dtype=np.int32)
        return table

    def unknown(self, text: str) -> list[str]:
        """Characters of ``text`` that the vocabulary lacks, in order of appearance."""
        known = set(self.chars)
        return list(dict.fromkeys(c for c in text if c not in known))

    def ids(self, text: str, dtype=None) -> np.ndarray:
        """The ids of ``text`` in ``dtype`` (default: the smallest that fits the vocabulary)."""
        out = np.empty(len(text), dtype or compact_dtype(len(self)))
        table = self._table
        for start in range(0, len(text), CHUNK):
            points = code_points(text[start:start + CHUNK])
            ids = table[np.minimum(points, len(table) - 1)]
            if len(points) and (points.max() >= len(table) or ids.min() < 0):
                shown = ", ".join(repr(c) for c in self.unknown(text))
                raise InputError(f"characters not in the model's vocabulary: {shown} "
                                 f"(the vocabulary is {self.chars!r})")
            out[start:start + len(points)] = ids
        return out

    def encode(self, text: str) -> np.ndarray:
        return self.ids(text, np.int32)

    def decode(self, ids) -> str:
        return "".join(self.chars[int(i)] for i in ids)


#: The character a line model predicts after a line's last character: where a line ends.
LINE_END = "\n"


def split_lines(text: str) -> tuple[list[str], int]:
    """The non-empty lines of a text and how many empty ones were skipped."""
    lines = text.splitlines()
    usable = [line for line in lines if line]
    if not usable:
        raise InputError("no usable line: every line is empty")
    return usable, len(lines) - len(usable)


def read_text(path: str | Path) -> str:
    """A UTF-8 text file's content, its CRLF and CR line ends read as LF (a text written on
    Windows or an old Mac trains the same model); an empty file is an error too."""
    text = read_utf8(path)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text:
        raise InputError(f"{path} is empty")
    return text


def sample_text(name: str) -> tuple[str, int | None]:
    """One of the built-in samples: (text, window)."""
    check_choice("sample", name, SAMPLES)
    return SAMPLES[name]
