"""The server: its limits, its connections, and how it starts and stops.

``serve`` checks the models, binds, serves until SIGTERM or Ctrl-C, then lets live streams
run for up to ``grace`` seconds and ends the rest with a last line. A connection reads one
request at a time; a body over ``max_body`` is answered 413 and read away up to ``DISCARD``
bytes, so the client sees the answer. docs/serve.md has the limits and the lifecycle.
"""
from __future__ import annotations

import asyncio
import errno
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from edgeseq.errors import EdgeseqError, InputError
from edgeseq.log import logger
from edgeseq.serve import endpoints
from edgeseq.serve.metrics import Metrics
from edgeseq.serve.scheduler import CharScheduler
from edgeseq.serve.served import Served
from edgeseq.serve.wire import HttpError, answer, content_length, json_answer, read_head

DISCARD = 64 << 20  # the most of a refused body read and thrown away
HEAD_LIMIT = 16 << 10


@dataclass(frozen=True)
class Limits:
    max_streams: int = 64  # rows generated at once, per char model
    max_queue: int = 256  # requests waiting for a row, per char model
    max_connections: int = 1024
    max_body: int = 1 << 20  # bytes
    max_prompt: int = 4096  # characters
    max_length: int = 10_000  # characters per request
    max_rows: int = 100_000  # forecast rows
    stream_buffer: int = 64 << 10  # bytes a stream may have waiting unsent before it is dropped
    timeout: float = 60.0  # seconds: reading a request, and its whole answer
    idle: float = 5.0  # seconds a kept-alive connection may wait for its next request

    def check(self) -> Limits:
        for name, value in vars(self).items():
            if not value > 0:
                raise InputError(f"--{name.replace('_', '-')} must be positive, got {value}")
        return self


def check_run_options(grace: float, chunk: int) -> None:
    if not grace >= 0:
        raise InputError(f"--grace must be 0 or more seconds, got {grace}")
    if not 1 <= chunk <= 1024:
        raise InputError(f"--chunk must be from 1 to 1024 characters, got {chunk}")


