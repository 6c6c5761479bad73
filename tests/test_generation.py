"""The generation graph (NAME.gen.onnx): the same characters as the per-step path, faster.

Greedy text from the generation graph equals the per-step path's and TensorFlow's; seeded
sampling gives the same text on both paths; a model file without a (matching) generation
graph runs per step; batches of rows are generated row for row as alone.
"""
from __future__ import annotations

import json
import shutil

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from conftest import EXPORTED, cli, edited_copy
from edgeseq.errors import InputError, ModelFileError
from edgeseq.export.generation.build import GenerationUnsupported, build_generation
from edgeseq.export.generation.check import build_and_verify
from edgeseq.export.verify import Checklist
from edgeseq.contract import ModelFiles, file_sha256
from edgeseq.runtime.decoding import CHUNKS
from edgeseq.runtime.generator import CharGenerator

SHIP = EXPORTED / "ship.onnx"
SENTENCE = ("if you want to build a ship, don't drum up people together to collect wood and don't "
            "assign them tasks and work, but rather teach them to long for the endless immensity of the sea.")


def both(context, **sampling):
    return (CharGenerator(SHIP, context=context, **sampling),
            CharGenerator(SHIP, context=context, generation=False, **sampling))


def test_the_shipped_model_has_a_generation_graph_made_from_it():
    gen = ModelFiles(SHIP).generation
    assert gen.name == "ship.gen.onnx" and gen.is_file()
    meta = json.loads(onnx.load(str(gen)).metadata_props[0].value)
    step_meta = json.loads(onnx.load(str(SHIP)).metadata_props[0].value)
    assert meta["graph"] == "generation" and meta["task"] == "char"
    assert meta["generation"]["of"] == "ship.onnx" and meta["generation"]["of_sha256"] == file_sha256(SHIP)
    for key in ("vocabulary", "window", "context", "cell", "layers", "hidden", "state", "metrics"):
        assert meta[key] == step_meta[key], key
    assert CharGenerator(SHIP).engine == "generation graph"
    manifest = json.loads((EXPORTED / "MANIFEST.json").read_text())
    assert manifest["files"]["ship.gen.onnx"]["of"] == "ship.onnx"


@pytest.mark.parametrize("context", ["window", "stateful"])
def test_greedy_text_is_the_same_on_both_paths(context):
    fast, step = both(context)
    for prompt, length in (("if you", 170), ("i", 1), ("i", 2), ("ship", 300), (SENTENCE, 40)):
        assert fast.text(prompt, length) == step.text(prompt, length), (prompt, length)
    if context == "window":  # what the model was trained for; carrying the state drifts (README)
        assert fast.text("if you", 170) == SENTENCE[6:6 + 170]


@pytest.mark.parametrize("context", ["window", "stateful"])
@pytest.mark.parametrize("temperature,top_k", [(0.7, 0), (1.0, 0), (1.5, 3), (2.0, 1)])
def test_seeded_sampling_gives_the_same_text_on_both_paths(context, temperature, top_k):
    for seed in (0, 1, 2):
        fast, step = both(context, temperature=temperature, top_k=top_k, seed=seed)
        texts = [g.text("if you", 250) for g in (fast, step)]
        assert texts[0] == texts[1], seed
        # and the generators' random streams stay in step for a second text
        assert fast.text("ship", 20) == step.text("ship", 20)
    assert len(set(CharGenerator(SHIP, temperature=2.0, seed=s).text("if you", 60) for s in range(3))) > 1


def test_chunks_start_with_one_character_and_grow():
    fast, step = both("stateful")
    sizes = [len(c) for c in fast.request("if you", 300)]
    assert sizes[:len(CHUNKS)] == list(CHUNKS) and sum(sizes) == 300
    assert [len(c) for c in step.request("if you", 5)] == [1] * 5


@pytest.mark.parametrize("context", ["window", "stateful"])
def test_rows_of_a_batch_are_generated_as_if_alone(context):
    fast, step = both(context)
    prompts = ["if you w", "ship, do", "the sea.", "  abcdef"]
    together = fast.request(prompts, 90).text()
    assert [len(text) for text in together] == [90] * 4
    for row, prompt in enumerate(prompts):
        assert together[row] == fast.text(prompt, 90)
    assert together == step.request(prompts, 90).text()
    # sampling: one uniform per row per step, in the same order on both paths
    fast, step = both(context, temperature=1.2, top_k=5, seed=4)
    assert fast.request(prompts, 50).text() == step.request(prompts, 50).text()


