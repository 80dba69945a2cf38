"""Smooth growth or a threshold? Binomial fits of an extraction rate against a log-scale axis.

Two models of the probability p(x) that a canary is extractable, x = log10(parameters) or
log10(duplicates):

- ``linear``: logit p = a + b x: smooth growth, log-linear in the odds (a straight line clipped at 0 would
  itself be a hinge, i.e. a threshold, so the smooth model must not clip).
- ``threshold``: p = f + (c - f) * sigmoid((x - t) / w): a floor f below a transition at t of width w
  (decades) rising to a ceiling c; a "phase transition" is a small w.

Both are fitted by maximum binomial likelihood to (x, n, k) cells and compared by AIC and BIC (both are
reported: with few cells they can point different ways); a bootstrap that resamples canaries within each cell
gives intervals for the slope b and the location t. Where the data are separated (every canary extracted above
some x, none below), the likelihood keeps rising as the curve steepens and the maximum-likelihood estimate does
not exist: the optimiser stops at a bound. Such a fit is flagged ``at_bound`` and its parameters are reported
as not identifiable, never as estimates.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize

EPS = 1e-6


def _clip(p):
    return np.clip(p, EPS, 1 - EPS)


def linear_p(theta, x):
    a, b = theta
    return _clip(1 / (1 + np.exp(-(a + np.asarray(x) * b))))


def threshold_p(theta, x):
    f, c, t, w = theta
    return _clip(f + (c - f) / (1 + np.exp(-(x - t) / w)))


def _nll(p, n, k):
    return -np.sum(k * np.log(p) + (n - k) * np.log(1 - p))


LINEAR_BOUNDS = [(-30, 30), (-30, 30)]


def at_bounds(values, bounds, names, tol: float = 1e-3) -> tuple[str, ...]:
    """Names of the fitted values that sit on an optimisation bound (within tol of it)."""
    return tuple(name for name, v, (lo, hi) in zip(names, values, bounds)
                 if name and (abs(v - lo) <= tol * max(1.0, abs(lo)) or abs(hi - v) <= tol * max(1.0, abs(hi))))


@dataclass(frozen=True)
class Fit:
    model: str
    params: dict
    nll: float
    n_params: int
    n_obs: int
    at_bound: tuple[str, ...] = ()  # parameters the optimiser left on a bound: no maximum-likelihood estimate

    @property
    def identifiable(self) -> bool:
        return not self.at_bound

    @property
    def aic(self) -> float:
        return 2 * self.n_params + 2 * self.nll

    @property
    def bic(self) -> float:
        return self.n_params * np.log(self.n_obs) + 2 * self.nll


def fit_linear(x, n, k) -> Fit:
    x, n, k = map(np.asarray, (x, n, k))
    rate = np.clip(k.sum() / n.sum(), 1e-3, 1 - 1e-3)
    res = optimize.minimize(lambda th: _nll(linear_p(th, x), n, k), x0=[np.log(rate / (1 - rate)), 0.0],
                            method="L-BFGS-B", bounds=LINEAR_BOUNDS)
    return Fit("linear", {"a": res.x[0], "b": res.x[1]}, float(res.fun), 2, int(n.sum()),
               at_bounds(res.x, LINEAR_BOUNDS, ("a", "b")))


def fit_threshold(x, n, k, start=None) -> Fit:
    """``start``: an earlier fit's parameters, tried first (the bootstrap passes the full-data fit)."""
    x, n, k = map(np.asarray, (x, n, k))
    lo, hi = float(x.min()), float(x.max())
    bounds = [(0, 1), (0, 1), (lo - 1, hi + 1), (0.02, 3.0)]
    # several starts: the likelihood surface of a sigmoid has flat regions
    starts = [[0.01, 0.9, t0, w0] for t0 in np.linspace(lo, hi, 4) for w0 in (0.05, 0.5)]
    if start is not None:
        starts = [list(start)] + starts[::3]
    best = None
    for x0 in starts:
        res = optimize.minimize(lambda th: _nll(threshold_p(th, x), n, k), x0=x0, method="L-BFGS-B",
                                bounds=bounds)
        if best is None or res.fun < best.fun:
            best = res
    f, c, t, w = best.x
    # a floor of 0 or a ceiling of 1 is a proper estimate of a probability, and a width on its lower bound says
    # "at least this sharp"; a location on its bound (outside the data) is no estimate
    return Fit("threshold", {"floor": f, "ceiling": c, "location": t, "width": w}, float(best.fun), 4,
               int(n.sum()), at_bounds(best.x, bounds, ("", "", "location", "")))


