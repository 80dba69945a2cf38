"""Published p-values against what their designs can produce (issue #12).

Every page glues a p-value as ``<stem>_p`` or ``<stem>_p_holm`` and, beside it, the number of independent
units it was computed over as ``<stem>_n`` (the nearest enclosing stem counts: ``p1e_min_p`` reads
``p1e_min_n``, else ``p1e_n``). No test over n paired units can give p below 2 / 2^n (5 units: 0.0625), so a
published p-value below that, or one without its unit count, fails here.
"""
import math
import re

import pytest
from scipy import stats as sps

from lab.publish import book
from lab import inference, ledger

P_VALUE = re.compile(r"_p(_holm)?$")
# the pages whose comparisons must be on record: a page that stopped glueing them would pass vacuously
MUST_GLUE = {"p1_experiments": ["p1e_min_p", "p1e_min_p_holm"], "p2_training": ["diff_p"],
             "p3_legal_lora": [f"p3_{t}_vs_random_p_holm" for t in ("jurisdiction", "topic")]
             + [f"p3_{t}_vs_random_seed_p" for t in ("jurisdiction", "topic")]}


def unit_count(glued: dict, key: str):
    stem = P_VALUE.sub("", key)
    while stem:
        if isinstance(glued.get(f"{stem}_n"), int):
            return glued[f"{stem}_n"]
        stem = stem.rpartition("_")[0]
    return None


def p_values(glued: dict) -> dict:
    return {k: v for k, v in glued.items() if P_VALUE.search(k) and isinstance(v, (int, float))
            and not isinstance(v, bool) and not math.isnan(v)}


@pytest.mark.parametrize("page", book.notebook_chapters())
def test_no_published_p_value_is_below_what_its_design_can_produce(page):
    glued = ledger.glued(page)
    for key in MUST_GLUE.get(page, []):
        assert key in glued, f"book/{page}.ipynb no longer glues {key}"
    for key, p in p_values(glued).items():
        n = unit_count(glued, key)
        assert n is not None, f"book/{page}.ipynb glues {key} = {p} without its unit count (<stem>_n)"
        assert p >= inference.design_floor(n) - 1e-12, f"{page}: {key} = {p} is below 2 / 2^{n}"


def test_the_check_fails_a_bootstrap_p_value_at_the_resampling_floor():
    """The old Part I figure: p = 1/2001 over 5 attractors is below 2 / 2^5."""
    glued = {"p1e_min_p": 1 / 2001, "p1e_n": 5, "p1e_design": "…"}
    (key, p), = p_values(glued).items()
    assert unit_count(glued, key) == 5 and p < inference.design_floor(5)
    assert unit_count({"x_p": 0.5}, "x_p") is None


def test_the_iit_comparison_reports_its_unit_and_floor():
    g = ledger.glued("p2_training")
    n = g["n_seeds"]
    assert n >= 5, "the published comparison needs five pairs for its exact test to reach 0.0625"
    assert g["diff_n"] == n and g["diff_p_floor"] == pytest.approx(2 / 2 ** n)
    assert g["diff_low"] < g["diff"] < g["diff_high"]
    assert 0 <= g["n_negative"] <= n


def test_part_one_says_what_its_design_can_reach():
    g = ledger.glued("p1_experiments")
    assert g["p1e_n"] == 10, "the cpu profile runs all ten attractors (issue #12)"
    assert g["p1e_p_floor"] == pytest.approx(2 / 2 ** 10)
    assert g["p1e_min_p_holm"] >= g["p1e_smallest_adjusted"] - 1e-12
    assert f"{g['p1e_smallest_adjusted']:.4g}" in g["p1e_design"]


def test_five_pairs_of_one_sign_give_exactly_the_design_floor():
    """The test the pages use, on the design's extreme: every difference of one sign."""
    result = sps.permutation_test(([-1.0, -2.0, -0.5, -3.0, -1.5],), lambda d: sum(d) / len(d),
                                  permutation_type="samples", n_resamples=float("inf"))
    assert result.pvalue == pytest.approx(2 / 2 ** 5)
    assert inference.paired([-1.0, -2.0, -0.5, -3.0, -1.5], "seed").p == pytest.approx(result.pvalue)
