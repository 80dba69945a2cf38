"""The ledger's one standard of evidence (lab/ledger/evidence.py), and every registered rule held to it: a verdict
names n and its unit (or says its figure is exact), and a supported or refuted verdict rests on an interval that
excludes the claim's value, or on an exact reading."""
from __future__ import annotations

import math
import re

import pytest

from lab import ledger
from lab.ledger import evidence as ev

from test_ledger_rules import CASES, ORIGINAL_CASES, judge

NAN = math.nan


def seeds(estimate, low, high, n=6):
    return ev.Evidence(estimate, low, high, n=n, unit="seeds", method="t interval over seeds")


def test_an_interval_inside_the_claim_supports_it_and_one_outside_refutes_it():
    assert ev.judge(seeds(250, 240, 260), 200, 300) == "supported"
    assert ev.judge(seeds(150, 140, 160), 200, 300) == "refuted"
    assert ev.judge(seeds(0.8, 0.7, 0.9), 0.5) == "supported"  # a threshold: one side open
    assert ev.judge(seeds(0.3, 0.2, 0.4), 0.5) == "refuted"


def test_an_interval_containing_the_claims_value_is_inconclusive():
    assert ev.judge(seeds(200, 190, 210), 200, 300) == "inconclusive"
    assert ev.judge(seeds(0.1, -0.2, 0.4), 0.0) == "inconclusive"
    assert ev.judge(seeds(216.0, 200.0, 230.0), 216.46, 216.46) == "inconclusive"  # a point is not proved


def test_a_single_value_never_supports_or_refutes():
    one = ev.Evidence(150.0, n=1, unit="run")
    assert ev.judge(one, 200, 300) == "not supported"
    assert ev.judge(ev.Evidence(250.0, n=1, unit="run"), 200, 300) == "inconclusive"
    assert ev.judge(seeds(150, NAN, NAN), 200, 300) == "not supported"  # an interval that did not exist
    assert "no interval" in str(one) and "n 1 run" in str(one)
    assert ev.admit("refuted", one) == "not supported" and ev.admit("supported", one) == "inconclusive"
    v = ev.verdict("refuted", "150 against 200-300", None, one)
    assert v.status == "not supported" and "no interval" in v.figure


def test_an_exact_figure_judges_as_an_interval_of_zero_width_and_says_why():
    reported = ev.Evidence(187.08, exact="a figure the original reported", fmt="g")
    assert ev.judge(reported, 200, 300) == "refuted" and ev.judge(reported, 150, 200) == "supported"
    assert str(reported) == "187.08 (exact: a figure the original reported)"
    assert ev.admit("refuted", reported) == "refuted"


def test_the_figure_names_the_interval_its_method_n_and_unit():
    assert str(seeds(62.5786, 61.4724, 63.6847)) == "62.579 [61.472, 63.685] (95% t interval over seeds, n 6 seeds)"


def test_no_p_value_finer_than_the_design_allows():
    assert ev.floor(5) == 0.0625 and ev.floor(6) == 0.03125
    from scipy import stats
    for n in (5, 6, 10):  # the exact sign test's smallest two-sided p, from scipy
        assert ev.floor(n) == pytest.approx(stats.binomtest(n, n, 0.5).pvalue)
    assert "p 0.0625" in ev.p_text(0.001, 5)  # a smaller p than 5 pairs allow is not printed


def test_orderings_from_intervals():
    figs = {"X": seeds(0.5, 0.4, 0.6), "Y": seeds(0.2, 0.1, 0.3), "Z": seeds(0.25, 0.05, 0.45)}
    assert ev.ordering(figs, [("X", "Y")]) == ("supported", [])
    assert ev.ordering(figs, [("Y", "X")]) == ("refuted", ["Y < X"])
    assert ev.ordering(figs, [("X", "Y"), ("Y", "Z")])[0] == "inconclusive"
    status, _, judged = ev.ordered(figs, [("Y", "X"), ("Y", "Z")])
    assert status == "refuted" and len(judged) == 1 and ev.judge(judged[0], *judged[0].claimed) == "refuted"


def test_grounds_refuses_a_decided_verdict_without_evidence():
    assert not ev.grounds(ledger.Verdict("refuted", "no evidence kept"))
    assert ev.grounds(ledger.Verdict("inconclusive", "nothing decided"))
    status, e = ev.weigh(seeds(150, 140, 160), 200, 300)
    assert ev.grounds(ev.Grounded(status, str(e), None, (e,)))
    assert not ev.grounds(ev.Grounded("supported", str(e), None, (e,)))  # the interval says refuted


# ---------------------------------------------------------------- every registered rule, held to the standard

ALL = [(c.rule, c.changes, c.args, c.originals) for c in CASES] + [(r, {}, a or None, o) for r, _, a, o in ORIGINAL_CASES]
NAMES_N = re.compile(r"\bn [\d,]+ [a-z(]|exact:|no interval|\bone run\b|n \d+\b")


@pytest.mark.parametrize("rule", sorted(ledger.RULES))
def test_every_rule_meets_the_standard(rule):
    cases = [c for c in ALL if c[0] == rule]
    assert cases, f"{rule}: no case drives it"
    for _, changes, args, originals in cases:
        v = judge(rule, changes, args, originals)
        if v.status == "not testable here":
            continue
        assert isinstance(v, ev.Grounded), f"{rule} returned a verdict without the evidence it rests on"
        assert NAMES_N.search(v.figure), f"{rule}: the figure names neither n and a unit nor 'exact': {v.figure}"
        assert ev.grounds(v), f"{rule}: {v.status} without an interval excluding the claim's value: {v.figure}"
