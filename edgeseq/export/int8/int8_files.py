"""NAME.int8.onnx and its generation graph: built from the fp32 step graph, measured, bound, written.

From a run folder (``--quantize int8`` with the fp32 export) or from exported files
(``quantize_exported``). Each int8 file carries its digest and names the fp32 step file it
was made from; the step file's description holds the measured cost.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import onnx

from edgeseq.atomic import check_new_file, write_set
from edgeseq.contract import FUSED_OPS, CharMeta, FileRef, GenerationInfo, ModelFiles, Quantization, SeriesMeta
from edgeseq.contract.digest import bytes_sha256
from edgeseq.errors import InputError
from edgeseq.export.generation.build import DEFAULT_UNROLL, rereads_window
from edgeseq.export.generation.check import build_and_verify
from edgeseq.export.int8.int8_contexts import build_int8_generation
from edgeseq.export.int8.cost import char_cost, series_cost
from edgeseq.export.int8.training_data import char_training_data, series_source
from edgeseq.export.graph.onnx_graph import model_bytes, op_counts, recurrent_summary
from edgeseq.export.int8.quantize import quantize_step
from edgeseq.export.verify import Checklist, session
from edgeseq.log import logger
from edgeseq.runtime.model_file import ModelFile, open_model


@dataclass
class Int8Model:
    """An int8 step graph, its measured cost, and its generation graph (None: runs per step)."""

    step: onnx.ModelProto
    quantization: Quantization  # size_ratio is filled in when the bytes are made
    ops: str
    generation: onnx.ModelProto | None = None
    rereads_window: bool = False


def measurement_data(meta: CharMeta | SeriesMeta, root: Path | None = None):
    """What the int8 cost of a model is measured on (edgeseq.export.int8.training_data): a char model's
    (training text, its sequences), a forecaster's training CSV."""
    if isinstance(meta, SeriesMeta):
        return series_source(meta.data, root)
    return char_training_data(meta.training, meta.vocabulary, meta.window, meta.context, meta.line_end, root)


def build_int8(fp32_step: onnx.ModelProto, meta: CharMeta | SeriesMeta, data, checklist: Checklist) -> Int8Model:
    """Quantize the fp32 dynamic graph ``fp32_step`` (described by ``meta``), check it, measure
    it on ``data`` (``measurement_data``), and build its generation graph: every check a
    checklist line."""
    logger.info("quantizing to int8 and measuring it against fp32 on the training data ...")
    int8, scheme, quantized = quantize_step(fp32_step)
    counts, ops = op_counts(int8), recurrent_summary(int8)
    fused = sum(counts[op] for op in FUSED_OPS)
    checklist.require(f"int8 graph: {meta.layers} fused recurrent op(s) and no Loop (got {ops})",
                      fused == meta.layers and not counts["Loop"])
    sessions = session(fp32_step.SerializeToString()), session(int8.SerializeToString())
    if isinstance(meta, SeriesMeta):
        fields = series_cost(ModelFile(Path("fp32"), sessions[0], {}, meta), sessions[1], data, checklist)
    else:
        fields = char_cost(*sessions, meta, *data, checklist)
    quantization = Quantization(precision="int8", scheme=scheme, quantized=quantized, size_ratio=0.0, **fields)
    model = Int8Model(int8, quantization, ops)
    if isinstance(meta, CharMeta):
        shape = (meta.state.rows, meta.state.hidden)
        model.generation = build_and_verify(checklist, int8, meta.window, shape, "int8 generation graph",
                                            build_int8_generation)
        model.rereads_window = rereads_window(int8)
    return model


