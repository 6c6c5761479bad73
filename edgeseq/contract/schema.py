"""The rules a model's description is checked by: its size limits and one ``Kind`` per field.

Nothing in a model file is trusted. Each record (edgeseq.contract.char_meta, series_meta)
declares a field once with its kind, ``window: int = spec(Int(1, MAX_WINDOW))``; ``Record``
reads, checks and writes them all alike, and a record's ``check`` adds the rules between
fields. The JSON text itself is bounded before parsing (edgeseq.contract.reading).
"""
from __future__ import annotations

import math
import re
from dataclasses import MISSING, field, fields
from typing import Any

from edgeseq.display import shown
from edgeseq.errors import ModelFileError

MAX_NAME = 256  #: characters of one name or label (a feature, a cell, an op summary)
MAX_WINDOW = 65_536  #: characters or rows a model reads per prediction
MAX_HORIZON = 10_000
MAX_LAYERS = 64
MAX_HIDDEN = 16_384
MAX_VOCAB = 65_536
MAX_FEATURES = 1_024
#: floats one row may need for a window of states (the generation graph keeps W states)
MAX_ROW_FLOATS = 1 << 25


# ------------------------------------------------------------------ kinds of field

class Kind:
    """How one field is read (checked) from JSON and written back."""

    what = "a value"

    def read(self, value: Any, name: str, where: str) -> Any:
        raise NotImplementedError

    def write(self, value: Any) -> Any:
        return value

    def fail(self, value: Any, name: str, where: str) -> ModelFileError:
        return ModelFileError(f"{where}: {name!r} must be {self.what}, got {shown(value)}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class Int(Kind):
    def __init__(self, lo: int, hi: int):
        self.lo, self.hi = lo, hi
        self.what = f"a whole number from {lo} to {hi}"

    def read(self, value, name, where):
        if not _is_int(value) or not self.lo <= value <= self.hi:
            raise self.fail(value, name, where)
        return value


class Number(Kind):
    def __init__(self, lo: float = -math.inf):
        self.lo = lo
        self.what = "a finite number" if lo == -math.inf else f"a finite number of at least {lo:g}"

    def read(self, value, name, where):
        if (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
                or value < self.lo):
            raise self.fail(value, name, where)
        return float(value)


class Text(Kind):
    def __init__(self, choices: tuple[str, ...] | None = None, max_chars: int = MAX_NAME, nonempty: bool = False):
        self.choices, self.max_chars, self.nonempty = choices, max_chars, nonempty
        self.what = (f"one of {', '.join(choices)}" if choices else
                     f"{'non-empty ' if nonempty else ''}text of at most {max_chars} characters")

    def read(self, value, name, where):
        if (not isinstance(value, str) or len(value) > self.max_chars or (self.nonempty and not value)
                or (self.choices is not None and value not in self.choices)):
            raise self.fail(value, name, where)
        return value


class Names(Kind):
    """A list of distinct non-empty names, read as a tuple."""

    def __init__(self, max_items: int):
        self.max_items = max_items
        self.what = f"a list of 1 to {max_items} distinct non-empty names"

    def read(self, value, name, where):
        if (not isinstance(value, list) or not 1 <= len(value) <= self.max_items
                or not all(isinstance(v, str) and 0 < len(v) <= MAX_NAME for v in value)
                or len(set(value)) != len(value)):
            raise self.fail(value, name, where)
        return tuple(value)

    def write(self, value):
        return list(value)


class Numbers(Kind):
    """A list of 1 to ``max_items`` finite numbers of at least ``lo``, read as a tuple."""

    def __init__(self, max_items: int, lo: float = -math.inf):
        self.max_items, self.lo = max_items, lo
        bound = "" if lo == -math.inf else f" of at least {lo:g}"
        self.what = f"a list of 1 to {max_items} finite numbers{bound}"

    def read(self, value, name, where):
        if (not isinstance(value, list) or not 1 <= len(value) <= self.max_items
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                           and v >= self.lo for v in value)):
            raise self.fail(value, name, where)
        return tuple(float(v) for v in value)

    def write(self, value):
        return list(value)


