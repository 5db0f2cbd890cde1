"""Degenerate data never ends in a Cholesky error: repairs are deliberate and announced."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

from conftest import assert_finite_fit, blobs
from emkit import DegenerateComponentWarning, GaussianMixture

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _fit(X, **kwargs):
    """Fit, returning the model and the DegenerateComponentWarning messages."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = GaussianMixture(**kwargs).fit(X)
    messages = [str(w.message) for w in caught if w.category is DegenerateComponentWarning]
    return model, messages


def _assert_usable(model, X):
    assert_finite_fit(model)
    assert np.all(np.isfinite(model.score_samples(X)))
    proba = model.predict_proba(X)
    assert np.all(np.isfinite(proba))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    assert model.predict(X).shape == (len(X),)


def test_duplicated_points(covariance_type):
    X = np.repeat(blobs(5, 2, 2, seed=0), 10, axis=0)
    model, _ = _fit(X, n_components=3, covariance_type=covariance_type, random_state=0)
    _assert_usable(model, X)


def test_empty_component_is_reseeded_with_a_warning_naming_it(covariance_type):
    X = blobs(120, 2, 2, seed=1)
    means = np.array([X[0], X[60], [1e3, 1e3]])  # component 2 is far from every row
    model, messages = _fit(
        X, n_components=3, covariance_type=covariance_type, means_init=means, random_state=0
    )
    _assert_usable(model, X)
    assert any(re.search(r"\bcomponent 2\b.*re-seeded", m) for m in messages), messages
    assert not any(re.search(r"\bcomponent [01]\b", m) for m in messages), messages
    # The re-seeded component took part in the fit.
    assert model.weights_[2] > 0.01
    assert np.abs(model.means_[2]).max() < np.abs(X).max()


def test_two_empty_components_are_reseeded_apart(covariance_type):
    X = blobs(150, 2, 3, seed=2)
    means = np.array([X[0], [500.0, 500.0], [-500.0, -500.0]])
    model, messages = _fit(
        X, n_components=3, covariance_type=covariance_type, means_init=means, random_state=0
    )
    _assert_usable(model, X)
    joined = " ".join(messages)
    assert re.search(r"\bcomponent 1\b", joined) and re.search(r"\bcomponent 2\b", joined)
    # Re-seeded at different rows: they did not become copies of one another.
    assert np.abs(model.means_[1] - model.means_[2]).max() > 1e-3
    assert min(model.weights_) > 0.01


def test_collapsed_cluster(covariance_type):
    X = np.vstack([blobs(80, 2, 2, seed=3), np.full((30, 2), 7.0)])
    model, _ = _fit(X, n_components=3, covariance_type=covariance_type, random_state=0)
    _assert_usable(model, X)


def test_collapsed_cluster_without_regularisation_is_jittered(covariance_type):
    X = np.vstack([blobs(80, 2, 2, seed=4), np.full((30, 2), 7.0)])
    model, messages = _fit(
        X, n_components=3, covariance_type=covariance_type, reg_covar=0.0, random_state=0
    )
    _assert_usable(model, X)
    if covariance_type != "tied":  # the pooled covariance has the other clusters' spread
        assert any("not positive definite" in m and "component" in m for m in messages)


def test_constant_feature(covariance_type):
    X = blobs(100, 3, 2, seed=5)
    X[:, 1] = 3.0
    model, _ = _fit(X, n_components=2, covariance_type=covariance_type, random_state=0)
    _assert_usable(model, X)
    np.testing.assert_allclose(model.means_[:, 1], 3.0, rtol=1e-12)
    if covariance_type in ("full", "diag"):
        # The variance of the constant feature is reg_covar.
        variances = (
            model.covariances_[:, 1, 1] if covariance_type == "full" else (model.covariances_[:, 1])
        )
        np.testing.assert_allclose(variances, 1e-6, rtol=1e-6)


def test_as_many_samples_as_components(covariance_type):
    X = blobs(4, 2, 2, seed=6)
    model, _ = _fit(X, n_components=4, covariance_type=covariance_type, random_state=0)
    _assert_usable(model, X)
    # One component per row.
    assert sorted(model.predict(X).tolist()) == [0, 1, 2, 3]


def test_duplicates_without_regularisation_are_jittered_with_a_warning(covariance_type):
    X = np.repeat(blobs(4, 2, 2, seed=7), 5, axis=0)
    model, messages = _fit(
        X, n_components=4, covariance_type=covariance_type, reg_covar=0.0, random_state=0
    )
    _assert_usable(model, X)
    assert messages, "a repaired covariance must be announced"
    name = "the tied covariance" if covariance_type == "tied" else "component"
    assert all("not positive definite" in m and name in m for m in messages), messages


def test_identical_rows(covariance_type):
    X = np.ones((20, 3))
    for reg_covar in (1e-6, 0.0):
        model, _ = _fit(
            X, n_components=2, covariance_type=covariance_type, reg_covar=reg_covar, random_state=0
        )
        _assert_usable(model, X)
        np.testing.assert_allclose(model.means_, 1.0, rtol=1e-12)


def test_single_row_single_component(covariance_type):
    X = np.array([[1.0, -2.0]])
    model, _ = _fit(X, n_components=1, covariance_type=covariance_type)
    _assert_usable(model, X)
    np.testing.assert_allclose(model.means_, X)


@pytest.mark.parametrize("scale", [1e-150, 1e150])
def test_extreme_scales(covariance_type, scale):
    X = blobs(100, 2, 2, seed=8) * scale
    model, _ = _fit(
        X, n_components=2, covariance_type=covariance_type, reg_covar=0.0, random_state=0
    )
    _assert_usable(model, X)
    reference, _ = _fit(
        X / scale, n_components=2, covariance_type=covariance_type, reg_covar=0.0, random_state=0
    )
    np.testing.assert_allclose(model.means_ / scale, reference.means_, rtol=1e-9, atol=1e-12)
