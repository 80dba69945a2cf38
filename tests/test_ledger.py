"""The claims ledger: every claim has a verdict computed from the executed book, and the rules can fail."""
import json
import math

import pytest

from lab import ledger

# The claims issue #7 names: each must be in the ledger.
REQUIRED = {"actions-impact-ranking", "model-robustness-ranking", "small-models-zero-memorization",
            "memorization-threshold-70b", "level-hierarchy", "dropout-freezes-phi", "ratio-mode-collapse",
            "iit-features-functional", "ppl-projections", "legal-jurisdiction-accuracy", "legal-concept-accuracy",
            "legal-convergence", "legal-vs-random", "legal-latency", "legal-size"}


@pytest.fixture(scope="module")
def claims():
    return ledger.load_claims()


def test_every_claim_names_a_source_a_rule_and_an_evidence_section(claims):
    ledger.check(claims)  # raises LedgerError naming the claim otherwise
    assert REQUIRED <= {c.id for c in claims}
    assert {c.source for c in claims} == set(ledger.SOURCES), "every source document contributes a claim"


def test_every_claim_gets_a_verdict_from_the_executed_book(claims):
    results = ledger.Results()
    table = ledger.evaluate(claims, results)
    assert set(table.verdict) <= set(ledger.VERDICTS)
    assert table.figure.str.len().min() > 20
    # every testable claim's verdict read glued values of the page its evidence link points to
    pages = {page for page, _ in results.used}
    assert {c.page for c in claims if c.rule != "models_out_of_reach"} <= pages


def test_a_claim_without_a_verdict_source_fails(claims, tmp_path):
    first = claims[0]
    broken = [ledger.Claim(**{**first.__dict__, "rule": "no_such_rule"})]
    with pytest.raises(ledger.LedgerError, match="no verdict rule"):
        ledger.check(broken)
    with pytest.raises(ledger.LedgerError, match="no section"):
        ledger.check([ledger.Claim(**{**first.__dict__, "section": "A section nobody wrote"})])
    with pytest.raises(ledger.LedgerError, match="is not one of the five documents"):
        ledger.check([ledger.Claim(**{**first.__dict__, "source": "rumour.txt"})])
    with pytest.raises(ledger.LedgerError, match="glues no 'no_such_value'"):
        ledger.Results()("p1_experiments", "no_such_value")
    dup = tmp_path / "claims.yml"
    dup.write_text(json.dumps([first.__dict__, first.__dict__]))
    with pytest.raises(ledger.LedgerError, match="duplicate"):
        ledger.load_claims(dup)


def test_orderings_hold_reverse_or_stay_unresolved():
    figs = {"X": (0.5, 0.4, 0.6), "Y": (0.2, 0.1, 0.3), "Z": (0.25, 0.05, 0.45)}
    assert ledger.ordering(figs, [("X", "Y")]) == ("supported", [])
    assert ledger.ordering(figs, [("Y", "X")]) == ("refuted", ["Y < X"])
    assert ledger.ordering(figs, [("X", "Y"), ("Y", "Z")])[0] == "inconclusive"
    assert ledger.against(0.61, 0.7, 0.6) == "supported"
    assert ledger.against(0.3, 0.59, 0.6) == "refuted"
    assert ledger.against(0.5, 0.7, 0.6) == "inconclusive"


def test_glued_values_are_read_back_as_numbers_and_markdown():
    assert ledger._value({"application/papermill.record/text/plain": "np.float64(271.85)"}) == 271.85
    assert ledger._value({"application/papermill.record/text/plain": "'C 32'"}) == "C 32"
    assert math.isnan(ledger._value({"application/papermill.record/text/plain": "nan"}))
    md = {"application/papermill.record/text/markdown": "**x**", "application/papermill.record/text/plain": "<obj>"}
    assert ledger._value(md) == "**x**"


def test_evidence_anchors_are_the_ids_sphinx_gives_sections():
    assert ledger.anchor("Paired comparisons with the control") == "paired-comparisons-with-the-control"
    assert ledger.anchor("Deployment: latency, memory, size") == "deployment-latency-memory-size"
