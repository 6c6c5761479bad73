"""Chars/s of the shipped ship model in Chromium (onnxruntime-web, WebAssembly, one thread), in
Node (onnxruntime-node) and in Python (onnxruntime), and the sizes and load times of NAME.ort
against NAME.onnx: the figures of docs/web.md, measured in one run on one machine.

    PYTHONPATH=. python -m bench.web_speed [--length 2000] [--repeats 5]

Needs what the tests of tests/test_web.py need: js/node_modules (npm ci), Debian's chromium,
playwright, and the onnx package (for --ort). Each figure is the median of --repeats runs after
one warm-up run; every run generates --length characters greedily from "if you" in the model's
window context on its generation graph. Measure on an idle machine (/proc/loadavg).
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXPORTED = REPO / "exported"
PROMPT = "if you"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]

NODE = """
import * as ort from "onnxruntime-node";
import { loadCharModel } from "./edgeseq.js";
const [json, prompt, length, repeats] = process.argv.slice(1);
const model = await loadCharModel(ort, json);
const rates = [];
for (let i = 0; i <= Number(repeats); i++) {
  const generation = model.generate(prompt, { length: Number(length) });
  await generation.text();
  if (i > 0) rates.push(generation.charsPerSecond);
}
console.log(JSON.stringify(rates));
"""


def python_rates(step: Path, length: int, repeats: int) -> list[float]:
    from edgeseq.runtime import CharGenerator

    generator = CharGenerator(step)
    rates = []
    for i in range(repeats + 1):
        request = generator.request(PROMPT, length)
        request.text()
        if i:
            rates.append(request.chars_per_second)
    return rates


def node_rates(json_path: Path, length: int, repeats: int) -> list[float]:
    done = subprocess.run(["node", "--input-type=module", "-e", NODE, str(json_path), PROMPT, str(length),
                           str(repeats)], cwd=REPO / "js", capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def chromium_rates(site: Path, length: int, repeats: int) -> list[float]:
    from playwright.sync_api import sync_playwright

    server = subprocess.Popen([sys.executable, "-u", "-m", "http.server", "--bind", "127.0.0.1", "--directory",
                               str(site), "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        port = re.search(r"port (\d+)", server.stdout.readline()).group(1)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{port}/index.html")
            page.wait_for_function("document.getElementById('status').textContent === 'ready'", timeout=60_000)
            page.fill("#prompt", PROMPT)
            page.fill("#length", str(length))
            rates = []
            for i in range(repeats + 1):
                page.click("#generate")
                page.wait_for_function("document.getElementById('status').textContent.startsWith('done')",
                                       timeout=120_000)
                if i:
                    rates.append(float(page.text_content("#chars-per-second").replace(",", "")))
            browser.close()
        return rates
    finally:
        server.kill()
        server.wait()


def load_seconds(step: Path, repeats: int) -> float:
    from edgeseq.runtime import CharGenerator

    times = []
    for _ in range(repeats + 1):
        started = time.perf_counter()
        CharGenerator(step)
        times.append(time.perf_counter() - started)
    return statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--length", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    from edgeseq.cli import app
    from typer.testing import CliRunner

    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        for name in ("ship.onnx", "ship.gen.onnx", "ship.json"):
            shutil.copy(EXPORTED / name, work / name)
        step = work / "ship.onnx"
        for extra in (["--ort"], ["--web", str(work / "site")]):
            result = CliRunner().invoke(app, ["export", str(step), *extra])
            assert result.exit_code == 0, result.stderr
        print(f"load average before: {Path('/proc/loadavg').read_text().split()[:3]}")
        rates = {"Chromium (onnxruntime-web 1 thread)": chromium_rates(work / "site", args.length, args.repeats),
                 "Node (onnxruntime-node)": node_rates(work / "ship.json", args.length, args.repeats),
                 "Python (onnxruntime)": python_rates(step, args.length, args.repeats)}
        print(f"\n| runner | chars/s, median of {args.repeats} ({args.length} chars) | all runs |\n| --- | ---: | --- |")
        for runner, values in rates.items():
            print(f"| {runner} | {statistics.median(values):,.0f} | {', '.join(f'{v:,.0f}' for v in values)} |")
        print("\n| file | bytes | load (CharGenerator, median) |\n| --- | ---: | ---: |")
        for name in ("ship.onnx", "ship.ort"):
            pair = [work / name, (work / name).with_name(name.replace(".", ".gen.", 1))]
            sizes = " + ".join(f"{p.stat().st_size:,}" for p in pair)
            print(f"| {name} + {pair[1].name} | {sizes} | {load_seconds(work / name, args.repeats) * 1e3:.1f} ms |")
        print(f"\nload average after: {Path('/proc/loadavg').read_text().split()[:3]}")


if __name__ == "__main__":
    main()
