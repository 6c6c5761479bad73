"""A real ``edgeseq serve`` process on 127.0.0.1 and the plain HTTP clients the serve tests use.

The server is started on port 0 and found by the line it writes once it listens; its stderr
is kept, line by line, for the tests to read (no traceback may appear in it).
"""
from __future__ import annotations

import http.client
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time

from conftest import REPO


class ServerProcess:
    def __init__(self, *args: str, ready_seconds: float = 120):
        self.proc = subprocess.Popen([sys.executable, "-m", "edgeseq.cli", "serve", "--port", "0", *args], cwd=REPO,
                                     env={**os.environ, "PYTHONPATH": str(REPO)}, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.log: list[str] = []
        self._lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.port = None
        deadline = time.monotonic() + ready_seconds
        while self.port is None:
            line = self._lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            if line is None:
                raise AssertionError(f"the server ended before listening: {''.join(self.log)}")
            if "listening on http://127.0.0.1:" in line:
                self.port = int(line.split("127.0.0.1:")[1].split(" ")[0])

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.log.append(line)
            self._lines.put(line)
        self._lines.put(None)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)

    def request(self, method: str, path: str, body: bytes | dict | None = None,
                headers: dict | None = None) -> tuple[int, dict, bytes]:
        if isinstance(body, dict):
            body = json.dumps(body).encode()
        connection = self.connection()
        try:
            connection.request(method, path, body, {"Content-Type": "application/json", **(headers or {})})
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()

    def generate(self, **body) -> dict:
        status, _, data = self.request("POST", "/v1/generate", body)
        assert status == 200, data
        return json.loads(data)

    def stream(self, **body) -> list[dict]:
        """Every line of a streamed generation, read as it arrives."""
        connection = self.connection()
        try:
            connection.request("POST", "/v1/generate", json.dumps({**body, "stream": True}).encode(),
                               {"Content-Type": "application/json"})
            response = connection.getresponse()
            assert response.status == 200, response.read()
            assert response.getheader("Content-Type") == "application/x-ndjson"
            return [json.loads(line) for line in response]
        finally:
            connection.close()

    def health(self) -> dict:
        return json.loads(self.request("GET", "/health")[2])

    def metric(self, name: str) -> float:
        """The sum of a metric's samples (a histogram: its _count) in /metrics."""
        text = self.request("GET", "/metrics")[2].decode()
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith(name + "{") or line.startswith(name + " "))

    def raw(self, data: bytes, read_timeout: float = 60) -> bytes:
        """``data`` sent on a fresh socket as it is; everything the server answers until it closes."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=read_timeout) as sock:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
            return b"".join(chunks)


def proc_counts(pid: int) -> tuple[int, int, int]:
    """(open file descriptors, threads, resident kB) of a process, from /proc."""
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    status = dict(line.split(":", 1) for line in open(f"/proc/{pid}/status").read().splitlines() if ":" in line)
    return fds, int(status["Threads"]), int(status["VmRSS"].split()[0])


def text_of(lines: list[dict]) -> str:
    return "".join(line.get("text", "") for line in lines)
