"""Rebuilding the models shipped in exported/, reproducibly, with their manifest.

    python -m edgeseq.export.defaults --force

trains each default from a fixed seed, exports it (verified against TensorFlow), and
rewrites exported/MANIFEST.json: the sha256 and size of every file, the command that made
it, and its training metrics. A test recomputes the hashes, so a hand-edited model file
cannot pass unnoticed.
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from edgeseq.atomic import write_bytes, write_text
from edgeseq.contract import ModelFiles, file_sha256
from edgeseq.log import logger, setup_cli_logging

COMMAND = "python -m edgeseq.export.defaults --force"
EXPORTED = Path(__file__).resolve().parents[2] / "exported"

#: name -> how it is trained. The ship model: the lab's stacked LSTM with a softmax layer.
CHAR_DEFAULTS = {
    "ship": dict(sample="ship", model=dict(cell="lstm", layers=2, hidden=64, head="dense", input="onehot"),
                 epochs=500, lr=0.1, seed=0),
}


#: name -> how it is trained. The stock model: the lab's forecaster (one LSTM layer and a
#: dense layer on its last output, 7 days of OHLCV, next close), predicting the change from
#: the last close, on a synthetic Yahoo-format price history the project writes itself.
SERIES_DEFAULTS = {
    "stock": dict(csv="sample_prices.csv", days=1000, data_seed=7, window=7, horizon=1,
                  model=dict(cell="lstm", layers=1, hidden=32, target_mode="delta"),
                  epochs=100, lr=1e-3, batch_size=32, validation=0.2, patience=10, seed=0),
}


def build_char(name: str, spec: dict, work: Path, force: bool) -> dict:
    from edgeseq.data.text import sample_text
    from edgeseq.export.exporter import export_run
    from edgeseq.training.char_training import CharModelSpec, TrainSettings, train_char

    text, window = sample_text(spec["sample"])
    _, _, metrics = train_char(text, window, CharModelSpec(**spec["model"]),
                               TrainSettings(epochs=spec["epochs"], lr=spec["lr"], seed=spec["seed"]),
                               out=work / name, source=f"sample:{spec['sample']}")
    out = EXPORTED / f"{name}.onnx"
    result = export_run(work / name, out, force=force)
    entries = {out.name: {"task": "char", "metrics": metrics, "training": spec},
               ModelFiles(out).fixed.name: {"task": "char", "graph": "fixed", "of": out.name}}
    for path in result.paths[2:]:  # the generation graph (NAME.gen.onnx), when the model has one
        entries[path.name] = {"task": "char", "graph": "generation", "of": out.name}
    return entries


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
    export_run(work / name, out, force=force)
    made_by = f"edgeseq.data.synthetic.write_synthetic_csv(days={spec['days']}, seed={spec['data_seed']})"
    return {csv.name: {"task": "series", "data": "SYNTHETIC price history (a seeded random walk), Yahoo format",
                       "made_by": made_by},
            out.name: {"task": "series", "metrics": run.backtest.evaluation, "training": spec},
            ModelFiles(out).fixed.name: {"task": "series", "graph": "fixed", "of": out.name}}


def write_manifest(entries: dict) -> Path:
    manifest_path = EXPORTED / "MANIFEST.json"
    old = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    files = old.get("files", {})
    files.update(entries)
    for name, entry in files.items():
        entry["sha256"] = file_sha256(EXPORTED / name)
        entry["bytes"] = (EXPORTED / name).stat().st_size
    doc = {"command": COMMAND, "note": "Rebuild every file here with the command above.",
           "files": dict(sorted(files.items()))}
    return write_text(manifest_path, json.dumps(doc, indent=2, ensure_ascii=False) + "\n", force=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="overwrite the shipped files")
    parser.add_argument("--only", choices=sorted([*CHAR_DEFAULTS, *SERIES_DEFAULTS]), help="rebuild just this one")
    args = parser.parse_args(argv)
    setup_cli_logging()
    entries = {}
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
