"""The int8 files as a user meets them: the run's lines and refusals, info, verify, the cards.

How `--precision` picks the file (NAME.int8.onnx beside NAME.onnx, or the int8 file named
itself) and what each refusal says; what `edgeseq info` and `edgeseq verify` show of an int8
set, damaged or stale ones too; what an int8 file's model card tells another tool. The
export, the measured cost and the int8 generation graph are tested in test_int8.py.
"""
from __future__ import annotations

import json
import shutil

import onnx
import pytest

from conftest import EXPORTED, cli, copy_set
from edgeseq.contract import ModelFiles
from edgeseq.data.text import sample_text
from edgeseq.errors import InputError
from edgeseq.export.int8 import cost as int8_cost
from edgeseq.runtime import CharGenerator, SeriesModel

SENTENCE = sample_text("ship")[0]


def test_a_missing_int8_file_is_one_line_saying_how_to_make_it(tmp_path):
    step = copy_set("ship", tmp_path)
    result = cli("run", "char", "--model", str(step), "--prompt", "if", "--precision", "int8")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == ["edgeseq: error: no ship.int8.onnx beside ship.onnx; make it with: edgeseq "
                                          f"export {step} --quantize int8"]
    assert cli("run", "char", "--prompt", "if", "--precision", "int4").stderr.splitlines() == [
        "edgeseq: error: unknown --precision 'int4'; choose one of: fp32, int8"]


def test_a_model_named_as_int8_runs_in_int8_and_fp32_with_it_is_one_line():
    int8 = EXPORTED / "ship.int8.onnx"
    want = "model ship.int8.onnx: 2xLSTM(64) in int8, context window 10, generation graph"
    for precision in ([], ["--precision", "int8"]):  # the file was named: int8, asked for or not
        result = cli("run", "char", "--model", str(int8), "--prompt", "if you", "--length", "170", *precision)
        assert result.exit_code == 0 and result.stdout == SENTENCE[6:176] + "\n", result.stderr
        assert result.stderr.splitlines()[0] == want
    result = cli("run", "char", "--model", str(int8), "--prompt", "if you", "--precision", "fp32")
    assert (result.exit_code, result.stderr) == (2, f"edgeseq: error: ship.int8.onnx is an int8 file; pass "
                                                    f"{EXPORTED / 'ship.onnx'} for fp32 (or --precision int8)\n")
    result = cli("run", "stock", "--model", str(EXPORTED / "stock.int8.onnx"), "--precision", "fp32")
    assert (result.exit_code, result.stderr) == (2, f"edgeseq: error: stock.int8.onnx is an int8 file; pass "
                                                    f"{EXPORTED / 'stock.onnx'} for fp32 (or --precision int8)\n")
    with pytest.raises(InputError, match="^ship.int8.onnx is an int8 file; pass "):
        CharGenerator(int8, precision="fp32")
    with pytest.raises(InputError, match="^stock.int8.onnx is an int8 file; pass "):
        SeriesModel(EXPORTED / "stock.int8.onnx", precision="fp32")
    assert SeriesModel(EXPORTED / "stock.int8.onnx").summary().startswith("model stock.int8.onnx: 1xLSTM(32) in int8, ")
    assert CharGenerator(int8).text("if you", 20) == CharGenerator(precision="int8").text("if you", 20)


def test_a_batch_of_prompts_says_which_model_and_precision_ran():
    result = cli("run", "char", "--prompt", "if you", "--prompt", "teach them", "--length", "10", "--precision", "int8")
    assert result.exit_code == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0] == "model ship.int8.onnx: 2xLSTM(64) in int8, context window 10, generation graph"
    assert lines[1].startswith("2 prompts x 10 chars in ") and len(lines) == 2


def test_every_sibling_ending_is_known_so_no_model_is_named_like_a_sibling():
    from edgeseq.contract.siblings import SIBLING_ENDINGS, sibling_ending

    siblings = ModelFiles("NAME.onnx").all()[1:]
    assert sorted(p.name.removeprefix("NAME") for p in siblings) == sorted(SIBLING_ENDINGS)
    assert [sibling_ending(p) for p in siblings] == [".fixed.onnx", ".gen.onnx", ".int8.onnx", ".int8.gen.onnx"]
    assert [sibling_ending(name) for name in ("ship.onnx", "my.generic.onnx", "int8.onnx")] == [None, None, None]


def test_an_accuracy_drop_that_rounds_to_nothing_reads_0_00():
    assert [int8_cost.points(drop) for drop in (-0.001, -0.0, 0.0, 0.004, -0.12, 0.5)] == [
        "0.00", "0.00", "0.00", "0.00", "-0.12", "0.50"]


