"""Vocabulary, encoding and windows: deterministic, Unicode-safe, with clear errors."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from edgeseq.data.text import SAMPLES, Vocabulary, read_text, sample_text, sliding_windows
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


def test_sliding_windows_are_the_labs_pairs():
    ids = np.arange(6, dtype=np.int32)
    w = sliding_windows(ids, 3)
    assert w.x.tolist() == [[0, 1, 2], [1, 2, 3], [2, 3, 4]]
    assert w.y.tolist() == [[1, 2, 3], [2, 3, 4], [3, 4, 5]]


def test_ship_sample_gives_170_windows_of_10():
    text, window = sample_text("ship")
    w = sliding_windows(Vocabulary.from_text(text).encode(text), window)
    assert (len(text), w.x.shape) == (180, (170, 10))
    assert sorted(SAMPLES) == ["fighting", "hihello", "ship"]


def test_text_shorter_than_the_window_is_refused():
    with pytest.raises(InputError, match="the text has 5 characters; a window of 10 needs at least 11"):
        sliding_windows(np.arange(5), 10)


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
