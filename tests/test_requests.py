"""Requests: settings per request, why a request stopped, its timing, and continuing it.

All on the shipped model (no TensorFlow). A line model is made from it by giving a copy
of ship.onnx (and of its generation graph, re-pointed at the copy) a ``line_end``: the
character the model is known to generate at a given place.
"""
from __future__ import annotations

import copy
import re

import numpy as np
import pytest

from conftest import EXPORTED, cli, edited_copy
from edgeseq.contract import ModelFiles, file_sha256
from edgeseq.errors import InputError
from edgeseq.runtime.char_model import CharModel
from edgeseq.runtime.decoding import decode, reference_decode
from edgeseq.runtime.generator import CharGenerator
from edgeseq.runtime.sampling import Sampler

SHIP = EXPORTED / "ship.onnx"
SENTENCE = ("if you want to build a ship, don't drum up people together to collect wood and don't "
            "assign them tasks and work, but rather teach them to long for the endless immensity of the sea.")
ENGINES = [True, False]  # generation graph, per step
CONTEXTS = ["window", "stateful"]


def with_meta(source, target, **changes):
    def edit(meta):
        for key, value in changes.items():
            if key == "of_sha256":
                meta["generation"][key] = value
            else:
                meta[key] = value

    edited_copy(source, target, edit)


@pytest.fixture(scope="module")
def line_model(tmp_path_factory):
    """end -> a copy of ship.onnx (with a matching generation graph) whose lines end at ``end``."""
    made = {}

    def make(end):
        if end not in made:
            path = tmp_path_factory.mktemp("lines") / "lines.onnx"
            with_meta(SHIP, path, line_end=end)
            with_meta(ModelFiles(SHIP).generation, ModelFiles(path).generation, line_end=end,
                      of_sha256=file_sha256(path))
            made[end] = path
        return made[end]

    return make


def generated(model, prompts, length, context, sampler) -> np.ndarray:
    rows = [model.vocab.encode(p) for p in prompts]
    return np.concatenate([tokens for tokens, _ in decode(model, rows, length, context, sampler)], axis=1)


@pytest.mark.parametrize("context", CONTEXTS)
@pytest.mark.parametrize("generation", ENGINES)
def test_every_engine_gives_the_reference_loops_ids(context, generation):
    model = CharModel(SHIP, generation=generation)
    assert model.engine == ("generation graph" if generation else "per-step")
    for temperature, top_k in ((0.0, 0), (2.0, 0), (2.5, 3)):
        for prompts in (["if you w", "ship, do"], ["i"], ["ship, don't drum up"]):  # rows of one length
            ids = np.stack([model.vocab.encode(p) for p in prompts])
            want = reference_decode(model, ids, 60, context, Sampler(temperature, top_k, 11))
            assert np.array_equal(generated(model, prompts, 60, context, Sampler(temperature, top_k, 11)), want)
    ragged = ["if you want to build", "s", "the sea"]  # rows of different lengths, each as if alone
    got = generated(model, ragged, 40, context, Sampler())
    for row, prompt in enumerate(ragged):
        assert np.array_equal(got[row], reference_decode(model, model.vocab.encode(prompt)[None], 40, context,
                                                         Sampler())[0])


def test_settings_are_per_request_and_open_no_session(monkeypatch):
    import edgeseq.runtime.char_model as char_model

    opened = []
    real = char_model.open_model
    monkeypatch.setattr(char_model, "open_model", lambda *a, **k: opened.append(a) or real(*a, **k))
    settings = [(0.0, 0, None), (2.0, 0, 3), (2.5, 3, 3), (0.0, 0, None), (2.0, 0, 3)]
    fast = CharGenerator(SHIP, context="stateful")
    graph_session = fast.model.graph.session
    texts = [fast.request("if you", 80, temperature=t, top_k=k, seed=s).text() for t, k, s in settings]
    assert fast.model.graph.session is graph_session and opened == []  # the step session never opened
    monkeypatch.undo()
    step = CharGenerator(SHIP, context="stateful", generation=False)
    session = step.model.session
    assert [step.request("if you", 80, temperature=t, top_k=k, seed=s).text() for t, k, s in settings] == texts
    assert step.model.session is session
    assert texts[0] == texts[3] == SENTENCE[6:86] and texts[1] == texts[4] != texts[2] != texts[0]
    fresh = CharGenerator(SHIP, context="stateful", temperature=2.5, top_k=3, seed=3)
    assert fresh.text("if you", 80) == texts[2]  # constructor settings: the same as a request's
    assert fresh.request("if you", 80, temperature=0).text() == texts[0]  # a request overrides them


@pytest.mark.parametrize("generation", ENGINES)
def test_a_request_knows_why_it_stopped(line_model, generation):
    request = CharGenerator(SHIP, generation=generation).request("if you", 30)
    assert request.stop_reason is None and request.text() == SENTENCE[6:36]
    assert request.stop_reason == "length"
    lines = CharGenerator(line_model("s"), generation=generation)
    assert lines.engine == ("generation graph" if generation else "per-step")
    request = lines.request("if you", 100)
    assert request.text() == " want to build a " and request.stop_reason == "line_end"
    assert request.chars == 17
    request = lines.request("if you", 10)
    assert request.text() == " want to b" and request.stop_reason == "length"
    alone = CharGenerator(SHIP, generation=generation).text("i", 60)  # "i" is ambiguous: whatever ship says
    line = alone[:alone.index("s")]  # ... the line model ends it before its first "s"
    batch = lines.request(["if you", "i", "the sea"], 60)
    assert batch.text() == [" want to build a ", line, ""] and batch.stop_reason == "line_end"
    batch = lines.request(["if you", "i"], 10)
    assert batch.text() == [" want to b", line[:10]] and batch.stop_reason == "length"


