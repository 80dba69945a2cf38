"""lab.inference against scipy and against the designs' known answers."""
import itertools
import math

import numpy as np
import pytest
from scipy import stats as sps

from lab import inference


def test_five_positive_pairs_give_exactly_the_design_floor():
    r = inference.paired([0.3, 1.0, 2.0, 0.5, 4.0], "seed")
    assert r.p == pytest.approx(0.0625) and r.p_floor == pytest.approx(0.0625)
    assert r.n == 5 and r.unit == "seed" and r.test == "exact sign-flip"


def test_the_exact_test_is_the_enumeration_of_all_sign_patterns():
    d = np.array([1.2, -0.4, 0.9, 2.2, 0.1, -1.5, 0.7])
    observed = abs(d.mean())
    means = [abs((d * np.array(s)).mean()) for s in itertools.product([1, -1], repeat=d.size)]
    # two-sided as scipy defines it: twice the smaller one-sided tail
    upper = np.mean([(d * np.array(s)).mean() >= d.mean() for s in itertools.product([1, -1], repeat=d.size)])
    lower = np.mean([(d * np.array(s)).mean() <= d.mean() for s in itertools.product([1, -1], repeat=d.size)])
    assert inference.paired(d, "attractor").p == pytest.approx(min(1.0, 2 * min(upper, lower)))
    assert np.mean(np.array(means) >= observed - 1e-12) >= inference.design_floor(d.size)


def test_t_interval_and_effect_size_equal_scipys():
    d = np.array([0.5, 1.5, -0.2, 2.0, 0.9, 1.1])
    r = inference.paired(d, "seed")
    ci = sps.ttest_1samp(d, 0).confidence_interval(0.95)
    assert (r.low, r.high) == pytest.approx((ci.low, ci.high))
    assert r.effect_size_dz == pytest.approx(d.mean() / d.std(ddof=1))
    t = inference.t_interval(d)
    ref = sps.t.interval(0.95, d.size - 1, loc=d.mean(), scale=sps.sem(d))
    assert (t.low, t.high) == pytest.approx(ref)


def test_bca_equals_scipys_on_fixed_data():
    x = np.random.default_rng(3).exponential(2.0, 40)
    ours = inference.bca(x, seed=11)
    ref = sps.bootstrap((x,), np.mean, method="BCa", n_resamples=9_999, rng=np.random.default_rng(11))
    assert (ours.low, ours.high) == pytest.approx((ref.confidence_interval.low, ref.confidence_interval.high))


def test_no_p_below_the_floor_and_monte_carlo_beyond_sixteen_units():
    d = np.linspace(1, 2, 20)  # every difference positive: the most extreme pattern there is
    r = inference.paired(d, "example", resamples=999)
    assert r.test.startswith("Monte-Carlo") and r.p >= r.p_floor == pytest.approx(2 / 1000)


@pytest.mark.parametrize("n", [12, 300])
def test_right_wrong_differences_get_the_exact_sign_test_at_any_n(n):
    """Paired 0/1 scores: the sign-flip null is binomial over the discordant pairs; below 17 units the
    enumeration and the closed form must agree."""
    rng = np.random.default_rng(n)
    d = rng.choice([-1.0, 0.0, 0.0, 1.0, 1.0], n)
    r = inference.paired(d, "test example")
    k, m = int((d > 0).sum()), int((d != 0).sum())
    assert r.p == pytest.approx(sps.binomtest(k, m).pvalue)
    if n <= inference.EXACT_UP_TO:
        enumerated = sps.permutation_test((d,), np.mean, permutation_type="samples", n_resamples=np.inf)
        assert r.p == pytest.approx(min(1.0, enumerated.pvalue))
    else:
        assert r.test == "exact sign test (McNemar)"
    assert inference.paired([0.0, 0.0, 0.0], "seed").p == 1.0


def test_no_spread_means_no_t_interval_but_still_a_test():
    r = inference.paired([2.0] * 6, "seed")
    assert math.isnan(r.low) and math.isnan(r.high) and r.p == pytest.approx(2 / 64)
    assert r.effect_size_dz == math.inf


def test_refuses_designs_it_cannot_test():
    with pytest.raises(ValueError, match="at least two seeds"):
        inference.paired([1.0], "seed")
    with pytest.raises(ValueError, match="NaN"):
        inference.paired([1.0, float("nan")], "attractor")


def test_smallest_adjusted_is_holms_first_step():
    floor = inference.design_floor(10)
    assert floor == pytest.approx(2 / 1024)
    assert inference.smallest_adjusted(floor, 20) == pytest.approx(inference.holm([floor] * 20).min())
    assert inference.smallest_adjusted(inference.design_floor(5), 100) == 1.0


@pytest.mark.parametrize("n", [1, 6, 40])
def test_wilson_equals_binomtests_at_zero_and_n(n):
    for k in (0, n):
        ref = sps.binomtest(k, n).proportion_ci(method="wilson")
        lo, hi = inference.wilson(k, n)
        assert lo == pytest.approx(max(0.0, ref.low), abs=1e-12) and hi == pytest.approx(min(1.0, ref.high), abs=1e-12)
    assert (inference.wilson(0, n)[0], inference.wilson(n, n)[1]) == (0.0, 1.0)


def test_wilson_matches_published_values_and_refuses_impossible_counts():
    lo, hi = inference.wilson(0, 6)
    assert lo == 0 and hi == pytest.approx(0.3903, abs=1e-4)  # Brown, Cai and DasGupta's table
    lo, hi = inference.wilson(3, 6)
    assert lo == pytest.approx(1 - hi) and lo == pytest.approx(0.1876, abs=1e-4)
    for k, n in ((3, 2), (0, 0)):
        with pytest.raises(ValueError):
            inference.wilson(k, n)


def test_holm_matches_the_textbook_example():
    p = [0.01, 0.04, 0.03, 0.005]
    # sorted: 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> monotone 0.06
    np.testing.assert_allclose(inference.holm(p), [0.03, 0.06, 0.06, 0.02])


def test_t_interval_of_values_without_spread_is_the_point():
    iv = inference.t_interval([0.0, 0.0, 0.0])
    assert (iv.estimate, iv.low, iv.high) == (0.0, 0.0, 0.0)
