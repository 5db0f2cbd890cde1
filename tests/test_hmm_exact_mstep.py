"""The HMM M-step is the exact maximiser: no variance floor, monotone likelihood, closed forms."""

import warnings

import numpy as np
import pytest
from scipy import stats

from emkit import hmm as ek
from emkit.exceptions import DegenerateComponentWarning

COV_TYPES = ("spherical", "diag", "full", "tied")


def small_variance_sequences(seed=0, T=400, d=2, sd=0.01):
    """Two well-separated regimes whose variances (about 1e-4) are far below 1e-3."""
    rng = np.random.RandomState(seed)
    states = (np.arange(T) // 50) % 2
    centres = np.array([[0.0, 0.0], [0.05, -0.04]])[:, :d]
    mix = np.array([[1.0, 0.6], [0.0, 0.8]])[:d, :d]
    X = centres[states] + sd * rng.randn(T, d) @ mix
    return X, [T // 2, T // 2]


def assert_monotone(history):
    h = np.asarray(history)
    assert len(h) >= 5
    np.testing.assert_array_less(-1e-9 * np.abs(h[1:]), np.diff(h))


@pytest.mark.parametrize("ct", COV_TYPES)
def test_gaussian_hmm_likelihood_never_decreases_with_small_variances(ct):
    X, lengths = small_variance_sequences(seed=1)
    # covars_prior=0 makes the covariance update maximum likelihood for every layout.
    model = ek.GaussianHMM(
        2, covariance_type=ct, n_iter=30, tol=-np.inf, covars_prior=0.0, random_state=0
    )
    model.fit(X, lengths)
    assert_monotone(model.monitor_.history)
    assert model.monitor_.iter == 30 and not model.monitor_.converged
    variances = np.concatenate([np.diagonal(c) for c in model.covars_])
    assert variances.max() < 1e-3  # the fitted variances are not held at min_covar


@pytest.mark.parametrize("ct", COV_TYPES)
def test_gmm_hmm_likelihood_never_decreases_with_small_variances(ct):
    X, lengths = small_variance_sequences(seed=2)
    model = ek.GMMHMM(2, n_mix=2, covariance_type=ct, n_iter=30, tol=-np.inf, random_state=0)
    model.fit(X, lengths)
    assert_monotone(model.monitor_.history)


def one_state_model(ct, **kwargs):
    return ek.GaussianHMM(1, covariance_type=ct, n_iter=5, random_state=0, **kwargs)


@pytest.mark.parametrize("ct", COV_TYPES)
def test_one_state_fit_is_the_closed_form_maximum_likelihood(ct):
    rng = np.random.RandomState(3)
    X = 0.01 * rng.randn(1000, 2) @ np.array([[1.0, 0.5], [0.0, 0.7]]) + [1.0, -2.0]
    model = one_state_model(ct, covars_prior=0.0).fit(X)
    mean = X.mean(axis=0)
    cov = np.cov(X.T, bias=True)
    expected = {
        "full": cov,
        "tied": cov,
        "diag": np.diag(np.diag(cov)),
        "spherical": np.eye(2) * np.mean(np.diag(cov)),
    }[ct]
    np.testing.assert_allclose(model.means_[0], mean, rtol=1e-12)
    np.testing.assert_allclose(model.covars_[0], expected, rtol=1e-9, atol=1e-15)
    oracle = stats.multivariate_normal(mean, expected).logpdf(X).sum()
    np.testing.assert_allclose(model.score(X), oracle, rtol=1e-10)


def test_one_state_sd_001_with_default_priors_is_the_closed_form_map():
    # One state, one feature, sd 0.01: hmmlearn's inverse-gamma prior (covars_prior=1e-2,
    # covars_weight=1) gives (1e-2 + scatter) / n, far below the default min_covar=1e-3.
    rng = np.random.RandomState(4)
    X = 0.01 * rng.randn(2000, 1)
    model = one_state_model("diag").fit(X)
    n = X.shape[0]
    mean = X.mean()
    var = (1e-2 + ((X - mean) ** 2).sum()) / n
    np.testing.assert_allclose(model.means_[0, 0], mean, rtol=1e-12)
    np.testing.assert_allclose(model.covars_[0, 0, 0], var, rtol=1e-10)
    assert var < 1e-3
    oracle = stats.norm(mean, np.sqrt(var)).logpdf(X).sum()
    np.testing.assert_allclose(model.score(X), oracle, rtol=1e-10)
    # The maximum-likelihood answer without the prior: the sample variance.
    ml = one_state_model("diag", covars_prior=0.0).fit(X)
    np.testing.assert_allclose(ml.covars_[0, 0, 0], X.var(), rtol=1e-10)
    np.testing.assert_allclose(ml.score(X), stats.norm(mean, X.std()).logpdf(X).sum(), rtol=1e-10)


@pytest.mark.parametrize("ct", COV_TYPES)
def test_a_state_collapsed_on_one_point_is_repaired_once_per_fit(ct):
    rng = np.random.RandomState(5)
    X = np.vstack([rng.randn(60, 2), np.full((20, 2), 8.0), rng.randn(60, 2)])
    model = ek.GaussianHMM(
        2, covariance_type=ct, n_iter=6, tol=-np.inf, init_params="", covars_prior=0.0
    )
    model.startprob_ = np.array([0.5, 0.5])
    model.transmat_ = np.array([[0.9, 0.1], [0.1, 0.9]])
    model.means_ = np.array([[0.0, 0.0], [8.0, 8.0]])
    model.covars_ = STARTS[ct]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(X)
    degenerate = [w for w in caught if issubclass(w.category, DegenerateComponentWarning)]
    if ct == "tied":  # the shared covariance is estimated from every state: nothing collapses
        assert degenerate == []
        return
    assert len(degenerate) == 1
    assert "not positive definite" in str(degenerate[0].message)
    assert "iterations" in str(degenerate[0].message)
    assert np.all(np.isfinite(model.covars_)) and np.isfinite(model.score(X))
    np.testing.assert_allclose(model.means_[1], [8.0, 8.0], atol=1e-12)
    assert np.all(np.linalg.eigvalsh(model.covars_[1]) > 0)


STARTS = {
    "spherical": np.ones(2),
    "diag": np.ones((2, 2)),
    "full": np.stack([np.eye(2)] * 2),
    "tied": np.eye(2),
}
