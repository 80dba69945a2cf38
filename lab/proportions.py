"""Intervals for a proportion k/n.

The chapters' extraction rates are small counts (a handful of canaries per cell, a few attractors per
model) that often sit at 0 or n, where a percentile bootstrap collapses to [0, 0] or [1, 1]. The Wilson
score interval keeps a width there (Wilson 1927; Brown, Cai and DasGupta 2001 recommend it for small n).
"""
from __future__ import annotations

from scipy import stats


def wilson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of the proportion k/n (scipy's binomtest; this wrapper only checks the counts and
    returns plain floats, exactly 0 at k = 0 and 1 at k = n)."""
    if n <= 0 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n and n > 0, got k={k}, n={n}")
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=level, method="wilson")
    return (0.0 if k == 0 else float(ci.low)), (1.0 if k == n else float(ci.high))
