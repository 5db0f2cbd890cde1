"""The Gaussian family: densities, additive centred statistics, M-step and repairs."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from conftest import COV_TYPES, assert_close, blobs, dense_covariances
from emkit import DegenerateComponentWarning
from emkit.families.gaussian import GaussianFamily, GaussianParams, GaussianStats


def random_covariances(covariance_type, K, d, rng):
    """Well-conditioned covariances in the layout of ``covariance_type``."""
    if covariance_type == "full":
        A = rng.normal(size=(K, d, d))
        return A @ A.transpose(0, 2, 1) + d * np.eye(d)
    if covariance_type == "tied":
        A = rng.normal(size=(d, d))
        return A @ A.T + d * np.eye(d)
    if covariance_type == "diag":
        return rng.uniform(0.3, 3.0, size=(K, d))
    return rng.uniform(0.3, 3.0, size=K)


def random_params(covariance_type, K, d, seed):
    rng = np.random.RandomState(seed)
    means = rng.normal(scale=3.0, size=(K, d))
    cov = random_covariances(covariance_type, K, d, rng)
    return GaussianParams.from_covariances(means, cov, covariance_type)


def brute_force_mstep(X, wresp, covariance_type, reg_covar, means=None):
    """Weighted means and covariances by the textbook formulas, one component at a time."""
    d = X.shape[1]
    K = wresp.shape[1]
    counts = wresp.sum(axis=0)
    if means is None:
        means = (wresp.T @ X) / counts[:, None]
    full = np.stack(
        [(wresp[:, k, None] * (X - means[k])).T @ (X - means[k]) / counts[k] for k in range(K)]
    )
    if covariance_type == "full":
        cov = full + reg_covar * np.eye(d)
    elif covariance_type == "tied":
        cov = (counts[:, None, None] * full).sum(axis=0) / counts.sum() + reg_covar * np.eye(d)
    elif covariance_type == "diag":
        cov = np.diagonal(full, axis1=1, axis2=2) + reg_covar
    else:
        cov = np.trace(full, axis1=1, axis2=2) / d + reg_covar
    return means, cov


# ----------------------------------------------------------------------------- densities
@pytest.mark.parametrize("covariance_type", COV_TYPES)
@pytest.mark.parametrize("d", [1, 3])
def test_log_likelihood_matches_scipy(covariance_type, d):
    params = random_params(covariance_type, 3, d, seed=d)
    X = np.random.RandomState(1).normal(scale=4.0, size=(50, d))
    family = GaussianFamily(covariance_type)
    dense = dense_covariances(params.covariances, covariance_type, 3, d)
    expected = np.column_stack(
        [stats.multivariate_normal(params.means[k], dense[k]).logpdf(X) for k in range(3)]
    )
    got = family.log_likelihood(params, X)
    assert got.shape == (50, 3)
    assert_close(got, expected, 1e-12, "log_likelihood")
    got32 = family.log_likelihood(params, X.astype(np.float32))
    assert got32.dtype == np.float32
    assert_close(got32, expected, 1e-5, "float32 log_likelihood")


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_precisions_and_covariances_round_trip(covariance_type):
    params = random_params(covariance_type, 3, 2, seed=2)
    dense_cov = dense_covariances(params.covariances, covariance_type, 3, 2)
    dense_prec = dense_covariances(params.precisions(), covariance_type, 3, 2)
    for k in range(3):
        assert_close(dense_prec[k] @ dense_cov[k], np.eye(2), 1e-12, "precision @ covariance")
    again = GaussianParams.from_precisions(params.means, params.precisions(), covariance_type)
    assert_close(again.covariances, params.covariances, 1e-12, "covariances")
    assert_close(again.prec_chol, params.prec_chol, 1e-12, "prec_chol")
    assert_close(again.log_det, params.log_det, 1e-12, "log_det")
    # log_det is log det of the precision-Cholesky factor: -1/2 log det covariance.
    expected = -0.5 * np.linalg.slogdet(dense_cov)[1]
    assert_close(params.log_det, expected, 1e-12, "log_det vs slogdet")


# ----------------------------------------------------------------------------- M-step
@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_accumulate_and_maximize_match_textbook_formulas(covariance_type):
    X = blobs(80, 3, 3, seed=3) + 100.0
    rng = np.random.RandomState(4)
    wresp = rng.dirichlet(np.ones(3), size=80) * rng.uniform(0, 2, size=(80, 1))
    family = GaussianFamily(covariance_type, reg_covar=1e-3)
    params = random_params(covariance_type, 3, 3, seed=5)  # only the reference point matters
    new = family.maximize(family.accumulate(params, X, wresp))
    means, cov = brute_force_mstep(X, wresp, covariance_type, 1e-3)
    assert_close(new.means, means, 1e-12, "means")
    assert_close(new.covariances, cov, 1e-10, "covariances")


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_maximize_with_fixed_means_or_covariances(covariance_type):
    X = blobs(60, 2, 2, seed=6)
    wresp = np.random.RandomState(7).dirichlet(np.ones(2), size=60)
    family = GaussianFamily(covariance_type, reg_covar=1e-4)
    params = random_params(covariance_type, 2, 2, seed=8)
    stats_ = family.accumulate(params, X, wresp)
    kept_means = family.maximize(stats_, params, fixed={"means"})
    _, cov = brute_force_mstep(X, wresp, covariance_type, 1e-4, means=params.means)
    np.testing.assert_array_equal(kept_means.means, params.means)
    assert_close(kept_means.covariances, cov, 1e-10, "covariances about fixed means")
    kept_cov = family.maximize(stats_, params, fixed={"covariances"})
    means, _ = brute_force_mstep(X, wresp, covariance_type, 1e-4)
    np.testing.assert_array_equal(kept_cov.covariances, params.covariances)
    assert_close(kept_cov.means, means, 1e-12, "means")


# ----------------------------------------------------------------------------- additivity
@settings(max_examples=30, deadline=None, derandomize=True)
@given(
    covariance_type=st.sampled_from(COV_TYPES),
    n=st.integers(2, 40),
    d=st.integers(1, 3),
    K=st.integers(1, 3),
    seed=st.integers(0, 2**16),
    cut=st.floats(0.0, 1.0),
)
def test_gaussian_stats_add_over_any_split(covariance_type, n, d, K, seed, cut):
    rng = np.random.RandomState(seed)
    X = rng.normal(scale=2.0, size=(n, d)) + rng.normal(scale=50.0, size=d)
    wresp = rng.dirichlet(np.ones(K), size=n) * rng.uniform(0, 3, size=(n, 1))
    ref = rng.normal(scale=2.0, size=(K, d))
    family = GaussianFamily(covariance_type)
    k = min(max(int(cut * n), 1), n - 1)
    whole = family.accumulate_at(ref, X, wresp)
    parts = family.accumulate_at(ref, X[:k], wresp[:k]) + family.accumulate_at(
        ref, X[k:], wresp[k:]
    )
    for name in ("counts", "sums", "scatter"):
        assert_close(getattr(parts, name), getattr(whole, name), 1e-12, name)
    np.testing.assert_array_equal(parts.ref, ref)


def test_stats_centred_on_different_points_do_not_add():
    family = GaussianFamily("diag")
    X = np.ones((3, 2))
    w = np.ones((3, 1))
    a = family.accumulate_at(np.zeros((1, 2)), X, w)
    b = family.accumulate_at(np.ones((1, 2)), X, w)
    with pytest.raises(ValueError, match="centred on different points"):
        a + b


def test_scaled_stats_give_the_same_m_step():
    X = blobs(50, 2, 2, seed=9)
    wresp = np.random.RandomState(0).dirichlet(np.ones(2), size=50)
    family = GaussianFamily("full", reg_covar=0.0)
    s = family.accumulate_at(np.zeros((2, 2)), X, wresp)
    half = s.scaled(0.5)
    assert isinstance(half, GaussianStats)
    assert_close(half.counts, 0.5 * s.counts, 1e-15, "counts")
    a, b = family.maximize(s), family.maximize(half)
    assert_close(b.means, a.means, 1e-12, "means")
    assert_close(b.covariances, a.covariances, 1e-12, "covariances")


# ----------------------------------------------------------------------------- repairs
def _make_params_warnings(family, means, cov):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        params = family.make_params(means, cov)
    return params, [str(w.message) for w in caught if w.category is DegenerateComponentWarning]


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
def test_make_params_jitters_a_singular_component_and_names_it(covariance_type):
    rng = np.random.RandomState(10)
    cov = random_covariances(covariance_type, 3, 2, rng)
    if covariance_type == "full":
        cov[1] = np.array([[1.0, 1.0], [1.0, 1.0]])  # rank one
    else:
        cov[1] = 0.0
    family = GaussianFamily(covariance_type, reg_covar=0.0)
    params, messages = _make_params_warnings(family, np.zeros((3, 2)), cov)
    assert len(messages) == 1
    assert "component 1 " in messages[0] and "reg_covar" in messages[0]
    assert np.all(np.isfinite(params.prec_chol))
    np.testing.assert_array_equal(params.covariances[[0, 2]], cov[[0, 2]])
    assert (
        np.linalg.eigvalsh(dense_covariances(params.covariances, covariance_type, 3, 2)[1]).min()
        > 0
    )


def test_make_params_names_the_tied_covariance():
    family = GaussianFamily("tied", reg_covar=0.0)
    params, messages = _make_params_warnings(family, np.zeros((2, 2)), np.ones((2, 2)))
    assert len(messages) == 1 and messages[0].startswith("the tied covariance is not positive")
    assert np.linalg.eigvalsh(params.covariances).min() > 0


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
def test_equally_degenerate_components_get_equal_jitter(covariance_type):
    K, d = 3, 2
    cov = np.zeros({"full": (K, d, d), "diag": (K, d), "spherical": (K,)}[covariance_type])
    family = GaussianFamily(covariance_type, reg_covar=0.0)
    params, messages = _make_params_warnings(family, np.zeros((K, d)), cov)
    assert len(messages) == K
    dense = dense_covariances(params.covariances, covariance_type, K, d)
    np.testing.assert_array_equal(dense[1], dense[0])
    np.testing.assert_array_equal(dense[2], dense[0])
    assert dense[0][0, 0] > 0


def test_pooled_covariance_and_reseed():
    family = GaussianFamily("diag")
    params = random_params("diag", 3, 2, seed=11)
    X = blobs(30, 2, 3, seed=12)
    wresp = np.random.RandomState(1).dirichlet(np.ones(3), size=30)
    s = family.accumulate(params, X, wresp)
    pooled = family.pooled_covariance(s, params)
    expected = sum(s.counts[k] * np.diag(params.covariances[k]) for k in range(3)) / 30
    assert_close(pooled, expected, 1e-12, "pooled")
    moved = family.reseed(params, 2, X[0], s)
    np.testing.assert_array_equal(moved.means[2], X[0])
    np.testing.assert_array_equal(moved.covariances[2], np.diag(pooled))
    np.testing.assert_array_equal(moved.means[:2], params.means[:2])


@pytest.mark.parametrize(
    ("covariance_type", "expected"),
    [("full", 3 * 6 + 9), ("tied", 6 + 9), ("diag", 9 + 9), ("spherical", 3 + 9)],
)
def test_n_parameters(covariance_type, expected):
    assert GaussianFamily(covariance_type).n_parameters(3, 3) == expected


def test_unknown_covariance_type_is_rejected():
    with pytest.raises(ValueError, match="covariance_type must be one of"):
        GaussianFamily("banded")
