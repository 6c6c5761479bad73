"""The Python API speaks Python: stream() and text() take request()'s settings, length has a
default, and a bad value names the argument (``length``), where the CLI names its flag.

All on the shipped ship model (no TensorFlow).
"""
from __future__ import annotations

import inspect
import os
import tomllib

import pytest

from conftest import EXPORTED, REPO, cli
from edgeseq.errors import InputError, ParameterError
from edgeseq.runtime.generator import DEFAULT_LENGTH, CharGenerator

SAMPLED = {"temperature": 2.5, "top_k": 5, "seed": 1}  # hot enough to leave the sentence


@pytest.fixture(scope="module")
def gen():
    return CharGenerator(EXPORTED / "ship.onnx")


def test_stream_and_text_take_the_settings_of_a_request(gen):
    want = gen.request("if you", 60, **SAMPLED).text()
    assert "".join(gen.stream("if you", 60, **SAMPLED)) == want
    assert gen.text("if you", 60, **SAMPLED) == want
    assert gen.text(["if you", "ship"], 30, **SAMPLED) == gen.request(["if you", "ship"], 30, **SAMPLED).text()
    greedy = gen.text("if you", 60)
    assert greedy == " want to build a ship, don't drum up people together to coll"
    assert want != greedy  # the settings were used, not dropped


def test_length_has_a_default_and_the_cli_shares_it(gen):
    assert DEFAULT_LENGTH == 100
    assert len(gen.text("if you")) == len("".join(gen.stream("if you"))) == DEFAULT_LENGTH
    assert gen.request("if you").length == DEFAULT_LENGTH
    from edgeseq.cli.run import run_char

    assert inspect.signature(run_char).parameters["length"].default == DEFAULT_LENGTH


CORES = os.cpu_count() or 1
WORDING = [
    (lambda g: g.text("if you", 0), "length", "length must be a positive number of characters, got 0"),
    (lambda g: g.stream("if you", -3), "length", "length must be a positive number of characters, got -3"),
    (lambda g: g.text("if you", 2.5), "length", "length must be a whole number of characters, got 2.5"),
    (lambda g: g.text("if you", temperature=-0.5), "temperature",
     "temperature must be 0 (greedy) or a finite positive number, got -0.5"),
    (lambda g: g.stream("if you", temperature=1, top_k=26), "top_k",
     "top_k must be from 0 to 25 (the vocabulary size; 0: all), got 26"),
    (lambda g: g.text("if you", top_k=-1), "top_k", "top_k must be 0 (off) or positive, got -1"),
    (lambda g: g.stream("if you", seed=-1), "seed", "seed must be from 0 to 4294967295, got -1"),
    (lambda g: g.text(""), "prompt", "prompt must have at least one character"),
    (lambda g: g.text([]), "prompt", "give at least one prompt"),
    (lambda g: g.stream(["if you", "ship"]), "prompt",
     "prompt of stream() is one text; request() takes a list of prompts"),
    (lambda g: CharGenerator(g.model, context="forever"), "context",
     "unknown context 'forever'; choose one of: window, stateful"),
    (lambda g: CharGenerator(EXPORTED / "ship.onnx", threads=0), "threads",
     f"threads must be from 1 to {CORES} (the cores of this machine), got 0"),
    (lambda g: CharGenerator(EXPORTED / "ship.onnx", precision="int4"), "precision",
     "unknown precision 'int4'; choose one of: fp32, int8"),
]


@pytest.mark.parametrize("call, parameter, message", WORDING, ids=[m for _, _, m in WORDING])
def test_library_errors_name_the_argument(gen, call, parameter, message):
    with pytest.raises(ParameterError) as error:
        call(gen)
    assert isinstance(error.value, InputError)
    assert (error.value.parameter, str(error.value)) == (parameter, message)


@pytest.mark.parametrize("args, line", [
    (["--length", "0"], "--length must be a positive number of characters, got 0"),
    (["--top-k", "-1"], "--top-k must be 0 (off) or positive, got -1"),
    (["--temperature", "1", "--top-k", "26"], "--top-k must be from 0 to 25 (the vocabulary size; 0: all), got 26"),
    (["--seed", "-1"], "--seed must be from 0 to 4294967295, got -1"),
    (["--context", "forever"], "unknown --context 'forever'; choose one of: window, stateful"),
    (["--precision", "int4"], "unknown --precision 'int4'; choose one of: fp32, int8"),
])
def test_the_cli_names_its_flags(args, line):
    result = cli("run", "char", "--prompt", "if you", *args)
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [f"edgeseq: error: {line}"]


def test_a_flag_name_given_to_a_check_stays_a_flag():
    error = ParameterError("--seed", " must be from 0 to 4294967295, got -1")
    assert str(error) == error.flag_message() == "--seed must be from 0 to 4294967295, got -1"
    assert ParameterError("top_k", " is wrong").flag_message() == "--top-k is wrong"


def test_the_package_ships_its_type_marker():
    assert (REPO / "edgeseq" / "py.typed").is_file()
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "py.typed" in config["tool"]["setuptools"]["package-data"]["edgeseq"]
