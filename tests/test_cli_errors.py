"""Bad input gets one clear line on stderr and exit code 2, never a traceback."""
from __future__ import annotations

import re
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from conftest import EXPORTED, cli

SHIP = str(EXPORTED / "ship.onnx")


def one_error_line(result) -> str:
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith("edgeseq: error: ")
    return lines[0].removeprefix("edgeseq: error: ")


@pytest.mark.parametrize("args, message", [
    (["--prompt", "if yoX", "--length", "5"], "characters not in the model's vocabulary: 'X'"),
    (["--prompt", "if you", "--length", "0"], "--length must be a positive number of characters, got 0"),
    (["--prompt", "if you", "--length", "-3"], "--length must be a positive number of characters, got -3"),
    (["--prompt", "if you", "--temperature", "-0.5"], "--temperature must be 0 (greedy) or a finite positive number, got -0.5"),
    (["--prompt", "if you", "--context", "forever"], "unknown --context 'forever'"),
    (["--prompt", "", "--length", "5"], "--prompt must have at least one character"),
])
def test_run_char_bad_options(args, message):
    assert message in one_error_line(cli("run", "char", "--model", SHIP, *args))


@pytest.mark.parametrize("command, option, choices", [
    ("char", "--sample", "hihello, fighting, ship"),
    ("char", "--cell", "rnn, lstm, gru"),
    ("char", "--head", "dense, none"),
    ("char", "--input", "onehot, embedding"),
    ("char", "--context", "window, stateful"),
    ("char", "--strategy", "default, mirrored, multi-worker"),
    ("stock", "--cell", "rnn, lstm, gru"),
    ("stock", "--target-mode", "change, delta, level"),
    ("stock", "--strategy", "default, mirrored, multi-worker"),
    ("stock", "--date-format", "iso, ymd, y/m/d, m/d/y, d/m/y, d.m.y"),
])
def test_an_unknown_choice_reads_the_same_for_every_option_and_comes_first(tmp_path, command, option, choices):
    # the CSV does not exist and the run folder does: the option is still what is refused
    (tmp_path / "run").mkdir()
    source = {"char": ["--sample", "ship"], "stock": ["--csv", str(tmp_path / "none.csv")]}[command]
    source = [] if option == "--sample" else source
    message = one_error_line(cli("train", command, *source, option, "x", "-o", str(tmp_path / "run")))
    assert message == f"unknown {option} 'x'; choose one of: {choices}"


def test_help_lists_the_choices_that_are_checked():
    help_text = " ".join(cli("train", "char", "--help").stdout.split())
    assert "A built-in sample text: hihello, fighting or ship." in help_text
    assert "Recurrent cell: rnn, lstm or gru." in help_text
    assert "dense: a softmax layer over the RNN outputs; none: the RNN outputs are the logits." in help_text
    assert "lab" not in help_text


def test_prompt_error_names_every_unknown_character():
    message = one_error_line(cli("run", "char", "--prompt", "Ship ÄÄ!", "--length", "3"))
    assert message.startswith("characters not in the model's vocabulary: 'S', 'Ä', '!'")


def test_not_an_onnx_file(tmp_path):
    bogus = tmp_path / "notes.onnx"
    bogus.write_text("hello")
    assert "notes.onnx: not a loadable ONNX model" in one_error_line(cli("run", "char", "--model", str(bogus), "--prompt", "a"))
    assert "notes.onnx: not a loadable ONNX model" in one_error_line(cli("info", str(bogus)))
    assert "no such model file" in one_error_line(cli("info", str(tmp_path / "missing.onnx")))


def test_onnx_without_edgeseq_metadata(tmp_path):
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    path = tmp_path / "plain.onnx"
    onnx.save(helper.make_model(graph), path)
    assert "an ONNX model without edgeseq metadata" in one_error_line(cli("info", str(path)))


def test_train_bad_text_files(tmp_path):
    assert "none.txt does not exist" in one_error_line(cli("train", "char", "--text", str(tmp_path / "none.txt")))
    latin = tmp_path / "latin.txt"
    latin.write_bytes(b"caf\xe9 au lait")
    assert "not UTF-8 text" in one_error_line(cli("train", "char", "--text", str(latin)))
    short = tmp_path / "short.txt"
    short.write_text("tiny")
    message = one_error_line(cli("train", "char", "--text", str(short), "--window", "10", "-o", str(tmp_path / "r")))
    assert message == "the text has 4 characters; a window of 10 needs at least 11 (one more for the next-character target)"
    assert not (tmp_path / "r").exists()


def test_train_needs_exactly_one_source(tmp_path):
    assert "exactly one of --sample NAME or --text FILE" in one_error_line(cli("train", "char"))


