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
from .judge import anchor, evaluate


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
    scale_met: bool  # the run the verdict read is at the claim's scale (``Scale.met_by``)
    independent: str  # why the claim's logic holds at any scale ("" where it does not)

    def machine_readable(self) -> dict:
        """What ``ledger_verdicts`` glues for this claim."""
        return {"verdict": self.verdict, "scale_met": self.scale_met, "evidence": f"{self.page}#{anchor(self.section)}"}


# the modules that make a verdict: named, not imported, so that this room's layout stays a tree
@steps.step(depends=["lab.verdicts", "lab.ledger.claims", "lab.ledger.results", "lab.ledger.evidence",
                     "lab.ledger.rules", "lab.ledger.rules_legal",
                     "lab.ledger.readings", "lab.ledger.judge", "lab.legal.criteria", "lab.publish.glue",
                     "lab.inference"])
def judge_claims(claims_file: str) -> list[Row]:
    """Every claim's verdict, computed from the executed chapters (``judge.evaluate``)."""
    table = evaluate(load_claims(REPO / claims_file))
    return [Row(id=str(i), **{k: v if isinstance(v, bool) else str(v) for k, v in row.items()})
            for i, row in table.to_dict("index").items()]


def machine_readable(rows: list[Row]) -> dict[str, dict]:
    """{claim id: {"verdict", "scale_met", "evidence": "page#section"}}, one entry per row of data/claims.yml."""
    return {r.id: r.machine_readable() for r in rows}


def out_of_scale(verdicts: dict[str, dict], independent: dict[str, str]) -> list[str]:
    """Claims whose verdict stands although the run it read is not at the claim's scale and the claim names no reason
    its logic holds at any scale (``independent``): a verdict the scale gate should have refused."""
    return sorted(cid for cid, v in verdicts.items()
                  if v["verdict"] != "not testable here" and not v["scale_met"] and not independent.get(cid))


def table(rows: list[Row]) -> pd.DataFrame:
    """The rows as a table indexed by claim id (what ``judge.evaluate`` returns)."""
    return pd.DataFrame([r.__dict__ for r in rows]).set_index("id")
