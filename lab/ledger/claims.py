"""The claims and their scales: what ``data/claims.yml`` holds, the verdicts a rule may return, and the registries of
rules (which judge evidence) and reasons (which say why no run of the book reaches a claim)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import yaml

from .. import steps
from ..verdicts import NEGATIVE, VERDICTS, RunScale, Scale, Verdict, VerdictError  # noqa: F401  (the ledger's names)
from ..paths import BOOK, DATA, REPO

CLAIMS = DATA / "claims.yml"
ORIGINALS = DATA / "originals.yml"
SOURCE_DIR = DATA / "sources"
SOURCES = ("000_7d8c1fa5ebf167ba.txt", "001_2f74044695a0fe33.txt", "002_c22a35c3f9d7c84b.txt",
           "003_3cc34b719484f3c9.txt", "004_27d3d2876e77c6bd.txt")


class LedgerError(VerdictError):
    """A claim without a verdict source: unknown rule, page, section or glued value."""


@dataclass(frozen=True)
class Claim:
    id: str
    source: str
    claim: str
    test: str
    page: str
    section: str
    scale: Scale
    rule: str | None = None  # the rule of RULES that judges the claim, or
    unreached: str | None = None  # the reason of REASONS that says why no run of this book reaches it
    args: dict = field(default_factory=dict)  # keyword arguments of the rule (one rule judging many rows)

    def __post_init__(self):
        if isinstance(self.scale, dict):
            object.__setattr__(self, "scale", Scale(**self.scale))
        if (self.rule is None) == (self.unreached is None):
            raise LedgerError(f"claim {self.id}: give a judging `rule` or an `unreached` reason, exactly one")

    def read(self, results: "Results") -> "Verdict":
        """The verdict of the claim's rule (or its reason for being out of reach), before the scale gate."""
        if self.rule is not None:
            return RULES[self.rule](results, **self.args)
        return REASONS[self.unreached](results, **self.args)


RULES: dict[str, Callable[..., Verdict]] = {}  # judge evidence: each can return supported and refuted
REASONS: dict[str, Callable[..., Verdict]] = {}  # judge nothing: say why no run of this book reaches a claim


def rule(fn):
    RULES[fn.__name__] = fn
    return fn


def reason(fn):
    REASONS[fn.__name__] = fn
    return fn


def load_originals(path: Path = ORIGINALS) -> dict:
    return yaml.safe_load(steps.read_text(path))


def load_claims(path: Path = CLAIMS) -> list[Claim]:
    entries = yaml.safe_load(steps.read_text(path))
    for e in entries:
        if "scale" not in e:
            raise LedgerError(f"claim {e.get('id')}: no scale (what model, data or training the claim is about)")
    claims = [Claim(**e) for e in entries]
    ids = [c.id for c in claims]
    if len(set(ids)) != len(ids):
        raise LedgerError(f"duplicate claim ids in {path}")
    return claims
