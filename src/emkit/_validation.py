"""Validation at the public edge: one place that turns bad input into clear errors."""

from __future__ import annotations

import numbers
import warnings

import numpy as np
from sklearn.utils import check_random_state as sklearn_check_random_state
from sklearn.utils.validation import validate_data

from emkit.exceptions import ValidationError
from emkit.families.base import has_missing

FLOAT_DTYPES = (np.float64, np.float32)


def check_X(estimator, X, *, reset, min_samples=1, allow_nan=True):
    """Validate a data matrix for ``estimator`` and return it as float64 or float32.

    NaN marks a missing value: allowed unless ``allow_nan`` is false, but a column with no
    observed value at all is an error when ``reset`` (in ``fit``). Infinity is always an
    error.

    Parameters
    ----------
    estimator : object
        The estimator (its ``n_features_in_`` is set when ``reset``, checked otherwise).
    X : array-like of shape (n_samples, n_features)
    reset : bool
        True in ``fit``, False in prediction methods.
    min_samples : int, default=1
    allow_nan : bool, default=True
        Whether NaN (a missing value) is accepted.

    Returns
    -------
    ndarray of shape (n_samples, n_features), float64 or float32.

    Raises
    ------
    ValidationError
        With a message that names ``X`` and says how to fix it.
    """
    name = type(estimator).__name__
    if X is None:
        raise ValidationError("X is None; pass an array-like of shape (n_samples, n_features)")
    try:
        X = validate_data(
            estimator,
            X,
            reset=reset,
            dtype=list(FLOAT_DTYPES),
            ensure_all_finite=False,
            ensure_min_samples=min_samples,
        )
    except ValueError as err:
        raise _explain_bad_X(err, X, name, min_samples) from None
    clean = _check_finite(X, name, allow_nan)
    if reset and allow_nan and not clean and has_missing(X):
        check_observed_columns(np.count_nonzero(~np.isnan(X), axis=0))
    return X


def _explain_bad_X(err, X, name, min_samples):
    """A :class:`ValidationError` naming ``X`` for an error raised while converting it."""
    full = str(err).strip()
    msg = full.split("\n")[0]
    if "feature names" in msg.lower():
        # Keep scikit-learn's detail: which names are unseen, missing or out of order.
        return ValidationError(f"{full}\nPass X with the columns it was fitted on, in that order.")
    try:
        shape = np.shape(X)
    except ValueError:  # ragged nested sequences
        return ValidationError(f"X must be a rectangular array of numbers: {msg}")
    if "features, but" in msg:
        return ValidationError(f"{msg} Pass X with the columns it was fitted on.")
    if "Complex data" in msg:
        return ValidationError(
            "X contains complex numbers. Complex data not supported; pass real numbers only"
        )
    if "convert" in msg:
        return ValidationError(f"X must hold numbers only ({msg})")
    if len(shape) != 2:
        return ValidationError(
            f"X must be a 2-D array of shape (n_samples, n_features) but has {len(shape)} "
            f"dimension(s) (shape={shape}). Reshape your data with X.reshape(-1, 1) if it "
            "holds a single feature or X.reshape(1, -1) if it holds a single sample"
        )
    if shape[0] < min_samples:
        return ValidationError(
            f"X has {shape[0]} sample(s) (shape={shape}) while a minimum of {min_samples} "
            f"is required by {name}; pass a non-empty array of shape (n_samples, n_features)"
        )
    if shape[1] == 0:
        return ValidationError(
            f"X has 0 feature(s) (shape={shape}) while a minimum of 1 is required; pass at "
            "least one column of numbers"
        )
    return ValidationError(f"invalid X: {msg}")


def _check_finite(X, name, allow_nan=False):
    """Raise if ``X`` holds infinity, or NaN unless ``allow_nan``; one cheap pass when clean.

    Returns True when every value is finite (False: NaN, allowed, is there).
    """
    if X.size == 0 or np.isfinite(np.sum(X, dtype=np.float64)):
        return True
    nan_rows = 0 if allow_nan else int(np.count_nonzero(np.isnan(X).any(axis=1)))
    if nan_rows:
        raise ValidationError(
            f"X contains NaN in {nan_rows} row(s); {name} does not model missing values: "
            "drop or impute the rows with NaN before fitting or predicting."
        )
    inf_rows = int(np.count_nonzero(np.isinf(X).any(axis=1)))
    if inf_rows:
        raise ValidationError(
            f"X contains infinity in {inf_rows} row(s); replace or drop the non-finite values in X."
        )
    return False


