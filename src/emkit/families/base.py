"""The family contract: what every mixture component and HMM emission family provides.

A *family* describes ``K`` distributions of one kind (Gaussian, Poisson, Bernoulli,
categorical items, a product of several families over disjoint columns). It maps parameters
and rows to log-likelihoods, rows and posterior weights to additive statistics, and summed
statistics to new parameters. It knows nothing of EM loops, latent structure or data sources,
so the same family serves as a mixture component, an HMM emission and a column group of a
mixed-type model.

- :class:`Family` is the protocol (a :class:`typing.Protocol`, checked structurally).
- :class:`FamilyBase` gives the parts most families share: a generic one-pass mixture E-step
  built from :meth:`Family.log_likelihood` and :meth:`Family.accumulate`, initial parameters
  from an assignment, and the identity re-centring of uncentred statistics. A family with a
  compiled fused E-step overrides :meth:`FamilyBase.expect_mixture`; nothing probes for it.
- :class:`Stats` is the one additive base for statistics: field-wise ``+`` and scaling.
"""

from __future__ import annotations

import dataclasses
import math
from functools import partial
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from emkit.exceptions import ValidationError
from emkit.kernels.logsumexp import normalize_rows

#: Added to expected counts before dividing by them (an empty component gives finite values).
TINY_COUNT = 10 * np.finfo(np.float64).eps


class Stats:
    """Additive sufficient statistics: a dataclass whose array fields add and scale.

    Subclasses are dataclasses. Every field is summed by ``+`` and multiplied by
    :meth:`scaled`, except those named in ``carried``: those describe the frame the
    statistics are expressed in (e.g. the centring point of Gaussian moments), must be equal
    in both operands, and are passed through unchanged. Every family's statistics have a
    ``counts`` field of shape (K,): the posterior mass of each component.
    """

    carried: ClassVar[tuple[str, ...]] = ()

    def _parts(self):
        return [(f.name, getattr(self, f.name)) for f in dataclasses.fields(self)]

    def __add__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        values = {}
        for name, mine in self._parts():
            theirs = getattr(other, name)
            if name in self.carried:
                if theirs is not mine and not _equal(mine, theirs):
                    raise ValueError(
                        f"cannot add {type(self).__name__} centred on different points "
                        f"({name} differs)"
                    )
                values[name] = mine
            else:
                values[name] = _combine(mine, theirs, _add)
        return type(self)(**values)

    def scaled(self, factor):
        """The statistics multiplied by ``factor`` (for stepwise EM)."""
        values = {
            name: value if name in self.carried else _combine(value, factor, _scale)
            for name, value in self._parts()
        }
        return type(self)(**values)


def _add(a, b):
    return a + b


def _scale(a, factor):
    return a * factor


def _combine(value, other, op):
    """``op`` applied leaf-wise: Stats and tuples of arrays are containers."""
    if isinstance(value, Stats):
        if op is _add:
            return value + other
        return value.scaled(other)
    if isinstance(value, tuple):
        if op is _add:
            return tuple(_combine(a, b, op) for a, b in zip(value, other, strict=True))
        return tuple(_combine(a, other, op) for a in value)
    return op(value, other)


def _equal(a, b):
    if isinstance(a, tuple):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return np.array_equal(a, b)


