"""The training benchmark runs end to end in its smoke mode and produces every row (not timings).

A module of its own so that the suite's two workers can run it beside the inference bench's
smoke test (each takes about 20 s)."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import REPO


@pytest.mark.slow
def test_the_training_bench_produces_every_row(tmp_path):
    from bench.training import CONFIGS, PREPARE

    out = tmp_path / "TRAINING.md"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "bench.training", "--smoke", "--out", str(out)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [line for line in out.read_text().splitlines() if line.startswith("| ") and "---" not in line][1:]
    expected = [(name, peer) for name in CONFIGS for peer in ("edgeseq loop", "Keras fit")] + [(PREPARE[0], "edgeseq")]
    assert [tuple(cell.strip() for cell in row.split("|")[1:3]) for row in rows] == expected
    assert all(row.split("|")[3].strip().endswith(("chars/s", "windows/s")) for row in rows)
