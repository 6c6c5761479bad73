"""``edgeseq serve`` as a real process on 127.0.0.1, driven by real HTTP clients: the texts it
serves, its answers to bad requests, and how it holds up when clients leave, read slowly,
crowd it, or it is told to stop."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import EXPORTED, REPO, cli, copy_set
from serve_client import ServerProcess, proc_counts, text_of

SAMPLE_ROWS = (EXPORTED / "sample_prices.csv").read_text().splitlines()


@pytest.fixture(scope="module")
def server():
    process = ServerProcess("--max-length", "20000")
    yield process
    assert process.stop() == 0
    assert not any("Traceback" in line for line in process.log), "".join(process.log)


def run_char(prompt: str, length: int, *options: str) -> str:
    result = cli("run", "char", "--prompt", prompt, "--length", str(length), *options)
    assert result.exit_code == 0, result.output
    return result.stdout.removesuffix("\n")


SETTINGS = [  # (request fields, the same for `edgeseq run char`)
    ({}, ()),
    ({"temperature": 0.8, "top_k": 5, "seed": 3}, ("--temperature", "0.8", "--top-k", "5", "--seed", "3")),
    ({"context": "stateful"}, ("--context", "stateful")),
    ({"context": "stateful", "temperature": 1.3, "seed": 11}, ("--context", "stateful", "--temperature", "1.3",
                                                               "--seed", "11")),
]


@pytest.mark.slow
@pytest.mark.parametrize("fields,options", SETTINGS)
def test_a_text_is_the_same_alone_among_31_others_and_from_run_char(server, fields, options):
    prompt, length = "the sea", 300
    expected = run_char(prompt, length, *options)
    assert len(expected) == length
    assert server.generate(prompt=prompt, length=length, **fields)["text"] == expected
    assert text_of(server.stream(prompt=prompt, length=length, **fields)) == expected
    # 31 others at once: other prompts, lengths and settings, some sharing this request's call
    others = [{"prompt": p, "length": n, **f} for p, n, f in zip(
        ["if you", "ship", "s", "the wind and the sea were", "wood"] * 7, [100, 300, 250, 500, 40, 301] * 6,
        [{}, {"temperature": 0.8, "top_k": 5, "seed": 9}, {"context": "stateful"}, {"temperature": 2.0},
         {"context": "stateful", "temperature": 1.3, "seed": 5}] * 7)][:31]
    calls_before = server.metric("edgeseq_batch_rows_count")
    start = threading.Barrier(32)

    def one(body):
        start.wait()
        return text_of(server.stream(**body))

    with ThreadPoolExecutor(32) as pool:
        futures = [pool.submit(one, body) for body in [{"prompt": prompt, "length": length, **fields}, *others]]
        texts = [f.result() for f in futures]
    assert texts[0] == expected
    assert [len(t) for t in texts[1:]] == [o["length"] for o in others]
    # they were served together: far fewer calls than one per request per round
    rounds = max(o["length"] for o in others) // 16 + 1
    assert server.metric("edgeseq_batch_rows_count") - calls_before < 32 * rounds / 2


def test_a_forecast_is_what_run_stock_json_prints(server):
    result = cli("run", "stock", "--json")
    assert result.exit_code == 0
    expected = {k: v for k, v in json.loads(result.stdout).items() if k not in ("model", "csv")}
    status, _, data = server.request("POST", "/v1/forecast", "\n".join(SAMPLE_ROWS).encode(),
                                     {"Content-Type": "text/csv"})
    assert status == 200 and json.loads(data) == {"model": "stock", **expected}
    header = SAMPLE_ROWS[1].split(",")
    rows = [dict(zip(header, (c if i == 0 else float(c) for i, c in enumerate(line.split(",")))))
            for line in SAMPLE_ROWS[-40:]]
    status, _, data = server.request("POST", "/v1/forecast", {"model": "stock", "rows": rows})
    assert status == 200 and json.loads(data) == {"model": "stock", **expected}


def test_the_python_client_of_the_docs_prints_the_stream(server):
    page = (REPO / "docs" / "serve.md").read_text()
    client = page.split("```python\n")[1].split("```")[0]
    assert len(client.strip().splitlines()) <= 11  # the ten-line client (and its import line)
    done = subprocess.run([sys.executable, "-c", client.replace(":8080/", f":{server.port}/")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    text, last = done.stdout.rsplit("\n[", 1)
    assert text == run_char("the sea", 200) and last.startswith("length] 200 chars in ")


def test_models_health_and_metrics(server):
    status, _, data = server.request("GET", "/v1/models")
    models = json.loads(data)["models"]
    assert status == 200 and [(m["name"], m["task"], m["file"]) for m in models] == [
        ("ship", "char", "ship.onnx"), ("stock", "series", "stock.onnx")]
    info = cli("info", str(EXPORTED / "ship.onnx"), "--json")
    assert models[0]["description"] == json.loads(info.stdout)  # as `edgeseq info --json` has it
    assert models[0]["batching"] is True and models[0]["precision"] == "fp32"
    assert server.health()["status"] == "ok"
    status, headers, data = server.request("GET", "/metrics")
    text = data.decode()
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    for name in ("edgeseq_requests_total", "edgeseq_live_streams", "edgeseq_queued_streams",
                 "edgeseq_batch_rows_bucket", "edgeseq_first_char_seconds_bucket"):
        assert f"\n{name}" in text, name


def bad_requests() -> list[tuple[bytes, int, str]]:
    """(raw request, status, the start of its error): every kind of malformed or oversized request."""
    def post(body: bytes, path: str = "/v1/generate", content_type: str = "application/json") -> bytes:
        return (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode() + body

    def generate(**fields) -> bytes:
        return post(json.dumps(fields).encode())

    cases = [
        (post(b'{"prompt": "the",'), 400, "body: not valid JSON"),
        (post(b"[1, 2]"), 400, "body: must be a JSON object"),
        (post(b'{"prompt": NaN}'), 400, "body: not valid JSON"),
        (post(bytes(range(256)) * 4), 400, "body: not UTF-8"),
        (post(b"\x00\x01binary\xff" * 50, content_type="application/octet-stream"), 400, "body:"),
        (generate(length=5), 400, "prompt: missing"),
        (generate(prompt=5), 400, "prompt: must be a string"),
        (generate(prompt=""), 400, "prompt: must have at least one character"),
        (generate(prompt="THE SEA"), 400, "prompt: characters not in the model's vocabulary"),
        (generate(prompt="a" * 5000), 400, "prompt: 5000 characters, more than --max-prompt"),
        (generate(prompt="the", length="ten"), 400, "length: must be a whole number"),
        (generate(prompt="the", length=True), 400, "length: must be a whole number"),
        (generate(prompt="the", length=10**12), 400, "length: must be from 1 to 20000"),
        (post(b'{"prompt": "the", "length": 1' + b"0" * 400 + b"}"), 400, "length: must be from 1 to 20000"),
        (generate(prompt="the", length=0), 400, "length: must be from 1"),
        (generate(prompt="the", temperature=-1), 400, "temperature:"),
        (generate(prompt="the", temperature="hot"), 400, "temperature:"),
        (generate(prompt="the", top_k=1.5), 400, "top_k: must be a whole number"),
        (generate(prompt="the", top_k=1000), 400, "top_k: must be from 0 to"),
        (generate(prompt="the", seed=-3), 400, "seed: must be from 0"),
        (generate(prompt="the", stream="yes"), 400, "stream: must be true or false"),
        (generate(prompt="the", context="both"), 400, "context: must be one of"),
        (generate(prompt="the", temprature=1), 400, '"temprature": unknown field'),
        (generate(prompt="the", model="nope"), 404, "model: no char model named 'nope'"),
        (generate(prompt="the", model="stock"), 404, "model: no char model named 'stock'"),
        (generate(prompt="the", model=["ship"]), 400, "model: must be a string"),
        (post(b'{"rows": "x"}', "/v1/forecast"), 400, "rows: must be a non-empty list"),
        (post(b'{"rows": [{"Close": 1}, {"Open": 2}]}', "/v1/forecast"), 400, "rows[1]: must be an object"),
        (post(b'{"rows": [{"Close": [1]}]}', "/v1/forecast"), 400, "rows[0].Close: must be a number"),
        (post(b'{"rows": [{"Close": 1}]}', "/v1/forecast"), 400, "rows:"),
        (post(b"Date,Close\n2020-01-01,abc\n", "/v1/forecast", "text/csv"), 400, "rows:"),
        (post(b"\xff\xfe", "/v1/forecast", "text/csv"), 400, "body: the CSV is not UTF-8"),
        (b"GET /v1/generate HTTP/1.1\r\nHost: x\r\n\r\n", 405, "method: /v1/generate takes POST"),
        (b"POST /health HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 405, "method: /health takes GET"),
        (b"GET /nowhere HTTP/1.1\r\n\r\n", 404, "path: no '/nowhere' here"),
        (b"GARBAGE\r\n\r\n", 400, "not an HTTP/1.1 request line"),
        (b"GET /health HTTP/9.9\r\n\r\n", 400, "not an HTTP/1.1 request line"),
        (b"GET http://x/health HTTP/1.1\r\n\r\n", 400, "the request target must be a path"),
        (b"GET /health HTTP/1.1\r\nno colon here\r\n\r\n", 400, "a header line is not"),
        (b"GET /h\xc3\xa9alth HTTP/1.1\r\n\r\n", 400, "the request head is not ASCII"),
        (b"GET /health HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n", 431, "the request head is too large"),
        (b"POST /v1/generate HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 411,
         "Transfer-Encoding is not supported"),
        (b"POST /v1/generate HTTP/1.1\r\nContent-Length: ten\r\n\r\n", 400, "Content-Length must be"),
        (b"POST /v1/generate HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n{}", 400,
         "two different Content-Length"),
    ]
    return cases


@pytest.mark.slow
def test_a_thousand_bad_requests_get_one_line_json_errors_and_the_server_serves_on(server):
    cases = bad_requests()
    huge = json.dumps({"prompt": "a" * (10 << 20)}).encode()  # a 10 MB prompt
    big = (b"POST /v1/generate HTTP/1.1\r\nContent-Type: application/json\r\n"
           + f"Content-Length: {len(huge)}\r\n\r\n".encode() + huge, 413,
           f"body: {len(huge)} bytes, more than --max-body 1048576")
    sent = [big] * 3 + [cases[i % len(cases)] for i in range(997)]

    def send(case):
        data, status, error = case
        answer = server.raw(data)
        head, _, body = answer.partition(b"\r\n\r\n")
        return head.split(b" ")[1].decode() if head else "", body, status, error

    with ThreadPoolExecutor(4) as pool:
        for got, body, status, error in pool.map(send, sent):
            assert got == str(status), (error, body)
            assert body.endswith(b"\n") and body.count(b"\n") == 1, body
            assert json.loads(body)["error"].startswith(error), (json.loads(body)["error"], error)
    assert server.generate(prompt="the sea", length=20)["text"] == run_char("the sea", 20)
    assert server.proc.poll() is None
    assert not any("Traceback" in line or "rror" in line for line in server.log), "".join(server.log)


def wait_for(condition, what: str, seconds: float = 60):
    """Poll ``condition`` (a server state) until it holds; fail saying ``what`` if it never does."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.05)


