"""The Poisson family: independent Poisson counts per feature, one rate vector per state.

Statistics are the posterior-weighted row counts and feature sums; the M-step is the posterior
mean under a Gamma(``lambdas_prior``, ``lambdas_weight``) prior on each rate (shape, rate).
A missing count (NaN) is left out of its row's likelihood; in the statistics it counts as its
conditional expectation, the current rate (exact EM of the observed counts).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln

from emkit.families.base import (
    FamilyBase,
    Stats,
    completed_sums,
    has_missing,
    reject_bad_values,
)
from emkit.families.covariance import get_kernels
from emkit.kernels import discrete_numba

#: ``log(x!)`` for the counts below this bound is read from a table in the compiled E-step.
_FACTORIAL_TABLE = gammaln(np.arange(4096) + 1.0)


@dataclass(frozen=True)
class PoissonParams:
    """Rates: ``lambdas[k, f]`` is the mean count of feature ``f`` in state ``k``, (K, d)."""

    lambdas: np.ndarray


@dataclass
class PoissonStats(Stats):
    """Additive statistics: ``counts`` (K,) posterior mass, ``sums`` (K, d) weighted sums."""

    counts: np.ndarray
    sums: np.ndarray


class PoissonFamily(FamilyBase):
    """Poisson emissions.

    Parameters
    ----------
    lambdas_prior : float or array-like broadcastable to (K, d), default=0.0
        Shape ``alpha`` of the Gamma prior on each rate.
    lambdas_weight : float or array-like broadcastable to (K, d), default=0.0
        Rate ``beta`` of the Gamma prior; with both zero the M-step is maximum likelihood.
    """

    param_names = ("lambdas",)

    def __init__(self, lambdas_prior=0.0, lambdas_weight=0.0):
        self.lambdas_prior = lambdas_prior
        self.lambdas_weight = lambdas_weight

    def check_data(self, X, name="X"):
        """Counts: non-negative whole numbers, NaN for a missing one; returned as float64."""
        X = np.asarray(X, dtype=np.float64)
        bad = ~(np.isnan(X) | ((X >= 0) & (X == np.floor(X))))
        fix = "pass counts, or use a Gaussian model for measurements"
        reject_bad_values(X, bad, name, "counts (non-negative whole numbers)", fix)
        return X

    def log_likelihood(self, params, X):
        """Log-probabilities of the count rows, shape (n, K).

        A zero rate gives probability one to a zero count and zero to any other.
        """
        X = np.asarray(X, dtype=np.float64)
        lam = params.lambdas
        zero = lam == 0
        with np.errstate(divide="ignore"):
            log_lam = np.where(zero, 0.0, np.log(np.where(zero, 1.0, lam)))
        if has_missing(X):
            observed = ~np.isnan(X)
            X = np.where(observed, X, 0.0)
            out = X @ log_lam.T - observed.astype(np.float64) @ lam.T
        else:
            out = X @ log_lam.T
            out -= lam.sum(axis=1)
        out -= gammaln(X + 1.0).sum(axis=1)[:, None]
        if zero.any():
            impossible = (X > 0).astype(np.float64) @ zero.T.astype(np.float64)
            out[impossible > 0] = -np.inf
        return out

    def expect_mixture(self, params, log_weights, X, w):
        """One compiled pass over the block (the generic NumPy pass with missing counts).

        The generic pass also serves the ``'numpy'`` kernels.
        """
        if get_kernels() == "numpy" or has_missing(X):
            return super().expect_mixture(params, log_weights, X, w)
        lam = np.ascontiguousarray(params.lambdas, dtype=np.float64)
        with np.errstate(divide="ignore"):
            log_lam_t = np.ascontiguousarray(np.log(lam).T)
        weights = np.empty(0) if w is None else np.ascontiguousarray(w, dtype=np.float64)
        ll, counts, sums_t, worst, row = discrete_numba.poisson_estep(
            np.ascontiguousarray(X, dtype=np.float64),
            weights,
            log_lam_t,
            lam.sum(axis=1),
            np.ascontiguousarray(log_weights, dtype=np.float64),
            _FACTORIAL_TABLE,
        )
        return ll, PoissonStats(counts, np.ascontiguousarray(sums_t.T)), worst, row

    def accumulate(self, params, X, wresp):
        """Statistics of the rows ``X`` under posterior weights ``wresp`` of shape (n, K)."""
        X = np.asarray(X, dtype=np.float64)
        rates = None if params is None else params.lambdas
        return PoissonStats(wresp.sum(axis=0), completed_sums(X, wresp, rates))

    def component_means(self, params):
        """Mean count of each feature in each component: the rates, (K, d)."""
        return params.lambdas

    def maximize(self, stats, params, fixed=frozenset(), empty=()):
        """Posterior-mean rates ``(alpha + sum_t w x_t) / (beta + sum_t w)`` per state.

        States in ``empty`` (no posterior mass) and fixed rates keep ``params``; without
        ``params`` (initialisation) such a state gets the overall mean rate.
        """
        if "lambdas" in fixed:
            return params
        num = self.lambdas_prior + stats.sums
        den = np.broadcast_to(self.lambdas_weight + stats.counts[:, None], num.shape)
        keep = np.zeros(num.shape[0], dtype=bool)
        keep[np.asarray(empty, dtype=np.intp)] = True
        keep |= ~np.all(den > 0, axis=1)
        safe = np.where(keep[:, None], 1.0, den)
        if params is None:
            overall = num.sum(axis=0) / max(float(stats.counts.sum()), np.finfo(float).tiny)
            old = np.broadcast_to(overall, num.shape)
        else:
            old = params.lambdas
        return PoissonParams(np.where(keep[:, None], old, num / safe))

    def reseed(self, params, k, row, stats):
        """State ``k`` moved onto the counts of ``row`` (each rate at least a tenth of a count)."""
        lambdas = params.lambdas.copy()
        lambdas[k] = np.maximum(row, 0.1)
        return PoissonParams(lambdas)

    def n_parameters(self, n_components, n_features):
        """Free parameters: ``K * d``."""
        return n_components * n_features

    def sample(self, params, k, n, rng):
        """Draw ``n`` count rows from state ``k``, shape (n, d), int64."""
        lam = params.lambdas[k]
        return rng.poisson(lam, size=(n, lam.shape[0])).astype(np.int64)
