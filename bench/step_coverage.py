"""How far a step's interval coverage moves with the length of the test part (docs/forecast-files.md).

    PYTHONPATH=. python -m bench.step_coverage [--seeds 0-19]

trains each series of ``bench.forecast_tables.SERIES`` at horizon 3 on its table's training
part, scores the model on the next 6,000 rows, and prints, per series and step, the coverage
of the 90% interval over the seeds when the first 360 (the table's test part), 3,000 (the
per-step table's) or all 6,000 of those rows are scored: mean, spread and extremes. A spread
that shrinks with the rows is the test part's chance; what is left is the calibration's.
Coverage figures only: no timings.
"""
from __future__ import annotations

import argparse

import numpy as np

from bench.forecast_tables import SERIES, STEPS_HORIZON, STEPS_TEST_ROWS, TRAIN_ROWS, steps_run
from edgeseq.data import synthetic

LONG_ROWS = 6000
LENGTHS = (synthetic.N_ROWS - TRAIN_ROWS, STEPS_TEST_ROWS, LONG_ROWS)  # test parts compared, in rows


def inside(name: str, seed: int) -> np.ndarray:
    """bool [forecasts, horizon]: which actual values the intervals held, over LONG_ROWS rows."""
    b = steps_run(name, seed, LONG_ROWS).backtest
    return (b.actual >= b.lower) & (b.actual <= b.upper)


def seeds_from(text: str) -> list[int]:
    """'0-19' or '0,1,2'."""
    if "-" in text:
        first, last = (int(v) for v in text.split("-"))
        return list(range(first, last + 1))
    return [int(s) for s in text.split(",")]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0-19", help="a range such as 0-19, or seeds such as 0,1,2")
    seeds = seeds_from(parser.parse_args(argv).seeds)
    print(f"| series | step | test rows | mean coverage | spread over {len(seeds)} seeds | lowest | highest |")
    print("|---|---|---|---|---|---|---|")
    for name in SERIES:
        runs = [inside(name, seed) for seed in seeds]
        for step in range(STEPS_HORIZON):
            for rows in LENGTHS:
                forecasts = rows - STEPS_HORIZON + 1
                cover = np.array([held[:forecasts, step].mean() for held in runs])
                spread = cover.std(ddof=1) if len(cover) > 1 else 0.0
                print(f"| {name} | {step + 1} | {rows} | {cover.mean():.3f} | {spread:.4f} | {cover.min():.3f} | "
                      f"{cover.max():.3f} |", flush=True)


if __name__ == "__main__":
    main()
