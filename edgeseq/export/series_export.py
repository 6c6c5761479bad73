"""Exporting a trained forecaster: a dynamic graph and a fixed-window graph, both verified.

The dynamic graph takes x [batch, time, features] for any number of rows; the fixed graph
pins time to the training window for runtimes that want static shapes. Both keep the batch
axis dynamic (tf2onnx fuses LSTM only then) and output y [batch, horizon], the next target
values in scaled units. Before either file is written, ONNX is compared with TensorFlow on
scaled windows that also reach beyond the training range (batch 1 and 64), and the file's
metadata receives everything the runner needs: features, target, window, horizon, target
mode, the scaler, and the walk-forward evaluation table from training.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from edgeseq.atomic import refuse_overwrite
from edgeseq.contract import ModelFiles, SeriesMeta
from edgeseq.export.onnx_graph import ExportResult, convert_recurrent, write_models
from edgeseq.export.verify import Checklist, session
from edgeseq.training.run_folder import load_run
from edgeseq.training.series_model import SeriesModelConfig, forecast_function

TOLERANCE = 1e-5  # scaled units: 1e-5 of the target's training range
BATCHES = (1, 64)


def describe(config: dict, metrics: dict, graph: str, model_config: SeriesModelConfig,
             ops: str, checklist: Checklist) -> SeriesMeta:
    return SeriesMeta(
        graph=graph, features=tuple(config["features"]), target=config["target"], window=config["window"],
        horizon=config["horizon"], target_mode=config["target_mode"], scaler=config["scaler"],
        cell=model_config.cell, layers=model_config.layers, hidden=model_config.hidden, recurrent_ops=ops,
        date_column=config.get("date_column"), evaluation=metrics.get("evaluation"), test=metrics.get("test"),
        parity_max_abs_diff=checklist.max_diff(), data=config.get("data", {}),
        training=config.get("training", {}))


def check_series_parity(checklist: Checklist, tf_forecast, onnx_bytes: bytes, cfg: SeriesModelConfig,
                        times: list[int], label: str, seed: int = 0) -> None:
    """Scaled windows in [-0.25, 1.25] (prices a little beyond training) through TF and ONNX."""
    rng = np.random.default_rng(seed)
    sess = session(onnx_bytes)
    for batch in BATCHES:
        for time in times:
            x = rng.uniform(-0.25, 1.25, (batch, time, cfg.features)).astype(np.float32)
            want = tf_forecast(x)["y"]
            got = sess.run(["y"], {"x": x})[0]
            checklist.add(f"{label} y batch {batch} time {time}", got, want, TOLERANCE)


def export_series(run_dir: str | Path, out: str | Path, force: bool = False,
                  log=None) -> ExportResult:
    log = log or sys.stderr  # looked up per call, not bound at import
    out = Path(out)
    fixed_out = ModelFiles(out).fixed
    for path in (out, fixed_out):
        refuse_overwrite(path, force)
    model, config, metrics = load_run(run_dir)
    cfg = SeriesModelConfig(**config["model"])
    window = int(config["window"])
    checklist = Checklist()
    graphs, ops = {}, {}
    layers = [model.get_layer(f"rnn_{i}") for i in range(cfg.layers)]
    for graph, time in (("dynamic", None), ("fixed", window)):
        print(f"converting the {graph} graph with tf2onnx ...", file=log)
        tf_forecast, signature = forecast_function(model, cfg, time)
        graphs[graph], ops[graph] = convert_recurrent(tf_forecast, signature, layers, cfg.cell, checklist, graph)
        times = [window, 1, 2 * window] if time is None else [window]
        check_series_parity(checklist, tf_forecast, graphs[graph].SerializeToString(), cfg, times, graph)
    checklist.settle(f"export of {run_dir}", force, log)
    paths = write_models([(path, graphs[graph], describe(config, metrics, graph, cfg, ops[graph], checklist))
                          for graph, path in (("dynamic", out), ("fixed", fixed_out))], force, log)
    return ExportResult(paths, checklist, ops)


__all__ = ["export_series", "TOLERANCE"]
