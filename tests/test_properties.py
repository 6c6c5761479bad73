"""Properties that hold for any input (hypothesis), and the one failure type each input may meet.

For every generated input the code under test either gives the right result or raises the
EdgeseqError a user sees as one line; any other exception fails the test (a traceback the
user would have seen). Runs are bounded (a few dozen examples each) to keep the suite fast.
"""
from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from conftest import EXPORTED
from edgeseq.choices import MIN_TEMPERATURE
from edgeseq.contract.digest import check_digest
from edgeseq.contract.meta import document, parse_meta, read_document
from edgeseq.data.series import load_csv
from edgeseq.data.batches import WindowSource
from edgeseq.data.char_data import line_data
from edgeseq.data.text import LINE_END, Vocabulary
from edgeseq.errors import InputError, IntegrityError, ModelFileError
from edgeseq.runtime.char_model import checked_lengths
from edgeseq.runtime.sampling import Sampler, pick

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**12) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20)


def stored_doc(name: str) -> dict:
    import onnx

    return json.loads(onnx.load(str(EXPORTED / name)).metadata_props[0].value)


DOCS = {name: stored_doc(name) for name in ("ship.onnx", "ship.gen.onnx", "stock.onnx", "stock.fixed.onnx")}


# ------------------------------------------------------------------ text data

@FAST
@given(st.text(min_size=1, max_size=200))
def test_vocabulary_round_trip_on_any_unicode(text):
    vocab = Vocabulary.from_text(text)
    ids = vocab.encode(text)
    assert vocab.decode(ids) == text
    assert len(vocab) == len(set(text)) and list(vocab.chars) == sorted(set(text))
    assert ids.dtype == np.int32 and (ids >= 0).all() and (ids < len(vocab)).all()


@FAST
@given(st.lists(st.integers(0, 30), max_size=60), st.integers(-2, 70))
def test_sliding_windows_are_the_text_shifted_by_one(ids, window):
    ids = np.array(ids, np.int64)
    source = WindowSource(ids, max(window, 1))
    if window < 1 or len(ids) < window + 1:
        assert source.count == max(0, len(ids) - max(window, 1))
        return
    w = source.cut(np.arange(source.count), source.count)
    assert w.x.shape == w.y.shape == (len(ids) - window, window) and w.real == len(ids) - window
    for i in range(len(w.x)):
        assert (w.x[i] == ids[i:i + window]).all() and (w.y[i] == ids[i + 1:i + window + 1]).all()


@FAST
@given(st.lists(st.text(alphabet="abcdé €", min_size=1, max_size=15), min_size=1, max_size=6),
       st.integers(0, 5))
def test_padded_lines_keep_each_line_and_weigh_only_its_steps(lines, extra):
    vocab = Vocabulary.from_text("".join(lines) + LINE_END)
    longest = max(len(line) for line in lines)
    source = line_data(lines, longest + extra, vocab).train
    padded = source.cut(np.arange(len(lines)), len(lines))
    assert padded.x.shape == (len(lines), longest + extra)
    assert list(padded.weights.sum(axis=1)) == [len(line) for line in lines]
    for row, line in enumerate(lines):
        n = len(line)
        assert vocab.decode(padded.x[row, :n]) == line
        assert vocab.decode(padded.y[row, :n]) == line[1:] + LINE_END
        assert (padded.x[row, n:] == 0).all() and (padded.weights[row, n:] == 0).all()


@FAST
@given(st.lists(st.integers(-3, 12), min_size=0, max_size=5), st.integers(1, 10))
def test_lengths_are_checked_against_the_padded_time_axis(lengths, time):
    try:
        checked = checked_lengths(np.array(lengths, np.int64), (3, time))
    except InputError:
        assert len(lengths) != 3 or min(lengths) < 1 or max(lengths) > time
        return
    assert checked.dtype == np.int32 and list(checked) == lengths


# ------------------------------------------------------------------ CSV files

cells = st.floats(min_value=-1e30, max_value=1e30, allow_nan=False).map(lambda v: f"{v!r}")


@FAST
@given(st.lists(st.tuples(cells, cells), min_size=1, max_size=12))
def test_a_well_formed_csv_gives_its_numbers(tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("csv") / "x.csv"
    path.write_text("a,Close\n" + "".join(f"{a},{b}\n" for a, b in rows))
    series = load_csv(path, target="Close", features="a,Close")
    assert series.values.tolist() == [[float(a), float(b)] for a, b in rows]


@FAST
@given(st.text(max_size=300) | st.binary(max_size=300))
def test_any_file_is_numbers_or_one_line(tmp_path_factory, content):
    path = tmp_path_factory.mktemp("csv") / "x.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8", "surrogatepass"))
    for options in ({}, {"target": "Close"}, {"target": "Close", "fill": "ffill"}):
        try:
            series = load_csv(path, **options)
        except InputError as e:
            assert "\n" not in str(e).strip()
            continue
        assert np.isfinite(series.values[~np.isnan(series.values)]).all()


