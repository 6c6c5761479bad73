"""Reading a user's UTF-8 file, with a one-line error for each way that fails.

Text corpora and CSV histories fail the same ways (missing, a folder, unreadable, not
UTF-8), so both readers go through here and say it the same way. A byte-order mark, as
Excel writes, is dropped.
"""
from __future__ import annotations

from pathlib import Path

from edgeseq.errors import InputError


def read_utf8(path: str | Path, kind: str = "text file") -> str:
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path} does not exist") from None
    except IsADirectoryError:
        raise InputError(f"{path} is a directory, not a {kind}") from None
    except PermissionError:
        raise InputError(f"{path} cannot be read: permission denied") from None
    except OSError as error:
        raise InputError(f"{path} cannot be read: {error.strerror}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise InputError(
            f"{path} row {line}: byte 0x{raw[error.start]:02x} is not UTF-8 text; save the file as UTF-8"
        ) from None
