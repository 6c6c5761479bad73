"""Exporting a trained char model: a dynamic graph and a fixed-window graph, both verified.

The dynamic graph (ids [batch, time], state in/out) serves prompt prefill and streaming
alike. The fixed graph pins time to the training window for runtimes that want static
shapes. Before either file is written, ONNX is compared with TensorFlow on random ids and
states (batch 1 and 3, several lengths), and streaming step by step is compared with one
whole-sequence call.

Beside them goes NAME.gen.onnx, the generation graph (edgeseq.export.generation): the
character loop and the sampling inside one graph, built from the dynamic graph and checked
token for token against the runtime's per-step path. A separate file, so that the step
graph stays exactly the verified contract other tools read, and a model without one (or a
cell the builder does not know) simply runs per step.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from edgeseq.atomic import refuse_overwrite
from edgeseq.errors import ExportCheckError
from edgeseq.export.generation import DEFAULT_UNROLL
from edgeseq.export.generation_check import build_and_verify
from edgeseq.contract import CharMeta, GenerationInfo, ModelFiles, StateLayout, file_sha256
from edgeseq.export.onnx_graph import ExportResult, convert_recurrent, write_models
from edgeseq.export.verify import Checklist, session
from edgeseq.training.char_model import CharModelConfig, step_function
from edgeseq.training.run_folder import load_run

TOLERANCE = 1e-4



def describe(config: dict, metrics: dict, graph: str, model_config: CharModelConfig,
             ops: str, checklist: Checklist) -> CharMeta:
    return CharMeta(
        graph=graph, vocabulary=config["vocabulary"], cell=model_config.cell, layers=model_config.layers,
        hidden=model_config.hidden, head=model_config.head, input=model_config.input,
        window=config["window"], context=config.get("context", "window"),
        state=StateLayout(model_config.state_count, model_config.hidden, tuple(model_config.state_names())),
        recurrent_ops=ops, metrics=metrics, parity_max_abs_diff=checklist.max_diff(),
        training=config.get("training", {}), line_end=config.get("line_end"))


def check_char_parity(checklist: Checklist, tf_step, onnx_bytes: bytes, cfg: CharModelConfig,
                      times: list[int], label: str, seed: int = 0) -> None:
    """Random ids and states through TF and ONNX; and streaming vs whole sequence."""
    rng = np.random.default_rng(seed)
    sess = session(onnx_bytes)
    for batch in (1, 3):
        for time in times:
            ids = rng.integers(0, cfg.vocab_size, (batch, time), dtype=np.int32)
            state = (rng.standard_normal((batch, cfg.state_count, cfg.hidden)) * 0.5).astype(np.float32)
            want = tf_step(ids, state)
            logits, new_state = sess.run(["logits", "new_state"], {"ids": ids, "state": state})
            checklist.add(f"{label} logits    batch {batch} time {time}", logits, want["logits"], TOLERANCE)
            checklist.add(f"{label} new_state batch {batch} time {time}", new_state, want["new_state"], TOLERANCE)
    if times[0] != 1 and len(times) == 1:
        return  # a fixed graph cannot take single steps
    time = max(times)
    ids = rng.integers(0, cfg.vocab_size, (3, time), dtype=np.int32)
    state = np.zeros((3, cfg.state_count, cfg.hidden), np.float32)
    whole = sess.run(["logits"], {"ids": ids, "state": state})[0]
    streamed = []
    for t in range(time):
        step_logits, state = sess.run(["logits", "new_state"], {"ids": ids[:, t:t + 1], "state": state})
        streamed.append(step_logits)
    checklist.add(f"{label} streaming vs whole, batch 3 time {time}",
                  np.concatenate(streamed, axis=1), whole, TOLERANCE)


def check_ragged_parity(checklist: Checklist, tf_reference, onnx_bytes: bytes, cfg: CharModelConfig,
                        time: int, seed: int = 1) -> None:
    """Rows of different lengths in one padded call: ONNX lengths vs TF's masked layers."""
    rng = np.random.default_rng(seed)
    lengths = np.array([time, max(1, time // 2), 1], np.int32)
    ids = rng.integers(0, cfg.vocab_size, (3, time), dtype=np.int32)
    state = (rng.standard_normal((3, cfg.state_count, cfg.hidden)) * 0.5).astype(np.float32)
    want = tf_reference(ids, state, lengths)
    logits, new_state = session(onnx_bytes).run(
        ["logits", "new_state"], {"ids": ids, "state": state, "lengths": lengths})
    label = f"dynamic lengths {lengths.tolist()}"
    checklist.add(f"{label} logits", logits, want["logits"], TOLERANCE)
    checklist.add(f"{label} new_state", new_state, want["new_state"], TOLERANCE)


def export_char(run_dir: str | Path, out: str | Path, force: bool = False,
                log=None) -> ExportResult:
    log = log or sys.stderr
    out = Path(out)
    files = ModelFiles(out)
    fixed_out = files.fixed
    for path in files.all():
        refuse_overwrite(path, force)
    model, config, metrics = load_run(run_dir)
    cfg = CharModelConfig(**config["model"])
    window = int(config["window"])
    checklist = Checklist()
    graphs, ops = {}, {}
    layers = [model.get_layer(f"rnn_{i}") for i in range(cfg.layers)]
    for graph, time in (("dynamic", None), ("fixed", window)):
        print(f"converting the {graph} graph with tf2onnx ...", file=log)
        tf_step, signature = step_function(model, cfg, time)
        graphs[graph], ops[graph] = convert_recurrent(tf_step, signature, layers, cfg.cell, checklist, graph,
                                                      lengths=graph == "dynamic")
        times = [1, window, window + 7] if time is None else [window]
        onnx_bytes = graphs[graph].SerializeToString()
        check_char_parity(checklist, tf_step, onnx_bytes, cfg, times, graph)
        if graph == "dynamic":
            tf_reference, _ = step_function(model, cfg, None, lengths=True)
            check_ragged_parity(checklist, tf_reference, onnx_bytes, cfg, window + 3)
    generation = build_and_verify(checklist, graphs["dynamic"], window, (cfg.state_count, cfg.hidden), log)
    checklist.settle(f"export of {run_dir}", force, log)
    described = {graph: describe(config, metrics, graph, cfg, ops[graph], checklist) for graph in graphs}
    paths = write_models([(out, graphs["dynamic"], described["dynamic"]),
                          (fixed_out, graphs["fixed"], described["fixed"])], force, log)
    gen_out = files.generation
    if generation is not None:
        doc = described["dynamic"].generation_meta(GenerationInfo(out.name, file_sha256(out), DEFAULT_UNROLL))
        paths += write_models([(gen_out, generation, doc)], force, log)
    else:
        gen_out.unlink(missing_ok=True)  # a stale one would not match the new NAME.onnx anyway
    return ExportResult(paths, checklist, ops)


__all__ = ["export_char", "ExportResult", "ExportCheckError"]
