"""Seeded resampling statistics: bootstrap CIs, paired bootstrap tests, Holm correction, effect sizes."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

DEFAULT_RESAMPLES = 2000


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float
    level: float = 0.95

    def __str__(self) -> str:
        return f"{self.estimate:.4g} [{self.low:.4g}, {self.high:.4g}]"


def bootstrap_ci(values: Sequence[float], statistic: Callable = np.mean, resamples: int = DEFAULT_RESAMPLES,
                 level: float = 0.95, seed: int = 0) -> Interval:
    """Percentile bootstrap interval of ``statistic`` over i.i.d. ``values``."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        raise ValueError("bootstrap_ci needs at least one value")
    if resamples < 1000:
        raise ValueError("use at least 1,000 resamples")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(resamples, x.size))
    stats = np.apply_along_axis(statistic, 1, x[idx])
    alpha = (1 - level) / 2
    return Interval(float(statistic(x)), float(np.quantile(stats, alpha)), float(np.quantile(stats, 1 - alpha)),
                    level)


@dataclass(frozen=True)
class PairedResult:
    difference: Interval  # mean(a - b)
    p_value: float  # two-sided, bootstrap under the null of zero mean difference
    effect_size: float  # mean difference / sd of differences (Cohen's d_z)


def paired_bootstrap(a: Sequence[float], b: Sequence[float], resamples: int = DEFAULT_RESAMPLES,
                     level: float = 0.95, seed: int = 0) -> PairedResult:
    """Paired comparison of two conditions measured on the same units (seeds, prompts, examples)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1 or a.size < 2:
        raise ValueError("paired_bootstrap needs two 1-D samples of the same length >= 2")
    d = a - b
    ci = bootstrap_ci(d, np.mean, resamples, level, seed)
    rng = np.random.default_rng(seed + 1)
    centred = d - d.mean()
    idx = rng.integers(0, d.size, size=(resamples, d.size))
    null_means = centred[idx].mean(axis=1)
    p = (np.sum(np.abs(null_means) >= abs(d.mean())) + 1) / (resamples + 1)
    sd = d.std(ddof=1)
    effect = float(d.mean() / sd) if sd > 0 else (0.0 if d.mean() == 0 else float(np.sign(d.mean()) * np.inf))
    return PairedResult(ci, float(p), effect)


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm–Bonferroni adjusted p-values (family-wise error control), in the input order."""
    p = np.asarray(p_values, dtype=float)
    m = p.size
    order = np.argsort(p)
    adjusted = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, (m - rank) * p[i])
        adjusted[i] = min(1.0, running)
    return adjusted


def t_interval(values: Sequence[float], level: float = 0.95) -> Interval:
    """Student-t interval of the mean; for the handful of seeds where a bootstrap is too coarse."""
    from scipy import stats as st

    x = np.asarray(values, dtype=float)
    if x.size < 2:
        raise ValueError("t_interval needs at least two values")
    half = st.t.ppf((1 + level) / 2, x.size - 1) * x.std(ddof=1) / np.sqrt(x.size)
    return Interval(float(x.mean()), float(x.mean() - half), float(x.mean() + half), level)