def test_greedy_text_equals_tensorflow(ship_run, ship_export):
    """TensorFlow's own step function, both contexts, against the exported generation graph."""
    from edgeseq.training.char_network import CharModelConfig, step_function

    _, model, config, _ = ship_run
    out = ship_export[0]
    cfg = CharModelConfig(**config["model"])
    step, _ = step_function(model, cfg)
    vocab = config["vocabulary"]
    ids = [vocab.index(c) for c in "if you"]
    zero = np.zeros((1, cfg.state_count, cfg.hidden), np.float32)
    window_ids = list(ids)
    for _ in range(120):
        logits = step(np.array([window_ids[-10:]], np.int32), zero)["logits"].numpy()
        window_ids.append(int(logits[0, -1].argmax()))
    out_ = step(np.array([ids], np.int32), zero)
    stateful_ids, state = list(ids), out_["new_state"]
    stateful_ids.append(int(out_["logits"].numpy()[0, -1].argmax()))
    for _ in range(119):
        out_ = step(np.array([[stateful_ids[-1]]], np.int32), state)
        state = out_["new_state"]
        stateful_ids.append(int(out_["logits"].numpy()[0, -1].argmax()))
    for context, tf_ids in (("window", window_ids), ("stateful", stateful_ids)):
        fast = CharGenerator(out, context=context)
        assert fast.engine == "generation graph"
        tf_text = "".join(vocab[i] for i in tf_ids[6:])
        per_step = CharGenerator(out, context=context, generation=False)
        assert fast.text("if you", 120) == tf_text == per_step.text("if you", 120)


def test_export_writes_the_generation_graph_and_lists_its_checks(ship_export):
    out, result = ship_export
    assert ModelFiles(out).generation in result.paths and ModelFiles(out).generation.is_file()
    lines = [c.label for c in result.checklist.checks if c.label.startswith("generation graph = per-step")]
    assert len(lines) == 6 and all(c.ok for c in result.checklist.checks)


def test_a_model_without_its_generation_graph_runs_per_step(tmp_path):
    alone = tmp_path / "ship.onnx"
    shutil.copy(SHIP, alone)
    generator = CharGenerator(alone)
    assert generator.engine == "per-step" and "no ship.gen.onnx" in generator.why_per_step
    assert generator.text("if you", 170) == CharGenerator(SHIP).text("if you", 170)


def test_a_generation_graph_of_another_model_is_not_used(tmp_path):
    edited_copy(SHIP, tmp_path / "ship.onnx", lambda meta: meta["training"].update(note="another export"))
    shutil.copy(ModelFiles(SHIP).generation, tmp_path / "ship.gen.onnx")
    generator = CharGenerator(tmp_path / "ship.onnx")
    assert generator.engine == "per-step" and "was not made from this ship.onnx" in generator.why_per_step
    assert generator.text("if you", 30) == SENTENCE[6:36]


def test_only_an_fp32_generation_graph_opens_without_graph_optimizations(tmp_path):
    """Unoptimized, an fp32 graph opens in half the time at the same speed; an int8 one needs
    onnxruntime's folding, also when its files are renamed (found by its description)."""
    def level(generator):
        return generator.model.graph.session.get_session_options().graph_optimization_level

    files = ModelFiles(SHIP)
    shutil.copy(files.int8, tmp_path / "renamed.onnx")
    shutil.copy(files.int8_generation, tmp_path / "renamed.gen.onnx")
    renamed = CharGenerator(tmp_path / "renamed.onnx")
    assert level(CharGenerator(SHIP)) == ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    assert level(CharGenerator(SHIP, precision="int8")) == ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    assert renamed.engine == "generation graph" and level(renamed) == ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    assert renamed.text("if you", 40) == CharGenerator(SHIP, precision="int8").text("if you", 40)


def test_the_generation_file_itself_is_not_a_step_model():
    with pytest.raises(ModelFileError, match="the generation graph of a model; pass its step model NAME.onnx"):
        CharGenerator(ModelFiles(SHIP).generation)


def test_bad_prompts_fail_at_the_call_on_both_paths():
    for generator in both("window"):
        with pytest.raises(InputError, match="at least one character"):
            generator.stream("", 5)
        with pytest.raises(InputError, match="positive number"):
            generator.request("if", 0)
        with pytest.raises(InputError, match="not in the model's vocabulary"):
            generator.stream("if you?", 5)
        logits, state = generator.model.logits(generator.vocab.encode("if")[None])
        assert logits.shape == (1, 2, 25) and state.shape == (1, 4, 64)


def test_a_step_graph_without_fused_recurrent_ops_gets_a_note_not_a_failure():
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["ids"], ["logits"]),
                               helper.make_node("Identity", ["state"], ["new_state"])], "g",
                              [helper.make_tensor_value_info("ids", TensorProto.INT32, [None, None]),
                               helper.make_tensor_value_info("state", TensorProto.FLOAT, [None, 1, 1])],
                              [helper.make_tensor_value_info("logits", TensorProto.INT32, [None, None]),
                               helper.make_tensor_value_info("new_state", TensorProto.FLOAT, [None, 1, 1])])
    model = helper.make_model(graph)
    with pytest.raises(GenerationUnsupported, match="no fused recurrent op"):
        build_generation(model)
    checklist = Checklist()
    assert build_and_verify(checklist, model, 10, (1, 1)) is None
    assert not checklist.failures and "runtime will run this model per step" in checklist.notes[0]


def test_the_cli_streams_chunks_and_reports_the_first_character():
    result = cli("run", "char", "--prompt", "if you", "--length", "170")
    assert result.exit_code == 0, result.output
    assert result.stdout == SENTENCE[6:176] + "\n"
    assert "generation graph" in result.stderr and "first after" in result.stderr
