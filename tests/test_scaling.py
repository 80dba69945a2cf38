import numpy as np

from lab import scaling


def _cells(p_of_x, xs, n=40, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.random(n) < p_of_x(x)).astype(int) for x in xs]


def test_a_step_is_recognised_as_a_threshold_and_located():
    xs = np.linspace(4, 8, 9)
    outcomes = _cells(lambda x: 0.02 if x < 6.1 else 0.9, xs)
    cmp = scaling.compare(xs, outcomes, resamples=200, seed=1)
    assert cmp.delta_aic > 10 and cmp.delta_bic > 10
    assert cmp.location_ci[0] <= 6.1 <= cmp.location_ci[1] + 0.3
    assert cmp.threshold.params["width"] < 0.3


def test_a_smooth_log_odds_trend_is_not_called_a_threshold():
    xs = np.linspace(4, 8, 9)
    outcomes = _cells(lambda x: 1 / (1 + np.exp(-(-4 + 0.8 * (x - 4)))), xs, n=60)
    cmp = scaling.compare(xs, outcomes, resamples=200, seed=2)
    assert cmp.delta_bic < 2  # the extra two parameters of the threshold model are not worth it
    assert cmp.slope_ci[0] < 0.8 < cmp.slope_ci[1]


def test_no_variation_is_flagged_degenerate_rather_than_fitted():
    xs = np.linspace(4, 8, 5)
    cmp = scaling.compare(xs, [np.zeros(6, int) for _ in xs], resamples=100, seed=0)
    assert cmp.degenerate and (cmp.successes, cmp.trials) == (0, 30)
    assert not scaling.compare(xs, _cells(lambda x: 0.5, xs), resamples=100, seed=0).degenerate