@dataclass(frozen=True)
class Comparison:
    linear: Fit
    threshold: Fit
    slope_ci: tuple[float, float]  # smooth model: change in log-odds per decade of x
    location_ci: tuple[float, float]  # threshold model: x where p is half-way between floor and ceiling
    width_ci: tuple[float, float]
    successes: int = 0
    trials: int = 0

    @property
    def degenerate(self) -> bool:
        """No success at all (or no failure): every curve through 0 (or 1) fits equally well, so neither the
        slope nor the threshold means anything and the information criteria compare nothing."""
        return self.successes in (0, self.trials)

    @property
    def delta_aic(self) -> float:
        """AIC(linear) - AIC(threshold): positive favours the threshold."""
        return self.linear.aic - self.threshold.aic

    @property
    def delta_bic(self) -> float:
        return self.linear.bic - self.threshold.bic

    @property
    def criteria_disagree(self) -> bool:
        """AIC and BIC favour different models (their penalties differ by log n per parameter)."""
        return (self.delta_aic > 0) != (self.delta_bic > 0)


def compare(x, outcomes: list[np.ndarray], resamples: int = 1000, seed: int = 0, level: float = 0.95,
            clusters: list[np.ndarray] | None = None) -> Comparison:
    """Fit both models to cells at positions ``x``, each with an array of 0/1 outcomes.

    ``clusters`` (aligned with ``outcomes``) names the unit each outcome belongs to, e.g. the canary measured by
    several seeds and sizes: the bootstrap then resamples units with all their outcomes in every cell, so that
    repeated measurements of one unit are not counted as independent. Without it each outcome is its own unit,
    resampled within its cell."""
    x = np.asarray(x, dtype=float)
    n = np.array([len(o) for o in outcomes])
    k = np.array([int(np.sum(o)) for o in outcomes])
    lin, thr = fit_linear(x, n, k), fit_threshold(x, n, k)
    rng = np.random.default_rng(seed)
    draw = _cluster_draw(outcomes, clusters, rng) if clusters is not None else \
        (lambda: (n, np.array([int(np.sum(rng.choice(o, len(o)))) for o in outcomes])))
    slopes, locs, widths, lin_bound, thr_bound = [], [], [], [], []
    for _ in range(resamples):
        nb, kb = draw()
        lb = fit_linear(x, nb, kb)
        slopes.append(lb.params["b"])
        lin_bound.append(not lb.identifiable)
        t = fit_threshold(x, nb, kb, start=list(thr.params.values()))
        locs.append(t.params["location"])
        widths.append(t.params["width"])
        thr_bound.append("location" in t.at_bound)
    a = (1 - level) / 2

    def ci(v, bound, fit):
        # an interval whose tail is made of fits stopped at a bound is the bound, not the data: not reported
        if not fit.identifiable or (resamples and np.mean(bound) > a):
            return float("nan"), float("nan")
        return float(np.quantile(v, a)), float(np.quantile(v, 1 - a))

    return Comparison(lin, thr, ci(slopes, lin_bound, lin), ci(locs, thr_bound, thr), ci(widths, thr_bound, thr),
                      int(k.sum()), int(n.sum()))


def _cluster_draw(outcomes: list[np.ndarray], clusters: list[np.ndarray], rng: np.random.Generator):
    """A resampler of units: each draw takes units with replacement, within each stratum of units measured in the
    same cells (a canary measured at every size is drawn among all of them; one planted at a single duplication
    count, among those of its count), and gives every cell the trials and successes of the units drawn."""
    units = np.unique(np.concatenate([np.asarray(c) for c in clusters]))
    index = {u: i for i, u in enumerate(units)}
    trials = np.zeros((len(outcomes), len(units)))
    hits = np.zeros((len(outcomes), len(units)))
    for cell, (o, c) in enumerate(zip(outcomes, clusters)):
        for value, unit in zip(np.asarray(o), np.asarray(c)):
            trials[cell, index[unit]] += 1
            hits[cell, index[unit]] += value
    strata: dict[tuple, list[int]] = {}
    for i in range(len(units)):
        strata.setdefault(tuple(trials[:, i] > 0), []).append(i)
    groups = [np.array(g) for g in strata.values()]

    def draw():
        weights = np.zeros(len(units))
        for g in groups:
            np.add.at(weights, rng.choice(g, len(g)), 1)
        return (trials @ weights).astype(int), (hits @ weights).astype(int)
    return draw