@runtime_checkable
class Family(Protocol):
    """The protocol of a component or emission family (``K`` distributions of one kind).

    Parameters are small frozen dataclasses of arrays whose leading axis is the component;
    statistics are :class:`Stats`. ``X`` is a block of rows already validated by
    :meth:`check_data`.
    """

    #: Names of the parameter groups (the ``fixed`` set of :meth:`maximize` uses them).
    param_names: tuple[str, ...]

    def check_data(self, X, name="X") -> np.ndarray:
        """Validate a block of rows for this family; returns the array the family reads.

        Raises ``ValidationError``/``TypeError`` naming ``name`` and the fix.
        """

    def log_likelihood(self, params, X) -> np.ndarray:
        """Per-component log-likelihoods of the rows, shape (n, K)."""

    def accumulate(self, params, X, wresp) -> Stats:
        """Statistics of the rows under posterior weights ``wresp`` of shape (n, K).

        ``params`` supplies the reference point of centred statistics (None: the origin).
        """

    def expect_mixture(self, params, log_weights, X, w) -> tuple[float, Stats, float, int]:
        """One-pass mixture E-step of a block: ``(log_lik, stats, worst_score, worst_row)``.

        ``log_lik`` is ``sum_i w_i log p(x_i)``, ``stats`` are those of :meth:`accumulate`
        under the weighted responsibilities, ``worst_score`` the lowest ``log p(x_i)`` of a
        row with positive weight and ``worst_row`` its index (-1 when there is none).
        """

    def maximize(self, stats, params, fixed=frozenset(), empty=()) -> Any:
        """New parameters from summed statistics (the exact maximiser, or MAP with priors).

        ``params`` are the current parameters (kept for the groups in ``fixed``, and for the
        components in ``empty``, which received no posterior mass); it may be None when
        neither is given.
        """

    def initial_params(self, weighted_blocks, n_components) -> tuple[Any, Stats]:
        """Parameters from an initial assignment, and the statistics they came from.

        ``weighted_blocks()`` returns a fresh iterator of ``(X_block, wresp_block)`` pairs.
        """

    def reseed(self, params, k, row, stats) -> Any:
        """Parameters with empty component ``k`` moved onto the sample ``row`` (shape (d,))."""

    def recentre(self, stats, like) -> Stats:
        """``stats`` expressed in the frame of ``like`` (identity for uncentred statistics)."""

    def n_parameters(self, n_components, n_features) -> int:
        """Free parameters of ``n_components`` components on ``n_features`` features."""

    def sample(self, params, k, n, rng) -> np.ndarray:
        """``n`` rows drawn from component ``k`` with a ``numpy.random.RandomState``."""

    def init_features(self, X) -> np.ndarray:
        """A float matrix of the rows for the k-means style initialisers."""


class FamilyBase:
    """Defaults shared by families: generic fused E-step, initialisation, no centring."""

    param_names: tuple[str, ...] = ()

    def expect_mixture(self, params, log_weights, X, w, **extra):
        """Generic one-pass mixture E-step from :meth:`log_likelihood` and :meth:`accumulate`.

        Works block by block, so its (n, K) temporaries are bounded by the block size.
        ``extra`` (per-row inputs such as ``noise``) goes to both.
        """
        log_prob = self.log_likelihood(params, X, **extra)
        log_norm, resp = normalize_rows(log_prob + log_weights.astype(log_prob.dtype))
        log_norm = log_norm.astype(np.float64)
        if w is None:
            wresp = resp
            ll = float(np.sum(log_norm))
            live = np.arange(log_norm.shape[0])
        else:
            wresp = resp * w[:, None]
            live = np.flatnonzero(w > 0)
            ll = float(np.dot(w[live], log_norm[live]))
        stats = self.accumulate(params, X, wresp, **extra)
        if live.size == 0:
            return ll, stats, np.inf, -1
        worst = int(live[np.argmin(log_norm[live])])
        return ll, stats, float(log_norm[worst]), worst

    def initial_params(self, weighted_blocks, n_components):
        """One pass of statistics under the assignment, then the M-step."""
        stats = sum_stats(partial(self.accumulate, None), weighted_blocks)
        return self.maximize(stats, None), stats

    def recentre(self, stats, like):
        """Uncentred statistics are frame-free: returned as they are."""
        return stats

    def init_features(self, X):
        """The rows themselves, as float64."""
        return np.asarray(X, dtype=np.float64)

    def empty_rows(self, X):
        """Rows with every value missing (NaN), as a bool mask; None when no value is missing."""
        if not has_missing(X):
            return None
        empty = np.isnan(X[:, 0])
        for j in range(1, X.shape[1]):  # a column at a time: faster than a row reduction
            empty &= np.isnan(X[:, j])
        return empty

    def init_gaps(self, X):
        """Missing values the initialisation has to avoid or fill (bool mask, or None)."""
        return np.isnan(X) if has_missing(X) else None

    def init_rows(self, X, sample_weight, n_components):
        """The rows the initial assignment and parameters come from.

        Rows with every value missing are left out. Without other missing values (see
        :meth:`init_gaps`), ``X`` and ``sample_weight`` as they are. Otherwise the rows
        without a missing value, if at least ``COMPLETE_ROWS_PER_COMPONENT`` per component
        have positive weight; if not, every row with an observed value, each gap filled with
        the weighted mean of the observed values of its column. EM then fits the exact model
        of the observed values from there.
        """
        rows, values = self.init_selection(X, sample_weight, n_components)
        if rows is None:
            return X, sample_weight
        return values[rows], None if sample_weight is None else sample_weight[rows]

    def init_selection(self, X, sample_weight, n_components):
        """:meth:`init_rows` as indices: ``(rows, values)``.

        ``rows`` are the indices of the rows of ``X`` the initialisation uses (None: all of
        them, as they are), and ``values`` is ``X`` with the gaps of those rows filled where
        :meth:`init_rows` fills them (``X`` itself otherwise).
        """
        empty = self.empty_rows(X)
        gaps = self.init_gaps(X)
        if gaps is None and (empty is None or not empty.any()):
            return None, X
        rows = np.arange(X.shape[0]) if empty is None else np.flatnonzero(~empty)
        if gaps is None:
            return rows, X
        complete = rows[~gaps[rows].any(axis=1)]
        live = complete if sample_weight is None else complete[sample_weight[complete] > 0]
        if live.size >= COMPLETE_ROWS_PER_COMPONENT * n_components:
            return complete, X
        rows = rows[~gaps[rows].all(axis=1)]
        w = np.ones(rows.size) if sample_weight is None else sample_weight[rows]
        seen = (~gaps[rows]) * w[:, None]
        observed = np.where(gaps[rows], 0.0, X[rows])
        col_means = observed.T @ w / np.maximum(seen.sum(axis=0), 1e-300)
        return rows, np.where(gaps, col_means.astype(X.dtype), X)

    def impute(self, params, X, resp, rng=None):
        """``X`` with each missing value replaced by its expectation under ``resp``.

        For families whose features are independent given the component: the value of
        feature ``j`` is ``sum_k resp_ik E_k[x_j]`` (:meth:`component_means`), or, with ``rng``
        (``resp`` then one-hot), a draw from the row's component.
        """
        X = np.array(X, dtype=np.float64)
        gaps = np.isnan(X)
        if not gaps.any():
            return X
        if rng is None:
            X[gaps] = (resp @ self.component_means(params))[gaps]
            return X
        labels = resp.argmax(axis=1)
        for k in np.unique(labels):
            rows = np.flatnonzero(labels == k)
            drawn = self.sample(params, int(k), rows.size, rng)
            X[rows] = np.where(gaps[rows], drawn, X[rows])
        return X


