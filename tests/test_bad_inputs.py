"""The bad-input battery: each input tried, and the one line a user sees (docs/bad-inputs.md).

Every case runs the CLI in a folder of its own (so the lines name files as the user typed
them) and must end with exactly its line and exit code, with no traceback anywhere. The
table in docs/bad-inputs.md is rebuilt from CASES and must equal the committed file; after
changing a case, regenerate it with::

    PYTHONPATH=. python tests/test_bad_inputs.py
"""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import EXPORTED, REPO, cli, edited_copy

DOC = REPO / "docs" / "bad-inputs.md"
SHIP, STOCK = EXPORTED / "ship.onnx", EXPORTED / "stock.onnx"


@dataclass
class Case:
    what: str  # the input, as the table names it
    args: list[str]  # after `edgeseq`
    line: str  # what the user sees: the stderr line (after "edgeseq: error: ") or, with exit 0/1, a line of output
    make: object = None  # make(folder): the files the case needs
    code: int = 2
    needs_run: bool = False  # a tiny trained run folder copied to ./run
    after: str = ""  # a line printed before the failure (found only when the model runs)
    env: dict | None = None  # environment variables the case sets (TF_CONFIG)
    isolated: bool = False  # run in a subprocess under MEMORY_LIMIT: a regression fails, not the machine
    signal: str | None = None  # "run": SIGTERM once output flows; "save": SIGTERM as the run folder is staged
    needs_checkpoint: bool = False  # a killed training's checkpoint copied to ./.run.training (for -o run)

    @property
    def command(self) -> str:
        env = "".join(f"{key}={shlex.quote(value)} " for key, value in (self.env or {}).items())
        return env + "edgeseq " + shlex.join(self.args)


def model(source: Path, edit=None, seal: bool = True, name: str = "m.onnx"):
    return lambda folder: edited_copy(source, folder / name, edit, seal)


def setter(**values):
    return lambda doc: doc.update(values)


def flipped(source: Path, name: str, at: float = 0.5):
    def make(folder):
        data = bytearray(source.read_bytes())
        data[int(len(data) * at)] ^= 0x01  # one bit, in the middle of the weights
        (folder / name).write_bytes(bytes(data))
    return make


def with_gen(gen_edit, step_edit=None):
    """m.onnx (ship's step graph, edited by ``step_edit`` when given, digest recomputed) and an
    m.gen.onnx beside it that names it, edited by ``gen_edit``."""
    def make(folder):
        from edgeseq.contract.digest import bytes_sha256

        if step_edit is None:
            shutil.copy(SHIP, folder / "m.onnx")
        else:
            edited_copy(SHIP, folder / "m.onnx", step_edit)
        sha = bytes_sha256((folder / "m.onnx").read_bytes())

        def edit(doc):
            doc["generation"].update(of="m.onnx", of_sha256=sha)
            gen_edit(doc)
        edited_copy(EXPORTED / "ship.gen.onnx", folder / "m.gen.onnx", edit)
    return make


def emitting_gen(token: int):
    """m.gen.onnx: a graph with the generation graph's inputs and outputs that emits ``token``."""
    def make(folder):
        import onnx
        from onnx import TensorProto, helper

        from edgeseq.contract.digest import PLACEHOLDER, bytes_sha256, seal

        shutil.copy(SHIP, folder / "m.onnx")
        real = onnx.load(str(EXPORTED / "ship.gen.onnx"))
        nodes = [helper.make_node("Transpose", ["uniforms"], ["ut"], perm=[1, 0]),
                 helper.make_node("Shape", ["ut"], ["shape"]),
                 helper.make_node("ConstantOfShape", ["shape"], ["tokens"],
                                  value=helper.make_tensor("v", TensorProto.INT32, [1], [token])),
                 helper.make_node("Identity", ["state"], ["new_state"])]
        graph = helper.make_graph(nodes, "emit", list(real.graph.input), list(real.graph.output))
        fake = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        doc = json.loads(real.metadata_props[0].value)
        doc["generation"].update(of="m.onnx", of_sha256=bytes_sha256((folder / "m.onnx").read_bytes()))
        doc["file_sha256"] = PLACEHOLDER
        entry = fake.metadata_props.add()
        entry.key, entry.value = "edgeseq", json.dumps(doc)
        (folder / "m.gen.onnx").write_bytes(seal(fake.SerializeToString()))
    return make


def nested(depth: int):
    def edit(doc):
        value = []
        for _ in range(depth):
            value = [value]
        doc["training"]["deep"] = value
    return edit


def csv_with(last_close: str, row: int = -1, lines_kept: int = 14):
    def make(folder):
        lines = (EXPORTED / "sample_prices.csv").read_text().splitlines()[:lines_kept]
        cells = lines[row].split(",")
        cells[4] = last_close
        lines[row] = ",".join(cells)
        (folder / "p.csv").write_text("\n".join(lines) + "\n")
    return make


def config_edit(edit):
    def make(folder):
        config = json.loads((folder / "run" / "config.json").read_text())
        edit(config)
        (folder / "run" / "config.json").write_text(json.dumps(config))
    return make


def other_models_keras(folder):
    shutil.copy(folder / "other" / "model.keras", folder / "run" / "model.keras")


def csv_cells(cells: dict[int, str], lines_kept: int = 14, dates=None):
    """p.csv: the first rows of the sample, the last one's cells {column index: text} replaced;
    ``dates(i, date)`` rewrites each data row's date."""
    def make(folder):
        lines = (EXPORTED / "sample_prices.csv").read_text().splitlines()[:lines_kept]
        row = lines[-1].split(",")
        for column, text in cells.items():
            row[column] = text
        lines[-1] = ",".join(row)
        if dates is not None:
            for i in range(2, len(lines)):
                date, rest = lines[i].split(",", 1)
                lines[i] = f"{dates(i, date)},{rest}"
        (folder / "p.csv").write_text("\n".join(lines) + "\n")
    return make


def text_file(content: str, name: str = "t.txt"):
    return lambda folder: (folder / name).write_text(content)


def fifo(folder):
    os.mkfifo(folder / "t.txt")


