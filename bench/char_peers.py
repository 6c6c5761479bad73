"""The char model's peers, kept together so that each table compares like with like.

Every block here hands ``bench.timing.interleaved`` a set of peers that do the same work
(the same prompt, the same number of greedy characters, the same shapes) in their own
idiom; the peers share their sessions, TensorFlow functions and TFLite interpreters, which
are built once. Changing a peer's loop changes the figure it stands for.

Over 300 lines because the four tables (stateful, windowed, batch, first character) each
need their peers side by side, fp32 and int8, in one place: split up, the peers of one
table would drift apart.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from bench import models
from bench.sessions import ort_session
from bench.timing import Timing
from bench.workload import Sizes
from edgeseq.contract import ModelFiles

WINDOW = 10


def drain(iterator) -> int:
    count = 0
    for tokens, _ in iterator:
        count += tokens.shape[1]
    return count


def generated_ids(generator, ids: np.ndarray, length: int):
    """What a request of ``generator`` runs, on rows of ids (no text): its engine's chunks."""
    from edgeseq.runtime.decoding import decode

    return decode(generator.model, list(ids), length, generator.context, generator.defaults)


def char_peers(built, work: Path, size: Sizes):
    """Everything the char tables need, built once: generators, sessions, TF and TFLite."""
    from edgeseq.runtime import CharGenerator

    p = {"gen": {}, "tf": {}, "tflite": {}}
    for precision, tag in (("fp32", ""), ("int8", "int8/")):
        for context in ("stateful", "window"):
            p["gen"][tag + context] = CharGenerator(built.onnx, context=context, precision=precision)
            p["gen"][tag + context + "/step"] = CharGenerator(built.onnx, context=context, generation=False,
                                                              precision=precision)
        assert p["gen"][tag + "stateful"].model.graph is not None, p["gen"][tag + "stateful"].why_per_step
    p["gen"]["sampled"] = CharGenerator(built.onnx, context="stateful", temperature=0.8, top_k=10, seed=0)
    p["session"] = ort_session(built.onnx)
    p["tflite_seconds"], p["tflite_bytes"] = {}, {}
    for key, batch, steps in (("step", 1, 1), ("window", 1, WINDOW), ("batch", 32, 1)):
        fn, cfg = models.char_tf_function(built.run, batch, steps)
        p["tf"][key] = fn
        for int8, tag in ((False, ""), (True, ".int8")):  # TFLite dynamic-range int8: the int8 rows' peer
            interpreter, seconds, nbytes = models.tflite_interpreter(fn, work / f"char_{key}{tag}.tflite", int8)
            name = f"{key}{tag}"
            p["tflite"][name], p["tflite_seconds"][name] = interpreter, seconds
            p["tflite_bytes"][f"char_{key}{tag}.tflite"] = nbytes
    p["cfg"] = cfg
    p["reread"] = ort_session(models.window_reread_graph(built.onnx, work / "reread.onnx", WINDOW))
    p["recurrent_only"] = ort_session(models.recurrent_only_loop(built.onnx, work / "recurrent_only.onnx"))
    p["recurrent_only/int8"] = ort_session(models.recurrent_only_loop(ModelFiles(built.onnx).int8,
                                                                      work / "recurrent_only.int8.onnx"))
    p["vocab"] = cfg.vocab_size
    return p


def tflite_names(interpreter, cfg):
    """(ids input, state input, logits output, new_state output) tensor indices of a char step."""
    ins = interpreter.get_input_details()
    ids_in = next(d["index"] for d in ins if d["dtype"] == np.int32)
    state_in = next(d["index"] for d in ins if d["dtype"] == np.float32)
    outs = sorted(interpreter.get_output_details(), key=lambda d: d["name"])
    state_shape = (cfg.state_count, cfg.hidden)
    logits = [d for d in outs if tuple(d["shape"][1:]) != state_shape or d["shape"][-1] == cfg.vocab_size]
    logits = logits[0] if len(logits) == 1 else outs[0]  # ambiguous shapes: the dict order, logits first
    state = next(d for d in outs if d["index"] != logits["index"])
    return ids_in, state_in, logits["index"], state["index"]