#: With missing values, the initialisation uses the rows without any when at least this many
#: per component (of positive weight) exist (see :meth:`FamilyBase.init_rows`).
COMPLETE_ROWS_PER_COMPONENT = 10


def has_missing(X):
    """Whether the array ``X`` holds a NaN (a missing value); one pass, no temporary."""
    X = np.asarray(X)
    if X.dtype.kind != "f" or X.size == 0:
        return False
    # The minimum is NaN exactly when an element is (infinities do not make it NaN).
    return math.isnan(X.min())


def completed_sums(X, wresp, means):
    """``wresp^T X`` with each missing value counted as its component's mean, shape (K, d).

    ``means`` (K, d) are the current components' expectations of each feature (for features
    independent given the component, the conditional expectation of a missing value); they
    are needed only when ``X`` has a missing value.
    """
    X = np.asarray(X, dtype=np.float64)
    if not has_missing(X):
        return wresp.T @ X
    if means is None:
        raise ValueError("statistics of rows with missing values need parameters")
    missing = np.isnan(X)
    return wresp.T @ np.where(missing, 0.0, X) + (wresp.T @ missing.astype(np.float64)) * means


def sum_stats(accumulate, weighted_blocks):
    """Sum of ``accumulate(X_block, wresp_block)`` over ``weighted_blocks()``."""
    total = None
    for X, wresp in weighted_blocks():
        s = accumulate(X, wresp)
        total = s if total is None else total + s
    return total


#: Probabilities are floored at this value inside logarithms, so a parameter on the boundary
#: (a category or outcome whose estimated probability is exactly 0) keeps every
#: log-likelihood finite; the parameters themselves stay the exact maximisers.
PROBABILITY_FLOOR = 1e-300


def log_probabilities(p):
    """``log(max(p, PROBABILITY_FLOOR))`` as float64."""
    return np.log(np.maximum(np.asarray(p, dtype=np.float64), PROBABILITY_FLOOR))


def reject_bad_values(X, bad, name, what, fix):
    """Raise a ValidationError naming the first entry of ``X`` where ``bad`` is true."""
    if bad.any():
        row, col = np.argwhere(bad)[0]
        value = X[row, col].item()  # a Python number: its repr reads 2.0, not np.float64(2.0)
        raise ValidationError(
            f"{name} must hold {what}; found {value!r} at row {row}, column {col}: {fix}"
        )


def draw_rows(p, rng):
    """One index per row drawn from the row's (unnormalised) probabilities ``p`` (n, K).

    One uniform number per row, scaled to the row's total; returns an int array of shape (n,).
    """
    cdf = np.cumsum(p, axis=1)
    u = rng.random_sample(len(p))[:, None] * cdf[:, -1:]
    return np.minimum((cdf <= u).sum(axis=1), p.shape[1] - 1)
