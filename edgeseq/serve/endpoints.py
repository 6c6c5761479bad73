"""What each path answers: /v1/generate, /v1/forecast, /v1/models, /health, /metrics.

A generate request becomes a ``Row`` of its model's scheduler and a ``Sink`` that takes its
text between rounds: streamed as newline-delimited JSON (one ``{"text": ...}`` line per
chunk, then one ``{"done": true, "stop": ...}`` line), or joined into one answer. The sink
is also where a row is ended early: its client left, its client reads too slowly (more
than ``stream_buffer`` bytes wait unsent: the connection is dropped), its time ran out, or
the server stops (a last line says so).
"""
from __future__ import annotations

import asyncio
import time

from edgeseq.errors import EdgeseqError
from edgeseq.runtime.sampling import Sampler
from edgeseq.serve.bodies import bad, forecast_body, generate_body
from edgeseq.serve.lanes import Row
from edgeseq.serve.wire import HttpError, HttpRequest, json_answer, json_line, stream_head

NDJSON = "application/x-ndjson"
ROUTES = {"/v1/generate": "POST", "/v1/forecast": "POST", "/v1/models": "GET", "/health": "GET", "/metrics": "GET"}
#: why a stream ended early, in its last line
WHY = {"shutdown": "the server is shutting down", "timeout": "the request took longer than --timeout",
       "error": "generation failed on the server; see its log"}


class Sink:
    """Where one row's text goes; ``done`` is set with its last document when it ends."""

    def __init__(self, server, name: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 stream: bool, deadline: float):
        self.server, self.name, self.reader, self.writer = server, name, reader, writer
        self.stream, self.deadline = stream, deadline
        self.pieces: list[str] = []
        self.pieces_sent = False
        self.chars = 0  # delivered: a row ended by the loop may have made more in a round under way
        self.done = asyncio.get_running_loop().create_future()

    def deliver(self, row: Row, text: str) -> None:
        if self.done.done():
            return
        metrics = self.server.metrics
        if self.reader.at_eof() or self.writer.transport.is_closing():
            self._drop(row, "client_gone")
            return
        if text and not self.pieces_sent and row.first_char_seconds is not None:
            metrics.observe("edgeseq_first_char_seconds", row.first_char_seconds)
            self.pieces_sent = True
        if row.stop is None and time.perf_counter() > self.deadline:
            row.stop = "timeout"
        self.chars += len(text)
        if text and self.stream:
            self.writer.write(json_line({"text": text}))
            if self.writer.transport.get_write_buffer_size() > self.server.limits.stream_buffer:
                self.writer.transport.abort()
                self._drop(row, "slow_reader")
                return
        elif text:
            self.pieces.append(text)
        if row.stop is not None:
            self._end(row)

    def _drop(self, row: Row, reason: str) -> None:
        row.stop = row.stop or reason
        self.server.metrics.add("edgeseq_dropped_streams_total", model=self.name, reason=reason)
        self.done.set_result(None)

    def _end(self, row: Row) -> None:
        if row.stop in WHY:
            self.server.metrics.add("edgeseq_dropped_streams_total", model=self.name, reason=row.stop)
        doc = finished(row, self.chars)
        if self.stream:
            self.writer.write(json_line({"done": True, **doc}))
        else:
            doc = {"model": self.name, "text": "".join(self.pieces), **doc}
        self.done.set_result(doc)


def finished(row: Row, chars: int) -> dict:
    """The stop reason and timing of an ended row that delivered ``chars``, with the line
    ``edgeseq run char`` prints."""
    seconds = row.seconds if row.seconds is not None else time.perf_counter() - row.created
    first = row.first_char_seconds
    doc = {"stop": row.stop, "chars": chars, "seconds": round(seconds, 6),
           "first_char_seconds": None if first is None else round(first, 6),
           "chars_per_second": round(chars / seconds, 1) if seconds > 0 else None}
    if row.stop in WHY:
        doc["error"] = WHY[row.stop]
    ms = seconds * 1e3
    first_text = f"; first after {first * 1e3:.2f} ms" if first is not None else ""
    doc["summary"] = f"{chars} chars in {ms:.1f} ms ({doc['chars_per_second'] or 0:,.0f} chars/s{first_text})"
    return doc


