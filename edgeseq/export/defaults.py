"""Rebuilding the models shipped in exported/, reproducibly, with their manifest.

    python -m edgeseq.export.defaults --force

trains each default from a fixed seed, exports it (verified against TensorFlow), and
rewrites exported/MANIFEST.json: the sha256 and size of every file, the command that made
it, and its training metrics. A test recomputes the hashes, so a hand-edited model file
cannot pass unnoticed.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

from edgeseq.atomic import write_text

COMMAND = "python -m edgeseq.export.defaults --force"
EXPORTED = Path(__file__).resolve().parents[2] / "exported"

#: name -> how it is trained. The ship model: the lab's stacked LSTM with a softmax layer.
CHAR_DEFAULTS = {
    "ship": dict(sample="ship", model=dict(cell="lstm", layers=2, hidden=64, head="dense", input="onehot"),
                 epochs=500, lr=0.1, seed=0),
}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_char(name: str, spec: dict, work: Path, force: bool) -> dict:
    from edgeseq.data.text import sample_text
    from edgeseq.export.char_export import export_char, fixed_path
    from edgeseq.training.char_training import TrainSettings, train_char

    text, window = sample_text(spec["sample"])
    _, _, metrics = train_char(text, window, spec["model"],
                               TrainSettings(epochs=spec["epochs"], lr=spec["lr"], seed=spec["seed"]),
                               out=work / name, source=f"sample:{spec['sample']}")
    out = EXPORTED / f"{name}.onnx"
    export_char(work / name, out, force=force)
    return {out.name: {"task": "char", "metrics": metrics, "training": spec},
            fixed_path(out).name: {"task": "char", "graph": "fixed", "of": out.name}}


def write_manifest(entries: dict) -> Path:
    manifest_path = EXPORTED / "MANIFEST.json"
    old = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    files = old.get("files", {})
    files.update(entries)
    for name, entry in files.items():
        entry["sha256"] = sha256(EXPORTED / name)
        entry["bytes"] = (EXPORTED / name).stat().st_size
    doc = {"command": COMMAND, "note": "Rebuild every file here with the command above.",
           "files": dict(sorted(files.items()))}
    return write_text(manifest_path, json.dumps(doc, indent=2, ensure_ascii=False) + "\n", force=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="overwrite the shipped files")
    parser.add_argument("--only", choices=sorted(CHAR_DEFAULTS), help="rebuild just this one")
    args = parser.parse_args(argv)
    entries = {}
    with tempfile.TemporaryDirectory() as work:
        for name, spec in CHAR_DEFAULTS.items():
            if args.only in (None, name):
                entries.update(build_char(name, spec, Path(work), args.force))
    print(f"wrote {write_manifest(entries)}", file=sys.stderr)


if __name__ == "__main__":
    main()
