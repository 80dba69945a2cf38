"""The claims ledger: the claims of the five source documents, each with a verdict computed from the book's runs.

``data/claims.yml`` lists the claims (id, source document, the claim in one line, what would test it, the
rule that judges it, the page and section holding the evidence, and the **scale** the claim is about). A rule
(``rules``) reads the values the executed chapters glued and the figures the originals reported
(``data/originals.yml``, each cited) through a ``Results`` (``results``), and returns a ``Verdict``: one of
``VERDICTS``, with the figure, its interval and the scale of the run it read, as the ledger's one standard of
evidence (``evidence``) allows: supported or refuted only from an interval that excludes the claim's value, or
from a figure exact by construction. ``gate`` (``judge``) then lets a
verdict stand only when that run meets the claim's scale, or when the claim's logic does not depend on scale
(arithmetic, a bug by construction, a reading of the original code); otherwise the row says "not testable here"
and what ran. ``render`` shows the ledger. Nothing here types a result: change a chapter's run and the
ledger's verdicts follow when its page is re-executed.

Rooms: ``claims`` (the data and its types) <- ``results`` <- ``rules``, ``judge`` <- ``render``; the
names the pages and tests use are re-exported here.
"""
from . import rules, rules_legal  # registers every rule and reason in RULES and REASONS
from .claims import (BOOK, CLAIMS, NEGATIVE, ORIGINALS, REASONS, REPO, RULES, SOURCE_DIR, SOURCES, VERDICTS,
                     Claim, LedgerError, RunScale, Scale, Verdict, load_claims, load_originals, reason, rule)
from .judge import BASES, anchor, basis, check, evaluate, gate, headings
from .render import counts, headline, html_table, landing, shortfalls
from .results import (Results, glued, run_ladder, run_original, run_parameters, run_part1, run_part2,
                      run_part3, run_pretrained)
from .evidence import Evidence, Grounded, against, ci, grounds, judge, ordering
from .verdicts import LedgerDesign, Row, judge_claims, machine_readable, out_of_scale, table

__all__ = ["BASES", "BOOK", "CLAIMS", "NEGATIVE", "ORIGINALS", "REASONS", "REPO", "RULES", "SOURCES", "SOURCE_DIR",
           "VERDICTS", "Claim", "Evidence", "Grounded", "LedgerError", "Results", "RunScale", "Scale", "Verdict", "against", "anchor",
           "LedgerDesign", "Row", "basis", "check", "judge_claims", "machine_readable", "out_of_scale", "table", "ci", "counts", "evaluate", "gate", "glued", "grounds", "headings", "headline", "html_table",
           "judge", "landing", "load_claims", "load_originals", "ordering", "reason", "rule", "rules", "run_ladder", "run_original",
           "run_parameters", "run_part1", "run_part2", "run_part3", "run_pretrained", "shortfalls"]
