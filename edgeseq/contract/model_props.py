"""The metadata entries of an ONNX file, read from its bytes without parsing the graph.

So every entry is held to its cap before onnxruntime copies it out: docs/design.md, "Contract".
"""
from __future__ import annotations

METADATA_PROPS = 14  # ModelProto.metadata_props
_VARINT, _FIXED64, _BYTES, _FIXED32 = 0, 1, 2, 5


class NotProtobuf(ValueError):
    """Bytes that are not a protobuf message at the top level."""


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if at >= len(data) or shift > 63:
            raise NotProtobuf("a varint runs past the end")
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, at
        shift += 7


def _fields(data: bytes, start: int = 0, end: int | None = None):
    """(field number, start, end) of every length-delimited field; others are skipped."""
    at, end = start, len(data) if end is None else end
    while at < end:
        key, at = _varint(data, at)
        number, wire = key >> 3, key & 7
        if wire == _VARINT:
            _, at = _varint(data, at)
        elif wire == _FIXED64:
            at += 8
        elif wire == _FIXED32:
            at += 4
        elif wire == _BYTES:
            size, at = _varint(data, at)
            if at + size > end:
                raise NotProtobuf("a field runs past the end")
            yield number, at, at + size
            at += size
        else:
            raise NotProtobuf(f"wire type {wire}")
        if at > end:
            raise NotProtobuf("a field runs past the end")


def metadata_entries(data: bytes) -> list[tuple[str, int, int, int]]:
    """(key, size of the value in bytes, value start, value end) of every metadata entry."""
    entries = []
    for number, start, end in _fields(data):
        if number != METADATA_PROPS:
            continue
        key, value = b"", (start, start)
        for inner, a, b in _fields(data, start, end):
            if inner == 1:
                key = data[a:b]
            elif inner == 2:
                value = (a, b)
        entries.append((key.decode("utf-8", "replace"), value[1] - value[0], *value))
    return entries


def check_metadata_sizes(data: bytes, cap: int) -> str | None:
    """Why the file's metadata cannot be read (an entry over ``cap`` bytes), or None. Bytes
    that do not walk as protobuf are left to onnxruntime, which says so in its own way."""
    try:
        entries = metadata_entries(data)
    except NotProtobuf:
        return None
    for key, size, _, _ in entries:
        if size > cap or len(key) > cap:
            return (f"its metadata entry {key[:40]!r} is {size:,} bytes; edgeseq reads entries of at most "
                    f"{cap:,}")
    return None


def metadata_text(data: bytes, key: str) -> str | None:
    """The text of the metadata entry ``key`` (None: no such entry, or not a protobuf file)."""
    try:
        entries = metadata_entries(data)
    except NotProtobuf:
        return None
    for name, _, start, end in entries:
        if name == key:
            return data[start:end].decode("utf-8", "replace")
    return None
