"""Categorical items: several categorical columns, independent given the component.

The measurement model of latent class analysis (poLCA, StepMix): column ``j`` takes one of
``M_j`` categories, coded ``0 .. M_j - 1``, and a missing answer (NaN) is left out of its
row's likelihood. Statistics are the posterior-weighted category counts of every item (one
(K, sum_j M_j) table); the M-step divides each item's counts by their total, which is the
exact maximiser with missing answers too (a missing answer adds to no category).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emkit.families.base import (
    TINY_COUNT,
    FamilyBase,
    Stats,
    draw_rows,
    log_probabilities,
    reject_bad_values,
)
from emkit.families.covariance import get_kernels
from emkit.kernels import discrete_numba


@dataclass(frozen=True)
class ItemParams:
    """``probabilities[k, offsets[j] + m] = P(item j = category m | component k)``.

    Parameters
    ----------
    probabilities : ndarray of shape (K, sum_j M_j)
        Each item's block of columns sums to one in every row.
    """

    probabilities: np.ndarray


@dataclass
class ItemStats(Stats):
    """Additive statistics: ``counts`` (K,) posterior mass, ``table`` (K, sum_j M_j)."""

    counts: np.ndarray
    table: np.ndarray


class CategoricalItemsFamily(FamilyBase):
    """Independent categorical items with ``n_categories[j]`` categories each.

    Parameters
    ----------
    n_categories : sequence of int
        Categories of each column (at least one each).
    """

    param_names = ("probabilities",)

    def __init__(self, n_categories):
        self.n_categories = tuple(int(m) for m in n_categories)
        self.offsets = np.concatenate([[0], np.cumsum(self.n_categories)]).astype(np.intp)

    def split(self, flat):
        """Per-item tables ``[(K, M_j), ...]`` of a (K, sum_j M_j) array."""
        return [flat[:, a:b] for a, b in zip(self.offsets[:-1], self.offsets[1:], strict=True)]

    def check_data(self, X, name="X"):
        """Codes ``0 .. M_j - 1`` per column, NaN for a missing answer; returned as float64.

        The family also reads :meth:`integer_codes` (-1 for missing), its fastest input.
        """
        X = np.asarray(X, dtype=np.float64)
        top = np.asarray(self.n_categories, dtype=np.float64)
        ok = np.isnan(X) | ((X >= 0) & (X < top) & (X == np.floor(X)))
        what = "category codes 0 .. n_categories - 1 of each column (NaN for missing)"
        reject_bad_values(X, ~ok, name, what, "encode each column's categories as 0, 1, ...")
        return X

    def integer_codes(self, X):
        """Codes as a C-ordered integer array, -1 for a missing answer (NaN or negative)."""
        X = np.asarray(X)
        dtype = np.int16 if self.offsets[-1] < 2**15 else np.int32
        if X.dtype == dtype:
            return np.ascontiguousarray(X)
        missing = (X < 0) if X.dtype.kind in "iu" else (np.isnan(X) | (X < 0))
        return np.ascontiguousarray(np.where(missing, -1, X).astype(dtype))

    def _codes(self, X):
        """Flat column index of every answer (missing answers point at column 0) and the mask."""
        codes = self.integer_codes(X)
        observed = codes >= 0
        return np.where(observed, codes, 0).astype(np.intp) + self.offsets[:-1], observed

    def log_likelihood(self, params, X):
        """Log-probabilities of the rows' observed answers, shape (n, K)."""
        index, observed = self._codes(X)
        logp = log_probabilities(params.probabilities)
        out = np.zeros((index.shape[0], logp.shape[0]))
        for j in range(index.shape[1]):
            out += np.where(observed[:, j, None], logp[:, index[:, j]].T, 0.0)
        return out

    def expect_mixture(self, params, log_weights, X, w):
        """One compiled pass over the block (the generic NumPy pass with ``'numpy'`` kernels)."""
        if get_kernels() == "numpy":
            return super().expect_mixture(params, log_weights, X, w)
        logp_t = np.ascontiguousarray(log_probabilities(params.probabilities).T)
        weights = np.empty(0) if w is None else np.ascontiguousarray(w, dtype=np.float64)
        ll, counts, table_t, worst, row = discrete_numba.items_estep(
            self.integer_codes(X),
            self.offsets[:-1].astype(np.int64),
            weights,
            logp_t,
            np.ascontiguousarray(log_weights, dtype=np.float64),
        )
        return ll, ItemStats(counts, np.ascontiguousarray(table_t.T)), worst, row

    def accumulate(self, params, X, wresp):
        """Weighted category counts of every item, under ``wresp`` of shape (n, K)."""
        index, observed = self._codes(X)
        K = wresp.shape[1]
        table = np.zeros((K, self.offsets[-1]))
        for j, (a, m) in enumerate(zip(self.offsets[:-1], self.n_categories, strict=True)):
            onehot = (index[:, j, None] == a + np.arange(m)) & observed[:, j, None]
            table[:, a : a + m] = wresp.T @ onehot.astype(np.float64)
        return ItemStats(wresp.sum(axis=0), table)

    def maximize(self, stats, params, fixed=frozenset(), empty=()):
        """Each item's counts over their total (items never answered keep ``params``)."""
        if "probabilities" in fixed:
            return params
        out = np.empty_like(stats.table)
        for a, b in zip(self.offsets[:-1], self.offsets[1:], strict=True):
            block = stats.table[:, a:b]
            total = block.sum(axis=1, keepdims=True)
            uniform = np.full_like(block, 1.0 / (b - a))
            old = uniform if params is None else params.probabilities[:, a:b]
            out[:, a:b] = np.where(total > TINY_COUNT, block / np.maximum(total, TINY_COUNT), old)
        empty = np.asarray(empty, dtype=np.intp)
        if empty.size and params is not None:
            out[empty] = params.probabilities[empty]
        return ItemParams(out)

    def reseed(self, params, k, row, stats):
        """Component ``k`` moved towards ``row``: half its answers, half the overall shares."""
        overall = self.maximize(
            ItemStats(stats.counts.sum(keepdims=True), stats.table.sum(axis=0, keepdims=True)),
            None,
        ).probabilities[0]
        index, observed = self._codes(np.asarray(row, dtype=np.float64)[None, :])
        answers = np.zeros_like(overall)
        answers[index[0, observed[0]]] = 1.0
        mine = np.repeat(observed[0], self.n_categories)
        p = params.probabilities.copy()
        p[k] = np.where(mine, 0.5 * answers + 0.5 * overall, overall)
        return ItemParams(p)

    def n_parameters(self, n_components, n_features=None):
        """Free parameters: ``K * sum_j (M_j - 1)``."""
        return n_components * int(sum(m - 1 for m in self.n_categories))

    def sample(self, params, k, n, rng):
        """Draw ``n`` rows of codes from component ``k``, shape (n, J), float64."""
        out = np.empty((n, len(self.n_categories)))
        for j, table in enumerate(self.split(params.probabilities)):
            cdf = np.cumsum(table[k])
            cdf[-1] = 1.0
            out[:, j] = np.searchsorted(cdf, rng.random_sample(n), side="right")
        return out

    def empty_rows(self, X):
        """Rows with no answer at all, as a bool mask; None when no answer is missing."""
        codes = self.integer_codes(X)
        if not (codes < 0).any():
            return None
        return (codes < 0).all(axis=1)

    def init_gaps(self, X):
        """None: the initial assignment and statistics read missing answers as they are."""
        return None

    def impute(self, params, X, resp, rng=None):
        """Codes with each missing answer filled in, given each row's posterior ``resp``.

        The most probable category under ``sum_k resp_ik P_k`` (rng None), or a draw from the
        row's component (``resp`` one-hot) with ``rng``.
        """
        codes = self.integer_codes(X)
        out = np.where(codes < 0, np.nan, codes).astype(np.float64)
        for j, table in enumerate(self.split(params.probabilities)):
            rows = np.flatnonzero(codes[:, j] < 0)
            if rows.size == 0:
                continue
            mixed = resp[rows] @ table
            if rng is None:
                out[rows, j] = mixed.argmax(axis=1)
                continue
            out[rows, j] = draw_rows(mixed, rng)
        return out

    def init_features(self, X):
        """One-hot indicators of the answers (missing answers all zero), shape (n, sum M_j)."""
        index, observed = self._codes(X)
        out = np.zeros((index.shape[0], self.offsets[-1]))
        rows = np.nonzero(observed)
        out[rows[0], index[observed]] = 1.0
        return out
