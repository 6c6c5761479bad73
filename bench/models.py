"""The reference models, built with edgeseq itself, and their TensorFlow / TFLite peers.

* char: Embedding(64, 32) -> LSTM(128) x 2 -> Dense(64), the anchor's model, trained with
  edgeseq's ``train_char`` for a few epochs on generated text (seeded pseudo-words over a
  64-character alphabet), so its predictions have real margins, then exported with
  ``export_run`` (dynamic, fixed and generation graphs, all verified).
* stock: LSTM(10) over 7 days x 5 columns -> Dense(1), trained with edgeseq's
  ``train_series`` on the project's synthetic price file and exported with
  ``export_run``.

Each also gets its int8 model (NAME.int8.onnx, and for char NAME.int8.gen.onnx) from
``quantize_exported``, the code ``edgeseq export --quantize int8`` runs, with ``allow_failed``: the
bench times int8, it does not judge its cost (the smoke model is too weak to hold its
greedy text in int8); the measured cost is reported from the int8 file's metadata.

The TensorFlow peer of each is the same Keras model from the run folder, called through a
``tf.function`` with fixed shapes; the TFLite peer is that function converted with
``TFLiteConverter.from_concrete_functions`` (fixed shapes, as TFLite wants them), and its
int8 peer the same with dynamic-range quantization (``Optimize.DEFAULT``, no representative
data: int8 weights, activations quantized per call, as onnxruntime's dynamic int8).
"""
from __future__ import annotations

import io
import string
import time
from contextlib import redirect_stderr
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ALPHABET = string.ascii_lowercase + string.ascii_uppercase + string.digits + " ."  # 64 characters


@dataclass
class Built:
    run: Path
    onnx: Path
    train_seconds: float
    export_seconds: float
    files: dict[str, int] = field(default_factory=dict)  # name -> bytes
    extra: dict = field(default_factory=dict)


def generated_text(chars: int, seed: int = 0) -> str:
    """Seeded pseudo-words over the 64-character alphabet (every character appears)."""
    rng = np.random.default_rng(seed)
    letters = list(ALPHABET[:62])
    words = ["".join(rng.choice(letters, rng.integers(2, 8))) for _ in range(300)]
    text = ALPHABET
    while len(text) < chars:
        text += " " + " ".join(rng.choice(words, 50)) + "."
    return text[:chars] + ALPHABET


def build_char(work: Path, smoke: bool) -> Built:
    from edgeseq.export.exporter import export_run
    from edgeseq.training.char_training import CharModelSpec, TrainSettings, train_char

    model = CharModelSpec(cell="lstm", layers=2, hidden=16 if smoke else 128, head="dense", input="embedding",
                          embedding_dim=32)
    text = work / "pseudo_words.txt"  # a file, so that the int8 model is measured on its training text
    text.write_text(generated_text(1500 if smoke else 16000), encoding="utf-8")
    started = time.perf_counter()
    with redirect_stderr(io.StringIO()):  # the progress bar
        train_char(text.read_text(encoding="utf-8"), 10, model,
                   TrainSettings(epochs=1 if smoke else 3, lr=0.01, batch_size=256, seed=0),
                   out=work / "char_run", source=str(text))
    trained = time.perf_counter()
    out = work / "char.onnx"
    result = export_run(work / "char_run", out)
    exported = time.perf_counter()
    files = {p.name: p.stat().st_size for p in result.paths}
    files["char_run/model.keras"] = (work / "char_run" / "model.keras").stat().st_size
    built = Built(work / "char_run", out, trained - started, exported - trained, files,
                  {"checks": len(result.checklist.checks)})
    return add_int8(built)


def add_int8(built: Built) -> Built:
    """The model's int8 files beside it, made as `edgeseq export --quantize int8` makes them."""
    from edgeseq.export.int8.int8_files import quantize_exported
    from edgeseq.runtime.model_file import open_model

    started = time.perf_counter()
    with redirect_stderr(io.StringIO()):  # the checklist
        paths = quantize_exported(built.onnx, force=True, allow_failed=True)
    built.extra["int8_seconds"] = time.perf_counter() - started
    built.files.update({p.name: p.stat().st_size for p in paths})
    built.extra["int8"] = open_model(paths[0]).description.quantization
    return built


