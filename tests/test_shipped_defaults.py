"""The shipped models are the ones the manifest describes, and they do what the README says."""
from __future__ import annotations

import hashlib
import json

from conftest import EXPORTED, cli
from edgeseq.data.text import sample_text


def test_manifest_hashes_match_the_files():
    manifest = json.loads((EXPORTED / "MANIFEST.json").read_text())
    assert manifest["command"].startswith("python -m tools.rebuild_exported")
    assert {"ship.onnx", "ship.fixed.onnx"} <= set(manifest["files"])
    for name, entry in manifest["files"].items():
        data = (EXPORTED / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], name
        assert len(data) == entry["bytes"]


def test_shipped_ship_model_reproduces_the_sentence():
    sentence, _ = sample_text("ship")
    result = cli("run", "char", "--prompt", "if you", "--length", "170")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == sentence[6:176] + "\n"
    assert "170 chars in" in result.stderr


def test_shipped_ship_model_metadata():
    result = cli("info", str(EXPORTED / "ship.onnx"))
    assert result.exit_code == 0
    assert "task: char" in result.stdout and "recurrent_ops: 2 fused LSTM" in result.stdout
    manifest = json.loads((EXPORTED / "MANIFEST.json").read_text())
    metrics = manifest["files"]["ship.onnx"]["metrics"]
    assert metrics["last_accuracy"] == 1.0 and metrics["loss"] <= 0.25


def test_several_prompts_are_continued_in_one_batch():
    sentence, _ = sample_text("ship")
    result = cli("run", "char", "--prompt", "if you", "--prompt", "teach them", "--length", "30")
    assert result.exit_code == 0, result.stderr
    start = sentence.index("teach them") + len("teach them")
    assert result.stdout.splitlines() == [sentence[6:36], sentence[start:start + 30]]
    assert "2 prompts x 30 chars" in result.stderr
