"""Prediction intervals that follow the window they forecast from: split conformal, window-scaled.

Each residual is divided by its window's scale, so calm and wild windows compare; one
quantile per horizon step of their absolute values is the half-width in window scales.
docs/design.md, "The interval", has the formula and why every training window is used. numpy only.
"""
from __future__ import annotations

import math

import numpy as np

#: --interval: the default central interval level
DEFAULT_LEVEL = 0.9


def conformal_quantiles(residual: np.ndarray, scale: np.ndarray, level: float) -> list[float]:
    """One half-width per horizon step, in window scales, from residuals [n, horizon] and scales [n]."""
    r = np.abs(np.asarray(residual, np.float64) / np.asarray(scale, np.float64)[:, None])
    n = r.shape[0]
    rank = min(math.ceil((n + 1) * level), n)  # 1-based
    return [float(v) for v in np.sort(r, axis=0)[rank - 1]]


def interval_report(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray, level: float) -> dict:
    """{"level", "coverage", "mean_width"} pooled over every step, and "steps" (one each) when
    there are several: the share of actual values inside [lower, upper] and its mean width."""
    actual, lower, upper = (np.asarray(a, np.float64) for a in (actual, lower, upper))
    inside = (actual >= lower) & (actual <= upper)
    report = {"level": float(level), "coverage": float(np.mean(inside)), "mean_width": float(np.mean(upper - lower))}
    if actual.ndim == 2 and actual.shape[1] > 1:
        report["steps"] = [{"step": h + 1, "coverage": float(np.mean(inside[:, h])),
                            "mean_width": float(np.mean(upper[:, h] - lower[:, h]))} for h in range(actual.shape[1])]
    return report


def format_interval(report: dict) -> str:
    """'90% interval: covered 0.893 of the actual values, mean width 2.41' (and each step's)."""
    line = (f"{100 * report['level']:g}% interval: covered {report['coverage']:.3f} of the actual values, "
            f"mean width {report['mean_width']:.4g}")
    steps = report.get("steps") or []
    if steps:
        line += "; by step: " + ", ".join(f"{s['step']}: {s['coverage']:.3f}" for s in steps)
    return line


__all__ = ["DEFAULT_LEVEL", "conformal_quantiles", "interval_report", "format_interval"]