def test_train_refuses_to_overwrite_a_run_folder(tmp_path):
    (tmp_path / "run").mkdir()
    assert "already exists; pass --force" in one_error_line(
        cli("train", "char", "--sample", "hihello", "-o", str(tmp_path / "run")))


def test_export_of_a_folder_that_is_not_a_run(tmp_path):
    assert "not a run folder" in one_error_line(cli("export", str(tmp_path)))


def test_version_and_help():
    assert cli("--version").stdout.startswith("edgeseq ")
    help_text = cli("run", "char", "--help").stdout
    assert "--context" in help_text and "--temperature" in help_text


def test_the_fixed_graph_is_not_a_streaming_model():
    message = one_error_line(cli("run", "char", "--model", str(EXPORTED / "ship.fixed.onnx"), "--prompt", "if you"))
    assert message.endswith("the fixed graph of a model; pass its step model NAME.onnx (which finds NAME.gen.onnx beside it)")


def test_a_corrupt_run_config(tmp_path):
    (tmp_path / "model.keras").write_bytes(b"")
    (tmp_path / "config.json").write_text("{not json")
    assert one_error_line(cli("export", str(tmp_path))) == (
        f"{tmp_path / 'config.json'} is not valid JSON (Expecting property name enclosed in double quotes: line 1 "
        "column 2 (char 1)); train the run again")


def test_zero_is_not_taken_for_a_default(tmp_path):
    assert "--window must be at least 1, got 0" in one_error_line(
        cli("train", "char", "--sample", "ship", "--window", "0", "-o", str(tmp_path / "r")))
    assert "--hidden must be at least 1, got 0" in one_error_line(
        cli("train", "char", "--sample", "hihello", "--hidden", "0", "-o", str(tmp_path / "r")))


def test_an_unwritable_destination_is_one_line(tmp_path):
    from edgeseq.atomic import write_text
    from edgeseq.errors import InputError

    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InputError, match=r"file/out.txt: cannot write: .*/file is a file, not a folder"):
        write_text(blocker / "out.txt", "hello")


def test_a_closed_pipe_ends_quietly():
    import subprocess
    import sys

    from conftest import REPO

    def piped(command: str) -> subprocess.CompletedProcess:  # pipefail: edgeseq's own exit code
        return subprocess.run(["bash", "-c", f"set -o pipefail; {sys.executable} -m edgeseq.cli {command}"],
                              capture_output=True, text=True, cwd=REPO, timeout=120)

    done = piped("run char --prompt 'if you' --length 100000 | head -c 5")  # the reader leaves mid-way
    assert (done.returncode, done.stdout) == (0, " want"), done.stderr
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr
    done = piped("info exported/ship.onnx | true")  # it may leave before the last flush: still quiet
    assert (done.returncode, done.stdout) == (0, ""), done.stderr
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr


def test_a_folder_or_zero_threads_instead_of_a_model(tmp_path):
    assert "is a folder; pass the .onnx file" in one_error_line(cli("run", "char", "--model", str(tmp_path), "--prompt", "a"))
    import os

    cores = os.cpu_count()
    assert one_error_line(cli("run", "char", "--prompt", "if you", "--threads", "0")) == \
        f"--threads must be from 1 to {cores} (the cores of this machine), got 0"


def test_a_damaged_keras_file(tmp_path):
    (tmp_path / "model.keras").write_text("junk")
    (tmp_path / "config.json").write_text('{"task": "char", "model": {}, "window": 3, "vocabulary": "ab"}')
    message = one_error_line(cli("export", str(tmp_path), "-o", str(tmp_path / "m.onnx")))
    assert message.startswith(f"{tmp_path / 'model.keras'} is not a readable edgeseq Keras model")
    assert message.endswith("train the run again")


def test_help_shows_the_install_extras_literally():
    assert "pip install 'edgeseq[train]'" in cli("train", "--help").stdout
    assert "edgeseq[plot]" in cli("train", "stock", "--help").stdout


def test_options_that_do_nothing_are_noted():
    result = cli("run", "char", "--prompt", "if you", "--length", "5", "--seed", "3")
    assert result.exit_code == 0 and "note: --seed and --top-k only matter when sampling" in result.stderr
    result = cli("run", "char", "--prompt", "if you", "--length", "5", "--context", "stateful")
    assert "trained on windows of 10 from a zero state; carrying the state further may drift" in result.stderr


# ------------------------------------------------------------------ closed or failing output streams

