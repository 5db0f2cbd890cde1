"""The mixture EM problem: additive statistics, posteriors, the M-step and re-seeding."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp, softmax

from conftest import COV_TYPES, assert_close, blobs
from emkit import DegenerateComponentWarning
from emkit.engine.em import expect
from emkit.engine.mixture import MixtureEM, MixtureParams
from emkit.engine.sources import ArraySource, Block
from emkit.families.gaussian import GaussianFamily, GaussianParams
from emkit.latent import mixture as latent


def _params(covariance_type, K, d, rng):
    means = rng.normal(scale=3.0, size=(K, d))
    shape = GaussianFamily(covariance_type).strategy.shape(K, d)
    if covariance_type in ("full", "tied"):
        cov = np.broadcast_to(np.eye(d) * rng.uniform(0.5, 2.0), shape).copy()
    else:
        cov = rng.uniform(0.5, 2.0, size=shape)
    comps = GaussianParams.from_covariances(means, cov, covariance_type)
    return MixtureParams(rng.dirichlet(np.ones(K)), comps)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(
    covariance_type=st.sampled_from(COV_TYPES),
    n=st.integers(2, 40),
    d=st.integers(1, 3),
    K=st.integers(1, 3),
    weighted=st.booleans(),
    seed=st.integers(0, 2**16),
    cut=st.floats(0.0, 1.0),
)
def test_mixture_stats_add_over_any_split(covariance_type, n, d, K, weighted, seed, cut):
    rng = np.random.RandomState(seed)
    X = rng.normal(scale=3.0, size=(n, d))
    w = rng.uniform(0.0, 2.0, size=n) * (rng.uniform(size=n) > 0.2) if weighted else None
    problem = MixtureEM(GaussianFamily(covariance_type))
    params = _params(covariance_type, K, d, rng)
    k = min(max(int(cut * n), 1), n - 1)
    whole = problem.expect_block(params, Block(X, w))
    parts = problem.expect_block(params, Block(X[:k], None if w is None else w[:k]))
    parts = parts + problem.expect_block(params, Block(X[k:], None if w is None else w[k:]))
    assert_close(parts.log_likelihood, whole.log_likelihood, 1e-12, "log_likelihood")
    assert_close(parts.total_weight, whole.total_weight, 1e-14, "total_weight")
    for name in ("counts", "sums", "scatter"):
        assert_close(getattr(parts.components, name), getattr(whole.components, name), 1e-12, name)
    if np.isfinite(whole.worst_score):
        assert_close(parts.worst_score, whole.worst_score, 1e-12, "worst_score")
    else:  # every weight is zero: no row is worst
        assert parts.worst_score == whole.worst_score == np.inf
    np.testing.assert_array_equal(parts.worst_row, whole.worst_row)


def test_expect_block_against_direct_computation():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(30, 2))
    w = rng.uniform(0, 2, size=30)
    w[4] = 0.0
    params = _params("full", 3, 2, rng)
    problem = MixtureEM(GaussianFamily("full"))
    log_prob = problem.family.log_likelihood(params.components, X)
    log_norm = logsumexp(log_prob + np.log(params.weights), axis=1)
    s = problem.expect_block(params, Block(X, w))
    assert_close(s.log_likelihood, np.dot(w, log_norm), 1e-13, "log_likelihood")
    assert s.total_weight == pytest.approx(w.sum(), rel=1e-15)
    resp = softmax(log_prob + np.log(params.weights), axis=1)
    assert_close(s.components.counts, (resp * w[:, None]).sum(axis=0), 1e-13, "counts")
    # The worst-fitted row ignores rows of zero weight.
    masked = np.where(w > 0, log_norm, np.inf)
    np.testing.assert_array_equal(s.worst_row, X[np.argmin(masked)])


def test_expect_sums_blocks_like_one_block():
    X = blobs(103, 2, 3, seed=1)
    rng = np.random.RandomState(2)
    w = rng.uniform(0.1, 2.0, size=103)
    params = _params("diag", 3, 2, rng)
    problem = MixtureEM(GaussianFamily("diag"))
    one = expect(problem, params, ArraySource(X, w, 1000))
    many = expect(problem, params, ArraySource(X, w, 10))
    assert_close(many.log_likelihood, one.log_likelihood, 1e-12, "log_likelihood")
    assert_close(many.components.scatter, one.components.scatter, 1e-12, "scatter")


def test_posterior_matches_softmax_and_handles_zero_weights():
    rng = np.random.RandomState(3)
    log_prob = rng.normal(scale=300.0, size=(20, 4))  # far outside exp's range
    weights = np.array([0.5, 0.0, 0.3, 0.2])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        log_norm, resp = latent.posterior(log_prob, latent.log_weights(weights))
    with np.errstate(divide="ignore"):
        joint = log_prob + np.log(weights)
    assert_close(log_norm, logsumexp(joint, axis=1), 1e-14, "log_norm")
    assert_close(resp, softmax(joint, axis=1), 1e-12, "resp")
    assert np.all(resp[:, 1] == 0.0)


def test_weights_from_counts_normalise():
    weights = latent.weights_from_counts(np.array([3.0, 0.0, 1.0]))
    assert weights.sum() == pytest.approx(1.0, abs=1e-15)
    assert weights[1] > 0  # never exactly zero: log-weights stay finite


def _reseed_fit(X, means, n_iter):
    family = GaussianFamily("full")
    problem = MixtureEM(family)
    cov = np.broadcast_to(np.eye(2), (len(means), 2, 2)).copy()
    params = MixtureParams(
        np.full(len(means), 1.0 / len(means)),
        GaussianParams.from_covariances(means, cov, "full"),
    )
    source = ArraySource(X, None, 64)
    messages = []
    for iteration in range(1, n_iter + 1):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            params = problem.maximize(expect(problem, params, source), params, iteration)
        messages += [str(w.message) for w in caught if w.category is DegenerateComponentWarning]
    return params, messages


def test_empty_component_is_reseeded_at_the_worst_fitted_row():
    X = blobs(80, 2, 2, seed=4)
    means = np.array([X[:40].mean(axis=0), X[40:].mean(axis=0), [1e3, 1e3]])
    # The worst-fitted row under the starting parameters.
    problem = MixtureEM(GaussianFamily("full"))
    cov = np.broadcast_to(np.eye(2), (3, 2, 2)).copy()
    start = MixtureParams(np.full(3, 1 / 3), GaussianParams.from_covariances(means, cov, "full"))
    worst = X[np.argmin(problem.log_prob(start, X)[0])]
    params, messages = _reseed_fit(X, means, 1)
    assert len(messages) == 1 and messages[0].startswith("component 2 received no")
    np.testing.assert_array_equal(params.components.means[2], worst)
    # Weight 1/K, then renormalised: (1/3) / (1 + 1/3).
    assert params.weights[2] == pytest.approx(0.25, rel=1e-12)
    assert params.weights.sum() == pytest.approx(1.0, abs=1e-15)


def test_several_empty_components_are_reseeded_one_per_iteration_at_different_rows():
    X = blobs(80, 2, 2, seed=5)
    means = np.array([X.mean(axis=0), [1e3, 1e3], [-1e3, 1e3], [1e3, -1e3]])
    params, messages = _reseed_fit(X, means, 4)
    assert [m.split(" received")[0] for m in messages] == [
        "component 1",
        "component 2",
        "component 3",
    ]
    assert "Empty component(s) 2, 3 will be re-seeded" in messages[0]
    fitted = params.components.means
    distances = np.linalg.norm(fitted[:, None] - fitted[None], axis=2)
    assert distances[np.triu_indices(4, 1)].min() > 1e-3
    assert np.abs(fitted).max() < np.abs(X).max() + 1