def leave_mid_stream(server, count: int) -> None:
    """``count`` clients that ask for a long stream, read its first line and hang up."""
    body = json.dumps({"prompt": "the sea", "length": 20000, "stream": True}).encode()
    request = (b"POST /v1/generate HTTP/1.1\r\nContent-Type: application/json\r\n"
               + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)

    def one(_):
        with socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
            sock.sendall(request)
            received = b""
            while b'{"text"' not in received:
                received += sock.recv(4096)
            assert received.startswith(b"HTTP/1.1 200 OK")

    with ThreadPoolExecutor(20) as pool:
        list(pool.map(one, range(count)))


@pytest.mark.slow
def test_clients_that_leave_mid_stream_free_their_rows_sockets_threads_and_memory(server):
    def settled():
        return server.health()["live_streams"]["ship"] == 0

    leave_mid_stream(server, 100)  # the first hundred warm every cache and pool up
    wait_for(settled, "every row freed")
    before = proc_counts(server.pid)
    leave_mid_stream(server, 100)
    wait_for(settled, "every row freed")
    wait_for(lambda: proc_counts(server.pid)[0] <= before[0], f"open descriptors back to {before[0]}", 20)
    fds, threads, rss = proc_counts(server.pid)
    assert threads == before[1]
    assert rss <= before[2] * 1.05, (before[2], rss)
    assert server.metric("edgeseq_dropped_streams_total") >= 200
    assert text_of(server.stream(prompt="the sea", length=30)) == run_char("the sea", 30)


