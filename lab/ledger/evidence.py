"""The ledger's one standard of evidence: what a verdict needs, stated once, applied by every rule.

A rule turns what it read into ``Evidence`` (an estimate; its interval, with the interval's level, how it was made
and n with the unit n counts; or the reason the figure is exact) and asks ``judge`` how it stands against what the
claim states (a value, a range, or one side of a threshold: ``low``/``high``). The vocabulary is the book's
(``lab.verdicts``):

* "supported" needs an interval that lies wholly inside what the claim states, "refuted" one that lies wholly
  outside it (it excludes the claim's value, on the corresponding side); the figure names the estimate, the
  interval, how it was made, n and the unit.
* An interval that contains the claim's value (or straddles the edge of its range) is "inconclusive". So a claim
  of a single value (a reported figure reproduced) is supported only within a stated band around it.
* A single value measured once, without an interval, never gives "supported" or "refuted": it is "not supported"
  where it points against the claim and "inconclusive" where it points for it, and the figure says "no interval".
* Except figures exact by construction, which carry the reason (``exact``) and judge as an interval of zero width:
  counts read from the original code or documents, arithmetic on the original's own reported figures or on a
  configuration, readings of code, and a figure the original reported taken as evidence of what it reported
  (a run's logged value decides a projection made for that run). The figure says "exact: <why>".
* No p-value or interval finer than the design allows: with n paired units an exact two-sided sign-flip test
  cannot give p below 2 / 2^n (5 units: 0.0625; 6: 0.03125), ``floor``; ``p_text`` never prints less.

``Grounded`` is a ``Verdict`` that keeps the evidence it rests on, so that a test can check every rule against this
standard (tests/unit/test_ledger_evidence.py); ``verdict`` builds one and refuses what the standard refuses.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

from ..inference import design_floor
from .claims import RunScale, Verdict

INF = math.inf
DECIDED = ("supported", "refuted")


@dataclass(frozen=True)
class Evidence:
    """A figure as a verdict may read it. ``method`` says how the interval was made ("t interval over seeds",
    "Wilson over canaries"; None: a single value); ``exact`` why the figure is exact by construction (None: a
    measurement). ``claimed`` is what it was judged against (set by ``judge``)."""
    estimate: float
    low: float = math.nan
    high: float = math.nan
    n: int | None = None
    unit: str = ""
    method: str | None = None
    level: float = 0.95
    exact: str | None = None
    fmt: str = ".3f"
    claimed: tuple[float, float] | None = None

    @property
    def has_interval(self) -> bool:
        return self.exact is None and self.method is not None and all(
            isinstance(x, (int, float)) and math.isfinite(x) for x in (self.low, self.high))

    @property
    def decisive(self) -> bool:
        """Whether it can give "supported" or "refuted" at all: an interval, or an exact figure."""
        return self.exact is not None or self.has_interval

    @property
    def bounds(self) -> tuple[float, float]:
        return (self.estimate, self.estimate) if self.exact is not None else (self.low, self.high)

    def __str__(self) -> str:
        f, n = self.fmt, (f"n {self.n:,} {self.unit}" if self.n is not None else self.unit)
        if self.exact is not None:
            return f"{self.estimate:{f}} (exact: {self.exact})"
        if self.has_interval:
            level = f"{self.level:.0%} " if self.level else ""
            return f"{self.estimate:{f}} [{self.low:{f}}, {self.high:{f}}] ({level}{self.method}, {n})"
        why = ("none glued, too few units, or every unit the same" if self.method else "a single value")
        return f"{self.estimate:{f}} (no interval: {why}; {n})"


def judge(ev: Evidence, low: float = -INF, high: float = INF, against: str = "not supported") -> str:
    """The verdict of evidence on a claim that the quantity lies in [low, high] (one side open for a threshold).
    Without an interval, ``against`` is what a single value outside the claim gives ("not supported")."""
    if ev.decisive:
        a, b = ev.bounds
        if low <= a and b <= high:
            return "supported"
        if b < low or a > high:
            return "refuted"
        return "inconclusive"
    if isinstance(ev.estimate, (int, float)) and math.isfinite(ev.estimate) and not low <= ev.estimate <= high:
        return against
    return "inconclusive"


def weigh(ev: Evidence, low: float = -INF, high: float = INF, against: str = "not supported"
         ) -> tuple[str, Evidence]:
    """``judge``, and the evidence marked with what it was judged against (for ``Grounded``)."""
    return judge(ev, low, high, against), replace(ev, claimed=(low, high))


def admit(status: str, *evidence: Evidence) -> str:
    """The standard as a gate on a verdict a rule reached by its own logic: "supported" or "refuted" only when
    every figure it rests on is decisive (an interval, or exact); otherwise "inconclusive" or "not supported"."""
    if status in DECIDED and not all(e.decisive for e in evidence):
        return "inconclusive" if status == "supported" else "not supported"
    return status


@dataclass(frozen=True)
class Grounded(Verdict):
    """A verdict with the evidence it rests on."""
    evidence: tuple[Evidence, ...] = ()


def verdict(status: str, figure: str, run: RunScale | None, *evidence: Evidence) -> Grounded:
    """A ``Grounded`` verdict, admitted by the standard (``admit``); where it downgrades, the figure says why."""
    admitted = admit(status, *evidence)
    if admitted != status:
        figure += f"; no interval, so not {status}"
    return Grounded(admitted, figure, run, tuple(evidence))


def grounds(v: Verdict) -> bool:
    """Whether a verdict meets the standard: a "supported" or "refuted" one rests on evidence that is exact, or
    whose interval excludes what the claim states (refuted) or lies wholly within it (supported)."""
    if v.status not in DECIDED:
        return True
    evidence = getattr(v, "evidence", ())
    return bool(evidence) and all(e.decisive for e in evidence) and any(
        e.exact is not None or (e.claimed is not None and judge(e, *e.claimed) == v.status) for e in evidence)


def combine(statuses: list[str]) -> str:
    """Several claimed parts, all needed: refuted if one is; supported if all are; else the weakest."""
    if "refuted" in statuses:
        return "refuted"
    if all(s == "supported" for s in statuses):
        return "supported"
    return "not supported" if "not supported" in statuses else "inconclusive"


# ---------------------------------------------------------------- helpers the rules share


def floor(n: int) -> float:
    """The smallest two-sided p-value a paired design of n units allows (``lab.inference.design_floor``)."""
    return design_floor(int(n))


def p_text(p: float, n: int, test_name: str = "exact sign-flip", unit: str = "pairs") -> str:
    """A p-value never printed finer than its design allows."""
    least = floor(n)
    return f"{test_name} p {max(p, least):.4f} (the smallest {n} {unit} allow {least:.4f})"


def ci(value: float, low: float, high: float, fmt: str = ".3f") -> str:
    if any(map(math.isnan, (low, high))):
        return f"{value:{fmt}} (no interval: too few units, or every unit gave the same value)"
    return f"{value:{fmt}} [{low:{fmt}}, {high:{fmt}}]"


def against(low: float, high: float, threshold: float) -> str:
    """supported: the whole 95% interval is past the threshold; refuted: all short of it; else inconclusive."""
    if low > threshold:
        return "supported"
    if high < threshold:
        return "refuted"
    return "inconclusive"


def difference(x: Evidence, y: Evidence) -> Evidence:
    """X - Y as far as two intervals tell: its interval spans from the nearest to the farthest ends, so it
    excludes 0 exactly when the two intervals are disjoint."""
    return replace(x, estimate=x.estimate - y.estimate, low=x.bounds[0] - y.bounds[1], high=x.bounds[1] - y.bounds[0],
                   method=f"difference of two intervals ({x.method})" if x.method else None,
                   exact=x.exact if x.exact and y.exact else None)


def ordering(figures: dict, pairs: list[tuple[str, str]]) -> tuple[str, list[str]]:
    """Claimed orderings X > Y, from ``Evidence`` or (estimate, low, high): held when the intervals are disjoint
    in the claimed direction, reversed when disjoint the other way, unresolved otherwise."""
    ev = {k: v if isinstance(v, Evidence) else Evidence(*v, method="interval") for k, v in figures.items()}
    statuses = [judge(difference(ev[x], ev[y]), 0.0) for x, y in pairs]
    notes = [f"{x} < {y}" for (x, y), s in zip(pairs, statuses) if s == "refuted"]
    return ("refuted" if notes else "supported" if all(s == "supported" for s in statuses) else "inconclusive"), notes


def ordered(figures: dict, pairs: list[tuple[str, str]]) -> tuple[str, list[str], list[Evidence]]:
    """``ordering``, with the pairwise differences it judged (for ``Grounded``)."""
    status, notes = ordering(figures, pairs)
    judged = [weigh(difference(figures[x], figures[y]), 0.0) for x, y in pairs]
    return status, notes, [e for s, e in judged if status != "refuted" or s == "refuted"]
