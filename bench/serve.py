"""``edgeseq serve`` under load: the batching server beside the same server with batching off.

    PYTHONPATH=. python -m bench.serve            # full: writes bench/SERVING.md (about 25 minutes)
    PYTHONPATH=. python -m bench.serve --smoke    # about a minute: a tiny model, one request per client

Each model (the bench's 2x128 LSTM from bench/models.py, and the shipped ship model) is
served by two ``edgeseq serve`` processes in turn, batching on and off, on 127.0.0.1 with
one onnxruntime thread. A bounded asyncio client of our own opens 1, 4, 16, 64 and 256
concurrent connections; each streams ``ROUNDS`` requests of 200 characters, one after the
other. Measured per level: aggregate characters/s (all characters over the wall time), time
to first character (request sent to first text line) p50/p99, per-stream characters/s p50
(200 over request-to-end), and the server's RSS and CPU (from /proc). Then forecasts/s of
the shipped stock model at 1 and 64 clients (kept-alive connections), and a soak: 16
streams for ``SOAK`` seconds against the batching server, its RSS sampled throughout.
The client runs on the same machine: on 2 cores it competes with the server for the CPU.
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


async def streams(server: ServerProcess, clients: int, rounds: int, prompt: str) -> dict:
    request = post("/v1/generate", json.dumps({"prompt": prompt, "length": CHARS, "stream": True}).encode())

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


async def soak(server: ServerProcess, seconds: float, prompt: str) -> list[tuple[float, float]]:
    """16 streams looping for ``seconds``; (elapsed, RSS MB) sampled 60 times."""
    request = post("/v1/generate", json.dumps({"prompt": prompt, "length": CHARS, "stream": True}).encode())
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


def measure(models: dict[str, tuple[Path, str]], smoke: bool, log) -> dict:
    rounds, soak_seconds = (1, 6.0) if smoke else (3, 600.0)
    rows = []
    for name, (model, prompt) in models.items():
        for batching in (True, False):
            server = ServerProcess(model, *([] if batching else ["--no-batching"]))
            try:
                for clients in LEVELS:
                    log(f"{name}, batching {'on' if batching else 'off'}, {clients} streams ...")
                    rows.append({"model": name, "batching": batching,
                                 **asyncio.run(streams(server, clients, rounds, prompt))})
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
    name, (model, prompt) = next(iter(models.items()))
    server = ServerProcess(model)
    try:
        log(f"soak: 16 streams for {soak_seconds:.0f} s ...")
        samples = asyncio.run(soak(server, soak_seconds, prompt))
    finally:
        server.stop()
    return {"rows": rows, "forecasts": forecast_rates, "soak": samples, "soak_model": name}


def report(info: dict, results: dict, smoke: bool, seconds: float) -> str:
    rows = results["rows"]
    by = {(r["model"], r["batching"], r["streams"]): r for r in rows}
    main_model = rows[0]["model"]
    ratio = by[(main_model, True, 64)]["aggregate"] / by[(main_model, False, 64)]["aggregate"]
    p99 = by[(main_model, True, 64)]["ttfc_p99"] * 1e3
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
              f"| 64 streams, {main_model}: batching ÷ no batching, aggregate chars/s | {ratio:.2f} | ≥ 4 | "
              f"{verdict(ratio >= 4)} |",
              f"| 64 streams, {main_model}, batching: time to first char p99 | {p99:.1f} ms | ≤ 50 ms | "
              f"{verdict(p99 <= 50)} |",
              f"| soak, 16 streams, {len(samples)} samples: largest RSS change from the first tenth | "
              f"{100 * swing:.1f}% | ≤ 10% | {verdict(swing <= 0.10)} |"]
    lines += ["", f"## Streams of {CHARS} characters", "",
              "| model | batching | streams | aggregate chars/s | first char p50 | first char p99 | per-stream chars/s "
              "p50 | server RSS | server CPU |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {'on' if r['batching'] else 'off'} | {r['streams']} | {r['aggregate']:,.0f} | "
                     f"{r['ttfc_p50'] * 1e3:.1f} ms | {r['ttfc_p99'] * 1e3:.1f} ms | {r['per_stream']:,.0f} | "
                     f"{r['rss']:.0f} MB | {r['cpu']:.0f}% |")
    lines += ["", "## Forecasts (shipped stock model, 60-row CSV bodies, kept-alive connections)", "",
              "| clients | forecasts/s |", "|---|---|"]
    lines += [f"| {c} | {rate:,.0f} |" for c, rate in results["forecasts"].items()]
    lines += ["", f"## Soak: 16 streams on {results['soak_model']}, batching on", "",
              f"RSS over the first tenth {reference:.1f} MB; lowest {min(r for _, r in samples):.1f} MB, highest "
              f"{max(r for _, r in samples):.1f} MB, last {samples[-1][1]:.1f} MB "
              f"({samples[-1][0]:.0f} s in).", ""]
    return "\n".join(lines)


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
        served = {label: (char.onnx, models.ALPHABET[:12]), "ship (shipped)": (REPO / "exported" / "ship.onnx", "the sea")}
        results = measure(served, args.smoke, log)
    text = report(info, results, args.smoke, time.perf_counter() - started)
    print(text)
    out = args.out or (None if args.smoke else HERE / "SERVING.md")
    if out is not None:
        write_text(out, text, force=True)
        print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
