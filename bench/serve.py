"""``edgeseq serve`` under load: the batching server beside the same server with batching off.

    PYTHONPATH=. python -m bench.serve            # full: writes bench/SERVING.md (about 15 minutes)
    PYTHONPATH=. python -m bench.serve --smoke    # about a minute: a tiny model, one request per client

Each model and context is served by two ``edgeseq serve`` processes, batching on and off, on
127.0.0.1 with one onnxruntime thread; a bounded asyncio client opens 1 to 256 connections,
each streaming ``ROUNDS`` requests of 200 characters. Then: one 10 bytes/s reader beside 16
streams, forecasts/s at 1 and 64 clients, and a soak. docs/serve.md says what each column means.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
LEVELS = (1, 4, 16, 64, 256)
CHARS = 200


class ServerProcess:
    """``edgeseq serve MODEL`` on a free port; its RSS and CPU time from /proc."""

    def __init__(self, model: Path, *options: str):
        import subprocess

        self.proc = subprocess.Popen([sys.executable, "-m", "edgeseq.cli", "serve", str(model), "--port", "0",
                                      "--max-streams", "256", "--max-queue", "256", "--max-length", "1000",
                                      *options], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True)
        for line in self.proc.stderr:
            if "listening on http://127.0.0.1:" in line:
                self.port = int(line.split("127.0.0.1:")[1].split(" ")[0])
                return
        raise RuntimeError(f"the server did not start (exit {self.proc.wait()})")

    def rss_mb(self) -> float:
        for line in open(f"/proc/{self.proc.pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def cpu_seconds(self) -> float:
        fields = open(f"/proc/{self.proc.pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(60)


def post(path: str, body: bytes, content_type: str = "application/json") -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


async def one_stream(port: int, request: bytes) -> tuple[float, float, int]:
    """(seconds to the first character, seconds to the end, characters) of one streamed request."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        started = time.perf_counter()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(head.decode(errors="replace").splitlines()[0])
        first, chars = None, 0
        while line := await reader.readline():
            doc = json.loads(line)
            if "text" in doc:
                first = first if first is not None else time.perf_counter() - started
                chars += len(doc["text"])
            elif doc.get("done"):
                break
        return first, time.perf_counter() - started, chars
    finally:
        writer.close()


def generate_request(prompt: str, context: str, length: int = CHARS) -> bytes:
    return post("/v1/generate", json.dumps({"prompt": prompt, "length": length, "stream": True,
                                            "context": context}).encode())


async def streams(server: ServerProcess, clients: int, rounds: int, prompt: str, context: str) -> dict:
    request = generate_request(prompt, context)

    async def client() -> list:
        return [await one_stream(server.port, request) for _ in range(rounds)]

    cpu, started = server.cpu_seconds(), time.perf_counter()
    results = [r for rs in await asyncio.gather(*(client() for _ in range(clients))) for r in rs]
    wall = time.perf_counter() - started
    first = np.array([r[0] for r in results])
    return {"streams": clients, "aggregate": sum(r[2] for r in results) / wall,
            "ttfc_p50": np.percentile(first, 50), "ttfc_p99": np.percentile(first, 99),
            "per_stream": np.percentile([r[2] / r[1] for r in results], 50), "rss": server.rss_mb(),
            "cpu": 100 * (server.cpu_seconds() - cpu) / wall}


async def forecasts(port: int, clients: int, count: int, csv_text: str) -> float:
    request = post("/v1/forecast", csv_text.encode(), "text/csv")

    async def client() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(count):
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError((head + await reader.readexactly(length)).decode(errors="replace"))
            await reader.readexactly(length)
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return clients * count / (time.perf_counter() - started)


def read_slowly(port: int, request: bytes, stop) -> None:
    """A client reading 10 bytes a second, request after request, until ``stop`` is set (a stream
    the server drops for its backlog is followed by the next request)."""
    import socket

    while not stop.is_set():
        with socket.socket() as slow:
            slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            slow.connect(("127.0.0.1", port))
            slow.sendall(request)
            try:
                while not stop.is_set() and slow.recv(10):
                    stop.wait(1.0)
            except OSError:
                pass


async def with_slow_reader(server: ServerProcess, seconds: float, prompt: str, context: str, slow: bool) -> float:
    """Aggregate chars/s of 16 streams looping for ``seconds``, beside a 10 bytes/s reader or not."""
    import threading

    request, end, chars = generate_request(prompt, context), time.monotonic() + seconds, []
    stop = threading.Event()
    reader = threading.Thread(target=read_slowly, args=(server.port, generate_request(prompt, context, 1000), stop))
    if slow:
        reader.start()

    async def client() -> None:
        while time.monotonic() < end:
            chars.append((await one_stream(server.port, request))[2])

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(16)))
    rate = sum(chars) / (time.perf_counter() - started)
    stop.set()
    if slow:
        reader.join()
    return rate


