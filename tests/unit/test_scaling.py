import numpy as np
import pytest

from lab.memorization import scaling


def _cells(p_of_x, xs, n=40, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.random(n) < p_of_x(x)).astype(int) for x in xs]


@pytest.mark.slow  # bootstrap refits
def test_a_step_is_recognised_as_a_threshold_and_located():
    xs = np.linspace(4, 8, 9)
    outcomes = _cells(lambda x: 0.02 if x < 6.1 else 0.9, xs)
    cmp = scaling.compare(xs, outcomes, resamples=200, seed=1)
    assert cmp.delta_aic > 10 and cmp.delta_bic > 10
    assert cmp.location_ci[0] <= 6.1 <= cmp.location_ci[1] + 0.3
    assert cmp.threshold.params["width"] < 0.3


@pytest.mark.slow  # bootstrap refits
def test_a_smooth_log_odds_trend_is_not_called_a_threshold():
    xs = np.linspace(4, 8, 9)
    outcomes = _cells(lambda x: 1 / (1 + np.exp(-(-4 + 0.8 * (x - 4)))), xs, n=60)
    cmp = scaling.compare(xs, outcomes, resamples=200, seed=2)
    assert cmp.delta_bic < 2  # the extra two parameters of the threshold model are not worth it
    assert cmp.slope_ci[0] < 0.8 < cmp.slope_ci[1]


@pytest.mark.slow  # bootstrap refits
def test_no_variation_is_flagged_degenerate_rather_than_fitted():
    xs = np.linspace(4, 8, 5)
    cmp = scaling.compare(xs, [np.zeros(6, int) for _ in xs], resamples=100, seed=0)
    assert cmp.degenerate and (cmp.successes, cmp.trials) == (0, 30)
    assert not scaling.compare(xs, _cells(lambda x: 0.5, xs), resamples=100, seed=0).degenerate


# ---------------------------------------------------------------- against an independent logistic regression
# Fixed cells (x, n, k); scikit-learn fits the same smooth model to the canaries one by one (0/1 rows), so its
# coefficients, log-likelihood and hence BIC must be those of fit_linear's grouped binomial fit.

X_CELLS = np.array([4.0, 4.5, 5.0, 5.5, 6.0, 6.5, 7.0, 7.5])
N_CELLS = np.array([40, 40, 40, 40, 40, 40, 40, 40])
K_CELLS = np.array([1, 2, 4, 7, 13, 19, 27, 31])


def _rows():
    x = np.repeat(X_CELLS, N_CELLS)
    y = np.concatenate([np.r_[np.ones(k), np.zeros(n - k)] for n, k in zip(N_CELLS, K_CELLS)])
    return x, y


def _sklearn_fit():
    from sklearn.linear_model import LogisticRegression

    x, y = _rows()
    model = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(x[:, None], y)
    return model, x, y


def test_fit_linear_agrees_with_scikit_learns_logistic_regression():
    from sklearn.metrics import log_loss

    model, x, y = _sklearn_fit()
    fit = scaling.fit_linear(X_CELLS, N_CELLS, K_CELLS)
    assert fit.params["a"] == pytest.approx(model.intercept_[0], abs=2e-3)
    assert fit.params["b"] == pytest.approx(model.coef_[0, 0], abs=5e-4)
    nll = log_loss(y, model.predict_proba(x[:, None])[:, 1], normalize=False)
    assert fit.nll == pytest.approx(nll, abs=1e-6 * len(y))
    # BIC = k ln(N) - 2 ln L with N the number of canaries (Bernoulli trials), not of cells
    assert fit.n_obs == len(y) == 320
    assert fit.bic == pytest.approx(2 * np.log(len(y)) + 2 * nll, abs=1e-3)
    assert fit.aic == pytest.approx(2 * 2 + 2 * nll, abs=1e-3)


def test_the_threshold_fits_likelihood_and_bic_are_the_bernoulli_ones():
    from sklearn.metrics import log_loss

    _, x, y = _sklearn_fit()
    fit = scaling.fit_threshold(X_CELLS, N_CELLS, K_CELLS)
    f, c, t, w = (fit.params[k] for k in ("floor", "ceiling", "location", "width"))
    p = f + (c - f) / (1 + np.exp(-(x - t) / w))
    nll = log_loss(y, p, normalize=False)
    assert fit.nll == pytest.approx(nll, abs=1e-6)
    assert fit.bic == pytest.approx(4 * np.log(320) + 2 * nll, abs=1e-6)
    # a smooth logistic trend: the two extra parameters of the threshold do not pay for themselves in BIC
    cmp = scaling.Comparison(scaling.fit_linear(X_CELLS, N_CELLS, K_CELLS), fit, (0, 0), (0, 0), (0, 0), 104, 320)
    assert cmp.delta_bic == pytest.approx(cmp.linear.bic - fit.bic) and cmp.delta_bic < 0


def test_separated_data_have_no_estimate_and_are_flagged_not_fitted():
    """Every canary extracted above a point and none below: the likelihood rises without end as the smooth
    curve steepens, the optimiser stops at its bound, and the fit must say so instead of reporting the bound."""
    xs = np.log10([1, 2, 4, 8, 16, 32, 64])
    outcomes = [np.zeros(6, int)] * 3 + [np.ones(6, int)] * 4
    cmp = scaling.compare(xs, outcomes, resamples=50, seed=0)
    assert not cmp.linear.identifiable and cmp.linear.at_bound
    assert all(np.isnan(cmp.slope_ci))
    # overlapping outcomes have a finite maximum: identifiable, with an interval
    mixed = [np.array([0, 0, 0, 0, 0, 1]), np.array([0, 0, 0, 0, 1, 1]), np.array([0, 0, 1, 0, 1, 1]),
             np.array([0, 1, 1, 1, 0, 1]), np.array([1, 1, 0, 1, 1, 1]), np.array([1, 1, 1, 0, 1, 1]),
             np.array([1, 1, 1, 1, 1, 0])]
    ok = scaling.compare(xs, mixed, resamples=50, seed=0)
    assert ok.linear.identifiable and not any(np.isnan(ok.slope_ci))


def test_aic_and_bic_disagreement_is_reported():
    lin = scaling.Fit("linear", {"a": 0, "b": 1}, nll=100.0, n_params=2, n_obs=200)
    thr = scaling.Fit("threshold", {}, nll=97.0, n_params=4, n_obs=200)  # 2 extra params buy 3 nats
    cmp = scaling.Comparison(lin, thr, (0, 0), (0, 0), (0, 0), 50, 200)
    assert cmp.delta_aic > 0 > cmp.delta_bic and cmp.criteria_disagree
