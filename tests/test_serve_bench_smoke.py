"""The serving benchmark runs end to end in its smoke mode and produces every row (not timings).

A module of its own so that the suite's two workers can run it beside the other benches' smoke tests."""
from __future__ import annotations

import pytest

from conftest import bench_smoke


@pytest.mark.slow
def test_the_serve_bench_produces_every_row(tmp_path):
    from bench.serve import LEVELS

    text = bench_smoke("bench.serve", tmp_path / "SERVING.md")
    assert text.startswith("# edgeseq serve under load (SMOKE RUN")
    targets = text[text.index("## Targets"):text.index("## Streams")]
    verdicts = [line for line in targets.splitlines() if line.startswith("| ") and "verdict" not in line
                and "---" not in line]
    assert len(verdicts) == 4 and all(line.endswith(("**met** |", "**missed** |")) for line in verdicts)
    rows = [line.split("|")[1:5] for line in text[text.index("## Streams"):text.index("## A slow reader")].splitlines()
            if line.startswith("| ") and "---" not in line][1:]
    served = (("2×16 LSTM (smoke)", "stateful"), ("2×16 LSTM (smoke)", "window"), ("ship (shipped)", "window"))
    expected = [(model, context, mode, str(level)) for model, context in served
                for mode in ("on", "off") for level in LEVELS]
    assert [tuple(cell.strip() for cell in row) for row in rows] == expected
    slow = text[text.index("## A slow reader"):text.index("## Forecasts")]
    runs = [line.split("|")[1].strip() for line in slow.splitlines() if line.startswith("| ") and "---" not in line]
    assert runs == ["run", "1", "2", "3"]
    forecasts = text[text.index("## Forecasts"):text.index("## Soak")]
    assert "| 1 |" in forecasts and "| 64 |" in forecasts
    assert "RSS over the first tenth" in text
