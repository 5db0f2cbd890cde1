"""NumPy reference kernel for categorical emissions (twin of ``categorical_numba``)."""

from __future__ import annotations

import numpy as np


def symbol_counts(symbols, wresp, n_symbols):
    """Posterior-weighted count of each symbol under each state, shape (K, n_symbols).

    See :func:`emkit.kernels.categorical_numba.symbol_counts`.
    """
    K = wresp.shape[1]
    out = np.empty((K, n_symbols))
    for k in range(K):
        out[k] = np.bincount(symbols, weights=wresp[:, k], minlength=n_symbols)
    return out


def symbol_probabilities(symbols, table, out=None):
    """Rows of ``table`` picked by ``symbols``, shape (n, K); see the numba twin."""
    return np.take(table, symbols, axis=0, out=out)