def long_csv(rows: int):
    """big.csv: ``rows`` rows of a seeded random walk (Open,High,Low,Close,Volume), and m.onnx:
    the stock model with the maximum window (digest recomputed)."""
    def make(folder):
        import numpy as np

        model(STOCK, setter(window=65536))(folder)
        walk = 100 * np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.01, rows)))
        table = np.column_stack([walk, walk * 1.01, walk * 0.99, walk, np.full(rows, 1000.0)])
        np.savetxt(folder / "big.csv", table, fmt="%.4f", delimiter=",", header="Open,High,Low,Close,Volume",
                   comments="")
    return make


def with_step_and_gen(edit):
    """m.onnx and m.gen.onnx, both edited by ``edit`` (digests recomputed, the pairing kept)."""
    return with_gen(edit, step_edit=edit)


def extra_metadata(size: int):
    """m.onnx: the stock model with one more metadata entry of ``size`` bytes (digest valid)."""
    def make(folder):
        import onnx

        from edgeseq.contract.digest import PLACEHOLDER, seal

        proto = onnx.load(str(STOCK))
        doc = json.loads(proto.metadata_props[0].value)
        doc["file_sha256"] = PLACEHOLDER
        proto.metadata_props[0].value = json.dumps(doc)
        entry = proto.metadata_props.add()
        entry.key, entry.value = "extra", "x" * size
        (folder / "m.onnx").write_bytes(seal(proto.SerializeToString()))
    return make


def digest_key_flipped(folder):
    data = bytearray(SHIP.read_bytes())
    data[data.find(b'"file_sha256"') + 2] ^= 0x01  # "file_sha256" -> "fhle_sha256"
    (folder / "m.onnx").write_bytes(bytes(data))


def shipped_folder(edit_manifest):
    """./ holding the shipped files, MANIFEST.json's text passed through ``edit_manifest``."""
    def make(folder):
        for file in EXPORTED.iterdir():
            shutil.copy(file, folder / file.name)
        (folder / "MANIFEST.json").write_text(edit_manifest((EXPORTED / "MANIFEST.json").read_text()))
    return make


def checkpoint_edit(edit):
    """``edit(epoch_folder)`` applied to the copied checkpoint's last epoch."""
    def make(folder):
        edit(sorted((folder / ".run.training").glob("epoch-*"))[-1])
    return make


def state_edit(edit):
    def change(epoch):
        state = json.loads((epoch / "state.json").read_text())
        state = edit(state) or state
        (epoch / "state.json").write_text(json.dumps(state))
    return checkpoint_edit(change)


def cut_to(name: str, fraction: float):
    def cut(epoch):
        data = (epoch / name).read_bytes()
        (epoch / name).write_bytes(data[:int(len(data) * fraction)])
    return checkpoint_edit(cut)


def weights_edit(edit):
    def change(epoch):
        import numpy as np

        with np.load(epoch / "weights.npz") as f:
            arrays = [f[f"arr_{i}"] for i in range(len(f.files))]
        np.savez(epoch / "weights.npz", *edit(arrays))
    return checkpoint_edit(change)


def stray_epoch(folder):
    (folder / ".run.training" / "epoch-zzz").mkdir()
    (folder / ".run.training" / "epoch-zzz" / "state.json").write_text("{}")


def linked(name: str, target: str = "decoy"):
    """./decoy (a folder with a hidden file) and ./NAME, a symbolic link to it."""
    def make(folder):
        (folder / "decoy").mkdir()
        (folder / "decoy" / ".keep").write_text("mine")
        (folder / name).symlink_to(folder / target)
    return make


def tf_config(cluster, kind="worker", index=0):
    return {"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": kind, "index": index}})}


def deep(depth: int) -> str:
    return "[" * depth + "]" * depth


GEN_SUMMARY = "model m.onnx: 2xLSTM(64), context window 10, generation graph"
RUN = ["run", "char", "--model", "m.onnx", "--prompt", "if you", "--length", "5"]
STOCK_RUN = ["run", "stock", "--model", "m.onnx"]
RESUME = ["train", "char", "--sample", "ship", "--hidden", "4", "--layers", "1", "--epochs", "3", "-o", "run", "--resume"]
WORKERS = ["train", "char", "--sample", "ship", "--hidden", "4", "--layers", "1", "--epochs", "2", "--strategy",
           "multi-worker", "-o", "r"]
EPOCH = ".run.training/epoch-000002"
#: the address space a memory case's subprocess may take: a regression fails instead of swapping
MEMORY_LIMIT = 2 << 30


def np_zeros(shape):
    import numpy as np

    return np.zeros(shape, np.float32)