async def soak(server: ServerProcess, seconds: float, prompt: str, context: str) -> list[tuple[float, float]]:
    """16 streams looping for ``seconds``; (elapsed, RSS MB) sampled 60 times."""
    request = generate_request(prompt, context)
    end = time.monotonic() + seconds

    async def client() -> None:
        while time.monotonic() < end:
            await one_stream(server.port, request)

    async def sample() -> list:
        started, samples = time.monotonic(), []
        while time.monotonic() < end:
            await asyncio.sleep(seconds / 60)
            samples.append((time.monotonic() - started, server.rss_mb()))
        return samples

    *_, samples = await asyncio.gather(*(client() for _ in range(16)), sample())
    return samples


def measure(models: list[tuple[str, Path, str, str]], smoke: bool, log) -> dict:
    """``models``: (name, file, prompt, context); the first is the one the targets are about."""
    rounds, soak_seconds, slow_seconds = (1, 2.0, 0.5) if smoke else (3, 600.0, 10.0)
    rows = []
    for name, model, prompt, context in models:
        for batching in (True, False):
            server = ServerProcess(model, *([] if batching else ["--no-batching"]))
            try:
                for clients in LEVELS:
                    log(f"{name}, {context}, batching {'on' if batching else 'off'}, {clients} streams ...")
                    rows.append({"model": name, "context": context, "batching": batching,
                                 **asyncio.run(streams(server, clients, rounds, prompt, context))})
            finally:
                server.stop()
    name, model, prompt, context = models[0]
    server = ServerProcess(model)
    try:
        log("16 streams with and without a 10 bytes/s reader, three times each ...")
        slow = {False: [], True: []}
        for _ in range(3):
            for with_slow in (False, True):
                slow[with_slow].append(asyncio.run(with_slow_reader(server, slow_seconds, prompt, context, with_slow)))
    finally:
        server.stop()
    csv_lines = (REPO / "exported" / "sample_prices.csv").read_text().splitlines()
    csv_text = "\n".join(csv_lines[1:2] + csv_lines[-60:]) + "\n"
    server = ServerProcess(REPO / "exported" / "stock.onnx")
    try:
        log("forecasts ...")
        count = 20 if smoke else 500
        forecast_rates = {c: asyncio.run(forecasts(server.port, c, max(count // c, 2), csv_text)) for c in (1, 64)}
    finally:
        server.stop()
    server = ServerProcess(model)
    try:
        log(f"soak: 16 streams for {soak_seconds:.0f} s ...")
        samples = asyncio.run(soak(server, soak_seconds, prompt, context))
    finally:
        server.stop()
    return {"rows": rows, "forecasts": forecast_rates, "soak": samples, "soak_model": f"{name}, {context}",
            "slow": slow}


def report(info: dict, results: dict, smoke: bool, seconds: float) -> str:
    rows = results["rows"]
    by = {(r["model"], r["context"], r["batching"], r["streams"]): r for r in rows}
    main_model, main_context = rows[0]["model"], rows[0]["context"]
    main = f"{main_model}, {main_context}"
    ratio = by[(main_model, main_context, True, 64)]["aggregate"] / by[(main_model, main_context, False, 64)]["aggregate"]
    p99 = by[(main_model, main_context, True, 64)]["ttfc_p99"] * 1e3
    alone, beside = (float(np.median(results["slow"][k])) for k in (False, True))
    slowdown = 1 - beside / alone
    samples = results["soak"]
    minute = max(1, len(samples) // 10)  # the first minute of a 10-minute soak: its first tenth
    reference = float(np.mean([rss for _, rss in samples[:minute]]))
    swing = max(abs(rss / reference - 1) for _, rss in samples)
    title = "# edgeseq serve under load" + (" (SMOKE RUN: tiny model, figures mean nothing)" if smoke else "")
    lines = [title, "", f"Made by `PYTHONPATH=. python -m bench.serve` in {seconds:.0f} s. The server runs one "
             "onnxruntime thread per model; the load generator (asyncio, this process) shares the machine.", "",
             "## Machine", ""] + [f"- **{k}**: {v}" for k, v in info.items()]
    verdict = lambda ok: "**met**" if ok else "**missed**"  # noqa: E731
    lines += ["", "## Targets (issue 18)", "", "| target | measured | goal | verdict |", "|---|---|---|---|",
              f"| 64 streams, {main}: batching ÷ no batching, aggregate chars/s | {ratio:.2f} | ≥ 4 | "
              f"{verdict(ratio >= 4)} |",
              f"| 64 streams, {main}, batching: time to first char p99 | {p99:.1f} ms | ≤ 50 ms | "
              f"{verdict(p99 <= 50)} |",
              f"| 16 streams, {main}: chars/s lost beside one 10 bytes/s reader, median of 3 | "
              f"{100 * slowdown:.1f}% | ≤ 10% | {verdict(slowdown <= 0.10)} |",
              f"| soak, 16 streams, {len(samples)} samples: largest RSS change from the first tenth | "
              f"{100 * swing:.1f}% | ≤ 10% | {verdict(swing <= 0.10)} |"]
    lines += ["", f"## Streams of {CHARS} characters", "",
              "| model | context | batching | streams | aggregate chars/s | first char p50 | first char p99 | "
              "per-stream chars/s p50 | server RSS | server CPU |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['context']} | {'on' if r['batching'] else 'off'} | {r['streams']} | "
                     f"{r['aggregate']:,.0f} | {r['ttfc_p50'] * 1e3:.1f} ms | {r['ttfc_p99'] * 1e3:.1f} ms | "
                     f"{r['per_stream']:,.0f} | {r['rss']:.0f} MB | {r['cpu']:.0f}% |")
    lines += ["", f"## A slow reader: 16 streams on {main}, batching on", "",
              "| run | 16 streams alone, chars/s | beside a 10 bytes/s reader, chars/s |", "|---|---|---|"]
    lines += [f"| {i + 1} | {a:,.0f} | {b:,.0f} |" for i, (a, b) in
              enumerate(zip(results["slow"][False], results["slow"][True]))]
    lines += ["", "## Forecasts (shipped stock model, 60-row CSV bodies, kept-alive connections)", "",
              "| clients | forecasts/s |", "|---|---|"]
    lines += [f"| {c} | {rate:,.0f} |" for c, rate in results["forecasts"].items()]
    lines += ["", f"## Soak: 16 streams on {results['soak_model']}, batching on", "",
              f"RSS over the first tenth {reference:.1f} MB; lowest {min(r for _, r in samples):.1f} MB, highest "
              f"{max(r for _, r in samples):.1f} MB, last {samples[-1][1]:.1f} MB "
              f"({samples[-1][0]:.0f} s in).", ""]
    return "\n".join(lines)


SECTION = "## 9. edgeseq serve"


def results_section() -> str:
    """RESULTS.md's serving section: the targets table of bench/SERVING.md, or how to make it."""
    serving = HERE / "SERVING.md"
    intro = f"{SECTION}\n\nMeasured apart; the whole report is [SERVING.md](SERVING.md)."
    if not serving.exists():
        return intro + " It has not been run on this checkout.\n"
    text = serving.read_text(encoding="utf-8")
    made = next(line for line in text.splitlines() if line.startswith("Made by"))
    targets = text[text.index("| target |"):text.index("\n## ", text.index("| target |"))].strip()
    return f"{intro} {made}\n\n{targets}\n"


def update_results() -> None:
    """Put the serving section into bench/RESULTS.md, in place of the one it has."""
    from edgeseq.atomic import write_text

    path = HERE / "RESULTS.md"
    text = path.read_text(encoding="utf-8")
    head = text[:text.index(SECTION)] if SECTION in text else text.rstrip("\n") + "\n\n"
    write_text(path, head + results_section(), force=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.serve", description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="a tiny model, one request per client, a short soak")
    parser.add_argument("--out", type=Path, help="where to write the results (default: bench/SERVING.md; "
                                                  "with --smoke, only printed unless given)")
    args = parser.parse_args(argv)
    from bench import models
    from bench.timing import machine
    from edgeseq.atomic import write_text

    started = time.perf_counter()
    log = lambda message: print(f"[bench.serve {time.perf_counter() - started:6.1f}s] {message}",  # noqa: E731
                                file=sys.stderr)
    info = machine()
    with tempfile.TemporaryDirectory() as work:
        log("building the 2x128 char model with edgeseq (train + export) ...")
        char = models.build_char(Path(work), args.smoke)
        label = "2×16 LSTM (smoke)" if args.smoke else "2×128 LSTM"
        ship = REPO / "exported" / "ship.onnx"
        served = [(label, char.onnx, models.ALPHABET[:12], "stateful"), (label, char.onnx, models.ALPHABET[:12], "window"),
                  ("ship (shipped)", ship, "the sea", "window")]
        results = measure(served, args.smoke, log)
    text = report(info, results, args.smoke, time.perf_counter() - started)
    print(text)
    out = args.out or (None if args.smoke else HERE / "SERVING.md")
    if out is not None:
        write_text(out, text, force=True)
        print(f"wrote {out}", file=sys.stderr)
        if out == HERE / "SERVING.md":
            update_results()
            print(f"wrote its targets into {HERE / 'RESULTS.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
