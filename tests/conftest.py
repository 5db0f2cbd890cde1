"""Shared data generators, initial parameters and comparison helpers for the test suite."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.special import logsumexp

COV_TYPES = ("full", "tied", "diag", "spherical")
INIT_METHODS = ("kmeans", "k-means++", "random", "random_from_data")
FITTED_ARRAYS = ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_")


@pytest.fixture(params=COV_TYPES)
def covariance_type(request):
    """Each covariance type in turn."""
    return request.param


def blobs(n, d, K, seed, *, spread=4.0):
    """Rows from ``K`` correlated Gaussian clusters, shape (n, d), unequal sizes."""
    rng = np.random.RandomState(seed)
    centers = rng.normal(scale=spread, size=(K, d))
    weights = rng.dirichlet(np.full(K, 4.0))
    labels = rng.choice(K, size=n, p=weights)
    mix = rng.normal(scale=0.4, size=(K, d, d)) + np.eye(d)
    noise = rng.normal(size=(n, d))
    return centers[labels] + np.einsum("nij,nj->ni", mix[labels], noise)


def initial_params(X, K, covariance_type, seed):
    """Deterministic, non-trivial ``weights_init``, ``means_init``, ``precisions_init``.

    Returns a dict of keyword arguments accepted by both emkit's and scikit-learn's
    ``GaussianMixture``.
    """
    rng = np.random.RandomState(seed)
    n, d = X.shape
    weights = rng.dirichlet(np.full(K, 5.0))
    means = X[rng.choice(n, size=K, replace=False)] + rng.normal(scale=0.1, size=(K, d))
    base = np.atleast_2d(np.cov(X.T)) + 0.1 * np.eye(d)
    if covariance_type == "full":
        covs = [base * rng.uniform(0.5, 1.5) for _ in range(K)]
        precisions = np.stack([np.linalg.inv(c) for c in covs])
    elif covariance_type == "tied":
        precisions = np.linalg.inv(base)
    elif covariance_type == "diag":
        precisions = 1.0 / (np.diag(base) * rng.uniform(0.5, 1.5, size=(K, d)))
    else:
        precisions = 1.0 / (np.mean(np.diag(base)) * rng.uniform(0.5, 1.5, size=K))
    if covariance_type in ("full", "tied"):
        precisions = 0.5 * (precisions + np.swapaxes(precisions, -1, -2))
    return {"weights_init": weights, "means_init": means, "precisions_init": precisions}


def dense_covariances(covariances, covariance_type, K, d):
    """Covariances in any layout as an array of shape (K, d, d)."""
    cov = np.asarray(covariances, dtype=np.float64)
    if covariance_type == "full":
        return cov
    if covariance_type == "tied":
        return np.broadcast_to(cov, (K, d, d)).copy()
    if covariance_type == "diag":
        return np.stack([np.diag(c) for c in cov])
    return np.stack([np.eye(d) * c for c in cov])


def scipy_log_joint(X, weights, means, covariances, covariance_type):
    """``log w_k + log N(x_i; mu_k, Sigma_k)`` from scipy.stats, shape (n, K)."""
    K, d = np.shape(means)
    dense = dense_covariances(covariances, covariance_type, K, d)
    return np.column_stack(
        [
            np.log(weights[k]) + stats.multivariate_normal(means[k], dense[k]).logpdf(X)
            for k in range(K)
        ]
    ).reshape(len(X), K)


def scipy_score_samples(model, X):
    """Log-density of each row under a fitted model's parameters, from scipy.stats."""
    joint = scipy_log_joint(
        X, model.weights_, model.means_, model.covariances_, model.covariance_type
    )
    return logsumexp(joint, axis=1)


def assert_close(actual, expected, rtol, what=""):
    """``max|actual - expected| <= rtol * max|expected|`` (relative to the array's scale)."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    scale = max(float(np.max(np.abs(expected), initial=0.0)), np.finfo(np.float64).tiny)
    err = float(np.max(np.abs(actual - expected), initial=0.0))
    assert err <= rtol * scale, f"{what}: max error {err:.3g} > {rtol:g} * {scale:.3g}"


def assert_same_fit(a, b, rtol, *, bounds=True):
    """Two fitted mixtures have the same parameters (and lower bounds) to ``rtol``."""
    for name in FITTED_ARRAYS:
        assert_close(getattr(a, name), getattr(b, name), rtol, name)
    if bounds:
        assert_close(a.lower_bound_, b.lower_bound_, rtol, "lower_bound_")
        assert_close(a.lower_bounds_, b.lower_bounds_, rtol, "lower_bounds_")


def assert_finite_fit(model):
    """Every fitted array and the lower bound are finite."""
    for name in FITTED_ARRAYS:
        value = getattr(model, name)
        assert np.all(np.isfinite(value)), f"{name} is not finite: {value}"
    assert np.isfinite(model.lower_bound_)
