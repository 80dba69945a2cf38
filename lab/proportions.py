"""Intervals for a proportion k/n.

The chapters' extraction rates are small counts (a handful of canaries per cell, a few attractors per
model) that often sit at 0 or n, where a percentile bootstrap collapses to [0, 0] or [1, 1]. The Wilson
score interval keeps a width there (Wilson 1927; Brown, Cai and DasGupta 2001 recommend it for small n).
"""
from __future__ import annotations

import math

from scipy import stats


def wilson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of the proportion k/n."""
    if n <= 0 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n and n > 0, got k={k}, n={n}")
    z = stats.norm.ppf(1 - (1 - level) / 2)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    # at k = 0 (k = n) the bound is exactly 0 (1); the formula leaves a rounding residue there
    low = 0.0 if k == 0 else max(0.0, centre - half)
    high = 1.0 if k == n else min(1.0, centre + half)
    return float(low), float(high)
