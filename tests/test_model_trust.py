"""Model files you can trust: the shipped set verifies, any flipped byte is refused, every
error is one line, and what is printed from a file cannot drive the terminal."""
from __future__ import annotations

import json
import shutil

import pytest

from conftest import EXPORTED, cli, edited_copy
from edgeseq.contract import CharMeta, metadata_text, parse_meta
from edgeseq.contract.reading import nesting_depth
from edgeseq.display import json_text, printable
from edgeseq.errors import ModelFileError

MODELS = ("ship.onnx", "ship.fixed.onnx", "ship.gen.onnx", "stock.onnx", "stock.fixed.onnx", "ship.int8.onnx",
          "ship.int8.gen.onnx", "stock.int8.onnx")


def test_the_shipped_models_verify():
    result = cli("verify", str(EXPORTED))
    assert result.exit_code == 0, result.stdout
    lines = result.stdout.splitlines()
    assert all(line.startswith(("ok   ", "skip ")) for line in lines), result.stdout
    for name in MODELS:
        for check in ("digest: matches its bytes", "metadata", "graph inputs and outputs match the metadata",
                      "manifest sha256 and size"):
            assert any(line.startswith(f"ok   {name}: {check}") for line in lines), (name, check)
    for name in MODELS[1:3] + MODELS[4:]:
        step = name.split(".")[0] + ".onnx"
        assert f"ok   {name}: made from {step}: its sha256 matches" in lines
    assert "ok   ship.int8.gen.onnx: made from ship.int8.onnx: its sha256 matches" in lines


@pytest.fixture
def shipped_copy(tmp_path):
    for path in EXPORTED.iterdir():
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


@pytest.mark.parametrize("name", MODELS)
def test_one_flipped_byte_anywhere_in_the_weights_is_refused(shipped_copy, name):
    path = shipped_copy / name
    clean = path.read_bytes()
    metadata_at = clean.find(b'{"format"')
    for fraction in (0.02, 0.3, 0.55, 0.8, 0.99):
        data = bytearray(clean)
        data[int(metadata_at * fraction)] ^= 0x01
        path.write_bytes(bytes(data))
        verified = cli("verify", str(path))
        assert verified.exit_code == 1 and f"FAIL {name}: digest: its bytes do not match its digest" in verified.stdout
        step = shipped_copy / (name.split(".")[0] + ".onnx")
        precision = ["--precision", "int8"] if ".int8." in name else []
        if name.startswith("ship") and ".fixed" not in name:  # the runner reads the step and generation graphs
            run = cli("run", "char", "--model", str(step), "--prompt", "if you", "--length", "5", *precision)
        elif name.startswith("stock"):  # either graph runs
            run = cli("run", "stock", "--model", str(path), "--csv", str(EXPORTED / "sample_prices.csv"))
        else:  # the char fixed graph is for other runtimes: opening it is where it is refused
            run = cli("info", str(path))
        assert run.exit_code == 2 and run.stdout == "", run.stdout
        assert run.stderr.strip().splitlines()[-1].startswith(f"edgeseq: error: {path}: its bytes do not match")
    path.write_bytes(clean)
    assert cli("verify", str(shipped_copy)).exit_code == 0


def test_verify_finds_a_stale_sibling_a_changed_manifest_entry_and_leftovers(shipped_copy):
    edited_copy(EXPORTED / "ship.onnx", shipped_copy / "ship.onnx", lambda d: d["training"].update(note="again"))
    (shipped_copy / ".ship.onnx.999999.abcd1234.set").mkdir()
    result = cli("verify", str(shipped_copy))
    assert result.exit_code == 1
    failed = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
    assert failed == [
        "FAIL ship.onnx: manifest sha256 and size: the file is not the one the manifest lists",
        "FAIL ship.fixed.onnx: made from ship.onnx: ship.onnx is another file now (a stale sibling)",
        "FAIL ship.gen.onnx: made from ship.onnx: ship.onnx is another file now (a stale sibling)",
        "FAIL ship.int8.gen.onnx: made from ship.onnx: ship.onnx is another file now (a stale sibling)",
        "FAIL ship.int8.onnx: made from ship.onnx: ship.onnx is another file now (a stale sibling)",
        "FAIL ship.json: describes ship.onnx as it is: 'files.step.sha256' differs from the model files (a stale or "
        "edited ship.json); export the model again",
        "FAIL .ship.onnx.999999.abcd1234.set: no interrupted write: left by a killed writer; the next write of "
        "that model finishes or removes it"]
    # the runner does not pair the stale generation graph with the new step file
    run = cli("run", "char", "--model", str(shipped_copy / "ship.onnx"), "--prompt", "if you", "--length", "5")
    assert run.exit_code == 0 and "per-step (ship.gen.onnx was not made from this ship.onnx" in run.stderr
    # nor runs the stale int8 file for it
    run = cli("run", "char", "--model", str(shipped_copy / "ship.onnx"), "--prompt", "if", "--precision", "int8")
    assert run.exit_code == 2 and run.stderr.splitlines()[-1] == (
        "edgeseq: error: ship.int8.onnx was not made from the ship.onnx beside it (a stale int8 file); export "
        "again with --quantize int8 --force")


