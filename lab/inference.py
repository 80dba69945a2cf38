"""The book's statistical inference, on scipy: paired tests that name their unit and the smallest p-value their
design can produce, t and BCa intervals, binomial intervals, Holm's correction.

Every paired comparison is over *units* (attractors, seeds, test examples), never over the repeats nested in
them. With n paired units an exact sign-flip (randomisation) test enumerates the 2^n sign patterns, so no test
on that design can report p below 2 / 2^n (two-sided): 5 units, 0.0625; 10 units, 0.00195. Where 2^n is too
many to enumerate, a Monte-Carlo sign-flip test is used and its floor is the larger of the design's and the
resampling's. Intervals of a mean over a handful of units are Student-t intervals (a percentile bootstrap over
5 or 10 units under-covers); BCa is for larger samples of i.i.d. units.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from scipy import stats as sps

EXACT_UP_TO = 16  # units: 2^16 = 65,536 sign patterns, enumerated in well under a second
MONTE_CARLO_RESAMPLES = 9_999


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float
    level: float = 0.95

    def __str__(self) -> str:
        return f"{self.estimate:.4g} [{self.low:.4g}, {self.high:.4g}]"


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm–Bonferroni adjusted p-values (family-wise error control), in the input order. Home-made: scipy has
    no Holm step-down (``false_discovery_control`` is Benjamini–Hochberg/Yekutieli)."""
    p = np.asarray(p_values, dtype=float)
    adjusted = np.empty(p.size)
    running = 0.0
    for rank, i in enumerate(np.argsort(p)):
        running = max(running, (p.size - rank) * p[i])
        adjusted[i] = min(1.0, running)
    return adjusted


def t_interval(values: Sequence[float], level: float = 0.95) -> Interval:
    """Student-t interval of a mean over a handful of units (seeds), where a bootstrap is too coarse; with no
    spread the interval is the point itself."""
    x = np.asarray(values, dtype=float)
    if x.size < 2:
        raise ValueError("t_interval needs at least two values")
    if x.std(ddof=1) == 0:
        return Interval(float(x.mean()), float(x.mean()), float(x.mean()), level)
    ci = sps.ttest_1samp(x, 0.0).confidence_interval(level)
    return Interval(float(x.mean()), float(ci.low), float(ci.high), level)


def design_floor(n: int) -> float:
    """The smallest two-sided p-value any paired test over n units can give: 2 / 2^n."""
    if n < 1:
        raise ValueError("a paired design needs at least one unit")
    return min(1.0, math.ldexp(2.0, -n))  # 2 / 2^n, 0.0 past float range rather than an overflow


@dataclass(frozen=True)
class Paired:
    """A paired comparison over ``n`` ``unit``s: mean difference, its t-interval, the sign-flip p-value and the
    smallest p-value the design (and, for a Monte-Carlo test, the resample count) can produce."""
    unit: str
    n: int
    estimate: float
    low: float
    high: float
    p: float
    p_floor: float
    test: str
    effect_size_dz: float
    level: float = 0.95

    def __str__(self) -> str:
        return (f"{self.estimate:.4g} [{self.low:.4g}, {self.high:.4g}], p = {self.p:.4g} "
                f"({self.test}; n = {self.n} {self.unit}s, smallest possible p = {self.p_floor:.4g})")


def _mean(x, axis=-1):
    return np.mean(x, axis=axis)


