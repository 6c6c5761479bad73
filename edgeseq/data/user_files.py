"""Reading a user's UTF-8 file, with a one-line error for each way that fails.

Texts and CSVs share it; a byte-order mark is dropped, and the caps bound what a file can
make edgeseq hold.
"""
from __future__ import annotations

from pathlib import Path

from edgeseq.contract.reading import read_file_bytes
from edgeseq.errors import InputError

#: the largest text file and CSV file edgeseq reads, in bytes
MAX_BYTES = {"text file": 1 << 30, "CSV file": 256 << 20}


def read_utf8(path: str | Path, kind: str = "text file") -> str:
    raw = read_file_bytes(path, MAX_BYTES.get(kind, MAX_BYTES["text file"]), kind)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise InputError(
            f"{path} row {line}: byte 0x{raw[error.start]:02x} is not UTF-8 text; save the file as UTF-8"
        ) from None