class Server:
    def __init__(self, models: dict[str, Served], limits: Limits, *, batching: bool = True, chunk: int = 16):
        self.models, self.limits = models, limits.check()
        check_run_options(0, chunk)
        self.metrics = Metrics()
        self.schedulers = {name: CharScheduler(name, m.char, self.metrics, batching=batching, chunk=chunk,
                                               max_streams=limits.max_streams, max_queue=limits.max_queue)
                           for name, m in models.items() if m.char is not None}
        self.forecast_worker = ThreadPoolExecutor(1, thread_name_prefix="edgeseq-forecast")
        self.stopping = False
        self.connections: set[asyncio.Task] = set()
        self.idle: set[asyncio.StreamWriter] = set()
        self._grace_over = asyncio.Event()

    def count(self, path: str, status: int, started: float) -> None:
        self.metrics.add("edgeseq_requests_total", endpoint=path, code=str(status))
        self.metrics.observe("edgeseq_request_seconds", time.perf_counter() - started, endpoint=path)

    # ------------------------------------------------------------------ running

    async def run(self, host: str, port: int, grace: float, ready=None) -> None:
        """Bind, serve until a signal, stop within ``grace`` seconds. ``ready(host, port)`` is
        called once the port is bound."""
        loop = asyncio.get_running_loop()
        try:
            listener = await asyncio.start_server(self._connection, host, port, limit=HEAD_LIMIT, backlog=1024)
        except OSError as e:
            why = "the port is in use" if e.errno == errno.EADDRINUSE else (e.strerror or str(e))
            raise EdgeseqError(f"cannot listen on {host}:{port}: {why}") from None
        stop = asyncio.Event()
        signals = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._signal, stop)
            signals.append(sig)
        tasks = [asyncio.create_task(s.run()) for s in self.schedulers.values()]
        bound = listener.sockets[0].getsockname()
        if ready is not None:
            ready(bound[0], bound[1])
        await stop.wait()
        listener.close()
        for writer in list(self.idle):
            writer.close()
        await self._wait_grace(grace)
        for scheduler in self.schedulers.values():
            scheduler.end_all("shutdown")
            scheduler.close()
        if self.connections:
            await asyncio.wait(self.connections, timeout=1.0)
        for task in self.connections:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.forecast_worker.shutdown(wait=False)
        for sig in signals:
            loop.remove_signal_handler(sig)

    async def _wait_grace(self, grace: float) -> None:
        """Until every connection has ended, ``grace`` seconds pass, or a second signal comes."""
        over = asyncio.create_task(self._grace_over.wait())
        try:
            deadline = time.monotonic() + grace
            while self.connections and not over.done():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                await asyncio.wait([*self.connections, over], timeout=left, return_when=asyncio.FIRST_COMPLETED)
        finally:
            over.cancel()

    def _signal(self, stop: asyncio.Event) -> None:
        if self.stopping:
            self._grace_over.set()
            return
        self.stopping, self.stop_started = True, time.monotonic()
        logger.info("edgeseq serve: stopping: no new connections; live streams may finish")
        stop.set()

    # ------------------------------------------------------------------ connections

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self.connections.add(task)
        self.metrics.set_gauge("edgeseq_open_connections", len(self.connections))
        try:
            if len(self.connections) > self.limits.max_connections or self.stopping:
                writer.write(json_answer(503, {"error": "server: too many connections; retry"}, False,
                                         {"Retry-After": "1"}))
                await asyncio.wait_for(writer.drain(), self.limits.idle)
                return
            first = True
            while not self.stopping:
                self.idle.add(writer)
                try:
                    request = await asyncio.wait_for(read_head(reader), self.limits.timeout if first
                                                     else self.limits.idle)
                finally:
                    self.idle.discard(writer)
                first = False
                if request is None:
                    return
                if not await self._answer(request, reader, writer):
                    return
                await asyncio.wait_for(writer.drain(), self.limits.timeout)
        except HttpError as e:
            await self._refuse(e, writer)
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        except asyncio.CancelledError:
            writer.transport.abort()
            raise
        finally:
            writer.close()
            try:  # until what it holds is sent (a stream's last line) or a second has passed
                await asyncio.wait_for(writer.wait_closed(), 1.0)
            except (TimeoutError, ConnectionError, OSError, asyncio.CancelledError):
                pass
            self.connections.discard(task)
            self.metrics.set_gauge("edgeseq_open_connections", len(self.connections))

    async def _answer(self, request, reader, writer) -> bool:
        """One request: True when the connection may read another."""
        started = time.perf_counter()
        try:
            endpoints.check_route(request)
            length = content_length(request)
            if length > self.limits.max_body:
                self.count(request.path, 413, started)
                await self._refuse(HttpError(413, f"body: {length} bytes, more than --max-body "
                                                  f"{self.limits.max_body}", close=True), writer, reader, length)
                return False
            request.body = await asyncio.wait_for(reader.readexactly(length), self.limits.timeout)
            if request.path == "/v1/generate":
                return await endpoints.generate(self, request, reader, writer, started)
            if request.path == "/v1/forecast":
                writer.write(await endpoints.forecast(self, request, started))
                return request.keep_alive
            writer.write(self._simple(request))
            self.count(request.path, 200, started)
            return request.keep_alive
        except HttpError as e:
            self.count(request.path if request.path in endpoints.ROUTES else "other", e.status, started)
            if e.close:
                raise
            writer.write(json_answer(e.status, {"error": e.message}, request.keep_alive, e.headers))
            return request.keep_alive

    def _simple(self, request) -> bytes:
        if request.path == "/metrics":
            return answer(200, self.metrics.text().encode(), "text/plain; version=0.0.4; charset=utf-8",
                          request.keep_alive)
        if request.path == "/v1/models":
            return json_answer(200, endpoints.models(self), request.keep_alive)
        live = {name: s.live for name, s in self.schedulers.items()}
        queued = {name: len(s.waiting) for name, s in self.schedulers.items()}
        return json_answer(200, {"status": "stopping" if self.stopping else "ok", "models": sorted(self.models),
                                 "live_streams": live, "queued_streams": queued}, request.keep_alive)

    async def _refuse(self, error: HttpError, writer, reader=None, unread: int = 0) -> None:
        """Answer ``error`` and close: what the client still sends (up to DISCARD bytes) is read
        and dropped first, so it reads the answer instead of a reset."""
        try:
            writer.write(json_answer(error.status, {"error": error.message}, False, error.headers))
            await asyncio.wait_for(writer.drain(), self.limits.idle)
            if reader is not None and unread:
                writer.write_eof()
                left = min(unread, DISCARD)
                deadline = time.monotonic() + self.limits.timeout
                while left > 0 and time.monotonic() < deadline:
                    data = await asyncio.wait_for(reader.read(min(left, 1 << 16)), self.limits.idle)
                    if not data:
                        break
                    left -= len(data)
        except (TimeoutError, ConnectionError, OSError):
            pass


def serve(models: dict[str, Served], host: str, port: int, limits: Limits, grace: float, *, batching: bool = True,
          chunk: int = 16) -> None:
    """Serve until SIGTERM or Ctrl-C (see the module docstring); the one line saying where it
    listens goes to the log once the port is bound."""
    check_run_options(grace, chunk)
    server = Server(models, limits, batching=batching, chunk=chunk)

    def ready(bound_host: str, bound_port: int) -> None:
        names = ", ".join(f"{m.name} ({m.task})" for m in models.values())
        mode = "batching on" if batching else "batching off"
        logger.info(f"edgeseq serve: listening on http://{bound_host}:{bound_port} ({names}; {mode}); "
                    "Ctrl-C or SIGTERM stops it")

    asyncio.run(server.run(host, port, grace, ready))
    logger.info(f"edgeseq serve: stopped {time.monotonic() - server.stop_started:.2f} s after the signal")
