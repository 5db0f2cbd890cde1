"""Turn what a user passes as ``X`` into a block source: in memory, memory-mapped, or Dask.

In-memory arrays are validated with scikit-learn's rules (so estimator checks hold). A
``numpy.memmap``, a path to a ``.npy`` file, or a Dask array is streamed instead: validated
block by block, never loaded whole, and initialised from a uniform sample of rows.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from sklearn.utils import check_random_state

from emkit import _validation as v
from emkit.engine.dask_source import DaskSource, is_dask_collection, require_dask
from emkit.engine.sources import ArraySource
from emkit.exceptions import ValidationError

# Rows drawn (uniformly, without replacement) to initialise a fit of out-of-core data.
INIT_SAMPLE_ROWS = 100_000


def is_out_of_core(X):
    """True when ``X`` is streamed rather than validated in memory."""
    return isinstance(X, (np.memmap, str, os.PathLike)) or is_dask_collection(X)


def open_array(X):
    """Open a path to a ``.npy`` file as a read-only memory map; pass other inputs through."""
    if not isinstance(X, (str, os.PathLike)):
        return X
    path = os.fspath(X)
    if not path.endswith(".npy"):
        raise ValidationError(
            f"X is the path {path!r}; emkit streams NumPy .npy files only (np.save the array, "
            "or load it yourself and pass the array)"
        )
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except FileNotFoundError:
        raise ValidationError(f"X: no such file {path!r}") from None
    except (ValueError, OSError) as err:
        raise ValidationError(f"X: cannot read {path!r} as a .npy array ({err})") from None


def _check_layout(X, name="X"):
    shape = tuple(X.shape)
    if len(shape) != 2:
        raise ValidationError(
            f"{name} must be 2-D of shape (n_samples, n_features), got shape {shape}"
        )
    if shape[0] == 0 or shape[1] == 0:
        raise ValidationError(f"{name} is empty (shape {shape}); it needs rows and columns")
    if np.dtype(X.dtype).kind not in "fiu":
        raise TypeError(f"{name} has dtype {X.dtype}; it must hold numbers")


@dataclass(frozen=True)
class Missingness:
    """What a pass over streamed rows found of missing (NaN) values.

    Attributes
    ----------
    empty_rows : int
        Rows with every value missing.
    observed : ndarray of shape (n_features,)
        Observed (non-NaN) values per column.
    """

    empty_rows: int
    observed: np.ndarray

    def __add__(self, other):
        return Missingness(self.empty_rows + other.empty_rows, self.observed + other.observed)


def missingness(block, start=0):
    """:class:`Missingness` of the block of float rows from row ``start``; infinity is an error."""
    block = np.asarray(block)
    if block.dtype.kind != "f":
        return Missingness(0, np.full(block.shape[1], block.shape[0], dtype=np.int64))
    if np.isinf(block).any():
        bad = int(np.flatnonzero(np.isinf(block).any(axis=1))[0])
        raise ValidationError(
            f"X contains infinity (first at row {start + bad}); replace or drop the non-finite "
            "values"
        )
    miss = np.isnan(block)
    observed = block.shape[0] - np.count_nonzero(miss, axis=0).astype(np.int64)
    return Missingness(int(np.count_nonzero(miss.all(axis=1))), observed)


def _checked_missingness(block, check, start):
    if check is not None:
        check(block)
    return missingness(block, start)


def _stream_finite(X, chunk, check):
    total = None
    for start in range(0, X.shape[0], chunk):
        found = _checked_missingness(np.asarray(X[start : start + chunk]), check, start)
        total = found if total is None else total + found
    return total


def streamed_source(estimator, X, sample_weight, chunk_for, *, reset, check=None):
    """Validate a streamed ``X`` (memmap, .npy path or Dask array) and return its source.

    ``chunk_for(n_features)`` gives the rows per block; ``check(block)``, when given, is
    applied to every block (on the workers for Dask) and raises on bad values; it then
    runs before the check for infinity (NaN is a missing value). A column with no observed
    value is an error when ``reset``; the source's ``missingness`` attribute holds the
    :class:`Missingness` found.
    """
    X = open_array(X)
    _check_layout(X)
    d = int(X.shape[1])
    chunk = chunk_for(d)
    if not reset and d != estimator.n_features_in_:
        raise ValidationError(
            f"X has {d} features, but {type(estimator).__name__} is expecting "
            f"{estimator.n_features_in_} features as input."
        )
    if is_dask_collection(X):
        dask, da = require_dask()
        if np.dtype(X.dtype) not in (np.float32, np.float64):
            X = X.astype(np.float64)
        X = X.rechunk({1: -1})
        starts = np.concatenate([[0], np.cumsum(X.chunks[0])[:-1]]).tolist()
        task = dask.delayed(_checked_missingness)
        blocks = X.to_delayed().ravel()
        found = dask.compute(*[task(b, check, s) for b, s in zip(blocks, starts, strict=True)])
        summary = sum(found[1:], found[0])
        w = None
        if sample_weight is not None:
            w = sample_weight
            if not is_dask_collection(w):
                w = v.check_sample_weight(w, int(X.shape[0]))
            elif not bool(((w >= 0) & da.isfinite(w)).all().compute()):
                raise ValidationError("sample_weight must be finite and >= 0")
        source = DaskSource(X, w)
    else:
        if check is None and np.dtype(X.dtype) not in (np.float32, np.float64):
            raise TypeError(
                f"X is a memory map of dtype {X.dtype}; emkit streams float32/float64 data "
                "only: convert the file once (np.save(path, X.astype(np.float64)))"
            )
        summary = _stream_finite(X, chunk, check)
        w = v.check_sample_weight(sample_weight, int(X.shape[0]))
        source = ArraySource(X, w, chunk)
    if reset:
        v.check_observed_columns(summary.observed)
        estimator.n_features_in_ = d
        if hasattr(estimator, "feature_names_in_"):
            del estimator.feature_names_in_
    source.missingness = summary
    return source


def sample_sequences(X, lengths, random_state):
    """Whole sequences drawn uniformly until about ``INIT_SAMPLE_ROWS`` rows, in memory.

    Parameters
    ----------
    X : dask.array.Array or numpy.memmap of shape (n_samples, n_features)
        Stacked sequences.
    lengths : ndarray of shape (n_sequences,)
    random_state : int, RandomState instance or None

    Returns
    -------
    rows : ndarray of shape (m, n_features)
        The chosen sequences, stacked in their original order.
    lengths : ndarray of shape (n_chosen,)
    """
    rng = check_random_state(random_state)
    lengths = np.asarray(lengths, dtype=np.int64)
    order = rng.permutation(len(lengths))
    take = np.searchsorted(np.cumsum(lengths[order]), INIT_SAMPLE_ROWS) + 1
    chosen = np.sort(order[:take])
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    idx = np.concatenate([np.arange(offsets[s], offsets[s + 1]) for s in chosen])
    rows = X[idx]
    return np.asarray(rows.compute() if is_dask_collection(rows) else rows), lengths[chosen]


def check_labels(labels, n_samples, n_classes, what="component"):
    """Validate known ``labels`` (-1 unknown); None when absent or when none is known.

    Parameters
    ----------
    labels : array-like of int of shape (n_samples,), Dask array or None
        The known ``what`` of each row, or -1. A Dask array is checked (one pass) and
        returned lazy, chunked as the caller chunks it.
    n_samples : int
    n_classes : int
        Labels must lie in ``[-1, n_classes - 1]``.
    what : str
        What a label names (``'component'`` or ``'state'``), for the messages.

    Returns
    -------
    ndarray of int64 of shape (n_samples,), a Dask array, or None
        None when ``labels`` is None or every entry is -1: the fit is then exactly the
        unsupervised one.
    """
    if labels is None:
        return None
    lazy = is_dask_collection(labels)
    shape = tuple(labels.shape) if lazy else np.shape(labels)
    if len(shape) != 1 or shape[0] != n_samples:
        raise ValidationError(
            f"labels has shape {shape} but X has {n_samples} rows; pass one label per row "
            f"(its known {what}, or -1 where unknown), shape ({n_samples},)"
        )
    if lazy:
        dask, _ = require_dask()
        if np.dtype(labels.dtype).kind not in "iu":
            raise TypeError(f"labels must hold integers (a {what} or -1), got {labels.dtype}")
        low, high = (int(x) for x in dask.compute(labels.min(), labels.max()))
        arr = labels
    else:
        arr = np.asarray(labels)
        if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        if arr.dtype.kind not in "iu":
            raise TypeError(f"labels must hold integers (a {what} or -1), got {arr.dtype}")
        arr = np.ascontiguousarray(arr, dtype=np.int64)
        low, high = (int(arr.min()), int(arr.max())) if arr.size else (-1, -1)
    if low < -1 or high >= n_classes:
        bad = low if low < -1 else high
        raise ValidationError(
            f"labels must lie in [-1, {n_classes - 1}] (a {what} index, or -1 for unknown), "
            f"found {bad}; there are {n_classes} {what}s"
        )
    if high < 0:
        return None
    return arr


#: Relative tolerance of the symmetry and positive-semidefiniteness checks of noise covariances.
NOISE_RTOL = 1e-10


def _bad_noise_rows(S, start):
    """Raise naming the first row of ``S`` (a block from row ``start``) that is no covariance."""
    S = np.asarray(S, dtype=np.float64)
    if not np.all(np.isfinite(S)):
        row = int(np.flatnonzero(~np.isfinite(S.reshape(len(S), -1)).all(axis=1))[0])
        raise ValidationError(
            f"noise_covariance contains NaN or infinity (row {start + row}); every row needs "
            "a finite noise covariance"
        )
    if S.ndim == 2:
        bad = np.flatnonzero((S < 0).any(axis=1))
        what = "negative variance"
    else:
        scale = np.abs(S).max(axis=(1, 2)) + np.finfo(np.float64).tiny
        asym = np.abs(S - S.transpose(0, 2, 1)).max(axis=(1, 2)) > NOISE_RTOL * scale
        if asym.any():
            row = int(np.flatnonzero(asym)[0])
            raise ValidationError(
                f"noise_covariance[{start + row}] is not symmetric; pass symmetric covariance "
                "matrices (or variances of shape (n_samples, n_features))"
            )
        bad = np.flatnonzero(np.linalg.eigvalsh(S)[:, 0] < -NOISE_RTOL * scale)
        what = "negative eigenvalue"
    if bad.size:
        raise ValidationError(
            f"noise_covariance[{start + int(bad[0])}] is not positive semi-definite (it has a "
            f"{what}); pass covariance matrices"
        )
    return True


def check_noise_covariance(S, n_samples, n_features, chunk):
    """Validate per-row noise covariances: (n, d, d) matrices or (n, d) variances.

    In memory it is returned as float64; a memory map, a ``.npy`` path or a Dask array is
    checked block by block (``chunk`` rows at a time) and returned unread.

    Raises
    ------
    ValidationError
        For a wrong shape, a non-finite value, or a row that is not symmetric positive
        semi-definite, naming the row.
    """
    if S is None:
        return None
    S = open_array(S)
    lazy = is_dask_collection(S) or isinstance(S, np.memmap)
    if not lazy:
        try:
            S = np.asarray(S, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError("noise_covariance must be an array of numbers") from None
    shape = tuple(S.shape)
    n, d = n_samples, n_features
    if shape not in ((n, d, d), (n, d)):
        raise ValidationError(
            f"noise_covariance has shape {shape}; X has {n} rows and {d} features, so pass "
            f"covariances of shape ({n}, {d}, {d}) or variances of shape ({n}, {d})"
        )
    if is_dask_collection(S):
        dask, _ = require_dask()
        S = S.rechunk((chunk, *((-1,) * (S.ndim - 1))))
        starts = np.concatenate([[0], np.cumsum(S.chunks[0])[:-1]]).tolist()
        task = dask.delayed(_bad_noise_rows)
        blocks = S.to_delayed().ravel()
        dask.compute(*[task(b, s) for b, s in zip(blocks, starts, strict=True)])
        return S
    for start in range(0, n, chunk):
        _bad_noise_rows(S[start : start + chunk], start)
    return S
