"""Exported files read cleanly in other tools: plain onnxruntime, Netron, quantization.

The check itself (tests/interop_checks.py) also runs where each kind of model is exported:
the char models of every cell, depth and head (test_char_export), the forecasters of every
cell (test_stock_model). Here: the shipped files, the optional ``lengths`` input, the model
card, ``--author`` / ``--license``, and onnxruntime's dynamic quantization of a step graph.
"""
from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from conftest import EXPORTED, cli
from edgeseq.contract import ModelFiles
from edgeseq.export.graph.onnx_graph import attach_metadata
from edgeseq.runtime.model_file import open_model
from interop_checks import assert_reads_cleanly, shape_of

SHIPPED = ("ship.onnx", "ship.fixed.onnx", "ship.gen.onnx", "stock.onnx", "stock.fixed.onnx", "ship.int8.onnx",
           "ship.int8.gen.onnx", "stock.int8.onnx")


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_file_reads_cleanly(name, capfd):
    assert_reads_cleanly(EXPORTED / name, capfd)


def test_the_dimension_names_and_model_card_of_a_fresh_export(ship_export, capfd):
    files = ModelFiles(ship_export[0])
    step, fixed, gen = (assert_reads_cleanly(path, capfd) for path in (files.step, files.fixed, files.generation))
    shapes = {v.name: shape_of(v) for v in [*step.graph.input, *step.graph.output]}
    assert shapes == {"ids": ["batch", "time"], "state": ["batch", 4, 64], "lengths": ["batch"],
                      "logits": ["batch", "time", 25], "new_state": ["batch", 4, 64]}
    assert [shape_of(v) for v in fixed.graph.input] == [["batch", 10], ["batch", 4, 64]]
    assert [shape_of(v) for v in fixed.graph.output] == [["batch", 10, 25], ["batch", 4, 64]]
    assert shape_of(gen.graph.input[4]) == ["steps", "batch"] and shape_of(gen.graph.output[0]) == ["batch", "steps"]
    lines = step.doc_string.splitlines()
    assert lines[0] == ("edgeseq char model: 2xLSTM(64), dense head, one-hot input, vocabulary of 25 characters, "
                        "trained on windows of 10 from a zero state.")
    assert lines[2].startswith("Training: loss 0.229") and "accuracy 0.8965" in lines[2]
    assert lines[3].startswith("Run: edgeseq run char --model NAME.onnx --prompt TEXT")
    assert gen.doc_string.splitlines()[1].startswith("This file: the generation graph of ship.onnx")
    assert "Run: edgeseq run char --model ship.onnx" in gen.doc_string
    assert fixed.doc_string.splitlines()[1] == "This file: the step graph with time fixed to 10 (no lengths input)."
    docs = {v.name: v.doc_string for v in step.graph.input}
    assert docs["state"] == "float32 [batch, 4, 64]: recurrent state (h0, c0, h1, c1); zeros to start"
    meta = ort.InferenceSession(str(files.step)).get_modelmeta()
    assert (meta.producer_name, meta.domain, meta.version, meta.graph_name) == (
        "edgeseq", "ai.edgeseq", 1, "edgeseq_char_dynamic")


