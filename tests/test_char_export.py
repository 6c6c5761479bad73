"""Export = convert + verify: TF and ONNX agree for every cell, depth and head."""
from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

from edgeseq.errors import ExportCheckError, InputError
from edgeseq.contract import ModelFiles
from edgeseq.export.exporter import export_run
from edgeseq.runtime import CharGenerator
from edgeseq.runtime.char_model import CharModel
from edgeseq.runtime.model_file import open_model
from interop_checks import assert_reads_cleanly

TOLERANCE = 1e-4
COMBOS = [(cell, layers, head) for cell in ("rnn", "lstm", "gru") for layers in (1, 2) for head in ("dense", "none")]


@pytest.fixture(params=COMBOS, ids=lambda c: "-".join(map(str, c)))
def exported(request, char_export):
    """(cell, layers, head), Keras model, model.onnx (shared: see conftest)."""
    return (request.param, *char_export(*request.param))


def test_tf_and_onnx_agree_on_both_graphs(exported):
    (cell, layers, head), model, out = exported
    rng = np.random.default_rng(5)
    for batch in (1, 3):
        ids = rng.integers(0, 25, (batch, 10), dtype=np.int32)
        want = model(ids).numpy()  # the training model: zero initial state
        for path in (out, ModelFiles(out).fixed):
            m = open_model(path, "char")
            state = np.zeros((batch, *m.meta["state"]["shape"][1:]), np.float32)
            got = m.session.run(["logits"], {"ids": ids, "state": state})[0]
            assert np.abs(got - want).max() <= TOLERANCE


def test_streaming_one_character_at_a_time_equals_one_call(exported):
    _, _, out = exported
    model = CharModel(out)
    ids = np.random.default_rng(2).integers(0, 25, (3, 17), dtype=np.int32)
    whole, _ = model.logits(ids)
    state, steps = model.zero_state(3), []
    for t in range(ids.shape[1]):
        step, state = model.logits(ids[:, t:t + 1], state)
        steps.append(step)
    assert np.abs(np.concatenate(steps, axis=1) - whole).max() <= TOLERANCE


def test_graphs_carry_metadata_and_pass_the_checker(exported):
    (cell, layers, head), _, out = exported
    for path, graph in ((out, "dynamic"), (ModelFiles(out).fixed, "fixed")):
        onnx.checker.check_model(str(path))
        meta = open_model(path).meta
        assert (meta["task"], meta["graph"], meta["cell"], meta["layers"], meta["head"]) == ("char", graph, cell, layers, head)
        assert meta["format"] == "edgeseq" and meta["window"] == 10
        assert meta["vocabulary"] == " ',.abcdefghiklmnoprstuwy"
        ops = {n.op_type for n in onnx.load(str(path)).graph.node}
        fused = {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN"}[cell]
        assert fused in ops and "Loop" not in ops
        assert meta["recurrent_ops"] == f"{layers} fused {fused}"
        assert ("lengths" in meta["inputs"]) == (graph == "dynamic")
    fixed_ids = onnx.load(str(ModelFiles(out).fixed)).graph.input[0].type.tensor_type.shape.dim
    assert fixed_ids[1].dim_value == 10 and not fixed_ids[0].dim_value  # time fixed, batch dynamic


def test_every_file_reads_cleanly_in_plain_onnxruntime(exported, capfd):
    (cell, layers, head), _, out = exported
    written = [path.name for path in ModelFiles(out).all() if path.exists()]
    assert written == ["model.onnx", "model.fixed.onnx", "model.gen.onnx"]  # every combination has all three
    for name in written:
        assert_reads_cleanly(out.with_name(name), capfd)


def test_greedy_text_from_tensorflow_equals_onnx(ship_run, ship_export):
    import tensorflow as tf

    _, model, config, _ = ship_run
    vocab, window = config["vocabulary"], config["window"]
    graph = tf.function(model, input_signature=[tf.TensorSpec([1, None], tf.int32)])  # not eager step by step
    history = [vocab.index(c) for c in "if you"]
    for _ in range(60):  # the lab's way: predict from the last window, from a zero state
        logits = graph(np.asarray([history[-window:]], np.int32)).numpy()
        history.append(int(logits[0, -1].argmax()))
    tf_text = "".join(vocab[i] for i in history[6:])
    assert CharGenerator(ship_export[0]).text("if you", 60) == tf_text
    assert tf_text.startswith(" want to build a ship")


def test_export_refuses_to_overwrite_and_force_replaces(ship_run, tmp_path):
    out = tmp_path / "m.onnx"
    out.write_bytes(b"keep me")
    with pytest.raises(InputError, match="already exists; pass --force"):
        export_run(ship_run[0], out)
    assert out.read_bytes() == b"keep me" and not ModelFiles(out).fixed.exists()
    export_run(ship_run[0], out, force=True)
    assert open_model(out).meta["task"] == "char"
    # no temp files left; m.json: what a JavaScript runner reads
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.fixed.onnx", "m.gen.onnx", "m.json", "m.onnx"]


def test_a_failed_parity_check_writes_nothing(ship_run, tmp_path, monkeypatch, capsys):
    import edgeseq.export.exporter as exporter

    def broken(checklist, *args, **kwargs):
        checklist.add("dynamic logits", np.zeros(3), np.ones(3), TOLERANCE)

    monkeypatch.setattr(exporter, "check_parity", broken)
    with pytest.raises(ExportCheckError, match="check\\(s\\) failed: dynamic logits.*pass --allow-failed-checks"):
        export_run(ship_run[0], tmp_path / "m.onnx")
    assert "FAIL dynamic logits" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_generation_graph_that_disagrees_is_left_out_not_fatal(ship_run, tmp_path, monkeypatch):
    import edgeseq.export.generation.check as generation

    def disagrees(checklist, *args, **kwargs):
        checklist.require("generation graph = per-step path: stateful, greedy", False)

    monkeypatch.setattr(generation, "verify_generation", disagrees)
    result = export_run(ship_run[0], tmp_path / "m.onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.fixed.onnx", "m.json", "m.onnx"]
    assert list(json.loads((tmp_path / "m.json").read_text())["files"]) == ["step"]  # JavaScript: per step too
    assert any("no generation graph: it disagreed" in note for note in result.checklist.notes)
    assert CharGenerator(tmp_path / "m.onnx").engine == "per-step"


def test_a_parity_failure_that_grows_with_time_explains_itself():
    from edgeseq.export.verify import Checklist

    def checklist(diffs: dict[int, float]) -> Checklist:
        made = Checklist()
        for time, diff in diffs.items():
            made.add(f"dynamic logits    batch 1 time {time}", np.full(2, diff), np.zeros(2), TOLERANCE)
        return made

    growing = checklist({1: 2e-6, 10: 3e-3, 17: 0.4})
    assert growing.growth_with_time() == (
        "the differences grow with the sequence length (time 1: 2.0e-06, time 10: 3.0e-03, time 17: 4.0e-01): "
        "the model amplifies float rounding step by step, as a chaotic or diverged model does; check its "
        "training loss and retrain it (a lower --lr usually helps)")
    with pytest.raises(ExportCheckError, match=r"2 check\(s\) failed: .*; the differences grow with the sequence "
                                               r"length, a sign of a chaotic or diverged model \(retrain it\); "
                                               r"pass --allow-failed-checks"):
        growing.raise_if_failed("export of run")
    assert checklist({1: 0.4, 10: 3e-3, 17: 0.5}).growth_with_time() is None  # not growing: no story to tell
    assert checklist({1: 2e-6, 10: 3e-5, 17: 4e-5}).growth_with_time() is None  # growing, but nothing failed