def build_stock(work: Path, smoke: bool) -> Built:
    from edgeseq.data.series import load_csv
    from edgeseq.data.synthetic import write_synthetic_csv
    from edgeseq.export.exporter import export_run
    from edgeseq.training.series_training import SeriesModelSpec, SeriesTrainSettings, train_series

    csv = write_synthetic_csv(work / "prices.csv", days=1000, seed=7)
    settings = SeriesTrainSettings(epochs=1 if smoke else 20, lr=1e-3, batch_size=32, seed=0,
                                   validation=0.2, patience=10)
    started = time.perf_counter()
    with redirect_stderr(io.StringIO()):  # the progress bar
        train_series(load_csv(csv), SeriesModelSpec(window=7, horizon=1, cell="lstm", layers=1, hidden=10,
                                                    target_mode="delta"), settings, out=work / "stock_run")
    trained = time.perf_counter()
    out = work / "stock.onnx"
    result = export_run(work / "stock_run", out)
    exported = time.perf_counter()
    files = {p.name: p.stat().st_size for p in result.paths}
    return add_int8(Built(work / "stock_run", out, trained - started, exported - trained, files))


# ---------------------------------------------------------------- TensorFlow and TFLite peers

def char_tf_function(run: Path, batch: int, time_steps: int):
    """The char model's step (ids, state) -> {logits, new_state} as a fixed-shape tf.function."""
    import tensorflow as tf

    from edgeseq.training.char_network import CharModelConfig, step_function
    from edgeseq.training.run_folder import load_run

    model, config, _ = load_run(run)
    cfg = CharModelConfig(**config["model"])
    step, _ = step_function(model, cfg, time_steps)
    spec = [tf.TensorSpec((batch, time_steps), tf.int32, name="ids"),
            tf.TensorSpec((batch, cfg.state_count, cfg.hidden), tf.float32, name="state")]
    return tf.function(step.python_function, input_signature=spec), cfg


def stock_tf_function(run: Path, batch: int):
    import tensorflow as tf

    from edgeseq.training.run_folder import load_run

    model, config, _ = load_run(run)
    spec = [tf.TensorSpec((batch, int(config["window"]), len(config["features"])), tf.float32, name="x")]
    return tf.function(lambda x: model(x, training=False), input_signature=spec)


def tflite_interpreter(fn, path: Path, int8: bool = False):
    """Convert a fixed-shape tf.function; returns (interpreter with 1 thread, seconds, bytes).
    ``int8``: dynamic-range quantization (int8 weights, activations quantized per call)."""
    import tensorflow as tf

    started = time.perf_counter()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()], fn)
    if int8:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    flat = converter.convert()
    seconds = time.perf_counter() - started
    path.write_bytes(flat)
    interpreter = tf.lite.Interpreter(model_content=flat, num_threads=1)
    interpreter.allocate_tensors()
    return interpreter, seconds, len(flat)