class Choices(Kind):
    """A list of 1 to ``max_items`` values, each one of ``choices``, read as a tuple."""

    def __init__(self, choices: tuple[str, ...], max_items: int):
        self.choices, self.max_items = choices, max_items
        self.what = f"a list of 1 to {max_items} values, each one of {', '.join(choices)}"

    def read(self, value, name, where):
        if (not isinstance(value, list) or not 1 <= len(value) <= self.max_items
                or not all(isinstance(v, str) and v in self.choices for v in value)):
            raise self.fail(value, name, where)
        return tuple(value)

    def write(self, value):
        return list(value)


class Hex64(Kind):
    what = "64 lowercase hexadecimal digits (a sha256)"

    def read(self, value, name, where):
        if not isinstance(value, str) or not re.fullmatch(r"[0-9a-f]{64}", value):
            raise self.fail(value, name, where)
        return value


class FreeJson(Kind):
    """Any JSON object, carried as it is (bounded by the document's length and depth)."""

    what = "an object"

    def read(self, value, name, where):
        if not isinstance(value, dict):
            raise self.fail(value, name, where)
        return value

    def write(self, value):
        from edgeseq.display import finite_or_none

        return finite_or_none(value)  # a training metric may be NaN; JSON has no NaN


class Optional(Kind):
    """``kind``, or null (read as None)."""

    def __init__(self, kind: Kind):
        self.kind = kind
        self.what = f"{kind.what}, or null"

    def read(self, value, name, where):
        return None if value is None else self.kind.read(value, name, where)

    def write(self, value):
        return None if value is None else self.kind.write(value)


class Nested(Kind):
    """A record inside the record (its fields named 'outer.inner' in errors)."""

    def __init__(self, record: type):
        self.record = record
        self.what = "an object"

    def read(self, value, name, where):
        if not isinstance(value, dict):
            raise self.fail(value, name, where)
        return self.record.read(value, where, prefix=f"{name}.")

    def write(self, value):
        return value.fields_json()


def spec(kind: Kind, *, default: Any = MISSING, default_factory: Any = MISSING, key: str | None = None,
         kw_only: bool = False):
    """A record field read and written as ``kind`` (under ``key``, default: the field's name).
    A field with a default is optional: a file without it reads as the default. ``kw_only``
    lets a required field stand after optional ones (its place in the written JSON)."""
    metadata = {"kind": kind, "key": key}
    return field(default=default, default_factory=default_factory, metadata=metadata, kw_only=kw_only)


class Record:
    """A dataclass whose ``spec`` fields are read, checked and written by their kinds."""

    @classmethod
    def read(cls, doc: Any, where: str, prefix: str = ""):
        """The record from a JSON object, every field checked, then ``check``."""
        if not isinstance(doc, dict):
            what = prefix.rstrip(".") or "the metadata"
            raise ModelFileError(f"{where}: {what} must be a JSON object, got {type(doc).__name__}")
        values = {}
        for f in fields(cls):
            if "kind" not in f.metadata:
                continue
            key = f.metadata["key"] or f.name
            if key not in doc:
                if f.default is MISSING and f.default_factory is MISSING:
                    raise ModelFileError(f"{where}: {prefix + key!r} is missing")
                continue
            values[f.name] = f.metadata["kind"].read(doc[key], prefix + key, where)
        record = cls(**values)
        record.check(where)
        return record

    def fields_json(self) -> dict:
        """Every spec field as JSON, in declaration order; a None is left out only where
        leaving it out reads back as None (its default), else written as null."""
        doc = {}
        for f in fields(self):
            value = getattr(self, f.name)
            kind = f.metadata.get("kind")
            if kind is not None and (value is not None or (isinstance(kind, Optional) and f.default is not None)):
                doc[f.metadata["key"] or f.name] = kind.write(value)
        return doc

    def check(self, where: str) -> None:
        """Rules between fields; a failure is a ModelFileError naming the fields."""


def fail(where: str, message: str) -> ModelFileError:
    return ModelFileError(f"{where}: {message}")
