"""``edgeseq verify``: every check a model file, a model's set, or a folder of models must pass.

The ONNX checker when onnx is installed, the digest, the metadata, the graph's shapes, the
sibling bindings, NAME.json, a MANIFEST.json's entries and digest, and leftovers.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import onnxruntime as ort

from edgeseq.contract import METADATA_KEY, ModelFiles
from edgeseq.contract.siblings import int8_made_from, sibling_ending
from edgeseq.contract.meta import read_document
from edgeseq.contract.digest import MANIFEST_KEY, bytes_sha256, check_digest
from edgeseq.contract.reading import MAX_JSON_BYTES, Fields, parse_json, read_file_bytes, read_json_file
from edgeseq.contract.graph_io import check_graph_io
from edgeseq.contract.meta import CharMeta, SeriesMeta
from edgeseq.contract.reading import load_document
from edgeseq.contract.sidecar import MAX_SIDECAR_BYTES, Described, first_difference, sidecar_bytes, sidecar_document
from edgeseq.errors import EdgeseqError, InputError
from edgeseq.runtime.model_file import MAX_MODEL_BYTES, io_of, probe_horizon, read_model_bytes, session_options

MANIFEST = "MANIFEST.json"
_LEFTOVER = re.compile(r"^\..+\.\d+\.[0-9a-f]+\.(tmp|set|old)(-kept)?$")


@dataclass(frozen=True)
class Check:
    status: str  # "ok", "FAIL" or "skip"
    subject: str
    what: str
    detail: str = ""

    def line(self) -> str:
        return f"{self.status:<4} {self.subject}: {self.what}" + (f": {self.detail}" if self.detail else "")


def verify_path(path: str | Path, checker: Callable[[bytes], None] | None = None) -> list[Check]:
    """The checks of a file (a step file brings its siblings: NAME.onnx every NAME.*.onnx,
    NAME.int8.onnx its generation graph), or of every model in a folder."""
    path = Path(path)
    if path.is_dir():
        return verify_folder(path, checker)
    if not path.is_file():
        raise InputError(f"{path}: no such file or folder")
    files = [path]
    if sibling_ending(path) is None:  # NAME.onnx: the whole set beside it
        files += sorted(p for p in path.parent.glob(f"{path.stem}.*{path.suffix}")
                        if sibling_ending(p.with_suffix(".onnx")) and p != path)
    elif int8_made_from(path) is not None:  # NAME.int8.onnx: with its own generation graph
        generation = ModelFiles(path).generation  # NAME.int8.gen.onnx
        files += [generation] if generation.is_file() else []
    checks = [check for file in files for check in verify_file(file, checker)]
    return checks + verify_sidecar(path) + _leftovers(path.parent)


def verify_folder(folder: Path, checker) -> list[Check]:
    checks, listed = [], set()
    manifest = folder / MANIFEST
    if manifest.is_file():
        checks, listed = _manifest(folder, manifest)
    for file in sorted([*folder.glob("*.onnx"), *folder.glob("*.ort")]):
        if manifest.is_file() and file.name not in listed:
            checks.append(Check("FAIL", file.name, "listed in MANIFEST.json", "it is not"))
        checks += verify_file(file, checker)
        checks += verify_sidecar(file)
    if not checks:
        raise InputError(f"{folder}: no .onnx file and no {MANIFEST} to check")
    return checks + _leftovers(folder)


def _manifest(folder: Path, manifest: Path) -> tuple[list[Check], set]:
    """The manifest's own digest (its figures and texts), then every listed file's sha256 and size."""
    try:
        data = read_file_bytes(manifest, MAX_JSON_BYTES, "JSON file")
        fields = Fields(parse_json(data, MANIFEST), MANIFEST)
        files = fields.object("files")
        entries = {}
        for name in files.doc:
            entry = files.object(name)
            sha = entry.get("sha256", lambda v: isinstance(v, str) and re.fullmatch("[0-9a-f]{64}", v) is not None,
                            "64 hexadecimal digits")
            entries[name] = (sha, entry.int("bytes", 0, MAX_MODEL_BYTES))
    except EdgeseqError as e:
        return [Check("FAIL", MANIFEST, "readable", _detail(e, manifest).removeprefix(f"{MANIFEST}: "))], set()
    try:
        own = check_digest(data, MANIFEST, MANIFEST_KEY)
        checks = [Check("ok" if own else "FAIL", MANIFEST, "digest",
                        "matches its text" if own else f"none found ({MANIFEST_KEY}): its figures and texts are "
                                                       "not covered, only the files' sha256 and sizes")]
    except EdgeseqError as e:
        checks = [Check("FAIL", MANIFEST, "digest", _detail(e, manifest).removeprefix(f"{MANIFEST}: "))]
    for name, (sha, size) in sorted(entries.items()):
        file = folder / name
        if not _plain_name(name) or not file.is_file():
            checks.append(Check("FAIL", name, "manifest sha256", "the file is missing"))
            continue
        try:
            data = read_file_bytes(file, MAX_MODEL_BYTES, "listed file")
        except EdgeseqError as e:
            checks.append(Check("FAIL", name, "manifest sha256", _detail(e, file)))
            continue
        ok = bytes_sha256(data) == sha and len(data) == size
        checks.append(Check("ok" if ok else "FAIL", name, "manifest sha256 and size",
                            "" if ok else "the file is not the one the manifest lists"))
    return checks, set(entries)


def _plain_name(name: str) -> bool:
    """A file name in the folder itself: no path, not the folder or its parent."""
    return bool(name) and "/" not in name and "\\" not in name and name not in (".", "..")


def verify_file(file: Path, checker) -> list[Check]:
    """The checks of one model file, in the order the runner makes them."""
    name = file.name
    try:
        data = read_model_bytes(file)
    except EdgeseqError as e:
        return [Check("FAIL", name, "readable", _detail(e, file))]
    checks = [_onnx_checker(name, data, checker)]
    try:
        digest = check_digest(data, str(file))
        checks.append(Check("ok" if digest else "FAIL", name, "digest",
                            "matches its bytes" if digest else "none found: a damaged, cut-short or edited file; "
                                                               "export it again"))
    except EdgeseqError as e:
        return checks + [Check("FAIL", name, "digest", _detail(e, file))]
    try:
        session = ort.InferenceSession(data, session_options(1), providers=["CPUExecutionProvider"])
        raw = session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
        if raw is None:
            raise InputError(f"{file}: no edgeseq metadata")
        meta = read_document(load_document(raw, str(file)), str(file))
        checks.append(Check("ok", name, "metadata", f"a {meta.task} {meta.graph} graph"))
    except Exception as e:  # noqa: BLE001 - any failure of this file is its check's line
        return checks + [Check("FAIL", name, "metadata", _detail(e, file))]
    try:
        check_graph_io(meta, *io_of(session), str(file))
        if isinstance(meta, SeriesMeta):
            probe_horizon(session, meta, str(file))
        checks.append(Check("ok", name, "graph inputs and outputs match the metadata"))
    except EdgeseqError as e:
        checks.append(Check("FAIL", name, "graph inputs and outputs match the metadata", _detail(e, file)))
    return checks + _pairing(file, meta)


def _pairing(file: Path, meta: CharMeta | SeriesMeta) -> list[Check]:
    """Every file this one names (its step file; an int8 file also the fp32 step file it was
    made from) is beside it, with those very bytes."""
    if not meta.file_refs:
        if meta.graph == "dynamic":
            return []
        return [Check("FAIL", file.name, "names its step file", "it names none; export it again")]
    checks = []
    for ref in meta.file_refs:
        partner = file.with_name(ref.of) if _plain_name(ref.of) else None
        if partner is None or partner == file or not partner.is_file():
            checks.append(Check("FAIL", file.name, f"made from {ref.of}", "no such file beside it"))
            continue
        ok = bytes_sha256(read_model_bytes(partner)) == ref.of_sha256
        checks.append(Check("ok" if ok else "FAIL", file.name, f"made from {ref.of}",
                            "its sha256 matches" if ok else f"{ref.of} is another file now (a stale sibling)"))
    return checks


def sidecar_for(step: Path) -> bytes:
    """The NAME.json of the char model ``step`` as its files are now (edgeseq.contract.sidecar):
    the step file, and the generation graph the runner would pair with it (none: per step)."""
    from edgeseq.runtime.char_model import CharModel  # only a char model has one

    model = CharModel(step)
    step_bytes = read_model_bytes(model.path)
    described = Described(model.path.name, bytes_sha256(step_bytes), len(step_bytes))
    generation = None
    if model.graph is not None:
        data = read_model_bytes(model.graph.path)
        generation = Described(model.graph.path.name, bytes_sha256(data), len(data))
    return sidecar_bytes(sidecar_document(model.description, described, generation,
                                          model.graph.meta if model.graph else None))


def verify_sidecar(step: Path) -> list[Check]:
    """NAME.json beside the step file ``step`` (NAME.onnx), if there is one: its document must be
    the one the model files make now (a stale or edited one names another file or field)."""
    path = ModelFiles(step).sidecar
    if step.suffix != ".onnx" or sibling_ending(step) is not None or not path.is_file():
        return []
    name = path.name
    try:
        if path.stat().st_size > MAX_SIDECAR_BYTES:
            raise InputError(f"larger than {MAX_SIDECAR_BYTES:,} bytes")
        found = read_json_file(path, MAX_SIDECAR_BYTES)
    except (OSError, ValueError, EdgeseqError) as e:
        return [Check("FAIL", name, "readable JSON", _detail(e, path))]
    try:
        expected = parse_json(sidecar_for(step), str(path))
    except EdgeseqError as e:
        return [Check("FAIL", name, f"describes {step.name}", _detail(e, step))]
    field = first_difference(found, expected)
    if field is None:
        files = " and ".join(f["name"] for f in expected["files"].values())
        return [Check("ok", name, f"describes {files} as they are (sha256, fields)")]
    return [Check("FAIL", name, f"describes {step.name} as it is",
                  f"'{field}' differs from the model files (a stale or edited {name}); export the model again")]


def _onnx_checker(name: str, data: bytes, checker) -> Check:
    if data[4:8] == b"ORTM":  # onnxruntime's own format (export --ort): not an ONNX protobuf
        return Check("skip", name, "onnx checker", "an ORT-format file")
    if checker is None:
        return Check("skip", name, "onnx checker", "skipped (onnx not installed)")
    try:
        checker(data)
    except Exception as e:  # noqa: BLE001 - the checker's own error types
        return Check("FAIL", name, "onnx checker", str(e).strip().splitlines()[0][:160] if str(e).strip() else "")
    return Check("ok", name, "onnx checker")


def _leftovers(folder: Path) -> list[Check]:
    return [Check("FAIL", entry.name, "no interrupted write", "left by a killed writer; the next write of that "
                                                             "model finishes or removes it")
            for entry in sorted(folder.iterdir()) if _LEFTOVER.match(entry.name)]


def _detail(error: Exception, file: Path) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return text.removeprefix(f"{file}: ")[:200]