@FAST
@given(st.integers(3, 40), st.sampled_from(["", "x", "nan", "1e300", "-inf", ";", '"', "\x00", "1,2"]))
def test_a_damaged_price_file_is_one_line(tmp_path_factory, line, damage):
    text = (EXPORTED / "sample_prices.csv").read_text().splitlines()[:42]
    cells = text[line].split(",")
    cells[4] = damage
    text[line] = ",".join(cells)
    path = tmp_path_factory.mktemp("csv") / "p.csv"
    path.write_text("\n".join(text) + "\n")
    try:
        series = load_csv(path)
    except InputError as e:
        assert f"row {line + 1}" in str(e) or "line" in str(e) or "cells" in str(e), str(e)
        return
    assert damage == "1,2" or np.isfinite(series.values).all()


# ------------------------------------------------------------------ the metadata schema

@FAST
@given(json_values)
def test_any_json_document_is_a_description_or_one_line(doc):
    try:
        read_document(doc, "m.onnx")
    except ModelFileError as e:
        assert str(e).startswith("m.onnx: ") and "\n" not in str(e)


@FAST
@given(st.text(max_size=400))
def test_any_metadata_text_is_a_description_or_one_line(text):
    try:
        parse_meta(text, "m.onnx")
    except ModelFileError as e:
        assert str(e).startswith("m.onnx") and "\n" not in str(e)


@FAST
@given(st.sampled_from(sorted(DOCS)), st.data())
def test_a_mutated_description_is_refused_or_reads_back_the_same(name, data):
    doc = json.loads(json.dumps(DOCS[name]))
    path = []
    node = doc
    while isinstance(node, dict) and node and data.draw(st.booleans(), "deeper"):
        key = data.draw(st.sampled_from(sorted(node)), "key")
        path.append(key)
        if not isinstance(node[key], dict):
            break
        node = node[key]
    target, key = doc, None
    for key in path[:-1]:
        target = target[key]
    key = path[-1] if path else data.draw(st.sampled_from(sorted(doc)), "top key")
    if data.draw(st.booleans(), "delete"):
        target.pop(key, None)
    else:
        target[key] = data.draw(json_values, "value")
    try:
        meta = read_document(doc, "m.onnx")
    except ModelFileError as e:
        assert str(e).startswith("m.onnx") and "\n" not in str(e)
        return
    again = read_document(json.loads(json.dumps(document(meta), allow_nan=False)), "m.onnx")
    assert again == meta


def mutated(doc, data):
    """``doc`` (JSON) with one key at some depth deleted or replaced by any JSON value, or the
    whole document replaced."""
    doc = json.loads(json.dumps(doc))
    if not isinstance(doc, dict) or not doc or data.draw(st.integers(0, 9), "replace all") == 0:
        return data.draw(json_values, "document")
    target = doc
    while True:
        key = data.draw(st.sampled_from(sorted(target)), "key")
        if isinstance(target[key], dict) and target[key] and data.draw(st.booleans(), "deeper"):
            target = target[key]
            continue
        if data.draw(st.booleans(), "delete"):
            target.pop(key)
        else:
            target[key] = data.draw(json_values, "value")
        return doc


def one_line(error: Exception, where: str) -> None:
    assert str(error).startswith(where) and "\n" not in str(error), str(error)


CHECKPOINT_STATE = {"format": 1, "epoch": 2, "history": {"loss": [3.2, 3.1], "accuracy": [0.04, 0.14]},
                    "best_epoch": 2, "steps": 2, "options": {"--cell": "lstm", "--hidden": 4},
                    "data_order": "each epoch's is drawn from (seed, epoch)"}


@FAST
@given(st.data())
def test_a_mutated_checkpoint_state_is_refused_in_one_line_before_tensorflow(tmp_path_factory, data):
    """What --resume reads before TensorFlow loads (run_folder.RunPlace): a checkpoint's state.json
    with any field changed is resumed or refused in one line naming the file."""
    from edgeseq.training.run_folder import RunPlace

    folder = tmp_path_factory.mktemp("resume")
    epoch = folder / ".run.training" / "epoch-000002"
    epoch.mkdir(parents=True)
    for name in ("weights.npz", "optimizer.npz"):
        (epoch / name).write_bytes(b"")
    (epoch / "state.json").write_text(json.dumps(mutated(CHECKPOINT_STATE, data)))
    try:
        RunPlace(folder / "run", resume=True)
    except InputError as e:
        one_line(e, str(epoch / "state.json"))


