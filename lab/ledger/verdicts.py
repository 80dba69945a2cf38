"""The ledger as a run step: every claim of ``data/claims.yml`` judged from the executed book, once per content.

``judge_claims`` reads the claims, the originals' figures and the glued values of the pages before the ledger,
each through ``lab.steps`` (so an edited claim, figure or page makes a new key), and declares the ledger's
modules as its dependencies (so an edited rule does too). ``LedgerDesign`` is the design of the two pages that
show the ledger (p9_claims_ledger, p9_negative_findings).
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from pydantic import Field

from .. import steps
from ..publish.design import design
from .claims import REPO, load_claims
from .judge import evaluate


@design
class LedgerDesign:
    claims_file: str = Field("data/claims.yml", description="the claims data file, relative to the repository")
    seed: int = Field(0, description="seed of every random number generator (the ledger draws none)")


@dataclass(frozen=True)
class Row:
    """One claim as the ledger shows it: its verdict and figure, and where its evidence is."""
    id: str
    source: str
    claim: str
    test: str
    verdict: str
    figure: str
    page: str
    section: str
    basis: str


# the modules that make a verdict: named, not imported, so that this room's layout stays a tree
@steps.step(depends=["lab.ledger.claims", "lab.ledger.results", "lab.ledger.rules", "lab.ledger.judge",
                     "lab.legal.criteria", "lab.publish.glue"])
def judge_claims(claims_file: str) -> list[Row]:
    """Every claim's verdict, computed from the executed chapters (``judge.evaluate``)."""
    table = evaluate(load_claims(REPO / claims_file))
    return [Row(id=str(i), **{k: str(v) for k, v in row.items()}) for i, row in table.to_dict("index").items()]


def table(rows: list[Row]) -> pd.DataFrame:
    """The rows as a table indexed by claim id (what ``judge.evaluate`` returns)."""
    return pd.DataFrame([r.__dict__ for r in rows]).set_index("id")
