"""``edgeseq export NAME.onnx --web DIR``: a static folder that generates text in the browser.

The page, edgeseq.js, the model files and onnxruntime-web, so a plain file server is all it
needs; it is built from a checkout whose js/ has its npm packages.
"""
from __future__ import annotations

import html
import json
from pathlib import Path

import edgeseq
from edgeseq.atomic import new_folder
from edgeseq.contract.digest import bytes_sha256
from edgeseq.errors import EdgeseqError
from edgeseq.log import logger
from edgeseq.runtime.model_file import read_model_bytes
from edgeseq.runtime.verify_files import sidecar_for

#: what the page loads of onnxruntime-web: the module, its WebAssembly loader and binary
ORT_FILES = ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
PAGE_FILES = ("index.html", "page.js")


def js_folder() -> Path:
    """js/ of the edgeseq checkout this package runs from, with onnxruntime-web installed at
    the version js/package.json pins; or one line saying how to get it."""
    js = Path(edgeseq.__file__).resolve().parent.parent / "js"
    if not (js / "edgeseq.js").is_file():
        raise EdgeseqError("--web builds the folder from the js/ folder of an edgeseq checkout (the JavaScript is "
                           "not part of the Python package); run edgeseq from a checkout")
    pinned = json.loads((js / "package.json").read_text(encoding="utf-8"))["dependencies"]["onnxruntime-web"]
    installed = js / "node_modules" / "onnxruntime-web" / "package.json"
    version = json.loads(installed.read_text(encoding="utf-8"))["version"] if installed.is_file() else None
    if version != pinned:
        found = f"found {version}" if version else "it is not installed"
        raise EdgeseqError(f"--web copies onnxruntime-web {pinned} from js/node_modules ({found}): run "
                           f"'npm ci' in {js}")
    return js


def write_web_folder(step: Path, out: Path, force: bool = False) -> Path:
    """The web folder of the char model ``step`` (NAME.onnx) at ``out``; written whole or not at all."""
    js = js_folder()  # before any work: the folder cannot be built without it
    sidecar = sidecar_for(step)  # the model checked (digest, pairing) as the runner checks it
    named = json.loads(sidecar)["files"].values()
    models = {}
    for entry in named:
        data = read_model_bytes(step.with_name(entry["name"]))
        if bytes_sha256(data) != entry["sha256"]:
            raise EdgeseqError(f"{entry['name']} changed while the folder was built; try again")
        models[entry["name"]] = data
    dist = js / "node_modules" / "onnxruntime-web" / "dist"
    ort_package = json.loads((dist.parent / "package.json").read_text(encoding="utf-8"))
    name = html.escape(step.stem, quote=True)
    with new_folder(out, force, may_replace=not_a_web_folder) as tmp:
        for page in PAGE_FILES:
            (tmp / page).write_text((js / "page" / page).read_text(encoding="utf-8").replace("MODEL_NAME", name),
                                    encoding="utf-8")
        (tmp / "edgeseq.js").write_bytes((js / "edgeseq.js").read_bytes())
        (tmp / "model").mkdir()
        (tmp / "model" / f"{step.stem}.json").write_bytes(sidecar)
        for file_name, data in models.items():
            (tmp / "model" / file_name).write_bytes(data)
        (tmp / "ort").mkdir()
        for file_name in ORT_FILES:
            (tmp / "ort" / file_name).write_bytes((dist / file_name).read_bytes())
        (tmp / "ort" / "ABOUT.json").write_text(json.dumps(
            {key: ort_package.get(key) for key in ("name", "version", "license", "homepage")}, indent=2) + "\n")
    sizes = {part: sum(f.stat().st_size for f in (out / part).rglob("*") if f.is_file()) for part in ("model", "ort")}
    logger.info(f"wrote {out}/: index.html, edgeseq.js, model/ ({sizes['model'] / 1024:.0f} KiB), "
                f"ort/ (onnxruntime-web {ort_package['version']}, {sizes['ort'] / 2**20:.1f} MiB)")
    logger.info(f"serve it with: python -m http.server --directory {out} --bind 127.0.0.1 8000")
    return out


def not_a_web_folder(path: Path) -> str | None:
    """With --force, why ``path`` must not be replaced: only a folder --web wrote may be."""
    if not all((path / name).is_file() for name in (*PAGE_FILES, "edgeseq.js")):
        return f"{path} is not a folder written by --web (no index.html, page.js and edgeseq.js); not replacing it"
    return None
