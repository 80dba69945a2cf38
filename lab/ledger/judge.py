"""From claims to rows: checking the claims against the book, reading each claim's rule, and the scale gate."""
from __future__ import annotations

import json
import re

import pandas as pd
from docutils import nodes

from .. import verdicts
from .claims import (BOOK, REASONS, RULES, SOURCE_DIR, SOURCES, Claim, LedgerError, Verdict)
from .results import Results


def headings(page: str) -> list[str]:
    """Section titles of a published page (Markdown headings of book/<page>.ipynb or .md)."""
    nb = BOOK / f"{page}.ipynb"
    if nb.exists():
        cells = json.loads(nb.read_text())["cells"]
        text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    else:
        text = (BOOK / f"{page}.md").read_text()
    return [m.group(1).strip() for m in re.finditer(r"^#{1,6}\s+(.+)$", text, re.M)]


def anchor(section: str) -> str:
    """The id Sphinx gives a section of this title."""
    return nodes.make_id(section)


def check(claims: list[Claim]) -> None:
    """Every claim has a known source (in data/sources/), a rule or a reason, and an evidence section; raises LedgerError
    otherwise."""
    for c in claims:
        if c.source not in SOURCES:
            raise LedgerError(f"claim {c.id}: source {c.source!r} is not one of the five documents {SOURCES}")
        if not (SOURCE_DIR / c.source).exists():
            raise LedgerError(f"claim {c.id}: data/sources/{c.source} is missing")
        if c.rule is not None and c.rule not in RULES:
            raise LedgerError(f"claim {c.id}: no verdict rule {c.rule!r} in lab.ledger")
        if c.unreached is not None and c.unreached not in REASONS:
            raise LedgerError(f"claim {c.id}: no reason {c.unreached!r} in lab.ledger")
        if c.section not in headings(c.page):
            raise LedgerError(f"claim {c.id}: page {c.page} has no section {c.section!r}")


def evaluate(claims: list[Claim], results: Results | None = None):
    """One row per claim: its verdict and figure, computed now from the executed chapters."""
    check(claims)
    results = results or Results()
    rows = []
    for c in claims:
        v = gate(c, c.read(results))
        rows.append({"id": c.id, "source": c.source, "claim": c.claim, "test": c.test, "verdict": v.status,
                     "figure": v.figure, "page": c.page, "section": c.section, "basis": basis(c, v),
                     "scale_met": bool(v.run is not None and c.scale.met_by(v.run)),
                     "independent": c.scale.independent or ""})
    return pd.DataFrame(rows).set_index("id")


def gate(claim: Claim, verdict: Verdict) -> Verdict:
    """The book's scale gate (``lab.verdicts.gate``) on a claim's scale, naming the claim where a rule forgot its run."""
    if verdict.run is None and verdict.status != "not testable here" and not claim.scale.independent:
        raise LedgerError(f"claim {claim.id}: rule {claim.rule} judged without saying which run it read")
    return verdicts.gate(claim.scale, verdict)


BASES = {"any scale": "settled by arithmetic or by reading the original code, which holds at any scale",
         "run": "judged by a run at the claim's own scale (the originals' own logged runs among them)",
         "out of reach": "not testable here: they need models, data or training this book could not run"}


def basis(claim: Claim, verdict: Verdict) -> str:
    if verdict.status == "not testable here":
        return "out of reach"
    return "any scale" if claim.scale.independent else "run"
