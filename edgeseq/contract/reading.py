"""Reading what edgeseq is given or reads back, bounded: regular files only, a byte cap, and
JSON whose length and nesting are measured before it is parsed.

``read_file_bytes`` never blocks on a device or a pipe; ``parse_json`` / ``read_json_file``
read user-side JSON (checkpoints, configs, manifests) and ``load_document`` a model's
metadata, both refusing NaN and infinities; ``Fields`` names the file and the key that is wrong.
"""
from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any

from edgeseq.display import shown
from edgeseq.errors import InputError, ModelFileError

#: bytes of one JSON document edgeseq reads back (a checkpoint's history of 1M epochs fits)
MAX_JSON_BYTES = 64 << 20
#: characters of a model's metadata JSON
MAX_META_CHARS = 1 << 20
#: nesting of objects and lists in any JSON edgeseq reads
MAX_JSON_DEPTH = 16


def size_text(count: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= size:
            return f"{count / size:.3g} {unit}"
    return f"{count} bytes"


def read_file_bytes(path: str | Path, cap: int, kind: str = "file") -> bytes:
    """The bytes of the regular file ``path``, at most ``cap`` of them, or one line saying why
    not (missing, a folder, a device, a pipe or a socket, unreadable, larger than ``cap``)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise InputError(f"{path} does not exist") from None
    except IsADirectoryError:
        raise InputError(f"{path} is a directory, not a {kind}") from None
    except PermissionError:
        raise InputError(f"{path} cannot be read: permission denied") from None
    except OSError as error:
        raise InputError(f"{path} cannot be read: {error.strerror}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise InputError(f"{path} is a directory, not a {kind}")
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"{path} is not a regular file (a device, a pipe or a socket); edgeseq reads a {kind} "
                             "only from a file")
        if info.st_size > cap:
            raise InputError(f"{path} is {size_text(info.st_size)}; edgeseq reads a {kind} of at most "
                             f"{size_text(cap)}")
        chunks, total = [], 0
        while total <= cap:
            chunk = os.read(fd, min(1 << 24, cap + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > cap:
            raise InputError(f"{path} grew past {size_text(cap)} while it was read; edgeseq reads a {kind} of at "
                             f"most {size_text(cap)}")
        return b"".join(chunks)
    except OSError as error:
        raise InputError(f"{path} cannot be read: {error.strerror}") from None
    finally:
        os.close(fd)


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text} is too large for a number")
    return value


def _constant(name: str):
    raise ValueError(f"{name} is not JSON")


_SPECIAL = re.compile(r'["\\\[\]{}]')


def nesting_depth(text: str) -> int:
    """How deep objects and lists nest in JSON ``text`` (brackets inside strings ignored).

    One pass over the special characters only, no recursion, whatever the text."""
    depth = deepest = 0
    in_string = escaped = False
    last = -2
    for match in _SPECIAL.finditer(text):
        char, at = match.group(), match.start()
        if in_string:
            if escaped:
                escaped = False
                if at == last + 1:  # this very character is the escaped one
                    last = at
                    continue
            if char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            last = at
            continue
        if char == '"':
            in_string, escaped = True, False
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
        last = at
    return deepest


def load_document(text: str, where: str) -> Any:
    """A model's metadata text parsed, refusing before parsing what is too long or too deep."""
    if not isinstance(text, str):
        raise ModelFileError(f"{where}: its edgeseq metadata is not text")
    if len(text) > MAX_META_CHARS:
        raise ModelFileError(f"{where}: its edgeseq metadata is {len(text):,} characters long; "
                             f"edgeseq reads at most {MAX_META_CHARS:,}")
    depth = nesting_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise ModelFileError(f"{where}: its edgeseq metadata nests {depth} levels deep; "
                             f"edgeseq reads at most {MAX_JSON_DEPTH}")
    try:
        return json.loads(text, parse_float=_finite, parse_constant=_constant)
    except (ValueError, RecursionError):
        raise ModelFileError(f"{where}: its edgeseq metadata is not valid JSON") from None


def parse_json(text: str | bytes, where: str, cap: int = MAX_JSON_BYTES, depth: int = MAX_JSON_DEPTH) -> Any:
    """A JSON document from ``where``, refused in one line before parsing when it is longer
    than ``cap`` or nests deeper than ``depth``; NaN, infinities and numbers beyond float
    (1e400) are refused too."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InputError(f"{where} is not UTF-8 JSON") from None
    if len(text) > cap:
        raise InputError(f"{where} is {len(text):,} characters long; edgeseq reads at most {cap:,}")
    deepest = nesting_depth(text)
    if deepest > depth:
        raise InputError(f"{where} nests {deepest} levels deep; edgeseq reads at most {depth}")
    try:
        return json.loads(text, parse_float=_finite, parse_constant=_constant)
    except (ValueError, RecursionError) as error:
        detail = str(error).splitlines()[0][:120] if str(error) else type(error).__name__
        raise InputError(f"{where} is not valid JSON ({detail})") from None


def read_json_file(path: str | Path, cap: int = MAX_JSON_BYTES, depth: int = MAX_JSON_DEPTH) -> Any:
    """``parse_json`` of the regular file ``path`` (read through ``read_file_bytes``)."""
    return parse_json(read_file_bytes(path, cap, "JSON file"), str(path), cap, depth)


class Fields:
    """The keys of one JSON object, each read with its type and range, a failure naming the file
    and the field: ``Fields(doc, "state.json").int("epoch", 1, 10**6)``."""

    def __init__(self, doc: Any, where: str, prefix: str = ""):
        self.where, self.prefix = where, prefix
        if not isinstance(doc, dict):
            what = f"{prefix.rstrip('.')!r} " if prefix else ""
            raise InputError(f"{where}: {what}must be a JSON object, found {type(doc).__name__}")
        self.doc = doc

    def fail(self, key: str, what: str) -> InputError:
        value = self.doc.get(key, None)
        got = "it is missing" if key not in self.doc else f"got {shown(value)}"
        return InputError(f"{self.where}: '{self.prefix}{key}' must be {what}, {got}")

    def get(self, key: str, check, what: str, optional: bool = False):
        if key not in self.doc and optional:
            return None
        value = self.doc.get(key)
        if key not in self.doc or not check(value):
            raise self.fail(key, what)
        return value

    def int(self, key: str, lo: int, hi: int, optional: bool = False) -> int | None:
        return self.get(key, lambda v: _is_int(v) and lo <= v <= hi, f"a whole number from {lo} to {hi}", optional)

    def number(self, key: str, optional: bool = False) -> float | None:
        return self.get(key, _is_number, "a number", optional)

    def text(self, key: str, optional: bool = False) -> str | None:
        return self.get(key, lambda v: isinstance(v, str), "text", optional)

    def object(self, key: str, optional: bool = False) -> Fields | None:
        value = self.get(key, lambda v: isinstance(v, dict), "a JSON object", optional)
        return None if value is None else Fields(value, self.where, f"{self.prefix}{key}.")

    def numbers(self, key: str, length: int | None = None) -> list[float]:
        what = "a list of numbers" + (f" ({length} of them)" if length is not None else "")
        return self.get(key, lambda v: isinstance(v, list) and all(map(_is_number, v))
                        and (length is None or len(v) == length), what)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
