"""The Bernoulli family: independent binary features, one probability vector per component.

Statistics are the posterior-weighted row counts and the weighted sums of the features; the
M-step is the weighted fraction of ones. A probability estimated as exactly 0 or 1 (a boundary
solution) is kept as the maximiser; log-likelihoods stay finite through the probability floor.
A missing answer (NaN) is left out of its row's likelihood; in the statistics it counts as its
conditional expectation, the current probability (exact EM of the observed answers).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emkit.families.base import (
    TINY_COUNT,
    FamilyBase,
    Stats,
    completed_sums,
    has_missing,
    log_probabilities,
    reject_bad_values,
)


@dataclass(frozen=True)
class BernoulliParams:
    """``probabilities[k, f] = P(x_f = 1 | component k)``, shape (K, d)."""

    probabilities: np.ndarray


@dataclass
class BernoulliStats(Stats):
    """Additive statistics: ``counts`` (K,) posterior mass, ``sums`` (K, d) weighted sums."""

    counts: np.ndarray
    sums: np.ndarray


class BernoulliFamily(FamilyBase):
    """Products of independent Bernoulli distributions over ``d`` binary features."""

    param_names = ("probabilities",)

    def check_data(self, X, name="X"):
        """Binary rows: every value 0 or 1 (booleans accepted), NaN if missing; as float64."""
        X = np.asarray(X, dtype=np.float64)
        bad = ~((X == 0) | (X == 1) | np.isnan(X))
        reject_bad_values(X, bad, name, "binary values (0 or 1)", "encode each feature as 0/1")
        return X

    def log_likelihood(self, params, X):
        """Log-probabilities of the binary rows, shape (n, K)."""
        p = params.probabilities
        log_p, log_q = log_probabilities(p), log_probabilities(1.0 - p)
        X = np.asarray(X, dtype=np.float64)
        if has_missing(X):
            observed = ~np.isnan(X)
            return np.where(observed, X, 0.0) @ (log_p - log_q).T + observed @ log_q.T
        return X @ (log_p - log_q).T + log_q.sum(axis=1)

    def accumulate(self, params, X, wresp):
        """Statistics of the rows under posterior weights ``wresp`` of shape (n, K)."""
        p = None if params is None else params.probabilities
        return BernoulliStats(wresp.sum(axis=0), completed_sums(X, wresp, p))

    def component_means(self, params):
        """Probability of a one for each feature in each component, (K, d)."""
        return params.probabilities

    def maximize(self, stats, params, fixed=frozenset(), empty=()):
        """Weighted fraction of ones per component and feature (``empty`` keep ``params``)."""
        if "probabilities" in fixed:
            return params
        p = np.clip(stats.sums / (stats.counts + TINY_COUNT)[:, None], 0.0, 1.0)
        empty = np.asarray(empty, dtype=np.intp)
        if empty.size and params is not None:
            p[empty] = params.probabilities[empty]
        return BernoulliParams(p)

    def reseed(self, params, k, row, stats):
        """Component ``k`` moved towards ``row``: ``0.75 row + 0.25 (overall frequency)``."""
        overall = stats.sums.sum(axis=0) / max(float(stats.counts.sum()), TINY_COUNT)
        p = params.probabilities.copy()
        p[k] = 0.75 * np.asarray(row, dtype=np.float64) + 0.25 * overall
        return BernoulliParams(p)

    def n_parameters(self, n_components, n_features):
        """Free parameters: ``K * d``."""
        return n_components * n_features

    def sample(self, params, k, n, rng):
        """Draw ``n`` binary rows from component ``k``, shape (n, d), float64."""
        p = params.probabilities[k]
        return (rng.random_sample((n, p.shape[0])) < p).astype(np.float64)