def check_observed_columns(observed):
    """Raise if a column has no observed value; ``observed`` counts them (None: all observed)."""
    if observed is None:
        return
    empty = np.flatnonzero(np.asarray(observed) == 0)
    if empty.size:
        raise ValidationError(
            f"X has no observed value in column(s) {', '.join(map(str, empty[:10].tolist()))} "
            "(every entry is NaN): nothing can be estimated for them; drop those columns."
        )


def warn_empty_rows(n_empty, n_rows):
    """One warning that ``n_empty`` rows with every value missing are left out (if any)."""
    if n_empty:
        warnings.warn(
            f"{n_empty} of {n_rows} row(s) of X have every value missing (NaN); they carry no "
            "information and are left out of the fit.",
            UserWarning,
            stacklevel=5,
        )


def check_sample_weight(sample_weight, n_samples, dtype=np.float64, unit="row"):
    """Validate weights, one per ``unit`` (row or sequence): finite, >= 0, positive sum.

    Parameters
    ----------
    sample_weight : array-like of shape (n_samples,), scalar or None
    n_samples : int
        How many weights are expected.
    unit : {'row', 'sequence'}
        What each weight belongs to, for the messages.

    Returns
    -------
    ndarray of shape (n_samples,) or None when ``sample_weight`` is None.
    """
    if sample_weight is None:
        return None
    try:
        w = np.asarray(sample_weight, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"sample_weight must be an array-like of numbers, one per {unit}") from None
    if w.ndim == 0:
        w = np.full(n_samples, float(w))
    if w.ndim != 1 or w.shape[0] != n_samples:
        where = f"X has {n_samples} rows" if unit == "row" else f"there are {n_samples} {unit}s"
        raise ValidationError(
            f"sample_weight has shape {w.shape} but {where}; pass one weight per {unit}, "
            f"shape ({n_samples},)"
        )
    if not np.all(np.isfinite(w)):
        raise ValidationError("sample_weight contains NaN or infinity; weights must be finite")
    if np.any(w < 0):
        raise ValidationError(
            f"sample_weight has {int(np.sum(w < 0))} negative value(s); weights must be >= 0"
        )
    if not w.sum() > 0:
        raise ValidationError(f"sample_weight sums to zero; at least one {unit} needs weight > 0")
    return w


def check_random_state(value):
    """A ``numpy.random.RandomState`` from ``random_state`` (None, an int or an instance)."""
    try:
        return sklearn_check_random_state(value)
    except ValueError:
        raise ValidationError(
            "random_state must be None, an int or a numpy.random.RandomState instance, "
            f"got {value!r}"
        ) from None


def check_choice(value, name, options):
    """Raise if ``value`` is not one of ``options``."""
    if not isinstance(value, str) or value not in options:
        raise ValidationError(f"{name} must be one of {list(options)}, got {value!r}")
    return value


def check_int(value, name, minimum, allow_none=False):
    """Raise if ``value`` is not an integer >= ``minimum``."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValidationError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_real(value, name, minimum, strict=False):
    """Raise if ``value`` is not a real number >= ``minimum`` (> if ``strict``)."""
    bad = isinstance(value, bool) or not isinstance(value, numbers.Real)
    if not bad:
        bad = not np.isfinite(value) or (value <= minimum if strict else value < minimum)
    if bad:
        op = ">" if strict else ">="
        raise ValidationError(f"{name} must be a finite number {op} {minimum}, got {value!r}")
    return float(value)


def check_array_param(value, name, shape, *, finite=True, sklearn_name=None):
    """Convert a parameter array and check its shape.

    ``sklearn_name`` (e.g. ``'weights'``) starts a shape error with scikit-learn's wording for
    that parameter, so code matching scikit-learn's messages keeps working.
    """
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an array of numbers of shape {shape}") from None
    if arr.shape != tuple(shape):
        prefix = ""
        if sklearn_name:
            prefix = (
                f"The parameter '{sklearn_name}' should have the shape of {tuple(shape)}, but "
                f"got {arr.shape}: "
            )
        raise ValidationError(f"{prefix}{name} has shape {arr.shape}; expected {tuple(shape)}")
    if finite and not np.all(np.isfinite(arr)):
        raise ValidationError(f"{name} contains NaN or infinity")
    return arr
