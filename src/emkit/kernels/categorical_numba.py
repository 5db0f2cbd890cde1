"""Numba kernel for categorical emissions: posterior-weighted symbol counts.

Twin of :mod:`emkit.kernels.categorical_numpy` (same signature, same results to rounding).
"""

from __future__ import annotations

import numpy as np

from emkit.kernels._jit import njit


@njit(cache=True, nogil=True)
def symbol_counts(symbols, wresp, n_symbols):
    """Posterior-weighted count of each symbol under each state.

    Parameters
    ----------
    symbols : ndarray of shape (n,), int64
        Symbols in ``[0, n_symbols)``.
    wresp : ndarray of shape (n, K)
        Posterior state probabilities times the row weights.
    n_symbols : int

    Returns
    -------
    ndarray of shape (K, n_symbols)
        ``counts[k, m] = sum_{t: symbols[t] == m} wresp[t, k]``.
    """
    n, K = wresp.shape
    acc = np.zeros((n_symbols, K))
    for t in range(n):
        m = symbols[t]
        for k in range(K):
            acc[m, k] += wresp[t, k]
    return np.ascontiguousarray(acc.T)


@njit(cache=True, nogil=True)
def symbol_probabilities(symbols, table, out=None):
    """Rows of ``table`` picked by ``symbols``.

    Parameters
    ----------
    symbols : ndarray of shape (n,), int64
    table : ndarray of shape (n_symbols, K)
        ``table[m, k] = p(symbol m | state k)``.
    out : ndarray of shape (n, K), optional

    Returns
    -------
    ndarray of shape (n, K)
    """
    n = symbols.shape[0]
    K = table.shape[1]
    if out is None:
        out = np.empty((n, K))
    for t in range(n):
        m = symbols[t]
        for k in range(K):
            out[t, k] = table[m, k]
    return out