def stateful_blocks(p, size: Sizes, prompt: np.ndarray) -> dict:
    """Each peer generates a block of greedy characters from ``prompt`` [1, T], stateful."""
    import tensorflow as tf

    cfg, session = p["cfg"], p["session"]
    zero = np.zeros((1, cfg.state_count, cfg.hidden), np.float32)

    def edgeseq_graph():
        return drain(generated_ids(p["gen"]["stateful"], prompt, size.chars))

    def edgeseq_sampled():
        return drain(generated_ids(p["gen"]["sampled"], prompt, size.chars))

    def edgeseq_step():
        return drain(generated_ids(p["gen"]["stateful/step"], prompt, size.chars))

    def edgeseq_int8():
        return drain(generated_ids(p["gen"]["int8/stateful"], prompt, size.chars))

    def edgeseq_int8_step():
        return drain(generated_ids(p["gen"]["int8/stateful/step"], prompt, size.chars))

    def plain_loop():
        logits, state = session.run(None, {"ids": prompt, "state": zero})
        token = np.array([[logits[0, -1].argmax()]], np.int32)
        for _ in range(size.chars - 1):
            logits, state = session.run(None, {"ids": token, "state": state})
            token = np.array([[logits[0, -1].argmax()]], np.int32)
        return size.chars

    def tflite_loop(key):
        interpreter = p["tflite"][key]
        ids_in, state_in, logits_out, state_out = tflite_names(interpreter, cfg)

        def run():
            state = zero
            for t in range(prompt.shape[1]):  # the prompt, one step at a time (fixed 1x1 shapes)
                interpreter.set_tensor(ids_in, prompt[:, t:t + 1])
                interpreter.set_tensor(state_in, state)
                interpreter.invoke()
                state = interpreter.get_tensor(state_out)
            token = np.array([[interpreter.get_tensor(logits_out)[0, -1].argmax()]], np.int32)
            for _ in range(size.chars - 1):
                interpreter.set_tensor(ids_in, token)
                interpreter.set_tensor(state_in, state)
                interpreter.invoke()
                token = np.array([[interpreter.get_tensor(logits_out)[0, -1].argmax()]], np.int32)
                state = interpreter.get_tensor(state_out)
            return size.chars + prompt.shape[1] - 1
        return run

    step = p["tf"]["step"]

    def tf_loop():
        state = tf.constant(zero)
        for t in range(prompt.shape[1]):
            out = step(tf.constant(prompt[:, t:t + 1]), state)
            state = out["new_state"]
        token = int(out["logits"].numpy()[0, -1].argmax())
        for _ in range(size.slow_chars - 1):
            out = step(tf.constant([[token]], tf.int32), state)
            token, state = int(out["logits"].numpy()[0, -1].argmax()), out["new_state"]
        return size.slow_chars + prompt.shape[1] - 1

    rng = np.random.default_rng(1)
    long_ids = rng.integers(0, cfg.vocab_size, (1, 500), dtype=np.int32)

    def floor():
        session.run(None, {"ids": long_ids, "state": zero})
        return 500

    loop_feed = {"steps": np.array(size.chars, np.int64),
                 **{f"s{r}_in": np.zeros((1, 1, cfg.hidden), np.float32) for r in range(cfg.state_count)}}

    def recurrent_loop(key):
        def run():
            p[key].run(None, loop_feed)
            return size.chars
        return run

    return {"edgeseq runner (generation graph)": edgeseq_graph,
            "edgeseq runner, sampled T=0.8 top-k 10": edgeseq_sampled,
            "edgeseq per-step path (no .gen.onnx)": edgeseq_step,
            "edgeseq runner, int8 (int8 generation graph)": edgeseq_int8,
            "edgeseq per-step path, int8": edgeseq_int8_step,
            "plain per-character session.run loop": plain_loop,
            "TFLite step (1x1, fixed shapes)": tflite_loop("step"),
            "TFLite dynamic-range int8 step (1x1)": tflite_loop("step.int8"),
            "TensorFlow tf.function step": tf_loop,
            "in-kernel floor (one call over 500 chars)": floor,
            "a Loop of just the LSTM ops at time 1 (no head, no choice)": recurrent_loop("recurrent_only"),
            "a Loop of just the int8 LSTM ops (DynamicQuantizeLSTM) at time 1": recurrent_loop("recurrent_only/int8")}


def window_blocks(p, size: Sizes, prompt: np.ndarray) -> dict:
    """Each peer: every character from the last 10 characters, from a zero state."""
    import tensorflow as tf

    cfg, session = p["cfg"], p["session"]
    zero = np.zeros((1, cfg.state_count, cfg.hidden), np.float32)

    def edgeseq_graph():
        return drain(generated_ids(p["gen"]["window"], prompt, size.window_chars))

    def edgeseq_step():
        return drain(generated_ids(p["gen"]["window/step"], prompt, size.window_chars))

    def edgeseq_int8():
        return drain(generated_ids(p["gen"]["int8/window"], prompt, size.window_chars))

    def edgeseq_int8_step():
        return drain(generated_ids(p["gen"]["int8/window/step"], prompt, size.window_chars))

    def plain_loop():
        history = list(prompt[0])
        for _ in range(size.window_chars):
            logits, _ = session.run(None, {"ids": np.array([history[-WINDOW:]], np.int32), "state": zero})
            history.append(int(logits[0, -1].argmax()))
        return size.window_chars

    def tflite_loop(key):
        interpreter = p["tflite"][key]
        ids_in, state_in, logits_out, _ = tflite_names(interpreter, cfg)

        def run():
            history = list(prompt[0])
            for _ in range(size.window_chars):
                interpreter.set_tensor(ids_in, np.array([history[-WINDOW:]], np.int32))
                interpreter.set_tensor(state_in, zero)
                interpreter.invoke()
                history.append(int(interpreter.get_tensor(logits_out)[0, -1].argmax()))
            return size.window_chars
        return run

    step = p["tf"]["window"]
    tf_zero = tf.constant(zero)

    def tf_loop():
        history = list(prompt[0])
        for _ in range(size.window_slow):
            out = step(tf.constant([history[-WINDOW:]], tf.int32), tf_zero)
            history.append(int(out["logits"].numpy()[0, -1].argmax()))
        return size.window_slow

    reread = p["reread"]
    start = prompt[0, -WINDOW:].astype(np.int64)[:, None]

    def reread_loop():
        reread.run(None, {"steps": np.array(size.window_chars, np.int64), "ids": start})
        return size.window_chars

    return {"edgeseq runner (generation graph, W staggered states)": edgeseq_graph,
            "edgeseq per-step path (no .gen.onnx)": edgeseq_step,
            "edgeseq runner, int8 (int8 generation graph, re-reading the window)": edgeseq_int8,
            "edgeseq per-step path, int8": edgeseq_int8_step,
            "plain per-character session.run loop": plain_loop,
            "TFLite window (1x10, fixed shapes)": tflite_loop("window"),
            "TFLite dynamic-range int8 window (1x10)": tflite_loop("window.int8"),
            "TensorFlow tf.function window": tf_loop,
            "window loop in a graph, re-reading W chars per char (not chosen)": reread_loop}


