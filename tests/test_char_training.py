"""The lab's results reproduce in edgeseq (Adam, lr 0.1, sequence cross-entropy)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import REPO
from edgeseq.data.text import sample_text
from edgeseq.errors import InputError


def train(sample, seed=0, epochs=50, **model):
    from edgeseq.training.char_training import CharModelSpec, TrainSettings, train_char

    text, window = sample_text(sample)
    return train_char(text, window, CharModelSpec(**model), TrainSettings(epochs=epochs, lr=0.1, seed=seed))


@pytest.mark.parametrize("sample", ["hihello", "fighting"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dense_head_reaches_full_accuracy_within_50_epochs(sample, seed):
    _, _, metrics = train(sample, seed, cell="lstm", layers=2, hidden=64, head="dense")
    assert metrics["accuracy"] == 1.0


@pytest.mark.parametrize("sample", ["hihello", "fighting"])
def test_labs_own_setup_head_none_reaches_full_accuracy(sample):
    text, _ = sample_text(sample)
    _, _, metrics = train(sample, 0, cell="lstm", layers=1, hidden=len(set(text)), head="none")
    assert metrics["accuracy"] == 1.0


def test_ship_stacked_lstm_with_dense_head_learns_the_sentence(ship_run):
    _, _, config, metrics = ship_run
    assert metrics["loss"] <= 0.25
    assert metrics["last_accuracy"] == 1.0
    assert 0.85 <= metrics["accuracy"] < 1.0  # a window's first characters lack context
    assert config["window"] == 10 and config["context"] == "window"


def test_same_seed_same_model():
    a = train("hihello", 3, epochs=5, cell="gru", layers=1, hidden=8)[0].get_weights()
    b = train("hihello", 3, epochs=5, cell="gru", layers=1, hidden=8)[0].get_weights()
    assert all((x == y).all() for x, y in zip(a, b))


def test_run_folder_holds_model_config_history_metrics(ship_run):
    run_dir = ship_run[0]
    assert sorted(p.name for p in run_dir.iterdir()) == ["config.json", "history.json", "metrics.json", "model.keras"]
    history = json.loads((run_dir / "history.json").read_text())
    assert len(history["loss"]) == 500 and history["loss"][-1] < history["loss"][0]
    config = json.loads((run_dir / "config.json").read_text())
    assert config["vocabulary"] == "".join(sorted(set(sample_text("ship")[0])))


def test_bad_model_settings_are_refused():
    with pytest.raises(InputError, match="--hidden must equal the vocabulary size"):
        train("hihello", cell="lstm", layers=1, hidden=9, head="none")
    with pytest.raises(InputError, match="unknown --cell 'tcn'"):
        train("hihello", cell="tcn")


MIRRORED = """
import io, logging, os, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from edgeseq.training.char_training import CharModelSpec, TrainSettings, train_char
from edgeseq.data.text import sample_text
log = io.StringIO()
logging.getLogger("edgeseq").addHandler(logging.StreamHandler(log))
logging.getLogger("edgeseq").setLevel(logging.INFO)
text, window = sample_text("hihello")
_, _, m = train_char(text, window, CharModelSpec(cell="lstm", layers=1, hidden=16), TrainSettings(epochs=20, seed=0, strategy="mirrored"))
from edgeseq.data.char_data import stateful_data
from edgeseq.training.char_training import train_char_data
ship, _ = sample_text("ship")
_, config, s = train_char_data(stateful_data(ship * 4, 10, 3), CharModelSpec(cell="gru", layers=1, hidden=16),
                               TrainSettings(epochs=3, lr=0.01, seed=0, strategy="mirrored"))
print(m["accuracy"], config["context"], s["loss"] < 3.3, log.getvalue().splitlines()[0])
"""


def test_mirrored_strategy_trains_on_two_logical_cpus():
    done = subprocess.run([sys.executable, "-c", MIRRORED], capture_output=True, text=True,
                          cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    accuracy, context, learned, first_line = done.stdout.strip().split(" ", 3)
    assert "2 replica(s)" in first_line
    assert float(accuracy) == 1.0
    assert (context, learned) == ("stateful", "True")  # 3 streams padded to 4 rows, the state carried per replica


def test_batches_split_evenly_over_replicas():
    from edgeseq.data.char_data import window_data
    from edgeseq.training.loop import check_batch, round_up

    data = window_data("abcdefghijklmnopqrstuvwxyz", 5)  # 21 windows
    everything = round_up(data.train.natural_rows(None), 2)
    batch = next(data.train.batches(everything))
    assert (batch.rows, batch.real, batch.weights[21:].sum()) == (22, 21, 0)  # one padding row: same mean loss
    assert [b.real for b in data.train.batches(4, epoch=0, seed=0)] == [4, 4, 4, 4, 4, 1]  # the last padded to 4
    with pytest.raises(InputError, match="--batch-size 3 must be a multiple of the strategy's 2 replicas"):
        check_batch(3, 2)
    check_batch(4, 2)
    check_batch(None, 2)
