"""The bad-input battery: each input tried, and the one line a user sees (docs/bad-inputs.md).

Every case runs the CLI in a folder of its own (so the lines name files as the user typed
them) and must end with exactly its line and exit code, with no traceback anywhere. The
table in docs/bad-inputs.md is rebuilt from CASES and must equal the committed file; after
changing a case, regenerate it with::

    PYTHONPATH=. python tests/test_bad_inputs.py
"""
from __future__ import annotations

import json
import shlex
import shutil
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

    @property
    def command(self) -> str:
        return "edgeseq " + shlex.join(self.args)


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


def with_gen(gen_edit):
    """m.onnx (ship's step graph) and an m.gen.onnx beside it that names it, edited by gen_edit."""
    def make(folder):
        from edgeseq.contract.digest import bytes_sha256

        shutil.copy(SHIP, folder / "m.onnx")
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


GEN_SUMMARY = "model m.onnx: 2xLSTM(64), context window 10, generation graph"
RUN = ["run", "char", "--model", "m.onnx", "--prompt", "if you", "--length", "5"]
STOCK_RUN = ["run", "stock", "--model", "m.onnx"]
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
    Case("a close of 0 after the training rows (train stock; log ratios)", ["train", "stock", "--csv", "p.csv"],
         "p.csv row 60, column 'Close': 0 is not positive, and the model reads 'Close' as log ratios (it was positive "
         "in training)", make=csv_with("0", lines_kept=60)),
    Case("a last close of 0 (the model reads Close as log ratios)", ["run", "stock", "--csv", "p.csv"],
         "p.csv row 14, column 'Close': 0 is not positive, and the model reads 'Close' as log ratios (it was positive "
         "in training)", make=csv_with("0")),
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


def substitute(text: str) -> str:
    import os

    import edgeseq

    return text.replace("CORES", str(os.cpu_count())).replace("VERSION", edgeseq.__version__)


@pytest.mark.parametrize("case", CASES, ids=[c.what for c in CASES])
def test_each_bad_input_gets_its_line(case, tmp_path, monkeypatch, request):
    monkeypatch.chdir(tmp_path)
    if case.needs_run:
        tiny, other = request.getfixturevalue("runs")
        shutil.copytree(tiny, tmp_path / "run")
        shutil.copytree(other, tmp_path / "other")
    if case.make:
        case.make(tmp_path)
    result = cli(*case.args)
    output = result.stdout + result.stderr
    assert "Traceback" not in output and result.exit_code == case.code, (result.exit_code, output)
    want = substitute(case.line)
    if case.code == 2:
        before = [substitute(case.after)] if case.after else []
        assert result.stderr.strip().splitlines() == [*before, f"edgeseq: error: {want}"]
    else:
        assert want in output.splitlines(), output


def table() -> str:
    rows = ["# What bad input gets", "",
            "Each input below was tried by the tests (`tests/test_bad_inputs.py`, which also rebuilds this",
            "table: `PYTHONPATH=. python tests/test_bad_inputs.py`), in a folder holding the files named.",
            "A known bad input is one line on stderr (`edgeseq: error: ...`) and exit code 2; an unexpected",
            "failure is one line saying where its traceback was written, and exit code 1. CORES and VERSION",
            "stand for the machine's cores and edgeseq's version.", "",
            "| input | command | exit | what the user sees |", "| --- | --- | --- | --- |"]
    for case in CASES:
        seen = f"edgeseq: error: {case.line}" if case.code == 2 else case.line
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
