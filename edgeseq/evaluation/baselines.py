"""The naive forecasts every model stands beside: persistence, drift and seasonal naive.

The drift and the MASE scale are fitted on the training part and stored in the model, so a
later backtest compares with the very baselines training did.
"""
from __future__ import annotations

import math

import numpy as np

from edgeseq.contract.meta import Baselines
from edgeseq.errors import InputError

#: The naive forecasters, in table order (persistence is always there).
BASELINES: tuple[str, ...] = ("persistence", "drift", "seasonal")


def fit_baselines(train_target: np.ndarray, season: int | None = None) -> Baselines:
    """Drift and MASE scale from the training part's target values (oldest first).

    The MASE scale is None when the training target never moves (MASE is then undefined);
    both are None with fewer than two rows. ``season`` must leave at least one full season
    in the training part.
    """
    values = np.asarray(train_target, np.float64)
    check_season(season, len(values))
    if len(values) < 2:
        return Baselines(None, None, season)
    changes = np.diff(values)
    scale = float(np.mean(np.abs(changes)))
    return Baselines(drift=float(np.mean(changes)), mase_scale=scale if scale > 0 else None, season=season)


def check_season(season: int | None, train_rows: int | None = None) -> None:
    """A season must be at least 2 rows and (when ``train_rows`` is known) leave a full season in
    the training part."""
    if season is None:
        return
    if season < 2:
        raise InputError(f"--season must be at least 2 rows, got {season}")
    if train_rows is not None and season >= train_rows:
        raise InputError(f"--season {season} must be below the {train_rows} training rows")


def naive_forecasts(truth: np.ndarray, target_row: np.ndarray, horizon: int,
                    baselines: Baselines | None) -> dict[str, np.ndarray]:
    """Each naive forecast other than persistence, [n, horizon] in the target's units.

    Row i forecasts rows ``target_row[i] .. target_row[i] + horizon - 1`` from the rows before
    ``target_row[i]``. Drift needs the stored drift; seasonal needs a season and, for every
    forecast, a value one season back (so it is left out when an early forecast has none).
    """
    truth = np.asarray(truth, np.float64)
    target_row = np.asarray(target_row, np.int64)
    steps = np.arange(1, horizon + 1)
    last = truth[target_row - 1]
    out: dict[str, np.ndarray] = {}
    if baselines is not None and baselines.drift is not None:
        out["drift"] = last[:, None] + steps * baselines.drift
    season = baselines.season if baselines is not None else None
    if season:
        back = season * np.array([math.ceil(h / season) for h in steps])
        rows = target_row[:, None] + steps - 1 - back  # [n, horizon]
        if rows.size and rows.min() >= 0:
            out["seasonal"] = truth[rows]
    return out
