"""Validation at the public edge: one place that turns bad input into clear errors."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.utils.validation import validate_data

from emkit.exceptions import ValidationError

FLOAT_DTYPES = (np.float64, np.float32)


def check_X(estimator, X, *, reset, min_samples=1):
    """Validate a data matrix for ``estimator`` and return it as float64 or float32.

    Messages name ``X`` and say how to fix it; NaN gets its own message because missing
    values are not modelled yet.
    """
    if X is None:
        raise ValidationError("X is None; pass an array-like of shape (n_samples, n_features)")
    try:
        return validate_data(
            estimator,
            X,
            reset=reset,
            dtype=list(FLOAT_DTYPES),
            ensure_min_samples=min_samples,
        )
    except ValueError as err:
        msg = str(err)
        if "NaN" in msg:
            raise ValidationError(
                f"{msg} {type(estimator).__name__} does not model missing values yet: drop or "
                "impute the rows with NaN before fitting or predicting."
            ) from None
        if "infinity" in msg:
            raise ValidationError(f"{msg} Replace or drop the non-finite values in X.") from None
        if "could not convert" in msg or ("convert" in msg and "float" in msg):
            raise ValidationError(f"{msg} X must hold numbers only.") from None
        raise


def check_sample_weight(sample_weight, n_samples, dtype=np.float64):
    """Validate per-row weights: shape (n_samples,), finite, non-negative, positive sum.

    Returns None when ``sample_weight`` is None.
    """
    if sample_weight is None:
        return None
    try:
        w = np.asarray(sample_weight, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            "sample_weight must be an array-like of numbers of shape (n_samples,)"
        ) from None
    if w.ndim == 0:
        w = np.full(n_samples, float(w))
    if w.ndim != 1 or w.shape[0] != n_samples:
        raise ValidationError(
            f"sample_weight has shape {w.shape} but X has {n_samples} rows; pass one weight "
            "per row, shape (n_samples,)"
        )
    if not np.all(np.isfinite(w)):
        raise ValidationError("sample_weight contains NaN or infinity; weights must be finite")
    if np.any(w < 0):
        raise ValidationError(
            f"sample_weight has {int(np.sum(w < 0))} negative value(s); weights must be >= 0"
        )
    if not w.sum() > 0:
        raise ValidationError("sample_weight sums to zero; at least one row needs weight > 0")
    return w


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


def check_array_param(value, name, shape, *, finite=True):
    """Convert a parameter array and check its shape."""
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an array of numbers of shape {shape}") from None
    if arr.shape != tuple(shape):
        raise ValidationError(f"{name} has shape {arr.shape}; expected {tuple(shape)}")
    if finite and not np.all(np.isfinite(arr)):
        raise ValidationError(f"{name} contains NaN or infinity")
    return arr