def window_reread_graph(step_path: Path, out: Path, window: int) -> Path:
    """The window alternative edgeseq did not choose: a Loop that re-reads the last W
    characters from a zero state for every character (W dependent steps per character),
    greedy, batch 1, built from the same step graph. For the windowed table only."""
    import onnx
    from onnx import TensorProto as T, helper, numpy_helper

    from edgeseq.export.generation.build import read_step_graph

    parts = read_step_graph(onnx.load(str(step_path)))
    n = helper.make_node
    inits = [numpy_helper.from_array(parts.table, "table"), *parts.initializers,
             numpy_helper.from_array(np.array([1], np.int64), "axis1"),
             numpy_helper.from_array(np.array([1], np.int64), "one"),
             numpy_helper.from_array(np.array([np.iinfo(np.int64).max], np.int64), "end"),
             numpy_helper.from_array(np.array([0], np.int64), "axis0")]
    body = [n("Identity", ["cond"], ["cond_out"]), n("Gather", ["table", "win"], ["x0"])]
    x = "x0"
    for i, layer in enumerate(parts.layers):
        last = i == len(parts.layers) - 1
        outs = ["" if last else f"y{i}", f"h{i}"] + ([""] if layer.op_type == "LSTM" else [])
        body.append(n(layer.op_type, [x, *layer.weights], outs, **layer.attributes))
        if not last:
            body.append(n("Squeeze", [f"y{i}", "axis1"], [f"x{i + 1}"]))
            x = f"x{i + 1}"
    h = f"h{len(parts.layers) - 1}"
    if parts.head_weight is not None:
        inits += [numpy_helper.from_array(parts.head_weight, "hw"), numpy_helper.from_array(parts.head_bias, "hb")]
        body += [n("MatMul", [h, "hw"], ["mm"]), n("Add", ["mm", "hb"], ["logits"])]
    else:
        body.append(n("Identity", [h], ["logits"]))
    body += [n("ArgMax", ["logits"], ["token"], axis=-1, keepdims=0),  # [1, 1]
             n("Concat", ["win", "token"], ["longer"], axis=0),
             n("Slice", ["longer", "one", "end", "axis0"], ["win_out"]),
             n("Identity", ["token"], ["scan"])]
    vi = helper.make_tensor_value_info
    graph = helper.make_graph(
        [n("Loop", ["steps", "", "ids"], ["final", "tokens"],
           body=helper.make_graph(body, "reread", [vi("i", T.INT64, []), vi("cond", T.BOOL, []),
                                                   vi("win", T.INT64, [window, 1])],
                                  [vi("cond_out", T.BOOL, []), vi("win_out", T.INT64, [window, 1]),
                                   vi("scan", T.INT64, [1, 1])]))],
        "window_reread", [vi("steps", T.INT64, []), vi("ids", T.INT64, [window, 1])],
        [vi("final", T.INT64, None), vi("tokens", T.INT64, None)], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(out))
    return out


def stock_unrolled_graph(run: Path, out: Path) -> Path:
    """A prototype, not shipped: the stock model with its LSTM cell written out as matrix
    ops, one copy per time step (the window is fixed), for large batches. onnxruntime's LSTM
    kernel applies the gate functions row by row (10 values per row here); written out, every
    gate is one element-wise op over [batch, 4 x hidden], and the input projection of all
    steps is one MatMul. Slower than the fused op at batch 1 (about 100 nodes). One-layer
    LSTM, delta target mode (the reference stock model)."""
    import onnx
    from onnx import TensorProto as T, helper, numpy_helper

    from edgeseq.export.graph.fuse import onnx_weights
    from edgeseq.training.run_folder import load_run

    model, config, _ = load_run(run)
    if config["model"]["layers"] != 1 or config["model"]["target_mode"] != "delta":
        raise ValueError("the prototype handles one LSTM layer in delta mode")
    _, w, r, b, attrs = onnx_weights(model.get_layer("rnn_0"))
    h, steps, features = attrs["hidden_size"], int(config["window"]), w.shape[2]
    head_w, head_b = (np.asarray(v.numpy(), np.float32) for v in model.get_layer("head").weights)
    n = helper.make_node
    consts = {"wt": w[0].T.copy(), "rt": r[0].T.copy(), "b": b[0, :4 * h] + b[0, 4 * h:], "hw": head_w, "hb": head_b,
              "split": np.array([h] * 4, np.int64), "last": np.array([steps - 1], np.int64),
              "target": np.array([config["model"]["target_index"]], np.int64), "one": np.array([1], np.int64),
              **{f"t{t}": np.array(t, np.int64) for t in range(steps)}}
    nodes = [n("Transpose", ["x"], ["xt"], perm=[1, 0, 2]), n("MatMul", ["xt", "wt"], ["xw"]),
             n("Add", ["xw", "b"], ["xwb"])]  # [steps, batch, 4h]: every input projection at once
    hidden = cell = None
    for t in range(steps):  # ONNX gate order i, o, f, c
        gates = f"g{t}"
        nodes.append(n("Gather", ["xwb", f"t{t}"], [gates], axis=0))
        if hidden is not None:
            nodes += [n("MatMul", [hidden, "rt"], [f"hr{t}"]), n("Add", [gates, f"hr{t}"], [f"gh{t}"])]
            gates = f"gh{t}"
        i, o, f, c = (f"{g}{t}" for g in "iofc")
        nodes += [n("Split", [gates, "split"], [i, o, f, c], axis=-1), n("Sigmoid", [i], [f"si{t}"]),
                  n("Sigmoid", [o], [f"so{t}"]), n("Tanh", [c], [f"tc{t}"]), n("Mul", [f"si{t}", f"tc{t}"], [f"ic{t}"])]
        if cell is None:
            cell = f"ic{t}"
        else:
            nodes += [n("Sigmoid", [f], [f"sf{t}"]), n("Mul", [f"sf{t}", cell], [f"fc{t}"]),
                      n("Add", [f"fc{t}", f"ic{t}"], [f"cell{t}"])]
            cell = f"cell{t}"
        nodes += [n("Tanh", [cell], [f"tcell{t}"]), n("Mul", [f"so{t}", f"tcell{t}"], [f"h{t}"])]
        hidden = f"h{t}"
    nodes += [n("MatMul", [hidden, "hw"], ["hm"]), n("Add", ["hm", "hb"], ["change"]),
              n("Gather", ["x", "last"], ["x_last"], axis=1), n("Gather", ["x_last", "target"], ["x_target"], axis=2),
              n("Squeeze", ["x_target", "one"], ["last_value"]), n("Add", ["change", "last_value"], ["y"])]
    graph = helper.make_graph(nodes, "stock_unrolled",
                              [helper.make_tensor_value_info("x", T.FLOAT, ["batch", steps, features])],
                              [helper.make_tensor_value_info("y", T.FLOAT, ["batch", 1])],
                              initializer=[numpy_helper.from_array(np.asarray(v), k) for k, v in consts.items()])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(out))
    return out


