"""The training benchmark runs end to end in its smoke mode and produces every row (not timings).

A module of its own so that the suite's two workers can run it beside the inference bench's
smoke test (each takes about 20 s)."""
from __future__ import annotations

import pytest

from conftest import bench_smoke


@pytest.mark.slow
def test_the_training_bench_produces_every_row(tmp_path):
    from bench.training import CONFIGS, PREPARE

    report = bench_smoke("bench.training", tmp_path / "TRAINING.md")
    rows = [line for line in report.splitlines() if line.startswith("| ") and "---" not in line][1:]
    expected = [(name, peer) for name in CONFIGS for peer in ("edgeseq loop", "Keras fit")] + [(PREPARE[0], "edgeseq")]
    assert [tuple(cell.strip() for cell in row.split("|")[1:3]) for row in rows] == expected
    assert all(row.split("|")[3].strip().endswith(("chars/s", "windows/s")) for row in rows)