CASES = [
    # ---- options
    Case("a negative sampling seed", ["run", "char", "--prompt", "if you", "--seed", "-1"],
         "--seed must be from 0 to 4294967295, got -1"),
    Case("a top-k beyond any integer", ["run", "char", "--prompt", "if you", "--temperature", "1", "--top-k",
                                        "99999999999999999999"],
         "--top-k must be from 0 to 25 (the vocabulary size; 0: all), got 99999999999999999999"),
    Case("more threads than cores", ["run", "char", "--prompt", "if you", "--threads", "1000"],
         "--threads must be from 1 to CORES (the cores of this machine), got 1000"),
    Case("a temperature of NaN", ["run", "char", "--prompt", "if you", "--temperature", "nan"],
         "--temperature must be 0 (greedy) or a finite positive number, got nan"),
    Case("an infinite learning rate", ["train", "char", "--sample", "hihello", "--lr", "inf", "-o", "r"],
         "--lr must be a finite positive number, got inf"),
    Case("a negative training seed", ["train", "char", "--sample", "hihello", "--seed", "-1", "-o", "r"],
         "--seed must be from 0 to 4294967295, got -1"),
    Case("a hidden size beyond the model-file limit", ["train", "char", "--sample", "hihello", "--hidden", "100000"],
         "--hidden must be at most 16384, got 100000"),
    Case("--force onto the current folder", ["train", "char", "--sample", "hihello", "-o", ".", "--force"],
         "refusing to replace .: it is the current folder or holds it; choose another -o"),
    Case("--force onto a folder that is not a run", ["train", "char", "--sample", "hihello", "-o", "notes", "--force"],
         "notes is not a run folder (it has no config.json or model.keras); --force replaces only run folders: "
         "choose another -o", make=lambda f: (f / "notes").mkdir() or (f / "notes" / "todo.txt").write_text("x")),
    # ---- run folders
    Case("a run whose config has an unknown model setting", ["export", "run", "-o", "m.onnx"],
         "run/config.json does not describe an edgeseq char model (CharModelConfig.__init__() got an unexpected "
         "keyword argument 'dropout'); train the run again",
         make=config_edit(lambda c: c["model"].update(dropout=0.5)), needs_run=True),
    Case("a run whose config has no window", ["export", "run", "-o", "m.onnx"],
         "run/config.json: 'window' is missing; train the run again",
         make=config_edit(lambda c: c.pop("window")), needs_run=True),
    Case("a run with another run's model.keras", ["export", "run", "-o", "m.onnx"],
         "run/model.keras is not the model its config.json describes (it predicts 5 characters, the config's "
         "vocabulary has 25); train the run again", make=other_models_keras, needs_run=True),
    Case("an export named other than NAME.onnx", ["export", "run", "-o", "m.txt"],
         "-o m.txt: name the model file NAME.onnx (its siblings NAME.fixed.onnx, ... go beside it)", needs_run=True),
    Case("an export onto a folder", ["export", "run", "-o", "m.onnx", "--force"],
         "m.onnx is a folder; name the model file NAME.onnx (-o) to write",
         make=lambda f: (f / "m.onnx").mkdir(), needs_run=True),
    Case("an export where nothing can be written (before TensorFlow loads)", ["export", "run", "-o", "/proc/e/m.onnx"],
         "/proc/e/m.onnx: cannot write: No such file or directory", needs_run=True),
    Case("a plot where nothing can be written (before the forecast)", ["run", "stock", "--plot", "/proc/p.png"],
         "/proc/p.png: cannot write: No such file or directory"),
    # ---- CSV files
    Case("a CSV value that overflows float32", ["run", "stock", "--csv", "p.csv"],
         "p.csv row 14, column 'Close': '1e300' is too large for the model's 32-bit floats (at most 3.4e+38 in size)", make=csv_with("1e300")),
    Case("a last close of 0 (the model reads Close as log ratios)", ["run", "stock", "--csv", "p.csv"],
         "p.csv row 14, column 'Close': 0 is not positive, and the model reads 'Close' as log ratios (it was positive "
         "in training); fix the value, or forecast from rows before it", make=csv_with("0")),
    # ---- model metadata
    Case("metadata that is a list", RUN, "m.onnx: edgeseq metadata: expected a JSON object, found list",
         make=model(SHIP, lambda d: "[1, 2]")),
    Case("metadata that is null", RUN, "m.onnx: edgeseq metadata: expected a JSON object, found null",
         make=model(SHIP, lambda d: "null")),
    Case("metadata that is a string", RUN, "m.onnx: edgeseq metadata: expected a JSON object, found str",
         make=model(SHIP, lambda d: '"ship"')),
    Case("format_version as text", RUN,
         "m.onnx: edgeseq metadata: 'format_version' must be a whole number from 0 to 1073741824, got '2'",
         make=model(SHIP, setter(format_version="2"))),
    Case("a newer format", RUN, "m.onnx: made by edgeseq 9.0 (format 2); this edgeseq (VERSION) reads format 1: "
                                "upgrade edgeseq", make=model(SHIP, setter(format_version=2, edgeseq_version="9.0"))),
    Case("JSON nested 100 deep", RUN, "m.onnx: its edgeseq metadata nests 103 levels deep; edgeseq reads at most 16",
         make=model(SHIP, nested(100))),
    Case("a missing key", RUN, "m.onnx: edgeseq metadata: 'window' is missing",
         make=model(SHIP, lambda d: d.pop("window") and None)),
    Case("a mistyped key", RUN,
         "m.onnx: edgeseq metadata: 'layers' must be a whole number from 1 to 64, got '2'",
         make=model(SHIP, setter(layers="2"))),
    Case("a vocabulary shorter than the logits", RUN,
         "m.onnx: the graph's output 'logits' has shape [?, ?, 25], but the metadata says [?, ?, 24] "
         "(axis 2: 24, the vocabulary of 24 characters)",
         make=model(SHIP, lambda d: d.update(vocabulary=d["vocabulary"][:-1]))),
    Case("a vocabulary longer than the logits", RUN,
         "m.onnx: the graph's output 'logits' has shape [?, ?, 25], but the metadata says [?, ?, 26] "
         "(axis 2: 26, the vocabulary of 26 characters)",
         make=model(SHIP, lambda d: d.update(vocabulary=d["vocabulary"] + "Z"))),
    Case("a window of -5", RUN, "m.onnx: edgeseq metadata: 'window' must be a whole number from 1 to 65536, got -5",
         make=model(SHIP, setter(window=-5))),
    Case("a window of 10 million", RUN,
         "m.onnx: edgeseq metadata: 'window' must be a whole number from 1 to 65536, got 10000000",
         make=model(SHIP, setter(window=10**7))),
    Case("a state of [batch, 1e5, 1e5]", RUN,
         "m.onnx: edgeseq metadata: 'state.shape' must be [\"batch\", rows from 1 to 128, hidden from 1 to 16384], "
         "got ['batch', 100000, 100000]",
         make=model(SHIP, lambda d: d["state"].update(shape=["batch", 10**5, 10**5]))),
    Case("a stock model with window 0", STOCK_RUN,
         "m.onnx: edgeseq metadata: 'window' must be a whole number from 1 to 65536, got 0",
         make=model(STOCK, setter(window=0))),
    Case("a horizon of 1e8", STOCK_RUN,
         "m.onnx: edgeseq metadata: 'horizon' must be a whole number from 1 to 10000, got 100000000",
         make=model(STOCK, setter(horizon=10**8))),
    Case("a horizon the graph does not give", STOCK_RUN,
         "m.onnx: the graph gives [1] values per forecast, but the metadata says horizon 3",
         make=model(STOCK, setter(horizon=3, interval_quantiles=[1.0, 1.0, 1.0]))),
    Case("a change model's interval for fewer steps than its horizon", STOCK_RUN,
         "m.onnx: edgeseq metadata: a change model needs 'interval_quantiles' with 3 value(s), got (1.0,)",
         make=model(STOCK, setter(horizon=3, interval_quantiles=[1.0]))),
    Case("a fixed graph whose window is not its time axis", ["info", "m.onnx"],
         "m.onnx: the graph's input 'ids' has shape [?, 10], but the metadata says [?, 11] (axis 1: 11, the window)",
         make=model(EXPORTED / "ship.fixed.onnx", setter(window=11))),
    Case("a malformed stored evaluation", ["info", "m.onnx"],
         "m.onnx: edgeseq metadata: 'evaluation.rmse.model' must be a number or null, got 'x'",
         make=model(STOCK, lambda d: d["evaluation"]["rmse"].update(model="x"))),
    Case("a terminal escape in the metadata", ["info", "m.onnx"], "recurrent_ops: \\x1b[2J\\x1b[31mLSTM",
         make=model(SHIP, setter(recurrent_ops="\x1b[2J\x1b[31mLSTM")), code=0),
    # ---- integrity
    Case("one flipped bit in the weights", RUN,
         "m.onnx: its bytes do not match its digest (file_sha256): the file is damaged or was edited after export; "
         "export it again", make=flipped(SHIP, "m.onnx")),
    Case("metadata edited by hand (window 10 -> 9)", RUN,
         "m.onnx: its bytes do not match its digest (file_sha256): the file is damaged or was edited after export; "
         "export it again", make=model(SHIP, setter(window=9), seal=False)),
    Case("one flipped bit in the generation graph", RUN,
         "m.gen.onnx: its bytes do not match its digest (file_sha256): the file is damaged or was edited after "
         "export; export it again (or delete it to run per step)",
         make=lambda f: with_gen(lambda d: None)(f) or flipped(f / "m.gen.onnx", "m.gen.onnx", 0.6)(f)),
    Case("a generation graph emitting id 99", RUN,
         "m.gen.onnx: the generation graph produced character id 99, outside the vocabulary of 25; "
         "export the model again", make=emitting_gen(99), after=GEN_SUMMARY),
    Case("a generation graph emitting id -1", RUN,
         "m.gen.onnx: the generation graph produced character id -1, outside the vocabulary of 25; "
         "export the model again", make=emitting_gen(-1), after=GEN_SUMMARY),
    Case("a generation graph with window 1e7 (paired)", RUN,
         "model m.onnx: 2xLSTM(64), context window 10, per-step (m.gen.onnx is not a usable generation graph "
         "(edgeseq metadata: 'window' must be a whole number from 1 to 65536, got 10000000))",
         make=with_gen(setter(window=10**7)), code=0),
    Case("verify of a file with one flipped bit", ["verify", "m.onnx"],
         "FAIL m.onnx: digest: its bytes do not match its digest (file_sha256): the file is damaged or was edited "
         "after export; export it again", make=flipped(SHIP, "m.onnx"), code=1),
    Case("verify of nothing", ["verify", "nothing.onnx"], "nothing.onnx: no such file or folder"),
    Case("--precision int8 without an int8 file", [*RUN, "--precision", "int8"],
         "no m.int8.onnx beside m.onnx; make it with: edgeseq export m.onnx --quantize int8", make=model(SHIP)),
    Case("--precision fp32 with an int8 file", ["run", "char", "--model", "m.int8.onnx", "--prompt", "if you",
                                                "--precision", "fp32"],
         "m.int8.onnx is an int8 file; pass m.onnx for fp32 (or --precision int8)",
         make=model(EXPORTED / "ship.int8.onnx", name="m.int8.onnx")),
    Case("--precision int8 with a stale int8 file", [*STOCK_RUN, "--precision", "int8"],
         "m.int8.onnx was not made from the m.onnx beside it (a stale int8 file); export again with --quantize "
         "int8 --force", make=lambda f: [model(STOCK, lambda d: d["training"].update(note="again"))(f),
                                         shutil.copy(EXPORTED / "stock.int8.onnx", f / "m.int8.onnx")]),
    Case("--quantize int4", ["export", "run", "--quantize", "int4"], "unknown --quantize 'int4'; choose one of: int8"),
    Case("an export named as the int8 sibling", ["export", "run", "-o", "m.int8.onnx"],
         "-o m.int8.onnx: NAME.int8.onnx is the name of the int8 model an export writes beside NAME.onnx; name the "
         "model file NAME.onnx (e.g. -o m.onnx)", needs_run=True),
    Case("an export named as the fixed graph", ["export", "run", "-o", "m.fixed.onnx"],
         "-o m.fixed.onnx: NAME.fixed.onnx is the name of the fixed-window graph an export writes beside NAME.onnx; "
         "name the model file NAME.onnx (e.g. -o m.onnx)", needs_run=True),
    Case("an exported model instead of a run folder", ["export", "m.onnx"],
         "m.onnx names a model file, not a run folder: to make its int8 model beside it, pass --quantize int8; a web "
         "folder, --web DIR; its ORT files, --ort; to export it again, pass the run folder it was exported from",
         make=model(SHIP)),
    Case("-o with an exported model", ["export", "m.onnx", "--quantize", "int8", "-o", "n.onnx"],
         "-o names the model a run folder is exported to; the files made from m.onnx go beside it (m.int8.onnx, ...) "
         "or into --web DIR: leave -o out", make=model(SHIP)),
    Case("--web with a run folder", ["export", "run", "--web", "site"],
         "--web and --ort take an exported model NAME.onnx, not a run folder: export the run first, then pass its "
         "NAME.onnx", needs_run=True),
    Case("--web with a forecaster", ["export", "m.onnx", "--web", "site"],
         "m.onnx: a 'series' model, but a char model is needed", make=model(STOCK)),
    Case("--author with an exported model", ["export", "m.onnx", "--quantize", "int8", "--author", "Ada"],
         "--author and --license are given when a run folder is exported; the int8 files of m.onnx carry its own",
         make=model(SHIP)),
    Case("int8 files already beside an exported model", ["export", "m.onnx", "--quantize", "int8"],
         "m.int8.onnx already exists; pass --force to overwrite it",
         make=lambda f: [model(SHIP)(f), model(EXPORTED / "ship.int8.onnx", name="m.int8.onnx")(f)]),
    Case("an int8 model to quantize", ["export", "m.int8.onnx", "--quantize", "int8"],
         "m.int8.onnx: an int8 model already; pass the fp32 model it was made from (ship.onnx)",
         make=model(EXPORTED / "ship.int8.onnx", name="m.int8.onnx")),
    Case("the fixed graph to quantize", ["export", "m.fixed.onnx", "--quantize", "int8"],
         "m.fixed.onnx: the fixed graph of a model; pass its step model NAME.onnx",
         make=model(EXPORTED / "ship.fixed.onnx", name="m.fixed.onnx")),
    # ---- numbers that cannot become garbage
    Case("a Low of 1e-300 (0 in float32) in a log column", ["run", "stock", "--csv", "p.csv"],
         "p.csv row 14, column 'Low': 1e-300 is 0 in the model's 32-bit floats, and the model reads 'Low' as log "
         "ratios (it was positive in training); fix the value, or forecast from rows before it",
         make=csv_cells({3: "1e-300"})),
    Case("values of 3e38 (an interval bound beyond float32)", ["run", "stock", "--csv", "p.csv", "--json"],
         "p.csv row 8 to row 14: the interval's upper bound made from these rows is not a finite number in the "
         "model's 32-bit floats; check their values (too large or too close to 0 for the model)",
         make=csv_cells({c: "3e38" for c in range(1, 6)})),
    Case("a temperature of 1e-38", ["run", "char", "--prompt", "if you", "--temperature", "1e-38", "--seed", "1"],
         "--temperature must be 0 (greedy) or at least 0.01 (below it float32 sampling is greedy or overflows), "
         "got 1e-38"),
    Case("dates with a UTC offset (kept as given)", ["run", "stock", "--csv", "p.csv"],
         "forecast  2020-01-17T16:00:00-05:00  Close 93.9463  (+0.0000, +0.00%)  90% interval [90.9452, 97.0464]",
         make=csv_cells({}, dates=lambda i, date: f"{date}T16:00:00-05:00"), code=0),
    Case("a last row dated 9999-12-31", ["run", "stock", "--csv", "p.csv"],
         "p.csv row 14: the last date, 9999-12-31, leaves no room for the 1 date(s) after it (dates end at "
         "9999-12-31)", make=csv_cells({}, dates=lambda i, date: f"9999-12-{i + 18:02d}")),
    Case("--season longer than the rows before the first scored forecast", ["run", "stock", "--backtest",
                                                                            "--season", "100000"],
         "--season 100000: the seasonal naive forecast needs the value one season before each scored forecast, "
         "and the first one (data row 701) has 700 rows before it; give --season 700 or less"),
    # ---- bounded inputs (the memory cases run in a subprocess under MEMORY_LIMIT)
    Case("--text /dev/zero", ["train", "char", "--text", "/dev/zero", "-o", "r"],
         "/dev/zero is not a regular file (a device, a pipe or a socket); edgeseq reads a text file only from a file"),
    Case("--text /dev/urandom", ["train", "char", "--text", "/dev/urandom", "-o", "r"],
         "/dev/urandom is not a regular file (a device, a pipe or a socket); edgeseq reads a text file only from a "
         "file"),
    Case("--text a named pipe with no writer", ["train", "char", "--text", "t.txt", "-o", "r"],
         "t.txt is not a regular file (a device, a pipe or a socket); edgeseq reads a text file only from a file",
         make=fifo),
    Case("--csv /dev/zero", ["run", "stock", "--csv", "/dev/zero"],
         "/dev/zero is not a regular file (a device, a pipe or a socket); edgeseq reads a CSV file only from a file"),
    Case("--model /dev/zero", ["run", "char", "--model", "/dev/zero", "--prompt", "if you"],
         "/dev/zero is not a regular file (a device, a pipe or a socket); edgeseq reads a model file only from a "
         "file"),
    Case("--by-line with one line of 5 million characters", ["train", "char", "--text", "t.txt", "--by-line",
                                                             "-o", "r"],
         "training 1 row(s) of 5,000,000 steps (the longest line) per batch would need about 31 GB of memory; this "
         "machine has MEMORY and edgeseq uses at most half of it: lower --batch-size, --window or --hidden (with "
         "--by-line: split the long lines)", make=text_file("ab" * 2_500_000 + "\n"), isolated=True),
    Case("--window 65536 on a 100 kB text", ["train", "char", "--text", "t.txt", "--window", "65536", "-o", "r"],
         "training 64 row(s) of 65,536 steps (--window) per batch would need about 27 GB of memory; this machine "
         "has MEMORY and edgeseq uses at most half of it: lower --batch-size, --window or --hidden (with --by-line: "
         "split the long lines)", make=text_file(("the ship sails far " * 6000)[:100_000]), isolated=True),
    Case("--batch-size 1000000000 on a 1 MB text", ["train", "char", "--text", "t.txt", "--batch-size",
                                                    "1000000000", "-o", "r"],
         "training 899,990 row(s) of 10 steps (--window) per batch would need about 57 GB of memory; this machine "
         "has MEMORY and edgeseq uses at most half of it: lower --batch-size, --window or --hidden (with --by-line: "
         "split the long lines)", make=text_file(("the ship sails far " * 60000)[:1_000_000]), isolated=True),
    Case("40 prompts with a generation graph of window 65536 (the graph does not bind it)",
         ["run", "char", "--model", "m.onnx", *["--prompt", "if you"] * 40, "--length", "5"],
         "40 prompt(s) at the context window of 65,536 of m.onnx would need about 27 GB of memory; this machine has "
         "MEMORY and edgeseq uses at most half of it: give fewer prompts per call (or --context stateful)",
         make=with_step_and_gen(setter(window=65536)), isolated=True),
    Case("a 100,000-row backtest of a forecaster of window 65536", ["run", "stock", "--model", "m.onnx", "--csv",
                                                                    "big.csv", "--backtest", "--from", "1"],
         "big.csv: 34,464 forecasts over windows of 65,536 rows of m.onnx would need about 154 GB of memory; this "
         "machine has MEMORY and edgeseq uses at most half of it: backtest fewer rows (--from a later date, or a "
         "shorter file)", make=long_csv(100_000), isolated=True),
    Case("a metadata entry of 2 MiB beside the description", ["info", "m.onnx"],
         "m.onnx: its metadata entry 'extra' is 2,097,152 bytes; edgeseq reads entries of at most 1,048,576",
         make=extra_metadata(2 << 20)),
    # ---- a damaged checkpoint (--resume): one line, nothing on disk touched
    *[Case(f"--resume from {what}", RESUME, line, make=make, needs_checkpoint=True) for what, line, make in [
        ("weights cut to 0 bytes", "EPOCH/weights.npz: unreadable checkpoint file (No data left in file); start "
         "again with --force", cut_to("weights.npz", 0)),
        ("weights cut in half", "EPOCH/weights.npz: unreadable checkpoint file (File is not a zip file); start again "
         "with --force", cut_to("weights.npz", 0.5)),
        ("the optimizer cut to 0 bytes", "EPOCH/optimizer.npz: unreadable checkpoint file (No data left in file); "
         "start again with --force", cut_to("optimizer.npz", 0)),
        ("the optimizer cut in half", "EPOCH/optimizer.npz: unreadable checkpoint file (File is not a zip file); "
         "start again with --force", cut_to("optimizer.npz", 0.5)),
        ("a state that is a list", "EPOCH/state.json: must be a JSON object, found list; start again with --force",
         state_edit(lambda state: [1, 2])),
        ("a state without its epoch", "EPOCH/state.json: 'epoch' must be a whole number from 1 to 1000000, it is "
         "missing; start again with --force", state_edit(lambda state: state.pop("epoch") and None)),
        ("an epoch given as text", "EPOCH/state.json: 'epoch' must be a whole number from 1 to 1000000, got '2'; "
         "start again with --force", state_edit(lambda state: state.update(epoch="2"))),
        ("a negative epoch", "EPOCH/state.json: 'epoch' must be a whole number from 1 to 1000000, got -3; start "
         "again with --force", state_edit(lambda state: state.update(epoch=-3))),
        ("a history that is text", "EPOCH/state.json: 'history' must be a JSON object, got 'x'; start again with "
         "--force", state_edit(lambda state: state.update(history="x"))),
        ("a best epoch that is text", "EPOCH/state.json: 'best_epoch' must be a whole number from 0 to 2, got 'x'; "
         "start again with --force", state_edit(lambda state: state.update(best_epoch="x"))),
        ("10,000 nested arrays", "EPOCH/state.json nests 10000 levels deep; edgeseq reads at most 16; start again "
         "with --force", checkpoint_edit(lambda epoch: (epoch / "state.json").write_text(deep(10_000)))),
        ("weights of the wrong shape", "EPOCH/weights.npz: array 0 is float32 [3, 3], but the model's weights need "
         "[25, 16] there; start again with --force",
         weights_edit(lambda arrays: [np_zeros((3, 3)), *arrays[1:]])),
        ("one weight array too few", "EPOCH/weights.npz holds 4 arrays, but the model's weights are 5; start again "
         "with --force", weights_edit(lambda arrays: arrays[:-1])),
        ("an epoch folder named epoch-zzz", ".run.training/epoch-zzz: not a checkpoint edgeseq wrote (epoch folders "
         "are named epoch-NNNNNN); move it away, or start again with --force", stray_epoch),
    ]],
    # ---- cluster settings, read before TensorFlow
    Case("TF_CONFIG with task index 5", WORKERS, "TF_CONFIG: 'task.index' must be a whole number from 0 to 1, got 5",
         env=tf_config({"worker": ["127.0.0.1:FREE", "127.0.0.1:FREE2"]}, index=5)),
    Case("TF_CONFIG with task index -1", WORKERS,
         "TF_CONFIG: 'task.index' must be a whole number from 0 to 1, got -1",
         env=tf_config({"worker": ["127.0.0.1:FREE", "127.0.0.1:FREE2"]}, index=-1)),
    Case("TF_CONFIG with task type bogus", WORKERS,
         "TF_CONFIG: 'task.type' must be one of the cluster's jobs (worker), got 'bogus'",
         env=tf_config({"worker": ["127.0.0.1:FREE", "127.0.0.1:FREE2"]}, kind="bogus")),
    Case("TF_CONFIG with worker given as a string", WORKERS,
         "TF_CONFIG: 'cluster.worker' must be a list of \"host:port\" texts, got '127.0.0.1:FREE'",
         env=tf_config({"worker": "127.0.0.1:FREE"})),
    Case("TF_CONFIG naming a port already in use", WORKERS,
         "127.0.0.1:BUSY, this process's address (worker 0), cannot be listened on: Address already in use; "
         "choose a free port", env=tf_config({"worker": ["127.0.0.1:BUSY", "127.0.0.1:FREE"]})),
    Case("--workers naming a port already in use", [*WORKERS, "--workers", "127.0.0.1:BUSY,127.0.0.1:FREE",
                                                    "--worker-index", "0"],
         "127.0.0.1:BUSY, this process's address (worker 0), cannot be listened on: Address already in use; "
         "choose a free port"),
    Case("a second worker never started", [*WORKERS, "--workers", "127.0.0.1:FREE,127.0.0.1:FREE2",
                                           "--worker-index", "0", "--cluster-timeout", "1"],
         "worker 1 (127.0.0.1:FREE2) did not come within 1 s (--cluster-timeout): start it, or check the address",
         after="waiting for worker 1 (127.0.0.1:FREE2) (at most 1 s: --cluster-timeout)"),
    Case("TF_CONFIG naming a host that does not resolve", [*WORKERS, "--cluster-timeout", "1"],
         "worker 1 (no-such-host.invalid:2222) did not come within 1 s (--cluster-timeout); its host "
         "'no-such-host.invalid' does not resolve: start it, or check the address",
         env=tf_config({"worker": ["127.0.0.1:FREE", "no-such-host.invalid:2222"]}),
         after="waiting for worker 1 (no-such-host.invalid:2222) (at most 1 s: --cluster-timeout)"),
    # ---- verify, the manifest and siblings
    Case("verify of a MANIFEST with bytes 1e400", ["verify", "."],
         "FAIL MANIFEST.json: readable: MANIFEST.json is not valid JSON (1e400 is too large for a number)",
         make=shipped_folder(lambda text: text.replace('"bytes": 58938', '"bytes": 1e400')), code=1),
    Case("verify of a MANIFEST nested 10,000 deep", ["verify", "."],
         "FAIL MANIFEST.json: readable: MANIFEST.json nests 10001 levels deep; edgeseq reads at most 16",
         make=shipped_folder(lambda text: text.replace('"note": ', f'"deep": {deep(10_000)}, "note": ')), code=1),
    Case("verify of a MANIFEST with one figure edited", ["verify", "."],
         "FAIL MANIFEST.json: digest: its bytes do not match its digest (manifest_sha256): the file is damaged or "
         "was edited after export; export it again",
         make=shipped_folder(lambda text: text.replace('"days": 1000', '"days": 1001', 1)), code=1),
    Case("verify of a sibling whose made_from names '.'", ["verify", "m.fixed.onnx"],
         "FAIL m.fixed.onnx: made from .: no such file beside it",
         make=lambda f: [model(SHIP)(f), model(EXPORTED / "ship.fixed.onnx", lambda d: d["made_from"].update(of="."),
                                               name="m.fixed.onnx")(f)], code=1),
    Case("a generation graph whose vocabulary is longer than its step file's", RUN,
         "model m.onnx: 2xLSTM(64), context window 10, per-step (m.gen.onnx is not a usable generation graph (its "
         "vocabulary differs from m.onnx's))",
         make=with_gen(lambda d: d.update(vocabulary=d["vocabulary"] + "Z")), code=0),
    Case("a step file and generation graph whose vocabulary is longer than the graphs'",
         ["run", "char", "--model", "m.onnx", "--prompt", "if youZ", "--length", "5"],
         "m.onnx: the graph's output 'logits' has shape [?, ?, 25], but the metadata says [?, ?, 26] (axis 2: 26, the "
         "vocabulary of 26 characters)", make=with_step_and_gen(lambda d: d.update(vocabulary=d["vocabulary"] + "Z"))),
    Case("export --quantize int8 with training.batch_size 'abc'", ["export", "m.onnx", "--quantize", "int8"],
         "cannot cut the training text again as training did: edgeseq metadata: 'training.batch_size' must be a "
         "whole number of streams from 1 to 2147483647, got 'abc'; export the model again",
         make=model(SHIP, lambda d: [d.update(context="stateful"), d["training"].update(batch_size="abc")] and None)),
    Case("one flipped bit in the key file_sha256", RUN,
         "m.onnx: it carries no digest (file_sha256), which edgeseq writes into every file it exports: the "
         "file is damaged or was edited after export; export it again", make=digest_key_flipped),
    Case("a stale int8 file named directly", ["run", "stock", "--model", "m.int8.onnx"],
         "m.int8.onnx was not made from the m.onnx beside it (a stale int8 file); export again with --quantize "
         "int8 --force", make=lambda f: [model(STOCK, lambda d: d["training"].update(note="again"))(f),
                                         shutil.copy(EXPORTED / "stock.int8.onnx", f / "m.int8.onnx")]),
    # ---- signals
    Case("SIGTERM while text streams", ["run", "char", "--prompt", "if you", "--length", "100000000"],
         "interrupted", code=130, signal="run"),
    Case("SIGTERM during the final save of training", ["train", "char", "--sample", "ship", "--hidden", "4",
                                                       "--layers", "1", "--epochs", "3", "-o", "run"],
         "interrupted", code=130, signal="save"),
    # ---- links
    Case("training with a linked .RUN.training", ["train", "char", "--sample", "ship", "--hidden", "4", "--layers",
                                                  "1", "--epochs", "3", "-o", "run"],
         ".run.training is a symbolic link; edgeseq does not write through links: remove the link or choose another "
         "place", make=linked(".run.training")),
    Case("an export onto a linked NAME.int8.onnx", ["export", "m.onnx", "--quantize", "int8", "--force"],
         "m.int8.onnx is a symbolic link; edgeseq does not write through links: remove the link or choose another "
         "place", make=lambda f: [model(SHIP)(f), linked("m.int8.onnx", "decoy/.keep")(f)]),
]