def recurrent_only_loop(step_path: Path, out: Path) -> Path:
    """A measuring stick, not a generator: a Loop whose body is only the recurrent ops at
    time 1 (the input row is a constant; no head, no choice). What one character costs in
    any graph loop built on onnxruntime's fused recurrent kernels, before anything else.
    Of an int8 step graph: its DynamicQuantizeLSTM ops, so the two precisions' kernels
    compare alone."""
    import onnx
    from onnx import TensorProto as T, helper, numpy_helper

    from edgeseq.export.generation.build import read_step_graph

    parts = read_step_graph(onnx.load(str(step_path)))
    n = helper.make_node
    inits = [numpy_helper.from_array(parts.table[:1][None], "x"), *parts.initializers]  # [1, 1, E]
    states = [f"s{r}" for r in range(parts.state_count)]
    body, x = [n("Identity", ["cond"], ["cond_out"])], "x"
    for layer in parts.layers:
        finals = [f"{states[r]}_out" for r in layer.state_rows]
        inputs = [x, *layer.weights, "", *(states[r] for r in layer.state_rows)]
        if layer.scales:  # int8 (DynamicQuantizeLSTM): no peepholes, then the weights' scales
            inputs += [""] * (8 - len(inputs)) + layer.scales
        body.append(n(layer.op_type, inputs, ["", *finals], domain=layer.domain or None, **layer.attributes))
        x = finals[0]
    vi = helper.make_tensor_value_info
    shape = [1, 1, parts.hidden]
    graph = helper.make_graph(
        [n("Loop", ["steps", "", *(f"{s}_in" for s in states)], [f"{s}_final" for s in states],
           body=helper.make_graph(body, "recurrent_only", [vi("i", T.INT64, []), vi("cond", T.BOOL, []),
                                                           *(vi(s, T.FLOAT, shape) for s in states)],
                                  [vi("cond_out", T.BOOL, []), *(vi(f"{s}_out", T.FLOAT, shape) for s in states)]))],
        "recurrent_only_loop", [vi("steps", T.INT64, []), *(vi(f"{s}_in", T.FLOAT, shape) for s in states)],
        [vi(f"{s}_final", T.FLOAT, shape) for s in states], initializer=inits)
    opsets = [helper.make_opsetid("", 17)] + [helper.make_opsetid(d, 1) for d in {lay.domain for lay in parts.layers} if d]
    onnx.save(helper.make_model(graph, opset_imports=opsets), str(out))
    return out
