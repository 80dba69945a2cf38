"""The book's one verdict vocabulary and its one scale gate, shared by the claims ledger and every page that judges
a criterion (the legal plan's success criteria among them).

A verdict reads evidence at some scale: ``Verdict`` holds its status, the figure it read, and the run it read
(``RunScale``). A claim or criterion is about a scale (``Scale``); ``gate`` lets a verdict stand only where the
run met that scale, or where the claim's logic holds at any scale, and otherwise says "not testable here", keeping
what ran. ``above`` judges a figure's 95% interval against a threshold.
"""
from __future__ import annotations

from dataclasses import dataclass

VERDICTS = ("supported", "refuted", "not supported", "inconclusive", "not testable here")
NEGATIVE = ("refuted", "not supported")
NOT_TESTABLE = "not testable here"


class VerdictError(ValueError):
    """A verdict outside the vocabulary, or one judged without saying which run it read."""


@dataclass(frozen=True)
class RunScale:
    """What a run was: a readable label, and the quantities a claim's scale is compared with (None: unknown)."""
    what: str
    params: float | None = None
    data: str | None = None
    steps: float | None = None
    vocab: int | None = None  # token ids the run's model predicts over


@dataclass(frozen=True)
class Verdict:
    status: str
    figure: str
    run: RunScale | None = None  # the run the verdict read; None for rules that judge no run of the book's

    def __post_init__(self):
        if self.status not in VERDICTS:
            raise VerdictError(f"unknown verdict {self.status!r}; verdicts: {', '.join(VERDICTS)}")


@dataclass(frozen=True)
class Scale:
    """The scale a claim is about. ``independent`` names why the claim's logic holds at any scale (arithmetic, a
    bug by construction, code reading); a verdict on such a claim stands whatever ran."""
    about: str
    params: tuple[float, float] | None = None  # the parameter range the claim is about
    data: str | None = None  # the corpus it is about
    steps: float | None = None  # the training it is about (the unit the part's runs report)
    vocab: int | None = None  # the vocabulary it needs (a claim about a tokenizer's ids)
    independent: str | None = None

    def __post_init__(self):
        if self.params is not None:
            object.__setattr__(self, "params", tuple(float(x) for x in self.params))

    def met_by(self, run: RunScale) -> bool:
        if self.params is not None and (run.params is None or not self.params[0] <= run.params <= self.params[1]):
            return False
        if self.data is not None and run.data != self.data:
            return False
        if self.vocab is not None and run.vocab != self.vocab:
            return False
        return self.steps is None or (run.steps is not None and run.steps >= self.steps)


def gate(scale: Scale, verdict: Verdict) -> Verdict:
    """The verdict, if the run it read meets the scale or the claim holds at any scale; otherwise "not testable
    here", saying what ran and what the claim is about, with the run's figure kept for the reader."""
    if verdict.status == NOT_TESTABLE:
        return verdict
    if scale.independent:
        ran = f"ran {verdict.run.what}; " if verdict.run else ""
        return Verdict(verdict.status, f"{verdict.figure} ({ran}holds at any scale: {scale.independent})",
                       verdict.run)
    if verdict.run is None:
        raise VerdictError("a verdict judged without saying which run it read cannot pass the scale gate")
    if scale.met_by(verdict.run):
        return Verdict(verdict.status, f"{verdict.figure} (ran {verdict.run.what})", verdict.run)
    return Verdict(NOT_TESTABLE, f"ran {verdict.run.what}; the claim is about {scale.about}. "
                   f"At this scale: {verdict.figure}", verdict.run)


def above(low: float, high: float, threshold: float) -> str:
    """"supported" when the whole 95% interval [low, high] is above the threshold, "refuted" when it is all below,
    "inconclusive" when it straddles it."""
    if low > threshold:
        return "supported"
    if high < threshold:
        return "refuted"
    return "inconclusive"
