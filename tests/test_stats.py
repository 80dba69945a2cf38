import numpy as np
import pytest
from scipy import stats as st

from lab import stats


def test_bootstrap_ci_covers_the_mean_and_matches_the_normal_interval():
    rng = np.random.default_rng(1)
    x = rng.normal(10.0, 2.0, size=400)
    ci = stats.bootstrap_ci(x, seed=0)
    se = x.std(ddof=1) / np.sqrt(x.size)
    assert ci.low < x.mean() < ci.high
    # the percentile bootstrap of a mean is close to mean +- 1.96 se for n = 400
    assert ci.low == pytest.approx(x.mean() - 1.96 * se, abs=0.25 * se * 1.96)
    assert ci.high == pytest.approx(x.mean() + 1.96 * se, abs=0.25 * se * 1.96)


def test_bootstrap_is_seeded_and_refuses_too_few_resamples():
    x = [1.0, 2.0, 4.0, 8.0]
    assert stats.bootstrap_ci(x, seed=5) == stats.bootstrap_ci(x, seed=5)
    with pytest.raises(ValueError):
        stats.bootstrap_ci(x, resamples=100)


def test_paired_bootstrap_detects_a_shift_and_not_a_null():
    rng = np.random.default_rng(2)
    a = rng.normal(0, 1, 60)
    shifted = stats.paired_bootstrap(a + 1.0 + rng.normal(0, 0.3, 60), a)
    assert shifted.p_value < 0.01 and shifted.difference.low > 0.5 and shifted.effect_size > 2
    null = stats.paired_bootstrap(a + rng.normal(0, 0.3, 60), a)
    assert null.p_value > 0.05 and null.difference.low < 0 < null.difference.high


def test_holm_matches_the_textbook_example():
    p = [0.01, 0.04, 0.03, 0.005]
    # sorted: 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> monotone 0.06
    np.testing.assert_allclose(stats.holm(p), [0.03, 0.06, 0.06, 0.02])


def test_t_interval_matches_scipy():
    x = [3.1, 2.9, 3.4, 3.0, 3.3]
    ci = stats.t_interval(x)
    lo, hi = st.t.interval(0.95, len(x) - 1, loc=np.mean(x), scale=st.sem(x))
    assert (ci.low, ci.high) == pytest.approx((lo, hi))
