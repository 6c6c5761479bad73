"""``export_run``: a run folder to NAME.onnx and its siblings, each checked against TensorFlow.

Every export is the same steps, whatever the task: docs/design.md, "Export". What differs
between tasks is in edgeseq.export.char_task and edgeseq.export.series_task.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import onnx

from edgeseq.atomic import check_new_file, recover, write_set
from edgeseq.contract import PRECISIONS, FileRef, ModelFiles
from edgeseq.contract.siblings import SIBLING_ENDINGS, sibling_ending
from edgeseq.contract.digest import bytes_sha256
from edgeseq.contract.meta import CharMeta
from edgeseq.contract.sidecar import Described, sidecar_bytes, sidecar_document
from edgeseq.contract.run_layout import read_run_config
from edgeseq.errors import EdgeseqError
from edgeseq.evaluation.rounding import parity_inputs
from edgeseq.export.graph.interop import Provenance
from edgeseq.export.graph.onnx_graph import model_bytes
from edgeseq.export.task import ExportTask
from edgeseq.export.verify import Checklist, check_parity, session
from edgeseq.log import logger
from edgeseq.runtime.model_file import load_model

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
    parity: float = 0.0  # what the files record as parity_max_abs_diff (ExportTask.parity)


def export_run(run_dir: str | Path, out: str | Path, force: bool = False,
               provenance: Provenance | None = None, quantize: str | None = None,
               data_root: Path | None = None, allow_failed: bool = False) -> ExportResult:
    """Export the run folder ``run_dir`` to ``out`` (NAME.onnx) and its siblings, verified.

    ``provenance``: the author and license every file written is to carry. ``quantize``:
    "int8" also writes NAME.int8.onnx (and its generation graph), measured on the training
    data, which ``data_root`` locates (default: the current folder; edgeseq.export.int8.training_data).
    ``force`` overwrites; ``allow_failed`` writes a model whose checks failed."""
    provenance = provenance or Provenance()
    if quantize not in (None, *PRECISIONS[1:]):
        raise EdgeseqError(f"unknown --quantize {quantize!r}; choose one of: {', '.join(PRECISIONS[1:])}")
    config = read_run_config(run_dir)
    task_name = config["task"]
    if task_name not in TASKS:
        raise EdgeseqError(f"{run_dir}: unknown task {task_name!r} in config.json")
    files = check_model_name(out)
    measured_on = None
    if quantize:  # the data the int8 cost is measured on must be there (and be it) before anything loads
        from edgeseq.export.int8.training_data import char_training_data, series_source

        if task_name == "char":  # the text read again and cut: its characters must be the vocabulary
            measured_on = char_training_data(config.get("training"), config.get("vocabulary"), config.get("window"),
                                             config.get("context"), config.get("line_end"), data_root)
        else:
            measured_on = series_source(config.get("data"), data_root)
    recover(files.step)  # a killed export's leftovers: finished or removed, saying so
    sidecar = (files.sidecar,) if task_name == "char" else ()  # NAME.json
    for path in (*files.of_task(task_name, int8=bool(quantize)), *sidecar):
        check_new_file(path, force, "the model file NAME.onnx (-o)")
    from edgeseq.training.run_folder import load_run  # everything is checked: now TensorFlow loads

    task = task_class(task_name).of_run(run_dir, *load_run(run_dir))
    checklist = Checklist()
    graphs, ops = {}, {}
    for graph, time in (("dynamic", None), ("fixed", task.window)):
        graphs[graph], ops[graph] = convert_and_check(task, checklist, graph, time)
        provenance.apply(graphs[graph])  # before after_graphs: a graph built from this one copies it
    task.after_graphs(checklist, graphs)
    parity = task.parity(checklist)  # of the fp32 graphs against TensorFlow (the int8 checks are conditions)
    meta = {graph: replace(task.metadata_for(graph, ops[graph], checklist),
                           parity_max_abs_diff=parity if math.isfinite(parity) else None) for graph in graphs}
    int8 = None
    if quantize:
        from edgeseq.export.int8.int8_files import build_int8

        int8 = build_int8(graphs["dynamic"], meta["dynamic"], measured_on, checklist)
    checklist.log_and_enforce(f"export of {run_dir}", allow_failed)
    paths = write_files(files, graphs, meta, task, force, int8)
    return ExportResult(paths, checklist, ops, parity)


def check_model_name(out: str | Path) -> ModelFiles:
    """The files of the model ``-o out`` names: NAME.onnx, not a name its siblings take
    (an fp32 model written as foo.int8.onnx would pass for foo.onnx's int8 model)."""
    files = ModelFiles(out)
    if files.step.suffix != ".onnx":
        raise EdgeseqError(f"-o {out}: name the model file NAME.onnx (its siblings NAME.fixed.onnx, ... go beside it)")
    ending = sibling_ending(files.step)
    if ending is not None:
        raise EdgeseqError(f"-o {out}: NAME{ending} is the name of {SIBLING_ENDINGS[ending]} an export writes beside "
                           f"NAME.onnx; name the model file NAME.onnx (e.g. -o "
                           f"{files.step.with_name(files.step.name[:-len(ending)] + '.onnx')})")
    return files


def write_files(files: ModelFiles, graphs: dict[str, onnx.ModelProto], meta: dict, task: ExportTask,
                force: bool, int8=None) -> list[Path]:
    """Step 5: the bytes of every file, each opened as the runner opens it, written as one set.
    ``int8``: the int8 model to write beside (edgeseq.export.int8.int8_files.Int8Model). Returns the
    paths, step file first."""
    step = model_bytes(graphs["dynamic"], meta["dynamic"])
    made_from = FileRef(files.step.name, bytes_sha256(step))
    siblings = [(files.fixed, graphs["fixed"], replace(meta["fixed"], made_from=made_from)),
                *task.companions(files, meta["dynamic"], made_from)]
    entries = [(path, model_bytes(model, description)) for path, model, description in siblings]
    if int8 is not None:
        from edgeseq.export.int8.int8_files import int8_entries

        entries += int8_entries(files, int8, meta["dynamic"], made_from, len(step))
    entries.append((files.step, step))
    for path, data in entries:
        load_model(path, data)  # what a reader will check: the metadata, the digest, the graph's shapes
    if isinstance(meta["dynamic"], CharMeta):  # NAME.json: what a JavaScript runner reads
        entries.insert(-1, (files.sidecar, char_sidecar(files, step, siblings, entries)))
    written = [path for path, _ in entries]
    stale = tuple(p for p in (*files.all(), files.sidecar) if p not in written and p.exists())
    write_set(entries, force, stale=stale)
    what = {files.step: meta["dynamic"].recurrent_ops, files.fixed: meta["fixed"].recurrent_ops,
            files.int8: int8.ops if int8 is not None else "", files.int8_generation: "int8 generation graph",
            files.sidecar: "what a JavaScript runner reads"}
    for path, data in [entries[-1], *entries[:-1]]:
        logger.info(f"wrote {path} ({len(data) / 1024:.0f} KiB, {what.get(path, 'generation graph')})")
    if stale:  # made from the NAME.onnx just replaced: no runner would pair them with the new one
        again = "; export with --quantize int8 to make them again" if files.int8 in stale else ""
        names = [p.name for p in stale]
        names = f"{', '.join(names[:-1])} and {names[-1]}" if len(names) > 1 else names[0]
        logger.info(f"removed {names} (made from the old {files.step.name}{again})")
    if int8 is not None:
        from edgeseq.export.int8.int8_files import log_quantized

        log_quantized(int8)
    return [written[-1], *written[:-1]]


def char_sidecar(files: ModelFiles, step: bytes, siblings: list, entries: list) -> bytes:
    """NAME.json of a char model about to be written: its step file and generation graph."""
    data = dict(entries)
    described = {path: Described(path.name, bytes_sha256(data[path]), len(data[path])) for path in data}
    generation = next((description for path, _, description in siblings if path == files.generation), None)
    step_meta = load_model(files.step, step).description
    return sidecar_bytes(sidecar_document(step_meta, described[files.step],
                                          described.get(files.generation) if generation else None, generation))


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
    times = task.times(time)
    rng, drawn = parity_inputs(task.sample, task.batches, times)
    cases = ((graph, f"batch {batch} time {t}", inputs) for batch, t, inputs in drawn)
    check_parity(checklist, reference, sess, cases, task.tolerance)
    task.extra_checks(checklist, graph, times, sess, rng)
    return model, ops


__all__ = ["export_run", "check_model_name", "write_files", "ExportResult", "TASKS"]