def test_exporting_again_without_quantize_says_it_removed_the_int8_files(tiny_run, tiny_export, tmp_path):
    for name, data in tiny_export.items():  # an earlier export of the same name, with int8 files beside it
        (tmp_path / name).write_bytes(data)
    (tmp_path / "tiny.int8.onnx").write_bytes(b"made from the old tiny.onnx")
    (tmp_path / "tiny.int8.gen.onnx").write_bytes(b"made from the old tiny.onnx")
    result = cli("export", str(tiny_run), "-o", str(tmp_path / "tiny.onnx"), "--force")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines()[-1] == ("removed tiny.int8.onnx and tiny.int8.gen.onnx (made from the old "
                                              "tiny.onnx; export with --quantize int8 to make them again)")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.fixed.onnx", "tiny.gen.onnx", "tiny.json", "tiny.onnx"]


# ------------------------------------------------------------------ info, verify, cards

def test_info_shows_the_int8_model_beside_the_fp32_one():
    result = cli("info", str(EXPORTED / "ship.onnx"))
    assert result.exit_code == 0
    ratios = [(EXPORTED / a).stat().st_size / (EXPORTED / b).stat().st_size
              for a, b in (("ship.int8.onnx", "ship.onnx"), ("ship.int8.gen.onnx", "ship.gen.onnx"))]
    lines = result.stdout.splitlines()
    assert lines[-2] == (f"int8 beside it (run it with --precision int8): ship.int8.onnx {100 * ratios[0]:.1f}% of "
                         f"ship.onnx's size; ship.int8.gen.onnx {100 * ratios[1]:.1f}% of ship.gen.onnx's size")
    assert lines[-1].startswith("  its cost, measured against fp32 on 170 of the 170 training windows of 10")
    assert "next-character accuracy 0.8965 -> 0.8976" in lines[-1] and "greedy text the same of 170 chars" in lines[-1]
    as_json = json.loads(cli("info", "--json", str(EXPORTED / "stock.onnx")).stdout)
    assert as_json["int8_beside"]["file"] == "stock.int8.onnx"
    assert as_json["int8_beside"]["quantization"]["rmse_ratio"] <= 1.02


def test_info_describes_the_fp32_model_when_the_int8_file_beside_it_cannot_run(tmp_path):
    step = copy_set("ship", tmp_path, int8=True)
    int8 = ModelFiles(step).int8
    good = cli("info", str(step)).stdout.splitlines()
    data = bytearray(int8.read_bytes())
    data[len(data) // 2] ^= 0xFF  # a damaged int8 file
    int8.write_bytes(bytes(data))
    damaged = cli("info", str(step))
    assert damaged.exit_code == 0 and damaged.stdout.splitlines()[:-1] == good[:-2]
    assert damaged.stdout.splitlines()[-1].startswith("int8 beside it: ship.int8.onnx cannot be run: its bytes do "
                                                      "not match")
    shutil.copy(EXPORTED / "stock.int8.onnx", int8)  # an int8 file made from another model
    stale = cli("info", "--json", str(step))
    assert stale.exit_code == 0 and json.loads(stale.stdout)["int8_beside"] == {
        "file": "ship.int8.onnx", "problem": "ship.int8.onnx was not made from the ship.onnx beside it (a stale int8 "
                                            "file); export again with --quantize int8 --force"}


def test_info_of_an_int8_file_says_whose_training_figures_it_shows():
    lines = cli("info", str(EXPORTED / "ship.int8.gen.onnx")).stdout.splitlines()
    assert "metrics (the fp32 model's, from training):" in lines
    assert any(line.startswith("parity_max_abs_diff (the fp32 file's, against TensorFlow): ") for line in lines)
    step = lines.index("step:")  # the step graph's record: its inputs and outputs one per line
    assert lines[step + 1:step + 4] == ["  graph: dynamic", "  inputs:",
                                        "    ids: int32 [batch, time]: character ids, positions in the vocabulary"]
    assert "metrics:" in cli("info", str(EXPORTED / "ship.onnx")).stdout.splitlines()  # fp32: its own


def test_an_int8_files_card_says_how_to_run_it():
    for name, line in (("ship.int8.onnx", "Run: edgeseq run char --model NAME.onnx --precision int8 --prompt TEXT."),
                       ("ship.int8.gen.onnx", "Run: edgeseq run char --model ship.onnx --precision int8 --prompt "
                                              "TEXT."),
                       ("stock.int8.onnx", "Run: edgeseq run stock --model NAME.onnx --precision int8 --csv "
                                           "HISTORY.csv.")):
        card = onnx.load(str(EXPORTED / name)).doc_string
        assert any(row.startswith(line) for row in card.splitlines()), (name, card)


def test_verify_of_an_int8_file_brings_its_generation_graph(tmp_path):
    step = copy_set("ship", tmp_path, int8=True)
    result = cli("verify", str(ModelFiles(step).int8))
    assert result.exit_code == 0
    assert sorted({line.split()[1].rstrip(":") for line in result.stdout.splitlines()[:-1]}) == [
        "ship.int8.gen.onnx", "ship.int8.onnx"]
    ModelFiles(step).int8.write_bytes(ModelFiles(step).int8.read_bytes()[:5000])  # cut short
    lines = cli("verify", str(ModelFiles(step).int8)).stdout.splitlines()
    assert "FAIL ship.int8.onnx: digest: none found: a damaged, cut-short or edited file; export it again" in lines
