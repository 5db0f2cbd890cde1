"""The categorical family: one discrete distribution over ``M`` symbols per state.

Rows of ``X`` hold one symbol each (shape (n, 1), integers in ``[0, M)``, -1 for a missing
one, whose frame has probability 1 under every state). Statistics are the posterior-weighted
symbol counts; the M-step is the Dirichlet MAP estimate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emkit.kernels import categorical_numba, categorical_numpy

_KERNELS = {"numba": categorical_numba, "numpy": categorical_numpy}


@dataclass(frozen=True)
class CategoricalParams:
    """Emission probabilities: ``emissionprob[k, m] = p(symbol m | state k)``, shape (K, M)."""

    emissionprob: np.ndarray


@dataclass
class CategoricalStats:
    """Additive statistics: posterior-weighted symbol counts, shape (K, M)."""

    counts: np.ndarray

    def __add__(self, other):
        return CategoricalStats(self.counts + other.counts)

    def scaled(self, factor):
        """Statistics multiplied by ``factor`` (for stepwise EM)."""
        return CategoricalStats(self.counts * factor)


def _symbols(X):
    return np.ascontiguousarray(np.asarray(X).reshape(-1), dtype=np.int64)


class CategoricalFamily:
    """Categorical emissions over ``n_symbols`` symbols.

    Parameters
    ----------
    n_symbols : int
    emissionprob_prior : float or array-like of shape (K, n_symbols), default=1.0
        Dirichlet concentration of each state's distribution (1 is flat: maximum likelihood).
    kernels : {'numba', 'numpy'}
    """

    param_names = ("emissionprob",)

    def __init__(self, n_symbols, emissionprob_prior=1.0, kernels="numba"):
        self.n_symbols = int(n_symbols)
        self.emissionprob_prior = emissionprob_prior
        self.kernels = _KERNELS[kernels]

    def likelihood(self, params, X, out=None):
        """Emission probabilities of each row under each state, shape (n, K), in [0, 1].

        ``out`` (shape (n, K)), when given, receives them.
        """
        return self.kernels.symbol_probabilities(*self._table(params, X)[::-1], out)

    def likelihood_table(self, params, X):
        """The likelihoods as a table and an index: ``(table, symbols)``.

        Row ``m < n_symbols`` of the (M, K) table holds the probability of symbol ``m`` under
        each state; the index is the row of the table of each row of ``X``.
        """
        return self._table(params, X)

    def _table(self, params, X):
        table = np.ascontiguousarray(params.emissionprob.T, dtype=np.float64)
        symbols = _symbols(X)
        if symbols.size and symbols.min() < 0:  # a missing symbol reads an extra row of ones
            table = np.vstack([table, np.ones((1, table.shape[1]))])
            symbols = np.where(symbols < 0, table.shape[0] - 1, symbols)
        return table, symbols

    def accumulate_table(self, params, mass):
        """Counts from the posterior mass of each row of the likelihood table, (M, K).

        The mass of the row of missing symbols (past ``n_symbols``) counts for no symbol.
        """
        return CategoricalStats(np.ascontiguousarray(mass[: self.n_symbols].T))

    def log_likelihood(self, params, X):
        """Log emission probabilities, shape (n, K) (``-inf`` for impossible symbols)."""
        with np.errstate(divide="ignore"):
            return np.log(self.likelihood(params, X))

    def accumulate(self, params, X, wresp):
        """Counts of the rows ``X`` under posterior weights ``wresp`` of shape (n, K)."""
        w = np.ascontiguousarray(wresp, dtype=np.float64)
        symbols = _symbols(X)
        if symbols.size and symbols.min() < 0:  # missing symbols are counted apart, then dropped
            symbols = np.where(symbols < 0, self.n_symbols, symbols)
            counts = self.kernels.symbol_counts(symbols, w, self.n_symbols + 1)
            return CategoricalStats(np.ascontiguousarray(counts[:, :-1]))
        return CategoricalStats(self.kernels.symbol_counts(symbols, w, self.n_symbols))

    def maximize(self, stats, params, fixed=frozenset(), empty=()):
        """Dirichlet MAP emission probabilities.

        Parameters
        ----------
        stats : CategoricalStats
        params : CategoricalParams
            Current parameters (kept when fixed, and for the rows of ``empty`` states or rows
            with no counts and no prior mass).
        fixed : set of str
        empty : sequence of int
            States that received no posterior mass.

        Returns
        -------
        CategoricalParams
        """
        if "emissionprob" in fixed:
            return params
        x = np.maximum(self.emissionprob_prior - 1.0 + stats.counts, 0.0)
        total = x.sum(axis=1)
        keep = ~(total > 0)
        keep[np.asarray(empty, dtype=np.intp)] = True
        safe = np.where(keep, 1.0, total)
        out = np.where(keep[:, None], params.emissionprob, x / safe[:, None])
        return CategoricalParams(out)

    def n_parameters(self, n_components, n_features=None):
        """Free parameters: ``K * (M - 1)``."""
        return n_components * (self.n_symbols - 1)

    def sample(self, params, k, n, rng):
        """Draw ``n`` symbols from state ``k``, shape (n, 1), int64."""
        cdf = np.cumsum(params.emissionprob[k])
        cdf[-1] = 1.0
        u = rng.random_sample(n)
        return np.searchsorted(cdf, u, side="right").astype(np.int64)[:, None]
