"""The training engine on real-sized data: memory, options, divergence, resume, Ctrl-C, workers."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, cli
from edgeseq.errors import InputError

TIMEOUT = 240  # seconds any one training subprocess may take


def words(chars: int, seed: int = 0) -> str:
    """Seeded pseudo-English: lines of words from a small lexicon (a text with something to learn)."""
    rng = np.random.default_rng(seed)
    lexicon = np.array("the ship sea wood drum people long for endless sky tide build teach them and to of".split())
    out, size = [], 0
    while size < chars:
        line = " ".join(lexicon[rng.integers(0, len(lexicon), rng.integers(3, 9))]) + "\n"
        out.append(line)
        size += len(line)
    return "".join(out)[:chars]


def edgeseq(*args: str, **popen) -> list[str]:
    return [sys.executable, "-m", "edgeseq.cli", *args]


ENV = {**os.environ, "PYTHONPATH": str(REPO), "CUDA_VISIBLE_DEVICES": "-1", "TF_CPP_MIN_LOG_LEVEL": "3"}


# ------------------------------------------------------------------ memory (numpy only)


def test_bytes_per_character_stay_bounded():
    from edgeseq.data.batches import epoch_order
    from edgeseq.data.char_data import stateful_data, text_line_data, window_data
    from edgeseq.data.text import CHUNK

    text = words(3_000_000)
    tracemalloc.start()
    data = window_data(text, 50, stride=1, val_fraction=0.1)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert data.nbytes == len(text)  # one uint8 id per character, shared by training and validation
    # beside them, only one chunk's temporaries (UTF-32 code points, a table of every code point)
    assert peak - data.nbytes <= 20 * CHUNK, (peak - data.nbytes) / CHUNK
    order = epoch_order(data.train.count, 0, 0)
    assert order.nbytes <= 4 * len(text)  # an epoch's order: 4 bytes a window
    batch = next(data.train.batches(64, 0, 0))
    assert batch.x.shape == (64, 50)  # a batch is cut when asked for
    assert stateful_data(text, 50, 64, 0.1).nbytes == len(text)
    lines, _ = text_line_data(text, 0.1)
    assert lines.nbytes <= len(text) + 8 * lines.train.count * 1.2  # ids, and a start and end per line


def test_windows_that_repeat_every_character_on_a_long_text_get_a_note():
    from edgeseq.data.char_data import window_data

    text = words(150_000)
    assert window_data(text, 10).notes == (
        "note: with --stride 1 each character is read in 10 windows of 10 (149,990 windows an epoch); on a "
        "long text --stride 5 or --context stateful trains faster",)
    assert window_data(text, 10, stride=5).notes == ()
    assert window_data(text[:50_000], 10).notes == ()  # a short text: every window is cheap


def test_a_huge_alphabet_gets_an_embedding_or_a_clear_error():
    from edgeseq.training.specs import ONEHOT_LIMIT, CharModelSpec

    assert CharModelSpec().for_vocabulary(20_000).input == "embedding"
    assert CharModelSpec().for_vocabulary(ONEHOT_LIMIT).input == "onehot"
    with pytest.raises(InputError, match="the text has 20000 distinct characters: one-hot inputs that wide"):
        CharModelSpec(input="onehot").for_vocabulary(20_000)
    with pytest.raises(InputError, match="--head none makes the recurrent outputs the logits: 20000 units"):
        CharModelSpec(head="none").for_vocabulary(20_000)


# ------------------------------------------------------------------ options, before TensorFlow

BAD_OPTIONS = [
    (["--sample", "ship", "--seed", "-1"], "--seed must be from 0 to 4294967295, got -1"),
    (["--sample", "ship", "--seed", "4294967296"], "--seed must be from 0 to 4294967295, got 4294967296"),
    (["--sample", "ship", "--lr", "inf"], "--lr must be a finite positive number, got inf"),
    (["--sample", "ship", "--lr", "nan"], "--lr must be a finite positive number, got nan"),
    (["--sample", "ship", "--lr", "0"], "--lr must be a finite positive number, got 0.0"),
    (["--sample", "ship", "--epochs", "0"], "--epochs must be at least 1, got 0"),
    (["--sample", "ship", "--batch-size", "0"], "--batch-size must be at least 1, got 0"),
    (["--sample", "ship", "--stride", "0"], "--stride must be at least 1, got 0"),
    (["--sample", "ship", "--val-fraction", "1"], "--val-fraction must be at least 0 and below 1, got 1"),
    (["--sample", "ship", "--clip", "-1"], "--clip must be a finite positive number, got -1.0"),
    (["--sample", "ship", "--context", "stateful", "--batch-size", "8"],
     "--batch-size has no effect with --context stateful (a batch is one chunk of every stream: set --streams); leave it out"),
    (["--sample", "ship", "--streams", "4"], "--streams has no effect without --context stateful; leave it out"),
    (["--text", "x.txt", "--by-line", "--window", "5"], "--window has no effect with --by-line (each line is one sequence); leave it out"),
    (["--sample", "ship", "--context", "stateful", "--stride", "2"],
     "--stride has no effect with --context stateful or --by-line (chunks follow each other; lines are whole); leave it out"),
    (["--sample", "ship", "--workers", "127.0.0.1:1"], "--workers and --worker-index have no effect without --strategy multi-worker"),
    (["--sample", "ship", "--strategy", "multi-worker"], "--strategy multi-worker needs the cluster: --workers HOST:PORT,... --worker-index I, or the TF_CONFIG environment variable"),
    (["--sample", "ship", "--strategy", "multi-worker", "--workers", "a:1,b", "--worker-index", "0"], "--workers: 'b' is not HOST:PORT"),
    (["--sample", "ship", "--strategy", "multi-worker", "--workers", "a:1,b:2", "--worker-index", "2"], "--worker-index must be between 0 and 1 (--workers lists 2), got 2"),
    (["--sample", "ship", "--resume"], "nothing to resume: {out} has no checkpoint (.run.training beside it)"),
    (["--sample", "ship", "-o", "/proc/edgeseq-run"], "/proc/edgeseq-run: cannot write: No such file or directory"),
]

CHECK_OPTIONS = """
import json, sys
from typer.testing import CliRunner
from edgeseq.cli import app
cases = json.loads(sys.argv[1])
out = []
for args in cases:
    result = CliRunner().invoke(app, ["train", "char", *args])
    out.append([result.exit_code, result.stderr])
