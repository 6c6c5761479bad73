"""``edgeseq export NAME.onnx --ort``: NAME.ort and NAME.gen.ort in onnxruntime's compact format.

Made with onnxruntime's own converter, for reduced builds on phones and small boards; each
file is sealed with its digest. NAME.ort has no ``lengths`` input: the format has no optional inputs.
"""
from __future__ import annotations

import contextlib
import io
import json
import logging
import tempfile
from pathlib import Path

import onnx

from edgeseq.atomic import check_new_file, write_set
from edgeseq.contract import METADATA_KEY, ModelFiles
from edgeseq.contract.digest import PLACEHOLDER, bytes_sha256, seal
from edgeseq.errors import EdgeseqError
from edgeseq.log import logger
from edgeseq.runtime.char_model import CharModel
from edgeseq.runtime.model_file import open_model, read_model_bytes

ORT_SUFFIX = ".ort"


def ort_files(step: Path) -> tuple[Path, Path, Path]:
    """NAME.ort, NAME.gen.ort and NAME.required_operators.config beside NAME.onnx."""
    ort = step.with_suffix(ORT_SUFFIX)
    return ort, ModelFiles(ort).generation, step.with_name(f"{step.stem}.required_operators.config")


def write_ort(step: Path, force: bool = False) -> list[Path]:
    """The ORT-format files of the model ``step``: NAME.ort, for a char model with a generation
    graph NAME.gen.ort, and the operators config; written as one set."""
    model = open_model(step)  # checked as the runner checks it
    generation = CharModel(model).graph if model.task == "char" else None
    ort_step, ort_generation, config = ort_files(step)
    for path in (ort_step, config, *((ort_generation,) if generation else ())):
        check_new_file(path, force, "the ORT file")
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        step_bytes = convert(read_model_bytes(step), work / step.name, {})
        entries = [(ort_step, step_bytes)]
        if generation is not None:
            named = {"of": ort_step.name, "of_sha256": bytes_sha256(step_bytes)}
            entries.insert(0, (ort_generation, convert(read_model_bytes(generation.path),
                                                       work / generation.path.name, {"generation": named})))
        for path, data in entries:
            (work / path.name).write_bytes(data)
        entries.insert(0, (config, operators_config([work / path.name for path, _ in entries])))
    stale = () if generation else tuple(p for p in (ort_generation,) if p.exists())
    write_set(entries, force, stale=stale)
    for path, data in [entries[-1], *entries[:-1]]:
        logger.info(f"wrote {path} ({len(data) / 1024:.0f} KiB)")
    return [path for path, _ in entries]


def convert(data: bytes, path: Path, changes: dict) -> bytes:
    """An ONNX file's bytes in ORT format, its metadata's fields updated by ``changes`` (a nested
    record merged in) and its digest sealed over the new bytes."""
    model = onnx.load_from_string(data)
    without_optional_lengths(model.graph)
    entry = next(p for p in model.metadata_props if p.key == METADATA_KEY)
    doc = json.loads(entry.value)
    for key, value in changes.items():
        doc[key] = {**doc[key], **value}
    doc["file_sha256"] = PLACEHOLDER
    entry.value = json.dumps(doc, ensure_ascii=False)
    onnx.save(model, path)
    from onnxruntime.tools.convert_onnx_models_to_ort import OptimizationStyle, convert_onnx_models_to_ort

    out = path.parent / "ort"
    with _quiet():
        convert_onnx_models_to_ort(path, output_dir=out, optimization_styles=[OptimizationStyle.Fixed])
    converted = out / path.with_suffix(ORT_SUFFIX).name
    if not converted.is_file():
        raise EdgeseqError(f"onnxruntime's converter wrote no {converted.name}")
    return seal(converted.read_bytes())


def without_optional_lengths(graph: onnx.GraphProto) -> None:
    """Drop the optional input ``lengths`` (edgeseq.export.graph.fuse.add_lengths_input): the
    ``If`` that chooses between it and "no padding" becomes its "no padding" branch."""
    if not any(i.name == "lengths" and i.type.HasField("optional_type") for i in graph.input):
        return
    given = next(n for n in graph.node if n.op_type == "OptionalHasElement" and list(n.input) == ["lengths"])
    choice = next(n for n in graph.node if n.op_type == "If" and list(n.input) == [given.output[0]])
    omitted = next(a.g for a in choice.attribute if a.name == "else_branch")
    inlined = []
    for node in omitted.node:
        node = onnx.NodeProto.FromString(node.SerializeToString())
        node.output[:] = [choice.output[0] if out == omitted.output[0].name else out for out in node.output]
        inlined.append(node)
    nodes = []
    for node in graph.node:
        if node is choice:
            nodes += inlined
        elif node is not given:
            nodes.append(node)
    del graph.node[:]
    graph.node.extend(nodes)
    kept = [i for i in graph.input if i.name != "lengths"]
    del graph.input[:]
    graph.input.extend(kept)


def operators_config(paths: list[Path]) -> bytes:
    """The required-operators config of the ORT files ``paths`` (for a reduced onnxruntime build)."""
    from onnxruntime.tools.ort_format_model.utils import create_config_from_models

    config = paths[0].parent / "required_operators.config"
    with _quiet():
        create_config_from_models(paths, config, False)
    lines = config.read_text(encoding="utf-8").splitlines()
    names = [p.name for p in paths]  # the converter names the files by their temporary paths
    kept = [line for line in lines if not line.startswith("#")]
    return ("# onnxruntime operators needed by " + ", ".join(names) + "\n" + "\n".join(kept) + "\n").encode()


@contextlib.contextmanager
def _quiet():
    """The converter prints its progress on stdout and logs at INFO: keep both for failures only."""
    converter_log = logging.getLogger("ort_format_model.utils")
    level = converter_log.level
    converter_log.setLevel(logging.WARNING)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        converter_log.setLevel(level)