@pytest.fixture(scope="module")
def runs(tiny_run, tmp_path_factory):
    """The tiny run, and another (hihello: 5 characters) whose model.keras is not the tiny run's."""
    from edgeseq.data.text import sample_text
    from edgeseq.training.char_training import CharModelSpec, TrainSettings, train_char

    other = tmp_path_factory.mktemp("other") / "other"
    text, window = sample_text("hihello")
    train_char(text, window, CharModelSpec(cell="lstm", layers=1, hidden=8), TrainSettings(epochs=1), out=other)
    return tiny_run, other


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """.run.training of a training killed (SIGKILL) once its epoch 2 was checkpointed: that epoch only."""
    folder = tmp_path_factory.mktemp("killed")
    process = subprocess.Popen([sys.executable, "-m", "edgeseq.cli", *RESUME[:-1], "--epochs", "1000000"], cwd=folder,
                               env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while not (folder / EPOCH / "state.json").exists():
            assert process.poll() is None, "the training ended before its checkpoint of epoch 2"
    finally:
        process.kill()
        process.wait()
    for epoch in (folder / ".run.training").iterdir():
        if epoch.name != "epoch-000002":
            shutil.rmtree(epoch)
    return folder / ".run.training"


ENV = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "-1"}


def substitute(text: str, ports: dict | None = None) -> str:
    import edgeseq
    from edgeseq.contract.memory import gigabytes, machine_bytes

    for name, port in sorted((ports or {}).items(), key=lambda item: -len(item[0])):
        text = text.replace(name, str(port))
    return (text.replace("CORES", str(os.cpu_count())).replace("VERSION", edgeseq.__version__)
            .replace("MEMORY", gigabytes(machine_bytes())).replace("EPOCH", EPOCH))


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def in_subprocess(case: Case, args: list[str], env: dict, folder: Path):
    """(exit code, stdout, stderr) of the CLI as a process: under MEMORY_LIMIT, or sent SIGTERM
    at the moment the case names (once text flows; once the run folder is being staged)."""
    import resource

    def limited():
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))

    for _ in range(5):  # "save": the staging folder lives for a moment; a run that ended unseen is run again
        code, stdout, stderr, missed = _one_process(case, args, env, folder, limited)
        if not missed:
            break
        shutil.rmtree(folder / "run", ignore_errors=True)
    return code, stdout, stderr