def check_route(request: HttpRequest) -> None:
    method = ROUTES.get(request.path)
    if method is None:
        raise HttpError(404, f"path: no {request.path[:60]!r} here; the paths are {', '.join(ROUTES)}")
    if request.method != method:
        raise HttpError(405, f"method: {request.path} takes {method}, not {request.method}", {"Allow": method})


def model_named(server, name: str | None, task: str):
    """The served model ``name`` of ``task`` (None: the only one of that task)."""
    of_task = [m for m in server.models.values() if m.task == task]
    if name is None:
        if len(of_task) == 1:
            return of_task[0]
        raise bad("model", f"give one of: {', '.join(m.name for m in of_task) or '(none served)'}")
    model = server.models.get(name)
    if model is None or model.task != task:
        raise HttpError(404, f"model: no {task} model named {name[:60]!r}; served: "
                             f"{', '.join(m.name for m in of_task) or '(none)'}")
    return model


async def generate(server, request: HttpRequest, reader, writer, started: float) -> bool:
    """Answer /v1/generate; True when the connection may serve another request."""
    limits = server.limits
    body = generate_body(request.body, limits.max_prompt, limits.max_length)
    served = model_named(server, body.model, "char")
    model = served.char
    context = body.context or model.description.context
    try:
        ids = model.vocab.encode(body.prompt)
        if body.top_k > len(model.vocab):
            raise EdgeseqError(f"must be from 0 to {len(model.vocab)} (the vocabulary size), got {body.top_k}")
    except EdgeseqError as e:
        raise bad("prompt" if "vocabulary:" in str(e) else "top_k", str(e)) from None
    sampler = Sampler(body.temperature, body.top_k, body.seed)
    sink = Sink(server, served.name, reader, writer, body.stream, started + limits.timeout)
    row = Row(model, ids, body.length, context, sampler, sink)
    row.created = started
    if server.stopping:
        raise HttpError(503, "server: shutting down", {"Retry-After": "1"})
    if not server.schedulers[served.name].submit(row):
        raise HttpError(503, f"server: all {limits.max_streams} streams and {limits.max_queue} queue places of "
                             f"{served.name} are taken; retry", {"Retry-After": "1"})
    if body.stream:
        _stream_socket(writer)
        writer.write(stream_head(NDJSON))
    doc = await sink.done
    server.count(request.path, 200, started)
    if body.stream or doc is None:
        return False
    writer.write(json_answer(200, doc, request.keep_alive))
    return request.keep_alive


def _stream_socket(writer) -> None:
    """A stream's kernel send buffer held small, so a slow reader shows in the transport's buffer soon."""
    import socket

    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16384)


async def forecast(server, request: HttpRequest, started: float) -> bytes:
    name, csv_text = forecast_body(request.body, request.content_type, server.limits.max_rows)
    if name is None and request.query.startswith("model="):
        name = request.query.removeprefix("model=")
    served = model_named(server, name, "series")
    loop = asyncio.get_running_loop()
    try:
        doc = await loop.run_in_executor(server.forecast_worker, _forecast, served, csv_text)
    except EdgeseqError as e:
        raise bad("rows", str(e).removeprefix("the request: ")) from None
    server.count(request.path, 200, started)
    return json_answer(200, doc, request.keep_alive)


def _forecast(served, csv_text: str) -> dict:
    forecaster = served.forecaster
    series = forecaster.read_csv("the request", text=csv_text)
    return {"model": served.name, **forecaster.forecast(series).to_json()}


def models(server) -> dict:
    return {"models": [{"name": m.name, "task": m.task, "file": m.path.name,
                        **({"batching": server.schedulers[m.name].batching, "engine": m.char.engine,
                            "precision": m.char.precision} if m.char else {}),
                        "description": m.description} for m in server.models.values()]}
