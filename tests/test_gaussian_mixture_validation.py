"""Bad input fails at the edge with a clear error naming the argument; state is never lost."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from conftest import FITTED_ARRAYS, blobs
from emkit import GaussianMixture, ValidationError

X_GOOD = blobs(40, 2, 2, seed=0)


def _with(row, col, value):
    X = X_GOOD.copy()
    X[row, col] = value
    return X


# (id, X, fit keyword arguments, error type, pattern the message must contain)
BAD_X = [
    ("all-nan column", np.c_[X_GOOD, np.full(40, np.nan)], ValidationError, r"column\(s\) 2"),
    ("inf", _with(5, 0, np.inf), ValidationError, r"X contains infinity"),
    ("minus-inf", _with(5, 0, -np.inf), ValidationError, r"X contains infinity"),
    ("1-D", X_GOOD[:, 0], ValidationError, r"X must be a 2-D array.*reshape"),
    ("3-D", X_GOOD.reshape(4, 10, 2), ValidationError, r"X must be a 2-D array.*3 dim"),
    ("scalar", 3.0, ValidationError, r"X must be a 2-D array"),
    ("no rows", np.empty((0, 2)), ValidationError, r"X has 0 sample"),
    ("no columns", np.empty((10, 0)), ValidationError, r"X has 0 feature"),
    ("strings", [["a", "b"], ["c", "d"], ["e", "f"]], ValidationError, r"X must hold numbers"),
    ("complex", X_GOOD + 1j, ValidationError, r"X contains complex"),
    ("ragged", [[1.0, 2.0], [3.0]], ValidationError, r"X must be a rectangular array"),
    ("None", None, ValidationError, r"X is None"),
]


@pytest.mark.parametrize(
    ("X", "error", "pattern"), [c[1:] for c in BAD_X], ids=[c[0] for c in BAD_X]
)
def test_bad_X_is_rejected_naming_X(X, error, pattern):
    with pytest.raises(error, match=pattern):
        GaussianMixture(2).fit(X)


def test_nan_is_a_missing_value_not_an_error():
    model = GaussianMixture(2, random_state=0).fit(_with(3, 1, np.nan))
    assert np.isfinite(model.score_samples(_with(0, 0, np.nan))).all()


def test_fewer_samples_than_components():
    with pytest.raises(ValidationError, match=r"n_samples >= n_components.*n_components = 5"):
        GaussianMixture(5).fit(X_GOOD[:3])


BAD_WEIGHTS = [
    ("negative", np.r_[-1.0, np.ones(39)], ValidationError, r"sample_weight .*negative"),
    ("nan", np.r_[np.nan, np.ones(39)], ValidationError, r"sample_weight contains NaN"),
    ("inf", np.r_[np.inf, np.ones(39)], ValidationError, r"sample_weight contains NaN or inf"),
    ("short", np.ones(39), ValidationError, r"sample_weight has shape \(39,\)"),
    ("2-D", np.ones((40, 1)), ValidationError, r"sample_weight has shape \(40, 1\)"),
    ("all zero", np.zeros(40), ValidationError, r"sample_weight sums to zero"),
    ("strings", ["a"] * 40, TypeError, r"sample_weight must be an array-like of numbers"),
]


@pytest.mark.parametrize(
    ("weights", "error", "pattern"), [c[1:] for c in BAD_WEIGHTS], ids=[c[0] for c in BAD_WEIGHTS]
)
def test_bad_sample_weight_is_rejected(weights, error, pattern):
    with pytest.raises(error, match=pattern):
        GaussianMixture(2).fit(X_GOOD, sample_weight=weights)


def test_fewer_positive_weights_than_components():
    weights = np.zeros(40)
    weights[[0, 1]] = 1.0
    with pytest.raises(ValidationError, match=r"sample_weight has 2 positive.*n_components = 3"):
        GaussianMixture(3).fit(X_GOOD, sample_weight=weights)


BAD_OPTIONS = [
    ({"covariance_type": "fulll"}, r"covariance_type must be one of .*'fulll'"),
    ({"covariance_type": None}, r"covariance_type must be one of"),
    ({"init_params": "kmean"}, r"init_params must be one of .*'kmean'"),
    ({"n_components": 0}, r"n_components must be an integer >= 1"),
    ({"n_components": 2.0}, r"n_components must be an integer"),
    ({"tol": -1.0}, r"tol must be a finite number >= 0"),
    ({"reg_covar": -1e-6}, r"reg_covar must be a finite number >= 0"),
    ({"max_iter": -1}, r"max_iter must be an integer >= 0"),
    ({"n_init": 0}, r"n_init must be an integer >= 1"),
    ({"chunk_size": 0}, r"chunk_size must be an integer >= 1"),
    ({"verbose_interval": 0}, r"verbose_interval must be an integer >= 1"),
    ({"random_state": "seed"}, r"random_state must be None, an int"),
]


@pytest.mark.parametrize(("kwargs", "pattern"), BAD_OPTIONS, ids=[str(k) for k, _ in BAD_OPTIONS])
def test_bad_option_is_rejected_naming_it(kwargs, pattern):
    with pytest.raises(ValidationError, match=pattern):
        GaussianMixture(**{"n_components": 2, **kwargs}).fit(X_GOOD)


PRECISION_SHAPES = {"full": (2, 2, 2), "tied": (2, 2), "diag": (2, 2), "spherical": (2,)}

BAD_INITS = [
    ("weights-shape", "full", {"weights_init": [1.0]}, r"weights_init has shape \(1,\)"),
    ("weights-sum", "full", {"weights_init": [0.2, 0.2]}, r"weights_init must sum to 1"),
    ("weights-range", "full", {"weights_init": [-0.2, 1.2]}, r"weights_init must lie in"),
    ("weights-nan", "full", {"weights_init": [np.nan, 1.0]}, r"weights_init contains NaN"),
    ("means-shape", "full", {"means_init": np.zeros((2, 3))}, r"means_init has shape \(2, 3\)"),
    ("means-K", "full", {"means_init": np.zeros((3, 2))}, r"means_init has shape \(3, 2\)"),
    ("means-inf", "full", {"means_init": [[0, np.inf], [1, 1]]}, r"means_init contains NaN"),
    *[
        (
            f"precisions-shape-{ct}",
            ct,
            {"precisions_init": np.ones((3, *shape[1:])) if ct != "tied" else np.eye(3)},
            r"precisions_init has shape",
        )
        for ct, shape in PRECISION_SHAPES.items()
    ],
    (
        "precisions-not-pd-full",
        "full",
        {"precisions_init": np.array([np.eye(2), [[1.0, 2.0], [2.0, 1.0]]])},
        r"precisions_init matrix 1 is not positive definite",
    ),
    (
        "precisions-not-pd-tied",
        "tied",
        {"precisions_init": [[1.0, 2.0], [2.0, 1.0]]},
        r"precisions_init matrix 0 is not positive definite",
    ),
    (
        "precisions-not-pd-diag",
        "diag",
        {"precisions_init": [[1.0, 1.0], [1.0, -1.0]]},
        r"precisions_init values 1 is not positive definite",
    ),
    (
        "precisions-not-pd-spherical",
        "spherical",
        {"precisions_init": [1.0, 0.0]},
        r"precisions_init values 1 is not positive definite",
    ),
    (
        "precisions-asymmetric",
        "full",
        {"precisions_init": np.array([np.eye(2), [[1.0, 0.2], [0.3, 1.0]]])},
        r"precisions_init matrix 1 is not symmetric",
    ),
]


@pytest.mark.parametrize(
    ("covariance_type", "kwargs", "pattern"),
    [c[1:] for c in BAD_INITS],
    ids=[c[0] for c in BAD_INITS],
)
def test_bad_initial_parameters_are_rejected_naming_them(covariance_type, kwargs, pattern):
    with pytest.raises(ValidationError, match=pattern):
        GaussianMixture(2, covariance_type=covariance_type, **kwargs).fit(X_GOOD)


def test_precisions_init_symmetric_to_rounding_is_accepted_at_any_scale():
    # A numerically inverted covariance of tiny data: asymmetric by rounding at the 1e12
    # scale of its entries.
    X = X_GOOD * 1e-6
    precision = np.linalg.inv(np.cov(X.T))
    precision[0, 1] *= 1 + 1e-12
    model = GaussianMixture(1, precisions_init=precision[None], max_iter=0).fit(X)
    np.testing.assert_array_equal(model.precisions_[0], model.precisions_[0].T)
    np.testing.assert_allclose(model.precisions_[0], precision, rtol=1e-10)


@pytest.mark.parametrize("method", ["predict", "predict_proba", "score_samples", "score"])
def test_methods_before_fit_raise_not_fitted(method):
    with pytest.raises(NotFittedError):
        getattr(GaussianMixture(2), method)(X_GOOD)


def test_sample_and_criteria_before_fit_raise_not_fitted():
    model = GaussianMixture(2)
    for call in (model.sample, lambda: model.bic(X_GOOD), lambda: model.aic(X_GOOD)):
        with pytest.raises(NotFittedError):
            call()


@pytest.mark.parametrize("method", ["predict", "predict_proba", "score_samples", "bic", "icl"])
def test_wrong_number_of_features_after_fit(method):
    model = GaussianMixture(2, random_state=0).fit(X_GOOD)
    with pytest.raises(ValidationError, match=r"X has 3 features.*expecting 2 features"):
        getattr(model, method)(np.ones((5, 3)))
    with pytest.raises(ValidationError, match=r"X contains infinity"):
        getattr(model, method)(_with(0, 0, np.inf))


@pytest.mark.parametrize("n_samples", [0, -1, 2.5, True])
def test_bad_n_samples_in_sample(n_samples):
    model = GaussianMixture(2, random_state=0).fit(X_GOOD)
    with pytest.raises(ValidationError, match="n_samples"):
        model.sample(n_samples)


def _state(model):
    return {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in vars(model).items()}


@pytest.mark.parametrize(
    ("X", "kwargs"),
    [
        (_with(0, 0, np.inf), {}),
        (np.ones((5, 3)), {"sample_weight": np.ones(4)}),
        (X_GOOD[:1], {}),
    ],
    ids=["inf", "bad-weights", "too-few-rows"],
)
def test_failed_fit_leaves_the_fitted_state_intact(X, kwargs):
    model = GaussianMixture(2, random_state=0).fit(X_GOOD)
    before = _state(model)
    labels = model.predict(X_GOOD)
    with pytest.raises(ValueError):
        model.fit(X, **kwargs)
    after = _state(model)
    assert after.keys() == before.keys()
    for key, value in before.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(after[key], value, err_msg=key)
        else:
            assert after[key] == value, key
    for name in FITTED_ARRAYS:
        assert getattr(model, name) is before[name] or np.array_equal(
            getattr(model, name), before[name]
        )
    np.testing.assert_array_equal(model.predict(X_GOOD), labels)


def test_failed_fit_with_bad_option_leaves_the_fitted_state_intact():
    model = GaussianMixture(2, random_state=0).fit(X_GOOD)
    means = model.means_.copy()
    model.set_params(covariance_type="bogus")
    with pytest.raises(ValidationError):
        model.fit(X_GOOD)
    model.set_params(covariance_type="full")
    np.testing.assert_array_equal(model.means_, means)
    assert model.n_features_in_ == 2


def test_failed_first_fit_leaves_the_estimator_unfitted():
    model = GaussianMixture(2)
    with pytest.raises(ValidationError):
        model.fit(_with(0, 0, np.inf))
    with pytest.raises(NotFittedError):
        model.predict(X_GOOD)
    assert not hasattr(model, "n_features_in_")


@pytest.mark.parametrize(
    ("change", "X", "pattern"),
    [
        ({}, np.ones((10, 3)), r"2 features \(X has 3\)"),
        ({"n_components": 3}, X_GOOD, r"2 components \(n_components is now 3\)"),
        ({"covariance_type": "diag"}, X_GOOD, r"covariance_type='diag' needs \(2, 2\)"),
    ],
    ids=["features", "n_components", "covariance_type"],
)
def test_warm_start_that_cannot_continue_is_rejected(change, X, pattern):
    model = GaussianMixture(2, warm_start=True, random_state=0).fit(X_GOOD)
    before = _state(model)
    model.set_params(**change)
    with pytest.raises(ValidationError, match=r"warm_start=True continues.*" + pattern):
        model.fit(X)
    np.testing.assert_array_equal(model.means_, before["means_"])
    assert model.n_features_in_ == 2
