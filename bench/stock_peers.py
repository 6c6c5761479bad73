"""The stock model's peers, apart from the char ones because they measure another kind of work.

The stock model answers one window per call, so its tables are about the cost of a call at
batch 1 and the throughput of one large batch, not about streaming characters.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from bench import models
from bench.sessions import ort_session
from bench.workload import Sizes


def stock_blocks(built, work: Path, size: Sizes) -> tuple[dict, dict, dict]:
    import onnxruntime as ort
    import tensorflow as tf

    from edgeseq.runtime.model_file import open_model
    from edgeseq.runtime.series_graph import SeriesGraph

    series_graph = SeriesGraph(open_model(built.onnx, "series"))
    series_graph_int8 = SeriesGraph(open_model(built.onnx, "series", precision="int8"))
    fixed = ort_session(built.onnx.with_name("stock.fixed.onnx"))
    rng = np.random.default_rng(0)
    x1 = rng.random((1, 7, 5), dtype=np.float32)
    xb = rng.random((size.big_batch, 7, 5), dtype=np.float32)
    # a bound call: names resolved once, input and output buffers bound once (IOBinding)
    out1 = np.zeros((1, 1), np.float32)
    binding = fixed.io_binding()
    values = [ort.OrtValue.ortvalue_from_numpy(a) for a in (x1, out1)]
    binding.bind_ortvalue_input(fixed.get_inputs()[0].name, values[0])
    binding.bind_ortvalue_output(fixed.get_outputs()[0].name, values[1])
    session = ort_session(built.onnx)
    in_name, out_name = session.get_inputs()[0].name, session.get_outputs()[0].name
    unrolled = ort_session(models.stock_unrolled_graph(built.run, work / "stock_unrolled.onnx"))
    want = session.run([out_name], {in_name: xb[:64]})[0]
    got = unrolled.run(["y"], {"x": xb[:64]})[0]
    assert np.abs(got - want).max() < 1e-4, "the unrolled prototype disagrees with the exported model"
    tf1, tfb = models.stock_tf_function(built.run, 1), models.stock_tf_function(built.run, size.big_batch)
    tfl1, s1, b1 = models.tflite_interpreter(tf1, work / "stock_1.tflite")
    tflb, sb, bb = models.tflite_interpreter(tfb, work / "stock_batch.tflite")
    tfl1_int8, s1_int8, b1_int8 = models.tflite_interpreter(tf1, work / "stock_1.int8.tflite", int8=True)
    tflb_int8, sb_int8, bb_int8 = models.tflite_interpreter(tfb, work / "stock_batch.int8.tflite", int8=True)
    info = {"tflite_seconds": s1 + sb + s1_int8 + sb_int8,
            "tflite_bytes": {"stock_1.tflite": b1, f"stock_{size.big_batch}.tflite": bb,
                             "stock_1.int8.tflite": b1_int8, f"stock_{size.big_batch}.int8.tflite": bb_int8}}

    def tflite_call(interpreter, x, n):
        index_in = interpreter.get_input_details()[0]["index"]
        index_out = interpreter.get_output_details()[0]["index"]

        def run():
            for _ in range(n):
                interpreter.set_tensor(index_in, x)
                interpreter.invoke()
                interpreter.get_tensor(index_out)
            return n
        return run

    def repeat(fn, n):
        def run():
            for _ in range(n):
                fn()
            return n
        return run

    t1, tb = tf.constant(x1), tf.constant(xb)
    latency = {
        "edgeseq SeriesGraph.run (dynamic graph)": repeat(lambda: series_graph.run(x1), size.stock_calls),
        "edgeseq SeriesGraph.run, int8": repeat(lambda: series_graph_int8.run(x1), size.stock_calls),
        "onnxruntime, bound call on stock.fixed.onnx (IOBinding)": repeat(lambda: fixed.run_with_iobinding(binding), size.stock_calls),
        "TFLite (1x7x5, fixed shapes)": tflite_call(tfl1, x1, size.stock_calls),
        "TFLite dynamic-range int8 (1x7x5)": tflite_call(tfl1_int8, x1, size.stock_calls),
        "TensorFlow tf.function (1x7x5)": repeat(lambda: tf1(t1).numpy(), size.stock_slow),
    }
    reps = 1 if size.smoke else 10

    def windows(fn):
        def run():
            for _ in range(reps):
                fn()
            return reps * size.big_batch
        return run

    throughput = {
        "edgeseq SeriesGraph.run (dynamic graph)": windows(lambda: series_graph.run(xb)),
        "edgeseq SeriesGraph.run, int8": windows(lambda: series_graph_int8.run(xb)),
        f"onnxruntime, one call of {size.big_batch} windows": windows(lambda: session.run([out_name], {in_name: xb})),
        "prototype: LSTM cell unrolled into matrix ops, one call (bench/models.py)":
            windows(lambda: unrolled.run(["y"], {"x": xb})),
        f"TFLite ({size.big_batch}x7x5, fixed shapes)": windows(tflite_call(tflb, xb, 1)),
        f"TFLite dynamic-range int8 ({size.big_batch}x7x5)": windows(tflite_call(tflb_int8, xb, 1)),
        f"TensorFlow tf.function ({size.big_batch}x7x5)": windows(lambda: tfb(tb).numpy()),
    }
    return latency, throughput, info