def test_verify_says_when_the_onnx_checker_is_skipped(monkeypatch):
    import edgeseq.cli.file_commands

    monkeypatch.setattr(edgeseq.cli.file_commands, "onnx_checker", lambda: None)
    result = cli("verify", str(EXPORTED / "stock.onnx"))
    assert "skip stock.onnx: onnx checker: skipped (onnx not installed)" in result.stdout.splitlines()
    assert result.exit_code == 0


@pytest.mark.parametrize("version", ["0.0.9", None])
def test_a_file_without_its_digest_is_refused(tmp_path, version):
    """A digest lost (one flipped bit in its key) does not switch the check off, whatever version
    the file names: there is one format, and it has a digest."""
    def lose_digest(doc):
        doc.pop("file_sha256")
        if version is not None:
            doc["edgeseq_version"] = version

    edited_copy(EXPORTED / "stock.onnx", tmp_path / "m.onnx", lose_digest, seal=False)
    result = cli("run", "stock", "--model", str(tmp_path / "m.onnx"))
    assert result.exit_code == 2 and result.stderr.strip() == (
        f"edgeseq: error: {tmp_path / 'm.onnx'}: it carries no digest (file_sha256), which edgeseq writes into "
        "every file it exports: the file is damaged or was edited after export; export it again")
    assert "FAIL m.onnx: digest: none found: a damaged, cut-short or edited file; export it again" in \
        cli("verify", str(tmp_path / "m.onnx")).stdout


def test_an_unexpected_error_is_one_line_and_a_trace_file(monkeypatch):
    import edgeseq.runtime.model_file

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(edgeseq.runtime.model_file, "load_model", broken)
    result = cli("info", str(EXPORTED / "ship.onnx"))
    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("edgeseq: internal error: RuntimeError: boom (trace in ") and line.endswith(
        "); please report it")
    trace = line.split("(trace in ")[1].split(")")[0]
    with open(trace) as file:
        text = file.read()
    assert "Traceback" in text and 'raise RuntimeError("boom")' in text


def test_the_metadata_written_is_checked_as_it_will_be_read():
    meta = parse_meta(json.dumps(json.loads(edited_doc("ship.onnx"))), "ship.onnx")
    assert isinstance(meta, CharMeta)
    from dataclasses import replace

    with pytest.raises(ModelFileError, match="'window' must be a whole number from 1 to 65536, got 0"):
        metadata_text(replace(meta, window=0))
    text = metadata_text(replace(meta, metrics={"loss": float("nan")}))
    assert '"loss": null' in text  # a diverged training's NaN: JSON has none


def edited_doc(name: str) -> str:
    import onnx

    return onnx.load(str(EXPORTED / name)).metadata_props[0].value


def test_nesting_is_measured_without_parsing():
    assert nesting_depth('{"a": [1, {"b": "]]]\\"[[["}], "c": "\\\\"}') == 3
    assert nesting_depth("[" * 100000) == 100000
    assert nesting_depth('"[[[[" {}') == 1


def test_printing_escapes_what_could_drive_a_terminal():
    assert printable("ok\x1b[2J\u202egone\r") == "ok\\x1b[2J\\u202egone\\x0d"
    assert printable("two\nlines\tand é 中", keep="\n\t") == "two\nlines\tand é 中"
    text = json_text({"value": float("nan"), "big": float("inf"), "name": "\x1b\u202eX"})
    assert json.loads(text) == {"value": None, "big": None, "name": "\x1b\u202eX"}
    assert "\x1b" not in text and "\u202e" not in text and "NaN" not in text
