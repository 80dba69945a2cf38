import numpy as np
import pytest
from scipy import stats as st

from lab import stats


def _half_widths(estimate, low, high):
    return np.array([estimate - low, high - estimate])


@pytest.mark.parametrize("level", [0.95, 0.90])
def test_bootstrap_ci_is_within_5_percent_of_scipys_percentile_bootstrap(level):
    rng = np.random.default_rng(1)
    x = rng.normal(10.0, 2.0, size=400)
    ci = stats.bootstrap_ci(x, resamples=20_000, level=level, seed=0)
    ref = st.bootstrap((x,), np.mean, n_resamples=20_000, confidence_level=level, method="percentile",
                       random_state=np.random.default_rng(7)).confidence_interval
    assert ci.estimate == pytest.approx(x.mean()) and ci.level == level
    # a 90% interval is about 16% narrower than a 95% one: 5% tells them apart
    np.testing.assert_allclose(_half_widths(x.mean(), ci.low, ci.high), _half_widths(x.mean(), ref.low, ref.high),
                               rtol=0.05)


def test_bootstrap_is_seeded_and_refuses_too_few_resamples():
    x = [1.0, 2.0, 4.0, 8.0]
    assert stats.bootstrap_ci(x, seed=5) == stats.bootstrap_ci(x, seed=5)
    with pytest.raises(ValueError):
        stats.bootstrap_ci(x, resamples=100)


def test_paired_bootstrap_detects_a_shift_and_not_a_null():
    rng = np.random.default_rng(2)
    a = rng.normal(0, 1, 60)
    b = a + 1.0 + rng.normal(0, 0.3, 60)
    shifted = stats.paired_bootstrap(b, a, resamples=20_000)
    d = b - a
    # the smallest p-value 20,000 resamples can give, and no smaller
    assert shifted.p_value == pytest.approx(1 / 20_001) and shifted.difference.low > 0.5
    # Cohen's d_z is mean / sd of the differences, not the t statistic (which is sqrt(60) times larger)
    assert shifted.effect_size == pytest.approx(d.mean() / d.std(ddof=1), rel=1e-12)
    ref = st.bootstrap((d,), np.mean, n_resamples=20_000, method="percentile",
                       random_state=np.random.default_rng(7)).confidence_interval
    ci = shifted.difference
    np.testing.assert_allclose(_half_widths(d.mean(), ci.low, ci.high), _half_widths(d.mean(), ref.low, ref.high),
                               rtol=0.05)
    null = stats.paired_bootstrap(a + rng.normal(0, 0.3, 60), a)
    assert null.p_value > 0.05 and null.difference.low < 0 < null.difference.high


def test_effect_size_is_d_z():
    # differences 1, 2, 3: mean 2, sd 1
    assert stats.paired_bootstrap([1.0, 2.0, 3.0], [0.0, 0.0, 0.0]).effect_size == pytest.approx(2.0)
    assert stats.paired_bootstrap([2.0, 2.0], [1.0, 1.0]).effect_size == np.inf  # no spread at all


def test_holm_matches_the_textbook_example():
    p = [0.01, 0.04, 0.03, 0.005]
    # sorted: 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> monotone 0.06
    np.testing.assert_allclose(stats.holm(p), [0.03, 0.06, 0.06, 0.02])


def test_t_interval_matches_scipy():
    x = [3.1, 2.9, 3.4, 3.0, 3.3]
    ci = stats.t_interval(x)
    lo, hi = st.t.interval(0.95, len(x) - 1, loc=np.mean(x), scale=st.sem(x))
    assert (ci.low, ci.high) == pytest.approx((lo, hi))