def batch_blocks(p, size: Sizes, prompts: np.ndarray) -> dict:
    """32 prompts at once, stateful greedy: total characters (all rows) per second."""
    import tensorflow as tf

    cfg, session = p["cfg"], p["session"]
    batch = prompts.shape[0]
    zero = np.zeros((batch, cfg.state_count, cfg.hidden), np.float32)
    n = size.batch_chars

    def edgeseq_graph():
        return batch * drain(generated_ids(p["gen"]["stateful"], prompts, n))

    def edgeseq_window():
        return batch * drain(generated_ids(p["gen"]["window"], prompts, n))

    def edgeseq_step():
        return batch * drain(generated_ids(p["gen"]["stateful/step"], prompts, n))

    def edgeseq_int8():
        return batch * drain(generated_ids(p["gen"]["int8/stateful"], prompts, n))

    def plain_loop():
        logits, state = session.run(None, {"ids": prompts, "state": zero})
        for _ in range(n - 1):
            tokens = logits[:, -1].argmax(-1).astype(np.int32)[:, None]
            logits, state = session.run(None, {"ids": tokens, "state": state})
        return batch * n

    def tflite_loop(key):
        interpreter = p["tflite"][key]
        ids_in, state_in, logits_out, state_out = tflite_names(interpreter, cfg)

        def run():
            state = zero
            for t in range(prompts.shape[1]):
                interpreter.set_tensor(ids_in, np.ascontiguousarray(prompts[:, t:t + 1]))
                interpreter.set_tensor(state_in, state)
                interpreter.invoke()
                state = interpreter.get_tensor(state_out)
            for _ in range(n - 1):
                tokens = interpreter.get_tensor(logits_out)[:, -1].argmax(-1).astype(np.int32)[:, None]
                interpreter.set_tensor(ids_in, tokens)
                interpreter.set_tensor(state_in, state)
                interpreter.invoke()
                state = interpreter.get_tensor(state_out)
            return batch * n
        return run

    step = p["tf"]["batch"]

    def tf_loop():
        state = tf.constant(zero)
        for t in range(prompts.shape[1]):
            out = step(tf.constant(prompts[:, t:t + 1]), state)
            state = out["new_state"]
        for _ in range(size.slow_chars // 3 - 1):
            tokens = out["logits"].numpy()[:, -1].argmax(-1).astype(np.int32)[:, None]
            out = step(tf.constant(tokens), out["new_state"])
        return batch * (size.slow_chars // 3)

    return {"edgeseq runner (generation graph), 32 rows": edgeseq_graph,
            "edgeseq runner, window context, 32 rows": edgeseq_window,
            "edgeseq per-step path, 32 rows": edgeseq_step,
            "edgeseq runner, int8 (int8 generation graph), 32 rows": edgeseq_int8,
            "plain per-character session.run loop, batch 32": plain_loop,
            "TFLite step (32x1, fixed shapes)": tflite_loop("batch"),
            "TFLite dynamic-range int8 step (32x1)": tflite_loop("batch.int8"),
            "TensorFlow tf.function step, batch 32": tf_loop}


def first_character(p, built, prompt_text: str, size: Sizes) -> list[tuple[str, float, float]]:
    """Time to the first character: a fresh generator's first call (cold) and later calls (warm)."""
    from edgeseq.runtime import CharGenerator

    rows = []
    for context in ("stateful", "window"):
        for generation in (True, False):
            label = f"{context}, {'generation graph' if generation else 'per-step path'}"
            generator = CharGenerator(built.onnx, context=context, generation=generation)
            started = time.perf_counter()
            next(generator.request(prompt_text, 200))
            cold = time.perf_counter() - started
            warm = Timing(label)
            for _ in range(max(3, size.rounds * 3)):
                started = time.perf_counter()
                next(generator.request(prompt_text, 200))
                warm.per_unit.append(time.perf_counter() - started)
            rows.append((label, cold, warm.median))
    return rows