def paired(differences: Sequence[float], unit: str, level: float = 0.95, seed: int = 0,
           resamples: int = MONTE_CARLO_RESAMPLES) -> Paired:
    """Paired comparison from the per-unit differences (treated − control, one value per unit).

    The test is scipy's one-sample ``permutation_test`` (each unit's sign flipped), exact for n <= EXACT_UP_TO;
    when every non-zero difference has the same size it is the exact binomial sign test, which is that same
    sign-flip test computed in closed form, for any n.
    The interval is the Student-t interval of the mean difference; with no spread (every difference the same, up
    to rounding) a t-interval does not exist and low/high are NaN, while the test still counts the signs."""
    d = np.asarray(differences, dtype=float)
    if d.ndim != 1 or d.size < 2:
        raise ValueError(f"a paired comparison needs at least two {unit}s, got {d.size}")
    if np.isnan(d).any():
        raise ValueError(f"a {unit} has no difference (NaN): drop it before the test, and say so")
    n = d.size
    nonzero = d[d != 0]
    # every non-zero difference of one size (paired 0/1 scores: right/wrong against right/wrong): the sign-flip
    # distribution is then binomial, and the exact test is the sign test (McNemar's exact test), for any n
    binary = nonzero.size > 0 and np.allclose(np.abs(nonzero), abs(nonzero[0]))
    exact = n <= EXACT_UP_TO or binary
    if nonzero.size == 0:
        p = 1.0
    elif binary:
        p = float(sps.binomtest(int((nonzero > 0).sum()), nonzero.size, 0.5).pvalue)
    else:
        res = sps.permutation_test((d,), _mean, vectorized=True, permutation_type="samples",
                                   n_resamples=np.inf if exact else resamples, alternative="two-sided",
                                   rng=np.random.default_rng(seed))
        p = float(min(1.0, res.pvalue))
    floor = design_floor(n) if exact else max(design_floor(n), 2.0 / (resamples + 1))
    sd = float(d.std(ddof=1))
    # differences equal up to rounding (one score on every unit, summed in another order) have no spread a
    # t-interval can use: scipy's t-test would only warn of catastrophic cancellation and return noise
    if sd > 1e-12 * max(1.0, float(np.abs(d).max())):
        ci = sps.ttest_1samp(d, 0.0).confidence_interval(level)
        low, high = float(ci.low), float(ci.high)
        dz = float(d.mean() / sd)
    else:
        low = high = math.nan
        dz = 0.0 if d.mean() == 0 else math.copysign(math.inf, d.mean())
    test = ("exact sign test (McNemar)" if binary and n > EXACT_UP_TO else "exact sign-flip" if exact
            else f"Monte-Carlo sign-flip, {resamples:,} resamples")
    return Paired(unit, n, float(d.mean()), low, high, max(p, floor), floor, test, dz, level)


def smallest_adjusted(floor: float, family_size: int) -> float:
    """The smallest Holm-adjusted p-value a family of ``family_size`` tests can reach, each test's floor being
    ``floor``: the first step multiplies the smallest p by the family size."""
    return min(1.0, floor * family_size)


def bca(values: Sequence[float], statistic: Callable = np.mean, level: float = 0.95, resamples: int = 9_999,
        seed: int = 0) -> Interval:
    """BCa bootstrap interval of ``statistic`` over i.i.d. ``values`` (scipy.stats.bootstrap)."""
    x = np.asarray(values, dtype=float)
    if x.size < 2:
        raise ValueError("a bootstrap interval needs at least two values")
    res = sps.bootstrap((x,), statistic, confidence_level=level, n_resamples=resamples, method="BCa",
                        rng=np.random.default_rng(seed))
    return Interval(float(statistic(x)), float(res.confidence_interval.low), float(res.confidence_interval.high),
                    level)


def wilson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of the proportion k/n (scipy's binomtest): a small count at 0 or n keeps a width
    there, where a percentile bootstrap collapses to [0, 0] or [1, 1] (Brown, Cai and DasGupta 2001). Exactly 0
    at k = 0 and 1 at k = n."""
    if n <= 0 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n and n > 0, got k={k}, n={n}")
    ci = sps.binomtest(k, n).proportion_ci(confidence_level=level, method="wilson")
    return (0.0 if k == 0 else float(ci.low)), (1.0 if k == n else float(ci.high))


def crossed(statistic: Callable[[np.ndarray, np.ndarray], float], n_seeds: int, n_examples: int,
            level: float = 0.95, resamples: int = 2_000, seed: int = 0) -> Interval:
    """Percentile interval of ``statistic(seed_indices, example_indices)`` when every training seed is scored on
    the same test examples (seeds crossed with examples): scipy.stats.bootstrap resamples the seeds and the
    examples independently (the two-way, "pigeonhole" bootstrap), so the interval carries the variation between
    training runs as well as that between test items. Percentile, not BCa: BCa's jackknife over a handful of
    seeds is unstable. With one seed the seed level cannot vary and only the examples are resampled."""
    if n_examples < 2:
        raise ValueError("a bootstrap interval needs at least two test examples")
    seeds, examples = np.arange(n_seeds), np.arange(n_examples)
    full = float(statistic(seeds, examples))
    if n_seeds < 2:
        res = sps.bootstrap((examples,), lambda e: statistic(seeds, e.astype(int)), vectorized=False,
                            confidence_level=level, n_resamples=resamples, method="percentile",
                            rng=np.random.default_rng(seed))
    else:
        res = sps.bootstrap((seeds, examples), lambda s, e: statistic(s.astype(int), e.astype(int)),
                            paired=False, vectorized=False, confidence_level=level, n_resamples=resamples,
                            method="percentile", rng=np.random.default_rng(seed))
    return Interval(full, float(res.confidence_interval.low), float(res.confidence_interval.high), level)
