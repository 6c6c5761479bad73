"""The little HTTP/1.1 the server speaks, read strictly and written plainly.

A request is a head of at most ``head_limit`` bytes (ASCII, no folded lines, at most
``MAX_HEADERS`` fields) and a body of exactly Content-Length bytes: a chunked body is
refused rather than parsed, and a Content-Length given twice must agree. Anything else is
an ``HttpError``: a status and a one-line message, sent as ``{"error": ...}``. An answer
has a Content-Length and may keep the connection; a stream has none and closes it at its
end (every HTTP/1.x client reads such a body until the close).
"""
from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from http import HTTPStatus

MAX_HEADERS = 64
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_TARGET = re.compile(r"^/[\x21-\x7e]*$")


class HttpError(Exception):
    """A request the server answers with ``status`` and ``{"error": message}``; ``headers``
    go with it (Retry-After, Allow); ``close``: the connection ends after it."""

    def __init__(self, status: int, message: str, headers: dict | None = None, close: bool = False):
        super().__init__(message)
        self.status, self.message, self.headers, self.close = status, message, headers or {}, close


@dataclass
class HttpRequest:
    method: str
    path: str
    query: str
    version: str
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""

    @property
    def keep_alive(self) -> bool:
        connection = self.headers.get("connection", "").lower()
        return "close" not in connection if self.version == "HTTP/1.1" else "keep-alive" in connection

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


async def read_head(reader: asyncio.StreamReader) -> HttpRequest | None:
    """The next request's head, or None when the client closed before sending a byte. The
    reader's own limit bounds the head (``asyncio.start_server(limit=...)``)."""
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as e:
        if not e.partial.strip():
            return None
        raise HttpError(400, "the request ended before its head did", close=True) from None
    except asyncio.LimitOverrunError:
        raise HttpError(431, "the request head is too large", close=True) from None
    return parse_head(raw)


def parse_head(raw: bytes) -> HttpRequest:
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise HttpError(400, "the request head is not ASCII", close=True) from None
    lines = text[:-4].split("\r\n")
    while lines and not lines[0]:  # blank lines before a request are allowed (RFC 9112, 2.2)
        lines.pop(0)
    parts = lines[0].split(" ") if lines else []
    if len(parts) != 3 or not _TOKEN.match(parts[0]) or parts[2] not in ("HTTP/1.1", "HTTP/1.0"):
        raise HttpError(400, "not an HTTP/1.1 request line", close=True)
    method, target, version = parts
    if not _TARGET.match(target):
        raise HttpError(400, "the request target must be a path starting with /", close=True)
    if len(lines) - 1 > MAX_HEADERS:
        raise HttpError(431, f"more than {MAX_HEADERS} header fields", close=True)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not _TOKEN.match(name) or any(c in value for c in "\r\n\0"):
            raise HttpError(400, "a header line is not 'Name: value'", close=True)
        name, value = name.lower(), value.strip(" \t")
        if name in headers and name != "content-length":
            headers[name] = f"{headers[name]}, {value}"
        elif name in headers and headers[name] != value:
            raise HttpError(400, "two different Content-Length headers", close=True)
        else:
            headers[name] = value
    path, _, query = target.partition("?")
    return HttpRequest(method, path, query, version, headers)


def content_length(request: HttpRequest) -> int:
    """The body's length from the head (0 when there is none), refusing what this server does not read."""
    if "transfer-encoding" in request.headers:
        raise HttpError(411, "Transfer-Encoding is not supported; send the body with a Content-Length", close=True)
    value = request.headers.get("content-length")
    if value is None:
        return 0
    if not value.isdigit() or len(value) > 18:
        raise HttpError(400, "Content-Length must be a whole number of bytes", close=True)
    return int(value)


def answer(status: int, body: bytes, content_type: str, keep_alive: bool, headers: dict | None = None) -> bytes:
    """A whole response: head and body."""
    fields = {"Content-Type": content_type, "Content-Length": str(len(body)),
              "Connection": "keep-alive" if keep_alive else "close", **(headers or {})}
    return _head(status, fields) + body


def stream_head(content_type: str) -> bytes:
    """The head of a streamed response: its body ends when the connection closes."""
    return _head(200, {"Content-Type": content_type, "Cache-Control": "no-store", "Connection": "close"})


def json_answer(status: int, doc, keep_alive: bool, headers: dict | None = None) -> bytes:
    return answer(status, json_line(doc), "application/json", keep_alive, headers)


def json_line(doc) -> bytes:
    """One line of JSON (non-ASCII characters escaped), ending in a newline."""
    return (json.dumps(doc, separators=(",", ":")) + "\n").encode("ascii")


def _head(status: int, fields: dict) -> bytes:
    reason = HTTPStatus(status).phrase
    return (f"HTTP/1.1 {status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items())
            + "\r\n").encode("ascii")