def shell(command: str, unbuffered: bool = True):
    """``python -m edgeseq.cli COMMAND`` run by the shell (so ``>&-`` and ``2>&-`` close a
    stream before Python starts); ``unbuffered``: stdout written at once (PYTHONUNBUFFERED=1),
    else held in its buffer until the program's last flush."""
    import os
    import shlex
    import subprocess
    import sys

    from conftest import REPO

    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    env["PYTHONPATH"] = str(REPO)
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    return subprocess.run(f"{shlex.quote(sys.executable)} -m edgeseq.cli {command}", shell=True, env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=120)


SHIP_LINE = "model ship.onnx: 2xLSTM(64), context window 10, generation graph"


def test_a_closed_stderr_drops_the_diagnostics_and_keeps_stdout_and_the_exit_code():
    done = shell("run char --prompt 'if you' --length 20 2>&-")
    assert (done.returncode, done.stdout, done.stderr) == (0, " want to build a shi\n", "")
    done = shell("run char --prompt 'if you' --length 0 2>&-")  # the error line has nowhere to go
    assert (done.returncode, done.stdout, done.stderr) == (2, "", "")
    done = shell("run char --prompt 'if you' --length 20 --no-such-option 2>&-")
    assert (done.returncode, done.stdout, done.stderr) == (2, "", "")
    done = shell("run char --prompt 'if you' --length 20 2>/dev/full")  # a stderr that fails: the same
    assert (done.returncode, done.stdout, done.stderr) == (0, " want to build a shi\n", "")


def test_a_closed_stdout_is_one_line_and_exit_2():
    done = shell("run char --prompt 'if you' --length 50 >&-")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.splitlines() == [SHIP_LINE, "edgeseq: error: cannot write the output: standard output is closed"]
    done = shell("info exported/ship.onnx >&-")
    assert (done.returncode, done.stderr) == (2, "edgeseq: error: cannot write the output: standard output is closed\n")
    done = shell("run char --prompt 'if you' --length 50 >&- 2>&-")
    assert (done.returncode, done.stdout, done.stderr) == (2, "", "")


#: what ``run stock`` writes to stderr before its table
STOCK_LINES = [r"read 1000 rows from ", "rows sorted by 'Date'", "model stock.onnx: "]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
@pytest.mark.parametrize("unbuffered", [True, False], ids=["in the command", "at the last flush"])
@pytest.mark.parametrize("command, before, before_last_flush", [
    # the lines on stderr before the error: diagnostics written before the write that failed
    ("run char --prompt 'if you' --length 50", [re.escape(SHIP_LINE)],
     [re.escape(SHIP_LINE)]),  # run char flushes after each chunk
    ("run char --prompt 'if you' --prompt ship --length 50", [re.escape(SHIP_LINE)],
     [re.escape(SHIP_LINE), r"2 prompts x 50 chars in [\d.]+ ms"]),
    ("run stock", STOCK_LINES, STOCK_LINES),
    ("info exported/ship.onnx", [], []),
    ("verify exported/ship.onnx", [], [r"\d+ checks, 0 failed$"]),
    ("--version", [], []),
])
def test_output_to_a_full_disk_is_one_line_and_exit_2(command, before, before_last_flush, unbuffered):
    done = shell(f"{command} >/dev/full", unbuffered)
    assert (done.returncode, done.stdout) == (2, ""), done.stderr
    lines = done.stderr.splitlines()
    assert lines[-1] == "edgeseq: error: cannot write the output: No space left on device"
    expected = before if unbuffered else before_last_flush
    assert len(lines) == len(expected) + 1 and all(map(re.match, expected, lines)), lines


def test_usage_lines_name_the_arguments_and_help_lists_the_precisions():
    for command, argument in (("export", "RUN"), ("info", "FILE"), ("verify", "PATH")):
        usage = cli(command, "--help").stdout.splitlines()[0]
        assert usage.endswith(f" {command} [OPTIONS] {argument}"), usage
    assert cli("export").stderr.splitlines()[-1] == "Error: Missing argument 'RUN'."
    for command in ("char", "stock"):
        help_text = " ".join(cli("run", command, "--help").stdout.split())
        assert ("--precision [fp32|int8] fp32: the exported model NAME.onnx; int8: NAME.int8.onnx beside it (made by "
                "'edgeseq export NAME.onnx --quantize int8'): a smaller file, faster only for LSTM models and mainly "
                "in batches (a GRU or RNN runs in fp32 from weights stored int8); its measured cost in 'edgeseq info' "
                "(default: fp32, or int8 for a --model NAME.int8.onnx).") in help_text
    help_text = " ".join(cli("export", "--help").stdout.split())
    assert "--quantize [int8] int8: also write an int8 model beside it" in help_text
