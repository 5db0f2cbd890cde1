"""Compiled one-pass mixture E-steps of the discrete families (categorical items, Poisson).

Each kernel reads a block of rows once and returns what the generic E-step of
:class:`emkit.families.base.FamilyBase` (the NumPy reference) returns: the weighted
log-likelihood, the component counts, the family's statistics under the weighted
responsibilities, and the worst-fitted row with positive weight. No (n, K) array is formed.
An empty ``w`` means unit weights.
"""

from __future__ import annotations

import math

import numpy as np

from emkit.kernels._jit import njit
from emkit.kernels.vecmath import exp_nonpos


@njit(cache=True, nogil=True, inline="always")
def _posterior(lp, e):
    """Log of ``sum(exp(lp))`` (max-shifted); ``e`` receives ``exp(lp - log_norm)``.

    Returns ``-inf`` (and leaves ``e`` unset) when every entry of ``lp`` is ``-inf``.
    """
    top = -np.inf
    for k in range(lp.shape[0]):
        if lp[k] > top:
            top = lp[k]
    if top == -np.inf:
        return -np.inf
    s = 0.0
    for k in range(lp.shape[0]):
        e[k] = exp_nonpos(lp[k] - top)
        s += e[k]
    inv = 1.0 / s
    for k in range(lp.shape[0]):
        e[k] *= inv
    return top + math.log(s)


#: Rows per tile of the categorical E-step: their exponentials run as one vectorised loop.
TILE = 128


@njit(cache=True, nogil=True)
def items_estep(codes, offsets, w, logp_t, log_weights):
    """Fused E-step of categorical items.

    Rows go through tiles of :data:`TILE`: the log-probabilities of a tile are formed row by
    row, then shifted by each row's maximum and exponentiated in one loop over the whole tile
    (which vectorises), then normalised and accumulated.

    Parameters
    ----------
    codes : ndarray of shape (n, J), integer
        Category code of each answer (``0 .. M_j - 1``), -1 when missing.
    offsets : ndarray of shape (J,), int64
        First column of each item in the flat category axis.
    w : ndarray of shape (n,) or (0,)
        Row weights (empty for unit weights).
    logp_t : ndarray of shape (M, K)
        Log-probabilities, category-major (``sum_j M_j = M``).
    log_weights : ndarray of shape (K,)

    Returns
    -------
    ll, counts (K,), table_t (M, K), worst_score, worst_index
    """
    n, J = codes.shape
    M, K = logp_t.shape
    weighted = w.shape[0] > 0
    counts = np.zeros(K)
    table = np.zeros((M, K))
    e = np.empty(TILE * K)
    top = np.empty(TILE)
    ll = 0.0
    worst = np.inf
    worst_i = -1
    for t0 in range(0, n, TILE):
        m = min(TILE, n - t0)
        for t in range(m):
            i = t0 + t
            base = t * K
            for k in range(K):
                e[base + k] = log_weights[k]
            for j in range(J):
                c = codes[i, j]
                if c >= 0:
                    c += offsets[j]
                    for k in range(K):
                        e[base + k] += logp_t[c, k]
            best = e[base]
            for k in range(1, K):
                if e[base + k] > best:
                    best = e[base + k]
            top[t] = best
            shift = best if best > -np.inf else 0.0
            for k in range(K):
                e[base + k] -= shift
        for q in range(m * K):
            e[q] = exp_nonpos(e[q])
        for t in range(m):
            i = t0 + t
            base = t * K
            wi = w[i] if weighted else 1.0
            s = 0.0
            for k in range(K):
                s += e[base + k]
            norm = top[t] + math.log(s) if top[t] > -np.inf else -np.inf
            if wi > 0.0:
                ll += wi * norm
                if norm < worst:
                    worst = norm
                    worst_i = i
            if norm == -np.inf or wi == 0.0:
                continue
            scale = wi / s
            for k in range(K):
                e[base + k] *= scale
                counts[k] += e[base + k]
            for j in range(J):
                c = codes[i, j]
                if c >= 0:
                    c += offsets[j]
                    for k in range(K):
                        table[c, k] += e[base + k]
    return ll, counts, table, worst, worst_i


@njit(cache=True, nogil=True)
def poisson_estep(X, w, log_rates_t, rate_sums, log_weights, log_factorial):
    """Fused E-step of independent Poisson counts.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Counts (whole numbers >= 0).
    w : ndarray of shape (n,) or (0,)
    log_rates_t : ndarray of shape (d, K)
        Logarithms of the rates, feature-major (``-inf`` for a zero rate).
    rate_sums : ndarray of shape (K,)
        ``sum_f rate[k, f]``.
    log_weights : ndarray of shape (K,)
    log_factorial : ndarray of shape (L,)
        ``log(x!)`` for ``x < L`` (larger counts call ``lgamma``).

    Returns
    -------
    ll, counts (K,), sums_t (d, K), worst_score, worst_index
    """
    n, d = X.shape
    K = log_rates_t.shape[1]
    L = log_factorial.shape[0]
    weighted = w.shape[0] > 0
    counts = np.zeros(K)
    sums = np.zeros((d, K))
    base = np.empty(K)
    for k in range(K):
        base[k] = log_weights[k] - rate_sums[k]
    lp = np.empty(K)
    r = np.empty(K)
    ll = 0.0
    worst = np.inf
    worst_i = -1
    for i in range(n):
        wi = w[i] if weighted else 1.0
        const = 0.0
        for k in range(K):
            lp[k] = base[k]
        for f in range(d):
            x = X[i, f]
            if x != 0.0:
                const += log_factorial[int(x)] if x < L else math.lgamma(x + 1.0)
                for k in range(K):
                    lp[k] += x * log_rates_t[f, k]
        norm = _posterior(lp, r)
        if wi > 0.0:
            ll += wi * (norm - const)
            if norm - const < worst:
                worst = norm - const
                worst_i = i
        if norm == -np.inf or wi == 0.0:
            continue
        for k in range(K):
            r[k] *= wi
            counts[k] += r[k]
        for f in range(d):
            x = X[i, f]
            if x != 0.0:
                for k in range(K):
                    sums[f, k] += r[k] * x
    return ll, counts, sums, worst, worst_i
