"""Vocabulary, encoding and windows: deterministic, Unicode-safe, with clear errors."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from edgeseq.data.batches import WindowSource
from edgeseq.data.char_data import window_data
from edgeseq.data.text import SAMPLES, Vocabulary, read_text, sample_text
from edgeseq.errors import InputError


def test_vocabulary_is_sorted_and_the_same_in_every_process():
    code = "from edgeseq.data.text import Vocabulary; print(Vocabulary.from_text('hihello 화이팅').chars)"
    runs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env={"PYTHONHASHSEED": str(seed), "PYTHONPATH": "."}).stdout
            for seed in (1, 2, 3)}
    assert runs == {" ehilo이팅화\n"}


def test_encode_decode_round_trip_unicode():
    text, _ = sample_text("fighting")
    vocab = Vocabulary.from_text(text)
    ids = vocab.encode(text)
    assert ids.dtype == np.int32
    assert vocab.decode(ids) == text
    assert len(vocab) == len(set(text)) == 7


def test_unknown_characters_are_named_once_in_order():
    vocab = Vocabulary.from_text("hihello")
    with pytest.raises(InputError, match=r"not in the model's vocabulary: 'X', 'y'"):
        vocab.encode("hiXyX")


def test_windows_are_the_labs_pairs():
    batch = next(WindowSource(np.arange(6, dtype=np.uint8), 3).batches(3))
    assert batch.x.tolist() == [[0, 1, 2], [1, 2, 3], [2, 3, 4]]
    assert batch.y.tolist() == [[1, 2, 3], [2, 3, 4], [3, 4, 5]]
    assert batch.x.dtype == batch.y.dtype == np.int32


def test_ship_sample_gives_170_windows_of_10():
    text, window = sample_text("ship")
    data = window_data(text, window)
    assert (len(text), data.train.count, data.window, data.summary) == (180, 170, 10, "170 windows of 10")
    assert sorted(SAMPLES) == ["fighting", "hihello", "ship"]


def test_text_shorter_than_the_window_is_refused():
    with pytest.raises(InputError, match="the text has 5 characters; a window of 10 needs at least 11"):
        window_data("abcde", 10)


def test_long_texts_become_ids_in_chunks_without_changing_them():
    from edgeseq.data import text as textdata

    rng = np.random.default_rng(0)
    alphabet = "abc 화이팅\n" + "".join(map(chr, range(0x1F600, 0x1F610)))
    points = np.array([ord(c) for c in alphabet], np.uint32)
    text = points[rng.integers(0, len(points), textdata.CHUNK + 1000)].tobytes().decode("utf-32-le")  # > one chunk
    vocab = Vocabulary.from_text(text)
    assert vocab.chars == "".join(sorted(set(text)))
    ids = vocab.ids(text)
    assert ids.dtype == np.uint8 and len(ids) == len(text)
    assert vocab.decode(ids[-2000:]) == text[-2000:]
    with pytest.raises(InputError, match="characters not in the model's vocabulary: 'X'"):
        vocab.ids(text[:100] + "X")


def test_read_text_errors(tmp_path):
    with pytest.raises(InputError, match="missing.txt does not exist"):
        read_text(tmp_path / "missing.txt")
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(InputError, match=r"latin1.txt row 1: byte 0xe9 is not UTF-8 text"):
        read_text(bad)
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(InputError, match="empty.txt is empty"):
        read_text(empty)
    with pytest.raises(InputError, match="unknown sample 'nope'"):
        sample_text("nope")