@FAST
@given(st.data())
def test_a_mutated_manifest_is_answered_in_lines(tmp_path_factory, data):
    """verify of a folder whose MANIFEST.json has any field changed: one line per check, never an
    exception."""
    from edgeseq.runtime.verify_files import verify_path

    folder = tmp_path_factory.mktemp("manifest")
    shutil.copy(EXPORTED / "sample_prices.csv", folder / "sample_prices.csv")
    shipped = json.loads((EXPORTED / "MANIFEST.json").read_text())
    doc = {**shipped, "files": {"sample_prices.csv": shipped["files"]["sample_prices.csv"]}}
    (folder / "MANIFEST.json").write_text(json.dumps(mutated(doc, data)))
    checks = verify_path(folder)
    assert checks and all("\n" not in check.line() for check in checks)


RUN_CONFIG = {"task": "char", "window": 10, "vocabulary": " ',.abcdefghiklmnoprstuwy",
              "model": {"cell": "lstm", "layers": 1, "hidden": 4}, "training": {"epochs": 3, "batch_size": None}}


@FAST
@given(st.data())
def test_a_mutated_run_config_is_read_or_refused_in_one_line(tmp_path_factory, data):
    """A run folder's config.json, the JSON export reads back before TensorFlow loads."""
    from edgeseq.contract.run_layout import read_run_config

    folder = tmp_path_factory.mktemp("run")
    (folder / "model.keras").write_bytes(b"")
    (folder / "config.json").write_text(json.dumps(mutated(RUN_CONFIG, data)))
    try:
        read_run_config(folder)
    except InputError as e:
        one_line(e, str(folder))


def test_the_shipped_descriptions_read_back_the_same():
    for name, doc in DOCS.items():
        meta = read_document(doc, name)
        assert read_document(document(meta), name) == meta
        assert {k: v for k, v in document(meta).items() if k != "inputs"} == \
            {k: v for k, v in doc.items() if k != "inputs"}, name


@FAST
@given(st.binary(max_size=300), st.integers(0, 23000))
def test_any_bytes_or_any_flipped_bit_of_a_model_is_caught(junk, position):
    assert check_digest(junk, "j") is None or False  # junk carries no digest: nothing to match
    data = bytearray((EXPORTED / "stock.onnx").read_bytes())
    digest_at = data.find(b'"file_sha256": "')
    assume(not digest_at <= position < digest_at + 81)  # a flip inside the digest's own text: see verify
    data[position] ^= 0x10
    with pytest.raises(IntegrityError):
        check_digest(bytes(data), "m.onnx")


# ------------------------------------------------------------------ sampling

logit_rows = st.lists(st.floats(-20, 20, allow_nan=False), min_size=2, max_size=30)


@FAST
@given(st.lists(logit_rows.filter(lambda r: len(r) == 8), min_size=1, max_size=4))
def test_temperature_zero_is_argmax(rows):
    logits = np.array(rows, np.float32)
    assert (Sampler(0.0).choose_rows(logits) == np.argmax(logits, axis=-1)).all()


@FAST
@given(logit_rows, st.floats(0.05, 5), st.integers(1, 30), st.floats(0, 0.999999))
def test_top_k_never_picks_outside_the_k_largest(row, temperature, top_k, u):
    logits = np.array(row, np.float32)
    chosen = pick(logits, temperature, top_k, u)
    k = min(top_k, len(row))
    kth = np.sort(logits / np.float32(temperature))[-k]
    assert 0 <= chosen < len(row) and logits[chosen] / np.float32(temperature) >= kth


@FAST
@given(st.integers(0, 2**32 - 1), st.floats(0.1, 3))
def test_a_seed_repeats_its_draws(seed, temperature):
    logits = np.random.default_rng(1).standard_normal((5, 12)).astype(np.float32)
    first = [Sampler(temperature, 0, seed).choose_rows(logits) for _ in range(1)]
    a, b = Sampler(temperature, 3, seed), Sampler(temperature, 3, seed)
    assert all((a.choose_rows(logits) == b.choose_rows(logits)).all() for _ in range(4)) and first


@FAST
@given(st.integers(-2**70, 2**70), st.floats(allow_nan=True, allow_infinity=True))
def test_sampler_settings_are_checked(seed, temperature):
    try:
        Sampler(temperature, 0, seed)
    except InputError as e:
        assert (seed < 0 or seed > 2**32 - 1 or not math.isfinite(temperature) or temperature < 0
                or 0 < temperature < MIN_TEMPERATURE), str(e)
        return
    assert 0 <= seed <= 2**32 - 1 and math.isfinite(temperature) and (temperature == 0 or temperature >= MIN_TEMPERATURE)