@pytest.mark.slow
def test_a_slow_reader_is_dropped_and_the_others_are_served():
    process = ServerProcess("--stream-buffer", "4096", "--max-length", "100000")
    stop_reading = threading.Event()
    try:
        body = json.dumps({"prompt": "the sea", "length": 100000, "stream": True, "context": "stateful"}).encode()
        slow = socket.socket()
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.connect(("127.0.0.1", process.port))
        slow.sendall(b"POST /v1/generate HTTP/1.1\r\nContent-Type: application/json\r\n"
                     + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        got = []

        def read_slowly():  # 10 bytes a second
            try:
                while not stop_reading.is_set() and (data := slow.recv(10)):
                    got.append(data)
                    stop_reading.wait(1.0)
            except OSError:
                got.append(b"<reset>")

        reader = threading.Thread(target=read_slowly)
        reader.start()
        with ThreadPoolExecutor(8) as pool:
            texts = list(pool.map(lambda p: text_of(process.stream(prompt=p, length=500)), ["the sea", "ship"] * 4))
        assert [len(t) for t in texts] == [500] * 8
        wait_for(lambda: process.metric("edgeseq_dropped_streams_total") >= 1, "the slow reader dropped")
        assert 'reason="slow_reader"' in process.request("GET", "/metrics")[2].decode()
        assert process.health()["live_streams"]["ship"] == 0
    finally:
        stop_reading.set()
        assert process.stop() == 0
    reader.join()
    assert b'"done"' not in b"".join(got)  # it never read as far as an end


@pytest.mark.slow
def test_a_full_server_answers_503_with_retry_after():
    process = ServerProcess("--max-streams", "1", "--max-queue", "1", "--chunk", "1", "--stream-buffer", "4000000",
                            "--max-length", "100000")
    try:  # a stream of 100,000 one-character rounds outlasts the test by far
        long = {"prompt": "the sea", "length": 100000, "stream": True}
        first, second = process.connection(), process.connection()
        first.request("POST", "/v1/generate", json.dumps(long).encode())
        live = first.getresponse()  # held: a response let go closes its socket
        assert live.status == 200
        second.request("POST", "/v1/generate", json.dumps(long).encode())
        wait_for(lambda: process.health()["queued_streams"]["ship"] == 1, "the second request queued")
        status, headers, data = process.request("POST", "/v1/generate", {"prompt": "the", "length": 5})
        assert status == 503 and headers["Retry-After"] == "1"
        assert json.loads(data)["error"].startswith("server: all 1 streams and 1 queue places of ship are taken")
        live.close()
        first.close()
        assert second.getresponse().status == 200  # its turn came
        second.close()
    finally:
        assert process.stop() == 0


@pytest.mark.slow
def test_sigterm_ends_every_live_stream_with_a_last_line_and_exits_0_within_the_grace():
    grace = 0.5
    process = ServerProcess("--grace", str(grace), "--chunk", "2", "--max-length", "20000")
    started = threading.Barrier(33)

    def one(i):
        connection = process.connection()
        connection.request("POST", "/v1/generate", json.dumps(
            {"prompt": "the sea", "length": 20000, "stream": True, "temperature": 0.5 * (i % 3)}).encode())
        response = connection.getresponse()
        lines = [json.loads(response.readline())]
        started.wait()
        lines += [json.loads(line) for line in response]
        return lines

    with ThreadPoolExecutor(32) as pool:
        futures = [pool.submit(one, i) for i in range(32)]
        started.wait()  # every stream is live
        assert process.health()["live_streams"]["ship"] == 32
        signalled = time.monotonic()
        process.proc.send_signal(signal.SIGTERM)
        code = process.proc.wait(60)
        took = time.monotonic() - signalled
        streams = [f.result() for f in futures]
    assert code == 0
    for lines in streams:
        last = lines[-1]
        assert last["done"] is True and last["stop"] in ("length", "shutdown"), last
        assert last["chars"] == len(text_of(lines))
    ended = [lines[-1] for lines in streams if lines[-1]["stop"] == "shutdown"]
    assert ended and all(last["error"] == "the server is shutting down" for last in ended)
    # the server's own account of its stop holds the documented bound (grace + 1 s); the wall
    # time seen from here adds the interpreter's exit on a machine that may be loaded
    stopped = [line for line in process.log if "stopped" in line][0]
    assert float(stopped.split("stopped ")[1].split(" s")[0]) <= grace + 1.0, stopped
    assert took < grace + 1.0 + 10


def test_a_port_in_use_is_one_line_and_exit_2():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "edgeseq.cli", "serve", "--port", str(port)], cwd=REPO,
                              capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 2
    assert done.stderr == f"edgeseq: error: cannot listen on 127.0.0.1:{port}: the port is in use\n"