@pytest.mark.parametrize("generation", ENGINES)
def test_a_request_records_its_timing(generation):
    request = CharGenerator(SHIP, generation=generation).request("if you", 120)
    assert request.first_char_seconds is None and request.seconds is None
    chunks = list(request)
    assert "".join(chunks) == request.text() == SENTENCE[6:126] and request.chars == 120
    assert 0 < request.first_char_seconds <= request.seconds and request.chars_per_second > 0
    assert request.chars_per_second == pytest.approx(120 / request.seconds)
    assert re.fullmatch(r"120 chars in \d+\.\d ms \([\d,]+ chars/s; first after \d+\.\d\d ms\)", request.summary())
    batch = CharGenerator(SHIP, generation=generation).request(["if you", "ship"], 40)
    batch.text()
    assert batch.chars == 80 and 0 < batch.first_char_seconds <= batch.seconds
    assert re.fullmatch(r"2 prompts x 40 chars in \d+\.\d ms \([\d,]+ chars/s\)", batch.summary())


@pytest.mark.parametrize("context", CONTEXTS)
@pytest.mark.parametrize("generation", ENGINES)
def test_append_and_continue_equals_the_joined_prompt(context, generation):
    gen = CharGenerator(SHIP, context=context, generation=generation)
    request = gen.request("if you", 20)
    first = request.text()
    assert request.more(40).text() == gen.text("if you", 60)[20:]  # more() alone goes straight on
    second = request.text()
    third = request.append(" the sea").more(40).text()
    assert third == gen.text("if you" + first + second + " the sea", 40)
    fourth = request.append("ship, don't").more(25).text()
    assert fourth == gen.text("if you" + first + second + " the sea" + third + "ship, don't", 25)
    # several prompts, each with its own text appended (rows of different lengths)
    batch = gen.request(["if you", "ship"], 12)
    texts = batch.text()
    again = batch.append([" w", " the sea, "]).more(30).text()
    assert again == [gen.text(p + t + a, 30) for p, t, a in zip(["if you", "ship"], texts, [" w", " the sea, "])]


@pytest.mark.parametrize("context", CONTEXTS)
@pytest.mark.parametrize("generation", ENGINES)
def test_continuing_after_a_line_end_or_an_early_stop(line_model, context, generation):
    lines = CharGenerator(line_model("s"), context=context, generation=generation)
    request = lines.request("if you", 100)
    assert request.text() == " want to build a "  # cut inside a chunk on the generation graph
    continued = request.append("s").more(100).text()
    assert continued == lines.text("if you want to build a s", 100) == SENTENCE[24:].split("s")[0]
    batch = lines.request(["if you", "i", "the sea"], 10)  # two rows run to the length, one ends its line
    texts = batch.text()
    assert batch.append("s").more(40).text() == [lines.text(p + t + "s", 40) for p, t in zip(["if you", "i", "the sea"], texts)]
    # a caller that stops reading early continues from what it was given
    gen = CharGenerator(SHIP, context=context, generation=generation)
    request = gen.request("if you", 300)
    seen = "".join(next(request) for _ in range(3))
    assert request.more(30).text() == gen.text("if you" + seen, 30)


@pytest.mark.parametrize("context", CONTEXTS)
@pytest.mark.parametrize("generation", ENGINES)
def test_sampled_rounds_equal_requests_on_the_joined_prompts_with_the_same_stream(line_model, context, generation):
    """Sampling at a high temperature tells apart states that greedy text does not; rows end
    their lines in some rounds and run to the length in others."""
    lines = CharGenerator(line_model("s"), context=context, generation=generation)
    cut = ran = 0
    for seed in range(6):
        request = lines.request(["if you", "ship, do"], 50, temperature=2.5, seed=seed)
        history = [p + t for p, t in zip(["if you", "ship, do"], request.text())]
        for added in ("a", "s", " w", "o"):
            stream = copy.deepcopy(request.sampler.rng)  # where the request's random stream now is
            texts = request.append(added).more(30).text()
            joined = [h + added for h in history]
            assert texts == lines.request(joined, 30, temperature=2.5, seed=stream).text(), (seed, added)
            history = [h + t for h, t in zip(joined, texts)]
            cut, ran = cut + sum(len(t) < 30 for t in texts), ran + sum(len(t) == 30 for t in texts)
    assert cut > 5 and ran > 5


def test_append_checks_its_text():
    request = CharGenerator(SHIP).request(["if you", "ship"], 5)
    with pytest.raises(InputError, match="not in the model's vocabulary"):
        request.append("Q")
    with pytest.raises(InputError, match=r"one per row \(2\), got 3"):
        request.append(["a", "b", "c"])
    with pytest.raises(InputError) as error:
        request.more(0)
    assert str(error.value) == "length must be a positive number of characters, got 0"


def test_the_cli_prints_a_line_models_empty_line(line_model):
    result = cli("run", "char", "--model", str(line_model(" ")), "--prompt", "if you", "--length", "20")
    assert result.exit_code == 0, result.output
    assert result.stdout == "\n"
    assert result.stderr.splitlines() == ["model lines.onnx: 2xLSTM(64), context window 10, generation graph",
                                          "0 chars: the first character generated was the line end"]
    result = cli("run", "char", "--model", str(line_model("s")), "--prompt", "if you", "--length", "100")
    assert result.stdout == " want to build a \n" and result.stderr.splitlines()[1].startswith("17 chars in ")
