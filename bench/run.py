"""edgeseq's own benchmark: every figure beside its peers, measured in one run.

    cd /work/main && PYTHONPATH=. python -m bench            # full run, writes bench/RESULTS.md
    PYTHONPATH=. python -m bench --smoke --out /tmp/r.md     # seconds: tiny models, few rounds

It builds the reference models with edgeseq (bench/models.py), then measures, one thread
everywhere (onnxruntime intra-op 1, TensorFlow intra/inter-op 1, TFLite num_threads 1):

1. stateful streaming, batch 1: edgeseq's runner (generation graph), its per-step path, a
   plain per-character session.run loop, TFLite (fixed 1x1 step), TensorFlow tf.function,
   and the in-kernel floor (one onnxruntime call over 500 characters);
2. windowed generation (window 10): the same peers doing the same windowed work;
3. batch generation, 32 prompts: total characters per second;
4. time to first character;
5. the stock model (LSTM(10) over 7x5): batch-1 latency and batch-4096 throughput;
   (1, 2, 3 and 5 each with edgeseq's int8 model beside fp32, and TFLite's dynamic-range
   int8 as its peer)
6. cold start of ``edgeseq run char --length 1`` against ``python -c "import tensorflow"``
   and a bare ``python -c "import onnxruntime"`` (interleaved processes);
7. export time per model and file sizes (fp32 and int8, with the int8 models' measured cost);

and writes the tables, the ratios and the targets of GitHub issue 5 to RESULTS.md.

The measurements live beside this file, one module for each kind of work: ``char_peers``
(sections 1 to 4), ``stock_peers`` (5), ``cold_start`` (6), ``report`` (the text of
RESULTS.md), ``workload`` (the full and smoke sizes), ``models`` and ``timing``.
This file only runs them in order and writes what ``report`` makes of them.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from bench import models  # noqa: E402
from bench.char_peers import batch_blocks, char_peers, first_character, stateful_blocks, window_blocks  # noqa: E402
from bench.cold_start import cold_start  # noqa: E402
from bench.report import report  # noqa: E402
from bench.stock_peers import stock_blocks  # noqa: E402
from bench.timing import interleaved, machine  # noqa: E402
from bench.workload import Sizes  # noqa: E402
from edgeseq.atomic import write_text  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def file_sizes(char, stock, p, stock_info) -> dict[str, int]:
    """Bytes of every file the run built, and of the shipped models where the checkout has them."""
    sizes = {**{f"char/{k}": v for k, v in char.files.items()},
             **{f"char/{k}": v for k, v in p["tflite_bytes"].items()},
             **{f"stock/{k}": v for k, v in stock.files.items()},
             **{f"stock/{k}": v for k, v in stock_info["tflite_bytes"].items()}}
    for name in ("ship.onnx", "ship.fixed.onnx", "ship.gen.onnx", "ship.int8.onnx", "ship.int8.gen.onnx", "stock.onnx",
                 "stock.int8.onnx"):
        if (REPO / "exported" / name).exists():
            sizes[f"shipped/{name}"] = (REPO / "exported" / name).stat().st_size
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny models and a few iterations (for the tests)")
    parser.add_argument("--out", type=Path, help="where to write the results (default: bench/RESULTS.md; "
                                                  "with --smoke, only printed unless given)")
    parser.add_argument("--work", type=Path, help="keep the built models here (default: a temporary folder)")
    args = parser.parse_args(argv)
    size = Sizes(args.smoke)
    started = time.perf_counter()
    info = machine()  # before TensorFlow starts its threads
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        log = lambda message: print(f"[bench {time.perf_counter() - started:6.1f}s] {message}", file=sys.stderr)  # noqa: E731
        log("building the char reference model with edgeseq (train + export) ...")
        char = models.build_char(work, args.smoke)
        log("building the stock reference model with edgeseq (train + export) ...")
        stock = models.build_stock(work, args.smoke)
        log("TensorFlow and TFLite peers ...")
        p = char_peers(char, work, size)
        rng = np.random.default_rng(0)
        prompt = rng.integers(0, p["vocab"], (1, 12), dtype=np.int32)
        prompts = rng.integers(0, p["vocab"], (32, 12), dtype=np.int32)
        log("stateful streaming ...")
        stateful = interleaved(stateful_blocks(p, size, prompt), size.rounds)
        log("windowed generation ...")
        windowed = interleaved(window_blocks(p, size, prompt), size.rounds)
        log("batch generation ...")
        batched = interleaved(batch_blocks(p, size, prompts), size.rounds)
        log("time to first character ...")
        first = first_character(p, char, models.ALPHABET[:12], size)
        log("stock model ...")
        latency_peers, throughput_peers, stock_info = stock_blocks(stock, work, size)
        latency = interleaved(latency_peers, size.rounds)
        throughput = interleaved(throughput_peers, size.rounds)
        log("cold start (whole processes) ...")
        cold, cli_first, cold_conditions = cold_start(REPO, size)
        sizes = file_sizes(char, stock, p, stock_info)
        text = report(info, size, char, stock, p, stateful, windowed, batched, first, latency, throughput,
                      cold, cli_first, cold_conditions, sizes, stock_info, time.perf_counter() - started)
    print(text)
    out = args.out or (None if args.smoke else HERE / "RESULTS.md")
    if out is not None:  # a smoke run never replaces the committed results by accident
        write_text(out, text, force=True)
        print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