def test_a_damaged_model_is_refused_before_the_port_is_bound(tmp_path):
    model = copy_set("ship", tmp_path)
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    with socket.socket() as taken:  # were the port bound first, this would be the error
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "edgeseq.cli", "serve", str(model), "--port", str(port)],
                              cwd=REPO, capture_output=True, text=True, timeout=120,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
    verify = subprocess.run([sys.executable, "-m", "edgeseq.cli", "verify", str(model)], cwd=REPO,
                            capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})
    first_failure = [line for line in verify.stdout.splitlines() if line.startswith("FAIL")][0]
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1
    assert done.stderr.startswith(f"edgeseq: error: {model} fails 'edgeseq verify': {first_failure}")


@pytest.mark.slow
def test_int8_requests_are_served_one_by_one_with_the_text_run_char_gives():
    process = ServerProcess(str(EXPORTED / "ship.onnx"), "--precision", "int8")
    try:
        models = json.loads(process.request("GET", "/v1/models")[2])["models"]
        assert [(m["name"], m["precision"], m["batching"]) for m in models] == [("ship", "int8", False)]
        bodies = [{"prompt": p, "length": 120} for p in ("the sea", "if you", "ship", "wood")] * 2
        with ThreadPoolExecutor(8) as pool:
            texts = list(pool.map(lambda body: text_of(process.stream(**body)), bodies))
        for body, text in zip(bodies, texts):
            assert text == run_char(body["prompt"], 120, "--precision", "int8")
    finally:
        assert process.stop() == 0


@pytest.mark.parametrize("args,message", [
    (["--chunk", "0"], "--chunk must be from 1 to 1024 characters, got 0"),
    (["--grace", "-1"], "--grace must be 0 or more seconds, got -1.0"),
    (["--max-streams", "0"], "--max-streams must be positive, got 0"),
    (["--stream-buffer", "-5"], "--stream-buffer must be positive, got -5"),
    (["--precision", "int4"], "unknown --precision 'int4'; choose one of: fp32, int8"),
    (["no_such_model.onnx"], "no_such_model.onnx: no such file or folder"),
])
def test_bad_options_are_one_line_before_anything_is_served(args, message):
    result = cli("serve", *args, "--port", "0")
    assert result.exit_code == 2 and result.stderr == f"edgeseq: error: {message}\n"


def test_the_help_says_what_another_host_exposes():
    result = cli("serve", "--help")
    assert result.exit_code == 0
    flat = " ".join(result.stdout.split())
    assert "The default, 127.0.0.1, serves this machine only" in flat
    assert "with no password" in flat