def int8_entries(files: ModelFiles, model: Int8Model, step_meta: CharMeta | SeriesMeta, step: FileRef,
                 step_bytes: int) -> list[tuple[Path, bytes]]:
    """The bytes of NAME.int8.onnx (and its generation graph first), for a set write.

    ``step_meta``: the fp32 step file's description; ``step``: that file (name, sha256);
    ``step_bytes``: its size, which the int8 file's size ratio is of."""
    meta = replace(step_meta, made_from=step, quantization=model.quantization, recurrent_ops=model.ops,
                   file_sha256=None)
    data, ratio = _sized_bytes(model.step, meta, step_bytes)
    entries = []
    if model.generation is not None:
        info = GenerationInfo(files.int8.name, bytes_sha256(data), DEFAULT_UNROLL,
                              "reread" if model.rereads_window else None)
        written = replace(meta, quantization=replace(model.quantization, size_ratio=ratio))  # the step file's record
        entries.append((files.int8_generation, model_bytes(model.generation, written.generation_meta(info))))
    entries.append((files.int8, data))
    return entries


def _ratio_in(data: bytes, reference: int) -> float:
    return round(len(data) / reference, 4)


def _sized_bytes(model: onnx.ModelProto, meta: CharMeta | SeriesMeta, reference: int) -> tuple[bytes, float]:
    """The file's bytes with ``size_ratio`` = their own size / ``reference``, to 4 decimals
    (and that ratio).

    The ratio is part of the bytes it measures, so they are written until it holds (two or
    three times). When writing the ratio changes its own length (0.81 against 0.8101), the
    candidates cycle; then the one written is the one nearest its own bytes' ratio."""
    ratio, tried = 0.0, {}
    while ratio not in tried:
        data = model_bytes(model, replace(meta, quantization=replace(meta.quantization, size_ratio=ratio)))
        tried[ratio] = data
        settled = _ratio_in(data, reference)
        if settled == ratio:
            return data, ratio
        ratio = settled
    # the candidates cycle: the one whose bytes come nearest the ratio they carry
    best = min(tried, key=lambda r: abs(_ratio_in(tried[r], reference) - r))
    return tried[best], best


def quantize_exported(step_path: str | Path, force: bool = False, root: Path | None = None,
                      allow_failed: bool = False) -> list[Path]:
    """NAME.int8.onnx (and its generation graph) beside an exported fp32 NAME.onnx, made and
    checked as ``edgeseq export --quantize int8`` makes them; the fp32 files stay as they are.
    ``root``: where the training data's relative paths start (default: the current folder)."""
    files = ModelFiles(step_path)
    fp32 = open_model(files.step)
    meta = fp32.description
    if meta.quantization is not None:
        made_from = f" ({meta.made_from.of})" if meta.made_from is not None else ""
        raise InputError(f"{files.step}: an int8 model already; pass the fp32 model it was made from{made_from}")
    if meta.graph != "dynamic":
        raise InputError(f"{files.step}: the {meta.graph} graph of a model; pass its step model NAME.onnx")
    targets = [files.int8, files.int8_generation] if isinstance(meta, CharMeta) else [files.int8]
    for path in targets:  # refused now, before the measurement: an existing file, a folder, no write access
        check_new_file(path, force, "the int8 model")
    step_bytes = files.step.read_bytes()
    checklist = Checklist()
    model = build_int8(onnx.load_from_string(step_bytes), meta, measurement_data(meta, root), checklist)
    checklist.log_and_enforce(f"int8 model of {files.step}", allow_failed)
    entries = int8_entries(files, model, meta, FileRef(files.step.name, fp32.sha256), len(step_bytes))
    stale = tuple(p for p in targets if p.exists() and p not in [path for path, _ in entries])
    write_set(entries, force, stale=stale)
    for path, data in entries[::-1]:
        fp32_file = files.step if path == files.int8 else files.generation
        ratio = f", {100 * len(data) / fp32_file.stat().st_size:.1f}% of {fp32_file.name}" if fp32_file.is_file() else ""
        logger.info(f"wrote {path} ({len(data) / 1024:.0f} KiB{ratio})")
    log_quantized(model)
    return [path for path, _ in entries][::-1]


def log_quantized(model: Int8Model) -> None:
    """What was quantized, one line after the files (for a GRU or RNN: weights stored int8, the
    op itself fp32: a smaller file, not a faster model)."""
    logger.info(f"int8: {model.quantization.quantized}")
