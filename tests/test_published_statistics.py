"""Published p-values against what their designs can produce (issue #12). So far Part II's IIT comparison: it is
paired over seeds, so its exact sign-flip test cannot go below 2 / 2^n, and its interval is a t-interval over
those n differences. Part I and Part III still report bootstrap p-values over their units; #12 moves them."""
import pytest
from scipy import stats as sps

from lab import ledger


def test_the_iit_comparison_reports_no_p_value_below_its_design():
    g = ledger.glued("p2_training")
    n = g["n_seeds"]
    assert n >= 5, "the published comparison needs five pairs for its exact test to reach 0.0625"
    assert g["diff_p_floor"] == pytest.approx(2 / 2 ** n)
    assert g["diff_p"] >= g["diff_p_floor"] - 1e-12
    assert g["diff_low"] < g["diff"] < g["diff_high"]
    assert 0 <= g["n_negative"] <= n


def test_five_pairs_of_one_sign_give_exactly_the_design_floor():
    """The test the page uses, on the design's extreme: every difference of one sign."""
    result = sps.permutation_test(([-1.0, -2.0, -0.5, -3.0, -1.5],), lambda d: sum(d) / len(d),
                                  permutation_type="samples", n_resamples=float("inf"))
    assert result.pvalue == pytest.approx(2 / 2 ** 5)
