"""The benchmark runs end to end in its smoke mode and produces every row (not timings)."""
from __future__ import annotations

import pytest

from conftest import bench_smoke

ROWS = {
    "Targets": [
        "stateful streaming: edgeseq ÷ TFLite chars/s",
        "stateful streaming: edgeseq ÷ in-kernel floor throughput",
        "windowed generation: edgeseq ÷ TFLite chars/s",
        "stock batch-1 latency: edgeseq ÷ TFLite",
        "stock batch-1 latency: edgeseq ÷ TensorFlow",
        "stock batch-64 throughput: edgeseq ÷ TensorFlow",
        "int8 stateful streaming: edgeseq int8 ÷ edgeseq fp32 chars/s",
        "int8 stateful streaming: edgeseq int8 ÷ TFLite dynamic-range int8 chars/s",
        "cold start: `edgeseq run` ÷ `import tensorflow`",
        "cold start: `edgeseq run` ÷ bare `import onnxruntime`",
    ],
    "1. Stateful streaming": [
        "edgeseq runner (generation graph)", "edgeseq runner, sampled T=0.8 top-k 10",
        "edgeseq per-step path (no .gen.onnx)", "edgeseq runner, int8 (int8 generation graph)",
        "edgeseq per-step path, int8", "plain per-character session.run loop",
        "TFLite step (1x1, fixed shapes)", "TFLite dynamic-range int8 step (1x1)", "TensorFlow tf.function step",
        "in-kernel floor (one call over 500 chars)",
    ],
    "2. Windowed generation": [
        "edgeseq runner (generation graph, W staggered states)", "edgeseq per-step path (no .gen.onnx)",
        "edgeseq runner, int8 (int8 generation graph, re-reading the window)", "edgeseq per-step path, int8",
        "plain per-character session.run loop", "TFLite window (1x10, fixed shapes)",
        "TFLite dynamic-range int8 window (1x10)",
        "TensorFlow tf.function window", "window loop in a graph, re-reading W chars per char (not chosen)",
    ],
    "3. Batch generation, 32 prompts": [
        "edgeseq runner (generation graph), 32 rows", "edgeseq runner, window context, 32 rows",
        "edgeseq per-step path, 32 rows", "edgeseq runner, int8 (int8 generation graph), 32 rows",
        "plain per-character session.run loop, batch 32", "TFLite step (32x1, fixed shapes)",
        "TFLite dynamic-range int8 step (32x1)", "TensorFlow tf.function step, batch 32",
    ],
    "4. Time to first character": [
        "stateful, generation graph", "stateful, per-step path", "window, generation graph",
        "window, per-step path", "reports its first character after",
    ],
    "5. Stock model": [
        "edgeseq SeriesGraph.run (dynamic graph)", "edgeseq SeriesGraph.run, int8",
        "onnxruntime, bound call on stock.fixed.onnx (IOBinding)", "TFLite (1x7x5, fixed shapes)",
        "TFLite dynamic-range int8 (1x7x5)", "TFLite dynamic-range int8 (64x7x5)",
        "TensorFlow tf.function (1x7x5)", "onnxruntime, one call of 64 windows",
        "prototype: LSTM cell unrolled into matrix ops", "TFLite (64x7x5, fixed shapes)",
        "TensorFlow tf.function (64x7x5)",
    ],
    "6. Cold start": [
        "`edgeseq run char --length 1`", '`python -c "import tensorflow"`', '`python -c "import onnxruntime"`',
    ],
    "7. Export time and file sizes": [
        "| char (2×LSTM) |", "| stock (LSTM(10)) |", "| int8 of both |", "char/char.onnx", "char/char.fixed.onnx",
        "char/char.gen.onnx", "char/char.int8.onnx", "char/char.int8.gen.onnx", "stock/stock.onnx",
        "stock/stock.int8.onnx", "stock/stock_1.tflite", "char/char_step.int8.tflite", "stock/stock_1.int8.tflite",
    ],
    "8. int8 against fp32": [
        "| stateful streaming |", "| windowed generation |", "| batch generation, 32 rows |",
        "| stock batch-1 latency |", "| stock batch-64 throughput |", "| char.int8.onnx |", "| char.int8.gen.onnx |",
        "| stock.int8.onnx |", "| TFLite step, dynamic-range int8 |", "| shipped ship.int8.onnx |",
        "Measured cost of the bench's int8 models",
    ],
}


@pytest.mark.slow
def test_the_bench_produces_every_row(tmp_path):
    text = bench_smoke("bench", tmp_path / "RESULTS.md")
    assert text.startswith("# edgeseq benchmark results (SMOKE RUN")
    for key in ("cpu", "cores", "versions"):
        assert f"- **{key}**:" in text
    assert "onnxruntime 1." in text and "tensorflow 2." in text
    for section, rows in ROWS.items():
        start = text.index(section)
        for row in rows:
            assert row in text[start:], f"{section}: no row {row!r}"
    targets = text[text.index("## Targets"):text.index("## 1.")]
    verdicts = [line for line in targets.splitlines() if " ÷ " in line]
    assert len(verdicts) == len(ROWS["Targets"])
    assert all("**met**" in line or "**missed** by" in line for line in verdicts)