def _one_process(case: Case, args: list[str], env: dict, folder: Path, limited):
    process = subprocess.Popen([sys.executable, "-m", "edgeseq.cli", *args], cwd=folder, env={**ENV, **env},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=limited if case.isolated else None)
    first, missed = "", False
    if case.signal == "run":
        first = process.stdout.read(1)  # the text flows
        process.send_signal(signal.SIGTERM)
    elif case.signal == "save":
        staged = re.compile(r"^\.run\.\d+\.[0-9a-f]+\.tmp$")  # new_folder's staging name for ./run
        while process.poll() is None and not any(staged.match(entry.name) for entry in folder.iterdir()):
            pass
        missed = (folder / "run").exists()  # the run folder was in place before the signal could be sent
        process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=600)
    if case.signal == "save" and process.returncode in (0, -signal.SIGTERM):
        missed = True  # the folder was renamed into place between the look and the signal: the run had ended
    return process.returncode, first + stdout, stderr, missed


@pytest.mark.parametrize("case", CASES, ids=[c.what for c in CASES])
def test_each_bad_input_gets_its_line(case, tmp_path, monkeypatch, request):
    import socket

    monkeypatch.chdir(tmp_path)
    if case.needs_run:
        tiny, other = request.getfixturevalue("runs")
        shutil.copytree(tiny, tmp_path / "run")
        shutil.copytree(other, tmp_path / "other")
    if case.needs_checkpoint:
        shutil.copytree(request.getfixturevalue("checkpoint"), tmp_path / ".run.training")
    if case.make:
        case.make(tmp_path)
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    ports = {"BUSY": busy.getsockname()[1], "FREE2": free_port(), "FREE": free_port()}
    args = [substitute(arg, ports) for arg in case.args]
    env = {key: substitute(value, ports) for key, value in (case.env or {}).items()}
    before = fingerprint(tmp_path)
    try:
        if case.isolated or case.signal:
            code, stdout, stderr = in_subprocess(case, args, env, tmp_path)
        else:
            for key, value in env.items():
                monkeypatch.setenv(key, value)
            result = cli(*args)
            code, stdout, stderr = result.exit_code, result.stdout, result.stderr
    finally:
        busy.close()
    output = stdout + stderr
    assert "Traceback" not in output and code == case.code, (code, output[-3000:])
    want = substitute(case.line, ports)
    if case.code in (2, 130):
        said = [substitute(case.after, ports)] if case.after else []
        assert stderr.strip().splitlines()[-len(said) - 1:] == [*said, f"edgeseq: error: {want}"]
    else:
        assert want in output.splitlines(), output
    if case.code == 2:  # a refused input leaves every file as it was
        assert fingerprint(tmp_path) == before