def test_lengths_is_an_optional_input_callers_may_omit(ship_export):
    session = ort.InferenceSession(str(ship_export[0]))
    assert [(i.name, i.type) for i in session.get_inputs()] == [
        ("ids", "tensor(int32)"), ("state", "tensor(float)"), ("lengths", "optional(tensor(int32))")]
    rng = np.random.default_rng(3)
    ids = rng.integers(0, 25, (3, 12), dtype=np.int32)
    state = (rng.standard_normal((3, 4, 64)) * 0.5).astype(np.float32)
    omitted = session.run(None, {"ids": ids, "state": state})
    as_none = session.run(None, {"ids": ids, "state": state, "lengths": None})
    full = session.run(None, {"ids": ids, "state": state, "lengths": np.full(3, 12, np.int32)})
    binding = session.io_binding()  # the runtime's bound per-step path binds ids and state only
    binding.bind_cpu_input("ids", ids)
    binding.bind_cpu_input("state", state)
    for name in ("logits", "new_state"):
        binding.bind_output(name)
    session.run_with_iobinding(binding)
    for other in (as_none, full, binding.copy_outputs_to_cpu()):
        assert all(np.array_equal(a, b) for a, b in zip(omitted, other))
    lengths = np.array([12, 5, 1], np.int32)
    logits, new_state = session.run(None, {"ids": ids, "state": state, "lengths": lengths})
    alone = session.run(None, {"ids": ids[1:2, :5], "state": state[1:2]})
    assert np.abs(logits[1, :5] - alone[0][0]).max() <= 1e-5 and not logits[1, 5:].any()
    assert np.abs(new_state[1] - alone[1][0]).max() <= 1e-5


def test_dynamic_quantization_keeps_the_optional_lengths(ship_export, tmp_path, capfd):
    from onnxruntime.quantization import QuantType, quantize_dynamic

    int8 = tmp_path / "ship.int8.onnx"
    quantize_dynamic(ship_export[0], int8, op_types_to_quantize=["LSTM", "MatMul"], per_channel=True,
                     weight_type=QuantType.QInt8)
    capfd.readouterr()
    session = ort.InferenceSession(str(int8))
    assert capfd.readouterr().err == ""
    ops = {n.op_type for n in onnx.load(str(int8)).graph.node}
    assert {"DynamicQuantizeLSTM", "MatMulInteger", "OptionalHasElement", "If"} <= ops and "LSTM" not in ops
    ids = np.random.default_rng(4).integers(0, 25, (2, 9), dtype=np.int32)
    state = np.zeros((2, 4, 64), np.float32)
    omitted = session.run(["logits"], {"ids": ids, "state": state})[0]
    ragged = session.run(["logits"], {"ids": ids, "state": state, "lengths": np.array([9, 4], np.int32)})[0]
    assert omitted.shape == (2, 9, 25) and not ragged[1, 4:].any() and ragged[1, :4].any()
    quantized = onnx.load(str(int8))  # the quantizer's own marks (producer, unk__N shapes) ...
    assert quantized.producer_name == "onnx.quantize" and len(quantized.graph.value_info) > 0
    attach_metadata(quantized, open_model(ship_export[0]).description)  # ... go when it is described
    onnx.save(quantized, str(int8))
    assert_reads_cleanly(int8, capfd)


def test_author_and_license_go_into_every_file(ship_run, tmp_path, capfd):
    out = tmp_path / "ship.onnx"
    result = cli("export", str(ship_run[0]), "-o", str(out), "--author", "Ada Lovelace", "--license", "Apache-2.0")
    assert result.exit_code == 0, result.output
    for path in ModelFiles(out).of_task("char"):
        assert_reads_cleanly(path, capfd)
        props = ort.InferenceSession(str(path)).get_modelmeta().custom_metadata_map
        assert (props["author"], props["license"]) == ("Ada Lovelace", "Apache-2.0")
    shown = cli("info", str(out)).stdout.splitlines()
    assert "author: Ada Lovelace" in shown and "license: Apache-2.0" in shown
    assert json.loads(cli("info", str(out), "--json").stdout)["provenance"] == {"author": "Ada Lovelace",
                                                                              "license": "Apache-2.0"}


@pytest.mark.parametrize("option, value, message", [
    ("--license", "MIT; see README", "--license 'MIT; see README' is not an SPDX license identifier or expression"),
    ("--author", " ", "--author must be one non-empty line of text"),
])
def test_bad_author_or_license_is_refused_before_anything_loads(option, value, message, tmp_path):
    result = cli("export", str(tmp_path / "no-such-run"), option, value)
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0].startswith(f"edgeseq: error: {message}")
    assert list(tmp_path.iterdir()) == []
