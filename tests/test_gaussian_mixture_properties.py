"""Properties of emkit.GaussianMixture checked against scipy, brute force and itself."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment
from scipy.special import logsumexp

from conftest import (
    COV_TYPES,
    FITTED_ARRAYS,
    INIT_METHODS,
    assert_close,
    assert_same_fit,
    blobs,
    dense_covariances,
    initial_params,
    scipy_log_joint,
    scipy_score_samples,
)
from emkit import GaussianMixture

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


# ----------------------------------------------------------------------------- densities
def test_score_samples_and_posteriors_match_scipy(covariance_type):
    X = blobs(150, 3, 3, seed=1)
    model = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    X_new = blobs(40, 3, 3, seed=2) * 1.5
    joint = scipy_log_joint(
        X_new, model.weights_, model.means_, model.covariances_, covariance_type
    )
    expected = logsumexp(joint, axis=1)
    assert_close(model.score_samples(X_new), expected, 1e-12, "score_samples")
    assert_close(model.score(X_new), expected.mean(), 1e-12, "score")
    assert_close(model.predict_proba(X_new), np.exp(joint - expected[:, None]), 1e-10, "proba")


@pytest.mark.parametrize("d", [1, 4])
def test_score_samples_match_scipy_for_given_parameters(covariance_type, d):
    X = blobs(60, d, 2, seed=3)
    inits = initial_params(X, 2, covariance_type, seed=1)
    model = GaussianMixture(2, covariance_type=covariance_type, max_iter=0, **inits).fit(X)
    assert_close(model.score_samples(X), scipy_score_samples(model, X), 1e-12, "score_samples")


# ----------------------------------------------------------------------------- EM properties
@pytest.mark.parametrize("init_params", ["random", "kmeans"])
def test_log_likelihood_never_decreases(covariance_type, init_params):
    X = blobs(200, 2, 4, seed=4, spread=2.0)
    model = GaussianMixture(
        4,
        covariance_type=covariance_type,
        init_params=init_params,
        random_state=1,
        tol=1e-10,
        max_iter=300,
    ).fit(X)
    bounds = np.asarray(model.lower_bounds_)
    assert bounds.size > 5
    steps = np.diff(bounds)
    assert np.all(steps >= -1e-12 * np.abs(bounds[1:])), steps.min()


def _true_mixture(covariance_type):
    weights = np.array([0.5, 0.3, 0.2])
    means = np.array([[0.0, 0.0], [6.0, 1.0], [1.0, 7.0]])
    covariances = {
        "full": np.array(
            [[[1.0, 0.5], [0.5, 2.0]], [[0.7, -0.3], [-0.3, 0.5]], [[1.5, 0], [0, 1]]]
        ),
        "tied": np.array([[1.0, 0.4], [0.4, 0.8]]),
        "diag": np.array([[1.0, 2.0], [0.5, 0.3], [1.5, 0.8]]),
        "spherical": np.array([1.0, 0.5, 2.0]),
    }[covariance_type]
    return weights, means, covariances


def test_recovers_generating_parameters(covariance_type):
    weights, means, covariances = _true_mixture(covariance_type)
    dense = dense_covariances(covariances, covariance_type, 3, 2)
    rng = np.random.RandomState(5)
    n = 3000
    labels = rng.choice(3, size=n, p=weights)
    X = np.empty((n, 2))
    for k in range(3):
        rows = labels == k
        X[rows] = rng.multivariate_normal(means[k], dense[k], size=rows.sum())
    model = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    cost = ((model.means_[:, None, :] - means[None, :, :]) ** 2).sum(axis=2)
    fitted, true = linear_sum_assignment(cost)
    order = fitted[np.argsort(true)]
    # Tolerances are about five standard errors for n = 3000.
    np.testing.assert_allclose(model.weights_[order], weights, atol=0.03)
    np.testing.assert_allclose(model.means_[order], means, atol=0.15)
    fitted_cov = model.covariances_ if covariance_type == "tied" else model.covariances_[order]
    np.testing.assert_allclose(fitted_cov, covariances, atol=0.2 * np.abs(covariances).max())
    agreement = np.mean(order[labels] == model.predict(X))
    assert agreement > 0.97


# ----------------------------------------------------------------------------- blocking
@pytest.mark.parametrize("init_params", INIT_METHODS)
def test_same_random_state_gives_same_fit_for_any_chunk_size(covariance_type, init_params):
    X = blobs(90, 2, 3, seed=6)
    kwargs = {
        "n_components": 3,
        "covariance_type": covariance_type,
        "init_params": init_params,
        "random_state": 2,
        "tol": 1e-6,
        "max_iter": 40,
    }
    reference = GaussianMixture(**kwargs).fit(X)
    for chunk_size in (1, 7, 64):
        model = GaussianMixture(chunk_size=chunk_size, **kwargs).fit(X)
        assert model.n_iter_ == reference.n_iter_
        assert_same_fit(model, reference, 1e-10)
        assert_close(model.score_samples(X), reference.score_samples(X), 1e-10, "score")
        np.testing.assert_array_equal(model.predict(X), reference.predict(X))


# ----------------------------------------------------------------------------- weights
def _weighted_pair(covariance_type, seed):
    X = blobs(120, 2, 3, seed=seed)
    inits = initial_params(X, 3, covariance_type, seed=seed)
    kwargs = {"n_components": 3, "covariance_type": covariance_type, "max_iter": 15, "tol": 0.0}
    return X, {**kwargs, **inits}


def test_integer_weights_equal_repeated_rows(covariance_type):
    X, kwargs = _weighted_pair(covariance_type, seed=7)
    weights = np.random.RandomState(0).randint(0, 4, size=len(X))
    weighted = GaussianMixture(**kwargs).fit(X, sample_weight=weights)
    repeated = GaussianMixture(**kwargs).fit(np.repeat(X, weights, axis=0))
    assert_same_fit(weighted, repeated, 1e-8)


def test_zero_weight_equals_removed_row(covariance_type):
    X, kwargs = _weighted_pair(covariance_type, seed=8)
    weights = np.ones(len(X))
    weights[[3, 50]] = 0.0
    weighted = GaussianMixture(**kwargs).fit(X, sample_weight=weights)
    removed = GaussianMixture(**kwargs).fit(np.delete(X, [3, 50], axis=0))
    assert_same_fit(weighted, removed, 1e-8)


@pytest.mark.parametrize("init_params", ["kmeans", "k-means++", "random_from_data"])
def test_zero_weight_equals_removed_row_for_the_same_random_state(covariance_type, init_params):
    # Initialisations that pick rows never pick a row of zero weight. ('random' draws a
    # responsibility row for every row, weighted or not, so its start depends on them.)
    X = blobs(120, 2, 3, seed=8)
    weights = np.ones(len(X))
    weights[[3, 50, 77]] = 0.0
    kwargs = {
        "n_components": 3,
        "covariance_type": covariance_type,
        "init_params": init_params,
        "random_state": 0,
    }
    weighted = GaussianMixture(**kwargs).fit(X, sample_weight=weights)
    removed = GaussianMixture(**kwargs).fit(np.delete(X, [3, 50, 77], axis=0))
    assert weighted.n_iter_ == removed.n_iter_
    assert_same_fit(weighted, removed, 1e-8)


def test_weights_are_scale_free_and_unit_weights_are_no_weights(covariance_type):
    X, kwargs = _weighted_pair(covariance_type, seed=9)
    weights = np.random.RandomState(1).uniform(0.1, 3.0, size=len(X))
    base = GaussianMixture(**kwargs).fit(X, sample_weight=weights)
    scaled = GaussianMixture(**kwargs).fit(X, sample_weight=weights * 1000.0)
    assert_same_fit(base, scaled, 1e-8)
    plain = GaussianMixture(**kwargs).fit(X)
    ones = GaussianMixture(**kwargs).fit(X, sample_weight=np.ones(len(X)))
    assert_same_fit(plain, ones, 1e-12)


# ----------------------------------------------------------------------------- float32
def test_float32_keeps_float32_and_agrees_with_float64(covariance_type):
    X = blobs(200, 3, 3, seed=10)
    inits = initial_params(X, 3, covariance_type, seed=2)
    kwargs = {"n_components": 3, "covariance_type": covariance_type, "max_iter": 10, "tol": 0}
    X32 = X.astype(np.float32)
    m32 = GaussianMixture(**kwargs, **inits).fit(X32)
    m64 = GaussianMixture(**kwargs, **inits).fit(X32.astype(np.float64))
    for name in FITTED_ARRAYS:
        assert getattr(m32, name).dtype == np.float32, name
    assert m32.score_samples(X32).dtype == np.float32
    assert m32.predict_proba(X32).dtype == np.float32
    # float32 rounding (eps 1.2e-7) of the E-step, carried through ten iterations.
    assert_same_fit(m32, m64, 2e-6)
    assert_close(m32.score_samples(X32), m64.score_samples(X), 2e-6, "score_samples")


FAR_CASES = [
    (np.float64, 1e4),
    (np.float64, 1e6),
    (np.float32, 1e4),
    (np.float32, 1e6),
]


@pytest.mark.parametrize(
    ("dtype", "offset"), FAR_CASES, ids=["f64-1e4", "f64-1e6", "f32-1e4", "f32-1e6"]
)
def test_data_far_from_origin_fits_like_centred_data(covariance_type, dtype, offset):
    centred = blobs(300, 2, 2, seed=11, spread=3.0)
    X = (centred + offset).astype(dtype)
    # The reference sees exactly the values the far fit sees, moved to the origin.
    X_ref = X.astype(np.float64) - offset
    inits = initial_params(X_ref, 2, covariance_type, seed=3)
    kwargs = {"n_components": 2, "covariance_type": covariance_type, "tol": 1e-9, "max_iter": 300}
    far_inits = {**inits, "means_init": inits["means_init"] + offset}
    far = GaussianMixture(**kwargs, **far_inits).fit(X)
    ref = GaussianMixture(**kwargs, **inits).fit(X_ref)
    if dtype == np.float64:
        mean_atol, rtol, bound_rtol = 1e-9 * offset, 1e-9, 1e-12
    else:
        # float32 means carry the spacing of float32 at the offset; the rest is float32
        # rounding of the E-step carried through the iterations.
        mean_atol, rtol, bound_rtol = float(np.spacing(np.float32(offset))), 3e-5, 1e-6
    np.testing.assert_allclose(far.means_ - offset, ref.means_, rtol=0, atol=mean_atol)
    assert_close(far.covariances_, ref.covariances_, rtol, "covariances_")
    assert_close(far.weights_, ref.weights_, rtol, "weights_")
    assert_close(far.lower_bound_, ref.lower_bound_, bound_rtol, "lower_bound_")


def test_data_far_from_origin_with_default_initialisation(covariance_type):
    centred = blobs(300, 2, 2, seed=12, spread=3.0)
    offset = 1e6
    far = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(centred + offset)
    ref = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(centred)
    np.testing.assert_allclose(far.means_ - offset, ref.means_, rtol=0, atol=1e-6)
    assert_close(far.covariances_, ref.covariances_, 1e-6, "covariances_")


# ----------------------------------------------------------------------------- API
@pytest.mark.parametrize("max_iter", [1, 100])
def test_fit_predict_equals_fit_then_predict(covariance_type, max_iter):
    X = blobs(150, 2, 3, seed=13, spread=1.5)
    kwargs = {
        "n_components": 3,
        "covariance_type": covariance_type,
        "init_params": "random",
        "random_state": 4,
        "max_iter": max_iter,
    }
    labels = GaussianMixture(**kwargs).fit_predict(X)
    model = GaussianMixture(**kwargs).fit(X)
    np.testing.assert_array_equal(labels, model.predict(X))
    np.testing.assert_array_equal(labels, model.predict_proba(X).argmax(axis=1))


def test_predict_proba_rows_sum_to_one(covariance_type):
    X = blobs(150, 3, 3, seed=14)
    model = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    far = X * 50.0  # rows far from every component: posteriors are formed in log space
    for data in (X, far):
        proba = model.predict_proba(data)
        assert proba.shape == (len(data), 3)
        assert np.all(proba >= 0)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-12)


def test_sample_shapes_and_labels(covariance_type):
    X = blobs(150, 3, 3, seed=15)
    model = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    samples, labels = model.sample(4000)
    assert samples.shape == (4000, 3)
    assert labels.shape == (4000,)
    assert set(np.unique(labels)) <= {0, 1, 2}
    assert np.all(np.diff(labels) >= 0)  # grouped by component, as scikit-learn does
    dense = dense_covariances(model.covariances_, covariance_type, 3, 3)
    for k in range(3):
        rows = samples[labels == k]
        # Means of the draws of each component within five standard errors.
        se = np.sqrt(np.diag(dense[k]) / len(rows))
        assert np.all(np.abs(rows.mean(axis=0) - model.means_[k]) < 5 * se)
    one, one_label = model.sample()
    assert one.shape == (1, 3)
    assert one_label.shape == (1,)


def test_icl_is_bic_minus_twice_the_log_posterior_of_the_map_classes(covariance_type):
    X = blobs(120, 2, 3, seed=16, spread=1.5)
    model = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    joint = scipy_log_joint(X, model.weights_, model.means_, model.covariances_, covariance_type)
    log_resp = joint - logsumexp(joint, axis=1, keepdims=True)
    classification = -np.sum(log_resp.max(axis=1))
    entropy = -np.sum(np.exp(log_resp) * log_resp)
    assert classification > 1.0  # overlapping clusters: the penalty is not negligible
    assert classification < entropy  # the hard form penalises less than the entropy form
    assert_close(model.icl(X), model.bic(X) + 2 * classification, 1e-10, "icl")
    n_params = {"full": 17, "tied": 11, "diag": 14, "spherical": 11}[covariance_type]
    ll = logsumexp(joint, axis=1).sum()
    assert_close(model.bic(X), -2 * ll + n_params * np.log(len(X)), 1e-10, "bic")
    assert_close(model.aic(X), -2 * ll + 2 * n_params, 1e-10, "aic")


def test_icl_of_separated_clusters_prefers_the_true_number():
    X = blobs(300, 2, 3, seed=17, spread=8.0)
    icl = [GaussianMixture(k, random_state=0).fit(X).icl(X) for k in (2, 3, 4)]
    assert int(np.argmin(icl)) == 1


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_single_component_is_the_sample_mean_and_covariance(covariance_type):
    X = blobs(100, 3, 2, seed=18)
    model = GaussianMixture(1, covariance_type=covariance_type, reg_covar=0.0).fit(X)
    cov = np.cov(X.T, bias=True)
    expected = {
        "full": cov[None],
        "tied": cov,
        "diag": np.diag(cov)[None],
        "spherical": np.array([np.trace(cov) / 3]),
    }[covariance_type]
    assert_close(model.means_, X.mean(axis=0)[None], 1e-12, "means_")
    assert_close(model.covariances_, expected, 1e-12, "covariances_")
    assert model.weights_.tolist() == [1.0]
    assert model.n_iter_ <= 2