def fingerprint(folder: Path) -> dict[str, str]:
    """Every entry below ``folder`` (links not followed) and a digest of each file."""
    import hashlib

    found = {}
    for path in sorted(folder.rglob("*")):
        name = str(path.relative_to(folder))
        if path.is_symlink():
            found[name] = f"link to {os.readlink(path)}"
        elif path.is_file():
            found[name] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            found[name] = "folder" if path.is_dir() else "special"
    return found


def table() -> str:
    rows = ["# What bad input gets", "",
            "Each input below was tried by the tests in a folder holding the files named.",
            "`tests/test_bad_inputs.py` also rebuilds this table: `PYTHONPATH=. python tests/test_bad_inputs.py`.", "",
            "| outcome | what the user sees |", "| --- | --- |",
            "| a known bad input | one line on stderr, `edgeseq: error: ...`, and exit code 2 |",
            "| an unexpected failure | one line saying where its traceback was written, and exit code 1 |",
            "| Ctrl-C and SIGTERM | \"interrupted\" and exit code 130 |", "",
            "No refused input changes a file of the folder. The cases that would need more memory than the",
            "machine has run in a process limited to 2 GiB of address space.", "",
            "| placeholder | stands for |", "| --- | --- |",
            "| CORES, VERSION, MEMORY | the machine's cores, edgeseq's version, the machine's memory |",
            "| BUSY, FREE, FREE2 | ports the test holds or found free |",
            "| EPOCH | `.run.training/epoch-000002` |", "",
            "| input | command | exit | what the user sees |", "| --- | --- | --- | --- |"]
    for case in CASES:
        seen = f"edgeseq: error: {case.line}" if case.code in (2, 130) else case.line
        seen = f"{case.after} / then: {seen}" if case.after else seen
        cell = seen.replace("|", "\\|")
        rows.append(f"| {case.what} | `{case.command}` | {case.code} | `{cell}` |")
    return "\n".join(rows) + "\n"


def test_the_table_in_the_docs_is_current():
    assert DOC.read_text(encoding="utf-8") == table(), "regenerate it: PYTHONPATH=. python tests/test_bad_inputs.py"


if __name__ == "__main__":
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(table(), encoding="utf-8")
    print(f"wrote {DOC}")
