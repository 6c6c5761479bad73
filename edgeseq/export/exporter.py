"""``export_run``: a run folder to NAME.onnx and its siblings, each checked against TensorFlow.

Every export is the same few steps, whatever the task:

1. read the run's task and refuse files that exist (unless --force), before TensorFlow
   loads; then load the run and its task (``task_class``);
2. for the dynamic graph (time axis free) and the fixed graph (time = the training window):
   convert with tf2onnx, every recurrent layer a fused op (edgeseq.export.convert), then
   compare ONNX with TensorFlow on the task's sample inputs, every output, plus the task's
   own checks;
3. the task's work on both graphs together (a char model's generation graph);
4. log the checklist and refuse on any failure (unless --force: then a warning);
5. make every file's bytes (its metadata checked and sealed with its digest; siblings name
   the step file's sha256), open each as the runner will, and write them as one set
   (edgeseq.atomic.sets: all or nothing, the step file last).

What differs between tasks (references, inputs, tolerances, metadata, extra checks and
files) is in edgeseq.export.char_task and edgeseq.export.series_task.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import onnx

from edgeseq.atomic import refuse_overwrite
from edgeseq.atomic import recover, write_set
from edgeseq.contract import FileRef, ModelFiles
from edgeseq.contract.digest import bytes_sha256
from edgeseq.contract.run_folder import read_run_config
from edgeseq.errors import EdgeseqError
from edgeseq.export.interop import Provenance
from edgeseq.export.onnx_graph import model_bytes
from edgeseq.export.task import ExportTask
from edgeseq.export.verify import Checklist, check_parity, session
from edgeseq.log import logger

#: the tasks a run folder's config.json may name
TASKS = ("char", "series")


def task_class(name: str) -> type[ExportTask]:
    """How a ``name`` model is exported; imported only now, as it loads TensorFlow."""
    if name == "char":
        from edgeseq.export.char_task import CharExport

        return CharExport
    from edgeseq.export.series_task import SeriesExport

    return SeriesExport


@dataclass
class ExportResult:
    """What an export wrote, the checklist it passed, and each graph's recurrent ops."""

    paths: list[Path]
    checklist: Checklist
    ops: dict[str, str]


def export_run(run_dir: str | Path, out: str | Path, force: bool = False,
               provenance: Provenance | None = None) -> ExportResult:
    """Export the run folder ``run_dir`` to ``out`` (NAME.onnx) and its siblings, verified.

    ``provenance``: the author and license every file written is to carry."""
    provenance = provenance or Provenance()
    task_name = read_run_config(run_dir)["task"]
    if task_name not in TASKS:
        raise EdgeseqError(f"{run_dir}: unknown task {task_name!r} in config.json")
    files = ModelFiles(out)
    recover(files.step)  # a killed export's leftovers: finished or removed, saying so
    for path in files.of_task(task_name):
        refuse_overwrite(path, force)
    from edgeseq.training.run_folder import load_run  # everything is checked: now TensorFlow loads

    task = task_class(task_name).of_run(run_dir, *load_run(run_dir))
    checklist = Checklist()
    graphs, ops = {}, {}
    for graph, time in (("dynamic", None), ("fixed", task.window)):
        graphs[graph], ops[graph] = convert_and_check(task, checklist, graph, time)
        provenance.apply(graphs[graph])  # before after_graphs: a graph built from this one copies it
    task.after_graphs(checklist, graphs)
    checklist.log_and_enforce(f"export of {run_dir}", force)
    parity = checklist.max_diff()
    meta = {graph: replace(task.metadata_for(graph, ops[graph], checklist),
                           parity_max_abs_diff=parity if math.isfinite(parity) else None) for graph in graphs}
    paths = write_files(files, graphs, meta, task, force)
    return ExportResult(paths, checklist, ops)


def write_files(files: ModelFiles, graphs: dict[str, onnx.ModelProto], meta: dict, task: ExportTask,
                force: bool) -> list[Path]:
    """Step 5: the bytes of every file, each opened as the runner opens it, written as one set.
    Returns the paths, step file first."""
    from edgeseq.runtime.model_file import load_model

    step = model_bytes(graphs["dynamic"], meta["dynamic"])
    made_from = FileRef(files.step.name, bytes_sha256(step))
    siblings = [(files.fixed, graphs["fixed"], replace(meta["fixed"], made_from=made_from)),
                *task.companions(files, meta["dynamic"], made_from)]
    entries = [(path, model_bytes(model, description)) for path, model, description in siblings]
    entries.append((files.step, step))
    for path, data in entries:
        load_model(path, data)  # what a reader will check: the metadata, the digest, the graph's shapes
    written = [path for path, _ in entries]
    write_set(entries, force, stale=tuple(p for p in files.all() if p not in written and p.exists()))
    what = {files.step: meta["dynamic"].recurrent_ops, files.fixed: meta["fixed"].recurrent_ops}
    for path, data in [entries[-1], *entries[:-1]]:
        logger.info(f"wrote {path} ({len(data) / 1024:.0f} KiB, {what.get(path, 'generation graph')})")
    return [written[-1], *written[:-1]]


def convert_and_check(task: ExportTask, checklist: Checklist, graph: str,
                      time: int | None) -> tuple[onnx.ModelProto, str]:
    """Convert one graph and compare it with TensorFlow: the task's inputs, then its own checks.

    One seeded generator per graph draws the inputs of every parity case, then of the
    task's own checks, so the same run gives the same figures every time."""
    from edgeseq.export.convert import convert_recurrent

    logger.info(f"converting the {graph} graph with tf2onnx ...")
    reference, signature = task.reference(time)
    model, ops = convert_recurrent(reference, signature, task.layers, task.cell, checklist, graph,
                                   lengths=task.lengths_input and time is None)
    sess = session(model.SerializeToString())
    rng = np.random.default_rng(0)
    times = task.times(time)
    cases = ((graph, f"batch {batch} time {t}", task.sample(rng, batch, t)) for batch in task.batches for t in times)
    check_parity(checklist, reference, sess, cases, task.tolerance)
    task.extra_checks(checklist, graph, times, sess, rng)
    return model, ops


__all__ = ["export_run", "write_files", "ExportResult", "TASKS"]
