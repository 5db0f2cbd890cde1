"""emkit.GaussianMixture against scikit-learn's GaussianMixture (the anchor it replaces)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from sklearn.mixture import GaussianMixture as SkGaussianMixture

from conftest import (
    COV_TYPES,
    INIT_METHODS,
    assert_close,
    assert_same_fit,
    blobs,
    initial_params,
)
from emkit import GaussianMixture

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# emkit runs the same arithmetic as scikit-learn: measured agreement is 1e-12 or better; the
# issue asks for 1e-6, this asks for 1e-8.
RTOL = 1e-8

SHAPES = [(200, 2, 3), (120, 1, 2), (80, 3, 1), (300, 5, 4)]


def _pair(**kwargs):
    return GaussianMixture(**kwargs), SkGaussianMixture(**kwargs)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "n{}-d{}-K{}".format(*s))
@pytest.mark.parametrize("max_iter", [1, 5, None], ids=["1iter", "5iter", "converged"])
def test_same_initial_parameters_give_sklearn_fit(covariance_type, shape, max_iter):
    n, d, K = shape
    X = blobs(n, d, K, seed=n + d + K)
    inits = initial_params(X, K, covariance_type, seed=d)
    if max_iter is None:
        kwargs = {"max_iter": 500, "tol": 1e-8}
    else:
        kwargs = {"max_iter": max_iter, "tol": 0.0}
    ours, theirs = _pair(n_components=K, covariance_type=covariance_type, **inits, **kwargs)
    ours.fit(X)
    theirs.fit(X)
    assert_same_fit(ours, theirs, RTOL)
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.converged_ == theirs.converged_
    if max_iter is None:
        assert ours.converged_
    else:
        assert ours.n_iter_ == max_iter
        assert len(ours.lower_bounds_) == max_iter


# Initialisations that give each component a single row.
ONE_POINT = ("k-means++", "random_from_data")


def _hard_one_point_tied(covariance_type, init_params):
    # scikit-learn's tied-covariance formula assumes the responsibilities of each row sum to
    # one; the one-point initialisations give most rows none, so its tied start is wrong there.
    return covariance_type == "tied" and init_params in ONE_POINT


RANDOM_STATE_CASES = [
    (ct, init) for ct in COV_TYPES for init in INIT_METHODS if not _hard_one_point_tied(ct, init)
]


@pytest.mark.parametrize(("covariance_type", "init_params"), RANDOM_STATE_CASES)
def test_same_random_state_gives_sklearn_fit(covariance_type, init_params):
    X = blobs(150, 2, 3, seed=7)
    kwargs = {
        "n_components": 3,
        "covariance_type": covariance_type,
        "init_params": init_params,
        "random_state": 3,
        "tol": 1e-6,
    }
    ours, theirs = _pair(**kwargs)
    ours.fit(X)
    theirs.fit(X)
    assert ours.n_iter_ == theirs.n_iter_ > 1
    if init_params in ONE_POINT:
        # scikit-learn divides the initial weights by n_samples instead of their sum (they
        # sum to K / n), which lowers its first bound by log(n / K). emkit's first bound is
        # the mean log-likelihood under its normalised initial parameters.
        assert_same_fit(ours, theirs, RTOL, bounds=False)
        start = GaussianMixture(**{**kwargs, "max_iter": 0}).fit(X)
        assert_close(ours.lower_bounds_[0], start.score(X), 1e-12, "first bound")
        assert_close(ours.lower_bounds_[1:], theirs.lower_bounds_[1:], RTOL, "lower_bounds_")
        assert_close(ours.lower_bound_, theirs.lower_bound_, RTOL, "lower_bound_")
    else:
        assert_same_fit(ours, theirs, RTOL)


@pytest.mark.parametrize(("covariance_type", "init_params"), RANDOM_STATE_CASES)
def test_same_random_state_gives_sklearn_initial_parameters(covariance_type, init_params):
    X = blobs(150, 3, 3, seed=8)
    ours, theirs = _pair(
        n_components=3,
        covariance_type=covariance_type,
        init_params=init_params,
        random_state=5,
        max_iter=0,
    )
    ours.fit(X)
    theirs.fit(X)
    rtol = RTOL
    if init_params in ONE_POINT:
        # See above: scikit-learn's start weights sum to K / n. Its start variances are
        # reg_covar plus the cancellation error of E[x^2] - mu^2 (about 1e-13 here, 1e-7
        # of reg_covar); emkit's centred statistics give reg_covar to rounding.
        theirs.weights_ = theirs.weights_ / theirs.weights_.sum()
        rtol = 1e-6
    assert_same_fit(ours, theirs, rtol, bounds=False)
    assert_close(ours.weights_.sum(), 1.0, 1e-15, "sum of weights_")
    assert ours.n_iter_ == 0
    assert ours.lower_bound_ == -np.inf
    assert not ours.converged_


@pytest.mark.parametrize("init_params", ["k-means++", "random_from_data"])
def test_tied_one_point_initialisation_is_pooled_within_scatter(init_params):
    # Each component starts from one row: no within-component scatter, so the tied start
    # is reg_covar * I (scikit-learn instead mixes in the scatter of the unassigned rows).
    X = blobs(100, 2, 3, seed=9)
    ours, theirs = _pair(
        n_components=3,
        covariance_type="tied",
        init_params=init_params,
        random_state=2,
        max_iter=0,
        reg_covar=1e-3,
    )
    ours.fit(X)
    theirs.fit(X)
    assert_close(ours.means_, theirs.means_, RTOL, "means_")
    assert_close(ours.covariances_, 1e-3 * np.eye(2), 1e-12, "covariances_")


@pytest.mark.parametrize("covariance_type", COV_TYPES)
@pytest.mark.parametrize("given", ["weights_init", "means_init", "precisions_init"])
def test_partial_initial_parameters_match_sklearn(covariance_type, given):
    X = blobs(160, 2, 3, seed=11)
    inits = initial_params(X, 3, covariance_type, seed=4)
    ours, theirs = _pair(
        n_components=3,
        covariance_type=covariance_type,
        random_state=0,
        max_iter=3,
        tol=0.0,
        **{given: inits[given]},
    )
    ours.fit(X)
    theirs.fit(X)
    assert_same_fit(ours, theirs, RTOL)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_sample_draws_match_sklearn(covariance_type):
    X = blobs(150, 3, 3, seed=12)
    ours, theirs = _pair(n_components=3, covariance_type=covariance_type, random_state=4)
    ours.fit(X)
    theirs.fit(X)
    X_ours, y_ours = ours.sample(57)
    X_theirs, y_theirs = theirs.sample(57)
    assert X_ours.shape == (57, 3)
    assert X_ours.dtype == X_theirs.dtype
    assert y_ours.dtype == y_theirs.dtype
    np.testing.assert_array_equal(y_ours, y_theirs)
    assert_close(X_ours, X_theirs, 1e-10, "samples")


def _sklearn_with_params_of(model):
    """A scikit-learn mixture holding exactly ``model``'s fitted parameters."""
    sk = SkGaussianMixture(n_components=model.n_components, covariance_type=model.covariance_type)
    for name in ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"):
        setattr(sk, name, getattr(model, name))
    sk.n_features_in_ = model.n_features_in_
    sk.converged_ = model.converged_
    return sk


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_bic_aic_score_match_sklearn_on_same_parameters(covariance_type):
    X = blobs(200, 3, 3, seed=13)
    ours = GaussianMixture(3, covariance_type=covariance_type, random_state=1).fit(X)
    theirs = _sklearn_with_params_of(ours)
    X_new = blobs(50, 3, 3, seed=14)
    for data in (X, X_new):
        assert_close(ours.bic(data), theirs.bic(data), 1e-12, "bic")
        assert_close(ours.aic(data), theirs.aic(data), 1e-12, "aic")
        assert_close(ours.score(data), theirs.score(data), 1e-12, "score")
        assert_close(ours.score_samples(data), theirs.score_samples(data), 1e-12, "score_samples")
        assert_close(ours.predict_proba(data), theirs.predict_proba(data), 1e-10, "proba")
        np.testing.assert_array_equal(ours.predict(data), theirs.predict(data))


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_warm_start_continues_like_sklearn(covariance_type):
    X = blobs(200, 2, 3, seed=15)
    ours, theirs = _pair(
        n_components=3,
        covariance_type=covariance_type,
        init_params="random",
        random_state=0,
        max_iter=2,
        tol=0.0,
        warm_start=True,
    )
    for _ in range(3):
        ours.fit(X)
        theirs.fit(X)
        assert_same_fit(ours, theirs, RTOL)
        assert ours.n_iter_ == theirs.n_iter_ == 2
    # Three warm fits of two iterations are one cold fit of six.
    cold = GaussianMixture(
        3,
        covariance_type=covariance_type,
        init_params="random",
        random_state=0,
        max_iter=6,
        tol=0.0,
    ).fit(X)
    assert_same_fit(ours, cold, RTOL, bounds=False)
    assert_close(ours.lower_bounds_, cold.lower_bounds_[-2:], RTOL, "lower_bounds_")


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_n_init_keeps_the_best_lower_bound(covariance_type):
    X = blobs(120, 2, 4, seed=16, spread=2.0)
    kwargs = {"n_components": 4, "covariance_type": covariance_type, "init_params": "random"}
    best = GaussianMixture(n_init=4, random_state=21, **kwargs).fit(X)
    # The restarts draw one after another from the same generator: replay them one by one.
    rng = np.random.RandomState(21)
    singles = [GaussianMixture(random_state=rng, **kwargs).fit(X) for _ in range(4)]
    bounds = [m.lower_bound_ for m in singles]
    assert len(set(np.round(bounds, 8))) > 1, "restarts should reach different optima"
    winner = singles[int(np.argmax(bounds))]
    assert best.lower_bound_ == max(bounds)
    assert_same_fit(best, winner, 1e-12)
    theirs = SkGaussianMixture(n_init=4, random_state=21, **kwargs).fit(X)
    assert_same_fit(best, theirs, RTOL)


@pytest.mark.parametrize("verbose", [1, 2])
def test_verbose_prints_sklearn_lines(verbose, capsys):
    X = blobs(100, 2, 2, seed=17)
    kwargs = {
        "n_components": 2,
        "n_init": 2,
        "init_params": "random",
        "random_state": 0,
        "verbose": verbose,
        "verbose_interval": 2,
    }
    GaussianMixture(**kwargs).fit(X)
    ours = capsys.readouterr().out
    SkGaussianMixture(**kwargs).fit(X)
    theirs = capsys.readouterr().out

    def mask(text):
        return re.sub(r"time lapse \d+\.\d+s", "time lapse <t>s", text)

    assert "Initialization 1" in ours
    assert "Iteration 2" in ours
    assert mask(ours) == mask(theirs)
