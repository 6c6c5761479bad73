"""Rebuilding the models shipped in exported/, reproducibly, with their manifest.

    python -m tools.rebuild_exported --force

trains each default from a fixed seed, exports it (verified against TensorFlow) with its
int8 model beside it (``--quantize int8``: NAME.int8.onnx, and for ship NAME.int8.gen.onnx),
and rewrites exported/MANIFEST.json: the sha256 and size of every file, the command that
made it, and its training metrics (the int8 files: their measured cost). A test recomputes
the hashes, so a hand-edited model file cannot pass unnoticed.

    python -m tools.rebuild_exported --int8-only --force

makes only the int8 files, from the shipped fp32 files as they are (no training, the fp32
bytes untouched), through the very code ``--quantize int8`` runs (edgeseq.export.int8.int8_files).
``--json-only --force`` writes only each char model's NAME.json (what a JavaScript runner reads)
from the shipped files as they are.
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from edgeseq.atomic import write_bytes, write_text
from edgeseq.contract import ModelFiles, file_sha256
from edgeseq.contract.digest import MANIFEST_KEY, PLACEHOLDER, seal
from edgeseq.data.samples import SAMPLE_PREFIX
from edgeseq.log import logger, setup_cli_logging

COMMAND = "python -m tools.rebuild_exported --force"
EXPORTED = Path(__file__).resolve().parents[1] / "exported"
#: where the defaults' recorded data paths start ("exported/sample_prices.csv")
ROOT = EXPORTED.parent

#: name -> how it is trained. The ship model: the lab's stacked LSTM with a softmax layer.
CHAR_DEFAULTS = {
    "ship": dict(sample="ship", model=dict(cell="lstm", layers=2, hidden=64, head="dense", input="onehot"),
                 epochs=500, lr=0.1, seed=0, quantize="int8"),
}


#: name -> how it is trained. The stock model: the lab's forecaster (one LSTM layer on 7 days
#: of OHLCV, next close) in the default ``change`` mode (scale-free windows, a skip layer, a
#: prediction interval), on a synthetic Yahoo-format price history the project writes itself.
SERIES_DEFAULTS = {
    "stock": dict(csv="sample_prices.csv", days=1000, data_seed=7, window=7, horizon=1,
                  model=dict(cell="lstm", layers=1, hidden=32, target_mode="change"),
                  epochs=100, lr=1e-2, batch_size=64, validation=0.2, patience=20, seed=0, quantize="int8"),
}


def build_char(name: str, spec: dict, work: Path, force: bool) -> dict:
    from edgeseq.data.text import sample_text
    from edgeseq.export.exporter import export_run
    from edgeseq.training.char_training import CharModelSpec, TrainSettings, train_char

    text, window = sample_text(spec["sample"])
    _, _, metrics = train_char(text, window, CharModelSpec(**spec["model"]),
                               TrainSettings(epochs=spec["epochs"], lr=spec["lr"], seed=spec["seed"]),
                               out=work / name, source=f"{SAMPLE_PREFIX}{spec['sample']}")
    out = EXPORTED / f"{name}.onnx"
    result = export_run(work / name, out, force=force, quantize=spec.get("quantize"), data_root=ROOT)
    entries = {out.name: {"task": "char", "metrics": metrics, "training": spec},
               ModelFiles(out).fixed.name: {"task": "char", "graph": "fixed", "of": out.name}}
    if ModelFiles(out).generation in result.paths:
        entries[ModelFiles(out).generation.name] = {"task": "char", "graph": "generation", "of": out.name}
    entries.update(sidecar_entry(out))
    return {**entries, **int8_entries(out, [p for p in result.paths if ".int8." in p.name])}


def int8_entries(out: Path, paths: list[Path]) -> dict:
    """The manifest entries of the int8 files made beside ``out``: what each is, and the cost."""
    from edgeseq.runtime.model_file import open_model

    files, entries = ModelFiles(out), {}
    for path in paths:
        meta = open_model(path).description
        entry = {"task": meta.task, "graph": meta.graph, "precision": "int8", "of": out.name}
        if path == files.int8:
            entry["quantization"] = {k: v for k, v in meta.quantization.fields_json().items()
                                     if k not in ("scheme", "tolerance")}
        else:
            entry["of"] = files.int8.name
        entries[path.name] = entry
    return entries


def sidecar_entry(out: Path) -> dict:
    """The manifest entry of NAME.json beside the char model ``out``."""
    return {ModelFiles(out).sidecar.name: {"task": "char", "what": "what a JavaScript runner reads (js/edgeseq.js)",
                                           "of": out.name}}


def build_sidecar_only(name: str, force: bool) -> dict:
    """NAME.json of a shipped char model, from its files as they are."""
    from edgeseq.runtime.verify_files import sidecar_for

    out = EXPORTED / f"{name}.onnx"
    write_bytes(ModelFiles(out).sidecar, sidecar_for(out), force=force)
    return sidecar_entry(out)


def build_series(name: str, spec: dict, work: Path, force: bool) -> dict:
    from edgeseq.data.series import load_csv
    from edgeseq.data.synthetic import write_synthetic_csv
    from edgeseq.export.exporter import export_run
    from edgeseq.training.series_training import SeriesModelSpec, SeriesTrainSettings, train_series

    sample = write_synthetic_csv(work / spec["csv"], days=spec["days"], seed=spec["data_seed"])
    csv = write_bytes(EXPORTED / spec["csv"], sample.read_bytes(), force=force)
    settings = SeriesTrainSettings(**{k: spec[k] for k in ("epochs", "lr", "batch_size", "validation",
                                                           "patience", "seed")})
    model = SeriesModelSpec(window=spec["window"], horizon=spec["horizon"], **spec["model"])
    run = train_series(load_csv(csv), model, settings, out=work / name, source=f"exported/{csv.name}")
    out = EXPORTED / f"{name}.onnx"
    result = export_run(work / name, out, force=force, quantize=spec.get("quantize"), data_root=ROOT)
    made_by = f"edgeseq.data.synthetic.write_synthetic_csv(days={spec['days']}, seed={spec['data_seed']})"
    return {csv.name: {"task": "series", "data": "SYNTHETIC price history (a seeded random walk), Yahoo format",
                       "made_by": made_by},
            out.name: {"task": "series", "metrics": run.backtest.evaluation, "training": spec},
            ModelFiles(out).fixed.name: {"task": "series", "graph": "fixed", "of": out.name},
            **int8_entries(out, [p for p in result.paths if ".int8." in p.name])}


def build_int8_only(name: str, spec: dict, force: bool) -> dict:
    """The int8 files of a shipped model, from its fp32 files as they are (no training)."""
    from edgeseq.export.int8.int8_files import quantize_exported

    out = EXPORTED / f"{name}.onnx"
    return int8_entries(out, quantize_exported(out, force=force, root=ROOT)) if spec.get("quantize") else {}


def write_manifest(entries: dict) -> Path:
    manifest_path = EXPORTED / "MANIFEST.json"
    old = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    files = old.get("files", {})
    files.update(entries)
    for name, entry in files.items():
        entry["sha256"] = file_sha256(EXPORTED / name)
        entry["bytes"] = (EXPORTED / name).stat().st_size
    doc = {"command": COMMAND, "note": "Rebuild every file here with the command above.",
           MANIFEST_KEY: PLACEHOLDER, "files": dict(sorted(files.items()))}
    text = seal(json.dumps(doc, indent=2, ensure_ascii=False).encode("utf-8") + b"\n", MANIFEST_KEY)
    return write_text(manifest_path, text.decode("utf-8"), force=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="overwrite the shipped files")
    parser.add_argument("--only", choices=sorted([*CHAR_DEFAULTS, *SERIES_DEFAULTS]), help="rebuild just this one")
    parser.add_argument("--int8-only", action="store_true",
                        help="make only the int8 files, from the shipped fp32 files as they are (no training)")
    parser.add_argument("--json-only", action="store_true",
                        help="write only each char model's NAME.json, from the shipped files as they are")
    args = parser.parse_args(argv)
    setup_cli_logging()
    entries = {}
    if args.json_only:
        for name in CHAR_DEFAULTS:
            if args.only in (None, name):
                entries.update(build_sidecar_only(name, args.force))
        logger.info(f"wrote {write_manifest(entries)}")
        return
    if args.int8_only:
        for name, spec in {**CHAR_DEFAULTS, **SERIES_DEFAULTS}.items():
            if args.only in (None, name):
                entries.update(build_int8_only(name, spec, args.force))
        logger.info(f"wrote {write_manifest(entries)}")
        return
    with tempfile.TemporaryDirectory() as work:
        for name, spec in CHAR_DEFAULTS.items():
            if args.only in (None, name):
                entries.update(build_char(name, spec, Path(work), args.force))
        for name, spec in SERIES_DEFAULTS.items():
            if args.only in (None, name):
                entries.update(build_series(name, spec, Path(work), args.force))
    logger.info(f"wrote {write_manifest(entries)}")


if __name__ == "__main__":
    main()