print(json.dumps({"results": out, "tensorflow": "tensorflow" in sys.modules}))
"""


def test_bad_options_and_unwritable_outputs_fail_in_one_line_before_tensorflow(tmp_path):
    out = str(tmp_path / "run")
    cases = [args if "-o" in args else [*args, "-o", out] for args, _ in BAD_OPTIONS]
    env = {k: v for k, v in ENV.items() if k != "TF_CONFIG"}
    done = subprocess.run([sys.executable, "-c", CHECK_OPTIONS, json.dumps(cases)], capture_output=True, text=True,
                          cwd=tmp_path, env=env, timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    for (code, stderr), (_, message) in zip(report["results"], BAD_OPTIONS):
        assert (code, stderr) == (2, f"edgeseq: error: {message.format(out=out)}\n")
    assert report["tensorflow"] is False
    assert list(tmp_path.iterdir()) == []  # no run folder, no probe left behind


def test_a_file_where_a_folder_should_be_is_refused_before_training(tmp_path):
    (tmp_path / "file").write_text("x")
    result = cli("train", "char", "--sample", "hihello", "-o", str(tmp_path / "file" / "run"))
    assert result.exit_code == 2
    assert result.stderr == f"edgeseq: error: {tmp_path / 'file' / 'run'}: cannot write: {tmp_path / 'file'} is a file, not a folder\n"


# ------------------------------------------------------------------ divergence


def test_a_diverging_training_stops_with_advice_and_saves_nothing(tmp_path):
    result = cli("train", "char", "--sample", "ship", "--hidden", "16", "--epochs", "40", "--lr", "30",
                 "-o", str(tmp_path / "run"))
    assert result.exit_code == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("edgeseq: error: training diverged: loss ")
    assert last.endswith("is above ln 25 = 3.22 (a uniform guess) after 30 epochs; the learning rate 30 is "
                         "likely too high for 2x16 units: try --lr 3")
    assert list(tmp_path.iterdir()) == []  # neither a run folder nor a checkpoint


# ------------------------------------------------------------------ checkpoints, resume, Ctrl-C

EPOCHS = 5
RESUMABLE = ["--window", "20", "--stride", "4", "--cell", "gru", "--layers", "1", "--hidden", "32",
             "--epochs", str(EPOCHS), "--val-fraction", "0.1", "--batch-size", "32"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("text") / "words.txt"
    path.write_text(words(16_000, seed=3))
    return path


@pytest.fixture(scope="module")
def uninterrupted(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("whole") / "run"
    done = subprocess.run(edgeseq("train", "char", "--text", str(corpus), *RESUMABLE, "-o", str(out)),
                          capture_output=True, text=True, env=ENV, timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr[-2000:]
    return out


def history(run: Path) -> dict:
    return json.loads((run / "history.json").read_text())


def started_until_checkpoint(corpus: Path, out: Path, epoch: int) -> subprocess.Popen:
    """A training subprocess, returned once the checkpoint of ``epoch`` is complete on disk."""
    process = subprocess.Popen(edgeseq("train", "char", "--text", str(corpus), *RESUMABLE, "-o", str(out)),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    done = out.parent / f".{out.name}.training" / f"epoch-{epoch:06d}" / "state.json"
    deadline = time.monotonic() + TIMEOUT
    while not done.exists():
        try:  # wait on the process: it must not end before its checkpoint of ``epoch`` is on disk
            process.wait(timeout=0.02)
        except subprocess.TimeoutExpired:
            assert time.monotonic() < deadline, "no checkpoint appeared"
            continue
        assert done.exists(), f"training ended before epoch {epoch}'s checkpoint: {process.communicate()[1][-2000:]}"
    return process


def test_validation_loss_and_bits_per_character_are_recorded(uninterrupted):
    runs = history(uninterrupted)
    assert sorted(runs) == ["accuracy", "loss", "val_accuracy", "val_bpc", "val_loss"]
    assert len(runs["loss"]) == EPOCHS
    assert runs["val_bpc"][0] == pytest.approx(runs["val_loss"][0] / np.log(2))
    config = json.loads((uninterrupted / "config.json").read_text())
    kept = int(np.argmin(runs["val_loss"])) + 1
    assert config["training"]["epoch_kept"] == kept and config["training"]["batch_size"] == 32
    metrics = json.loads((uninterrupted / "metrics.json").read_text())
    assert metrics["val_loss"] == runs["val_loss"][kept - 1] and metrics["val_bpc"] == runs["val_bpc"][kept - 1]
    assert not (uninterrupted.parent / ".run.training").exists()  # a finished run keeps no checkpoint


@pytest.mark.slow
def test_a_run_killed_with_sigkill_resumes_where_its_last_checkpoint_was(corpus, uninterrupted, tmp_path):
    out = tmp_path / "run"
    process = started_until_checkpoint(corpus, out, epoch=2)
    process.kill()  # SIGKILL: no handler runs
    process.communicate()
    assert process.returncode == -signal.SIGKILL and not out.exists()
    refused = cli("train", "char", "--text", str(corpus), *RESUMABLE[:-2], "--batch-size", "64", "-o", str(out),
                  "--resume")
    assert refused.exit_code == 2 and refused.stderr.strip().splitlines()[-1] == (
        "edgeseq: error: cannot resume: --batch-size was 32 in the checkpoint and is 64 now; give the "
        "interrupted run's options, or --force to start again")
    fresh = cli("train", "char", "--text", str(corpus), *RESUMABLE, "-o", str(out))
    assert fresh.stderr.startswith(f"edgeseq: error: {out} has an unfinished training (checkpoint of epoch ")
    stale = out.parent / ".run.training" / ".epoch-000099.half"
    stale.mkdir()  # what a kill during a checkpoint's write leaves
    done = subprocess.run(edgeseq("train", "char", "--text", str(corpus), *RESUMABLE, "-o", str(out), "--resume"),
                          capture_output=True, text=True, env=ENV, timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "removed 1 half-written checkpoint file(s)" in done.stderr
    resumed, whole = history(out), history(uninterrupted)
    assert len(resumed["loss"]) == len(whole["loss"]) == EPOCHS  # no epoch repeated or skipped
    # weights, Adam's state and the data order all come back: on one device the resumed run is
    # the uninterrupted one, epoch for epoch (the issue allows 2% on the final validation loss)
    assert resumed == whole
    assert not (out.parent / ".run.training").exists()


@pytest.mark.slow
def test_ctrl_c_leaves_a_run_folder_that_exports_and_a_checkpoint_to_resume(corpus, tmp_path):
    from edgeseq.export.exporter import export_run

    out = tmp_path / "run"
    process = started_until_checkpoint(corpus, out, epoch=2)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 130, stderr[-2000:]
    stopped = len(history(out)["loss"])
    assert 2 <= stopped < EPOCHS
    # every epoch has its line in a log, so the last one shown is the one the message keeps
    shown = [int(line.split()[1].split("/")[0]) for line in stderr.splitlines() if line.startswith("epoch ")]
    assert shown == list(range(1, stopped + 1))
    kept = json.loads((out / "config.json").read_text())["training"]["epoch_kept"]
    last = stderr.strip().splitlines()[-1]  # the epoch in progress, or the last one when the signal came between
    assert last in [f"interrupted at epoch {n}; run folder {out} holds epoch {kept}'s weights (resume with the same "
                    f"command and --resume; the checkpoint of epoch {stopped} is kept)" for n in (stopped + 1, stopped)]
    assert "error" not in stderr
    export_run(out, tmp_path / "m.onnx")  # the best weights so far, verified like any run
    done = subprocess.run(edgeseq("train", "char", "--text", str(corpus), *RESUMABLE, "-o", str(out), "--resume"),
                          capture_output=True, text=True, env=ENV, timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"resuming after epoch {stopped} of {EPOCHS}" in done.stderr
    assert len(history(out)["loss"]) == EPOCHS


# ------------------------------------------------------------------ several workers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_workers_train_the_same_weights_and_only_the_chief_writes(tmp_path):
    workers = f"127.0.0.1:{free_port()},127.0.0.1:{free_port()}"
    out = tmp_path / "run"
    processes = [subprocess.Popen(edgeseq("train", "char", "--sample", "ship", "--hidden", "16", "--epochs", "5",
                                          "--strategy", "multi-worker", "--workers", workers,
                                          "--worker-index", str(i), "-o", str(out)),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
                 for i in range(2)]
    try:
        logs = [p.communicate(timeout=120)[1] for p in processes]
    finally:
        for p in processes:
            p.kill()
    assert [p.returncode for p in processes] == [0, 0], logs
    digests = [next(line for line in log.splitlines() if line.startswith("weights sha256 ")) for log in logs]
    assert digests[0] == digests[1]
    assert "2 replica(s)" in logs[0] and f"saved run folder {out}" in logs[0] and "saved run folder" not in logs[1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
