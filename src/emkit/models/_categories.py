"""Categorical columns at the edge: learn each column's categories, encode values as codes.

Values may be numbers, strings or pandas categoricals; a missing answer is None, NaN or a
pandas missing value and becomes NaN. Codes are float64 (``0 .. M_j - 1``), the form the
categorical items family reads.
"""

from __future__ import annotations

import numpy as np

from emkit.engine.dask_source import is_dask_collection, require_dask
from emkit.exceptions import ValidationError


def columns_of(X, name="X"):
    """``(columns, names)``: a list of 1-D arrays and the string column names (or None)."""
    if hasattr(X, "columns") and hasattr(X, "iloc"):  # a pandas DataFrame
        names = [str(c) for c in X.columns]
        if not all(isinstance(c, str) for c in X.columns):
            names = None
        cols = [_pandas_column(X.iloc[:, j]) for j in range(X.shape[1])]
        return cols, names
    try:
        arr = np.asarray(X)
    except ValueError:
        raise ValidationError(
            f"{name} must be a rectangular table (n_samples, n_columns)"
        ) from None
    if arr.ndim != 2:
        raise ValidationError(
            f"{name} must be 2-D of shape (n_samples, n_columns), got shape {arr.shape}; use "
            "X.reshape(-1, 1) for a single column"
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValidationError(f"{name} is empty (shape {arr.shape}); it needs rows and columns")
    return [arr[:, j] for j in range(arr.shape[1])], None


def _pandas_column(series):
    if str(series.dtype) == "category":
        values = np.asarray(series.astype(object))
        return _Categorical(values, np.asarray(series.cat.categories, dtype=object))
    return np.asarray(series.astype(object) if series.dtype == object else series)


class _Categorical(np.ndarray):
    """A column of values that carries its declared categories (from a pandas categorical)."""

    def __new__(cls, values, categories):
        obj = np.asarray(values).view(cls)
        obj.declared = categories
        return obj

    def __array_finalize__(self, obj):
        self.declared = getattr(obj, "declared", None)


def missing_mask(col):
    """True where a value is missing (None, NaN, pandas NA/NaT); infinity is refused."""
    col = np.asarray(col)
    if col.dtype.kind == "f":
        if np.isinf(col).any():
            raise ValidationError(
                "X contains infinity; a categorical column holds categories (NaN or None for "
                "a missing answer)"
            )
        return np.isnan(col)
    if col.dtype.kind in "iub":
        return np.zeros(col.shape, dtype=bool)
    return np.fromiter((_is_missing(x) for x in col), dtype=bool, count=col.shape[0])


def _is_missing(x):
    if x is None:
        return True
    try:
        return bool(x != x)  # NaN, NaT and pandas NA compare unequal to themselves
    except TypeError:
        return True


#: Whole-number columns with values in ``[0, _SMALL)`` are counted instead of sorted.
_SMALL = 1 << 16


def _small_whole_numbers(values):
    """``values`` as int64 when all are whole numbers in ``[0, _SMALL)``, else None."""
    if values.dtype.kind not in "fiu" or values.size == 0:
        return None
    if not (values.min() >= 0 and values.max() < _SMALL):
        return None
    ints = values.astype(np.int64)
    if values.dtype.kind == "f" and not np.array_equal(ints, values):
        return None
    return ints


def learn_categories(col, j):
    """Sorted distinct observed values of column ``j`` (a pandas categorical's own order)."""
    declared = getattr(col, "declared", None)
    if declared is not None:
        return declared
    observed = np.asarray(col)[~missing_mask(col)]
    ints = _small_whole_numbers(observed)
    if ints is not None:  # codes: counting is much faster than sorting
        return np.flatnonzero(np.bincount(ints)).astype(observed.dtype)
    if observed.size == 0:
        raise ValidationError(
            f"column {j} of X has no observed value; drop it (a column with only missing "
            "answers carries no information)"
        )
    try:
        return np.unique(observed)
    except TypeError:
        raise ValidationError(
            f"column {j} of X mixes values that cannot be ordered (e.g. numbers and strings); "
            "give each column values of one type"
        ) from None


def encode(col, categories, j):
    """Codes of column ``j`` against ``categories`` (float64, NaN where missing)."""
    col = np.asarray(col)
    missing = missing_mask(col)
    values = col[~missing]
    cats = np.asarray(categories)
    out = np.full(col.shape[0], np.nan)
    ints, known_ints = _small_whole_numbers(values), _small_whole_numbers(cats)
    if ints is not None and known_ints is not None and values.size:
        lookup = np.full(max(int(ints.max()), int(known_ints.max())) + 1, -1, dtype=np.int64)
        lookup[known_ints] = np.arange(len(cats))
        pos = lookup[ints]
        if np.all(pos >= 0):
            out[~missing] = pos
            return out
    if values.size:
        try:
            order = np.argsort(cats, kind="stable")
            found = np.searchsorted(cats, values, sorter=order)
            pos = order[np.clip(found, 0, len(cats) - 1)]
            known = cats[pos] == values
        except TypeError:
            pos, known = np.zeros(values.size, dtype=np.intp), np.zeros(values.size, dtype=bool)
        if not np.all(known):
            bad = values[np.flatnonzero(~known)[0]]
            raise ValidationError(
                f"column {j} of X has the category {bad!r}, which was not seen in fit (known: "
                f"{_preview(cats)}); refit with data that contains it, or map it to a known "
                "category or to a missing value"
            )
        out[~missing] = pos
    return out


def _preview(cats, most=8):
    shown = ", ".join(repr(c) for c in cats[:most])
    return shown + (", ..." if len(cats) > most else "")


def code_ranges(X, columns=None):
    """Categories of columns of a streamed array of codes ``0 .. M-1``: ``max + 1`` each.

    ``columns`` (indices) restricts the pass to those columns; it reads the array in blocks.
    """
    cols = np.arange(X.shape[1]) if columns is None else np.asarray(columns, dtype=np.intp)
    if is_dask_collection(X):
        _, da = require_dask()
        top = np.asarray(da.nanmax(X[:, cols], axis=0).compute(), dtype=np.float64)
    else:
        top = np.full(cols.size, -np.inf)
        for start in range(0, X.shape[0], 65536):
            block = np.asarray(X[start : start + 65536], dtype=np.float64)[:, cols]
            top = np.fmax(top, np.nanmax(np.where(np.isnan(block), -np.inf, block), axis=0))
    if not np.all(np.isfinite(top)) or np.any(top < 0):
        raise ValidationError(
            "a memory-mapped or Dask X holds categorical columns as codes 0 .. M_j - 1 (NaN "
            "for missing); some categorical column has no observed code or a negative one"
        )
    return (top.astype(np.int64) + 1).tolist()
