"""Compiled (numba) model-based agglomeration: the merge loop of mclust's ``hcVVV``.

The fast twin of the reference loop in :func:`emkit.engine.hierarchical.agglomerate`
(``kernels='numpy'``), which the tests compare it with. It takes the initial clusters'
statistics (counts, means, centred scatters, their traces and scores) and returns the merges
and their costs, following the reference operation by operation: the same formulas in the same
order of floating-point operations, the same pair chosen on ties (the smallest row, then the
smallest column, of the upper-triangular cost matrix), the same bookkeeping of each row's
best column. Only the determinant differs in its rounding (an ``L D L^T`` factorisation written
out here, against LAPACK's LU in the reference), which can reorder merges only when two costs
agree to a few units in the last place.

The score of a cluster of ``n`` rows with scatter ``W`` and trace ``t`` is
``n log(det(W / n) + beta (t + alpha) / n)``, the determinant taken as 0 when ``n <= d``.
"""

from __future__ import annotations

import math

import numpy as np

from emkit.kernels._jit import njit

__all__ = ["initial_costs", "merge", "merge_from", "n_cost_items"]

_JIT = {"nogil": True, "cache": True, "error_model": "numpy"}


@njit(**_JIT)
def _det(A):
    """``det(A)`` of a small symmetric matrix from its lower triangle, by ``L D L^T``.

    The lower triangle is overwritten by the factors. 0 when ``A`` is not numerically positive
    definite (the score clamps the determinant at 0 anyway).
    """
    d = A.shape[0]
    det = 1.0
    for j in range(d):
        s = A[j, j]
        for k in range(j):
            s -= A[j, k] * A[j, k] * A[k, k]
        if not s > 0.0:
            return 0.0
        det *= s
        A[j, j] = s
        for i in range(j + 1, d):
            t = A[i, j]
            for k in range(j):
                t -= A[i, k] * A[j, k] * A[k, k]
            A[i, j] = t / s
    return det


@njit(**_JIT)
def _score(counts, means, scatter, trace, i, j, alpha, beta, diff, W):
    """The score of clusters ``i`` and ``j`` merged (``diff`` and ``W`` are scratch)."""
    d = means.shape[1]
    n = counts[i] + counts[j]
    factor = counts[i] * counts[j] / n
    ss = 0.0
    for p in range(d):
        diff[p] = means[i, p] - means[j, p]
        ss += diff[p] * diff[p]
    tr = trace[i] + trace[j] + factor * ss
    det = 0.0
    if n > d:
        for p in range(d):
            for q in range(p + 1):  # the lower triangle is all the factorisation reads
                W[p, q] = (scatter[i, p, q] + scatter[j, p, q] + factor * diff[p] * diff[q]) / n
        det = _det(W)
    return n * math.log(det + beta * (tr + alpha) / n)


@njit(**_JIT)
def _scores_with(counts, means, scatter, trace, a, rs, nr, alpha, beta, buf, out):
    """``out[t]``: the score of cluster ``a`` merged with ``rs[t]``, for ``t < nr``.

    :func:`_score`'s operations in the same order for each pair, laid out with the pairs
    innermost so that the loops vectorise; ``buf`` is scratch of shape (d * d + d + 6, m).
    """
    d = means.shape[1]
    n, f, tr, det, S, T = buf[0], buf[1], buf[2], buf[3], buf[4], buf[5]
    diffs = buf[6 : 6 + d]
    Wb = buf[6 + d : 6 + d + d * d]
    ca = counts[a]
    for t in range(nr):
        r = rs[t]
        n[t] = ca + counts[r]
        f[t] = ca * counts[r] / n[t]
        tr[t] = 0.0
        det[t] = 1.0
    for p in range(d):
        mp = means[a, p]
        for t in range(nr):
            dv = mp - means[rs[t], p]
            diffs[p, t] = dv
            tr[t] += dv * dv
    ta = trace[a]
    for t in range(nr):
        tr[t] = ta + trace[rs[t]] + f[t] * tr[t]
    for p in range(d):
        for q in range(p + 1):
            sa = scatter[a, p, q]
            row = Wb[p * d + q]
            for t in range(nr):
                row[t] = (sa + scatter[rs[t], p, q] + f[t] * diffs[p, t] * diffs[q, t]) / n[t]
    # L D L^T of every pair's matrix at once (as _det); a non-positive pivot makes det 0.
    for j in range(d):
        for t in range(nr):
            S[t] = Wb[j * d + j, t]
        for k in range(j):
            for t in range(nr):
                S[t] -= Wb[j * d + k, t] * Wb[j * d + k, t] * Wb[k * d + k, t]
        for t in range(nr):
            det[t] = det[t] * S[t] if S[t] > 0.0 and det[t] > 0.0 else 0.0
            Wb[j * d + j, t] = S[t]
        for i in range(j + 1, d):
            for t in range(nr):
                T[t] = Wb[i * d + j, t]
            for k in range(j):
                for t in range(nr):
                    T[t] -= Wb[i * d + k, t] * Wb[j * d + k, t] * Wb[k * d + k, t]
            for t in range(nr):
                Wb[i * d + j, t] = T[t] / S[t]
    for t in range(nr):
        dt = det[t] if n[t] > d else 0.0
        out[t] = n[t] * math.log(dt + beta * (tr[t] + alpha) / n[t])


@njit(**_JIT)
def _refresh(cost, best, arg, i):
    """Row ``i``'s smallest cost and its first column (column 0 when the row is all inf)."""
    m = cost.shape[0]
    value = cost[i, 0]
    where = 0
    for j in range(1, m):
        if cost[i, j] < value:
            value = cost[i, j]
            where = j
    best[i] = value
    arg[i] = where


@njit(**_JIT)
def merge(counts, means, scatter, trace, own, alpha, beta):
    """Agglomerate ``m`` initial clusters down to one.

    Parameters
    ----------
    counts : ndarray of shape (m,)
        Rows of each initial cluster (float64).
    means : ndarray of shape (m, d)
    scatter : ndarray of shape (m, d, d)
        Centred scatter of each cluster.
    trace : ndarray of shape (m,)
        Traces of ``scatter``.
    own : ndarray of shape (m,)
        Each initial cluster's score.
    alpha, beta : float
        The regularisation of the score.

    All five arrays are updated in place (merged clusters keep the number of their first part).

    Returns
    -------
    merges : ndarray of int64 of shape (m - 1, 2)
        Step ``t`` merges cluster ``merges[t, 1]`` into ``merges[t, 0]``.
    costs : ndarray of shape (m - 1,)
        The score's increase at each merge.
    """
    m = means.shape[0]
    cost = np.full((m, m), np.inf)
    initial_costs(counts, means, scatter, trace, own, alpha, beta, cost, 0, m // 2)
    return merge_from(cost, counts, means, scatter, trace, own, alpha, beta)


def n_cost_items(m):
    """Work items of :func:`initial_costs` for ``m`` clusters (pairs of rows)."""
    return m // 2


@njit(**_JIT)
def initial_costs(counts, means, scatter, trace, own, alpha, beta, cost, lo, hi):
    """Fill the rows of items ``lo:hi`` of the upper-triangular merge costs ``cost`` (m, m).

    Item ``p`` holds rows ``p`` and ``m - 2 - p`` (``m`` pairs together, so that equal ranges
    of items are equal work); each pair's value depends on nothing else, so any split of the
    items over threads gives the same matrix.
    """
    m, d = means.shape
    rs = np.empty(m, dtype=np.int64)
    merged = np.empty(m)
    buf = np.empty((d * d + d + 6, m))
    for p in range(lo, hi):
        _cost_row(counts, means, scatter, trace, own, alpha, beta, cost, p, rs, merged, buf)
        if m - 2 - p != p:
            i = m - 2 - p
            _cost_row(counts, means, scatter, trace, own, alpha, beta, cost, i, rs, merged, buf)


@njit(**_JIT)
def _cost_row(counts, means, scatter, trace, own, alpha, beta, cost, i, rs, merged, buf):
    """Row ``i`` of the costs: the pairs ``(i, j > i)``, vectorised over ``j``."""
    m = means.shape[0]
    nr = m - 1 - i
    for t in range(nr):
        rs[t] = i + 1 + t
    _scores_with(counts, means, scatter, trace, i, rs, nr, alpha, beta, buf, merged)
    for t in range(nr):
        cost[i, i + 1 + t] = merged[t] - own[i] - own[i + 1 + t]


@njit(**_JIT)
def merge_from(cost, counts, means, scatter, trace, own, alpha, beta):
    """:func:`merge` from the initial costs (:func:`initial_costs` over every item)."""
    m, d = means.shape
    diff = np.empty(d)
    W = np.empty((d, d))
    rs = np.empty(m, dtype=np.int64)
    merged = np.empty(m)
    buf = np.empty((d * d + d + 6, m))
    best = np.full(m, np.inf)
    arg = np.zeros(m, dtype=np.int64)
    for i in range(m - 1):
        _refresh(cost, best, arg, i)
    alive = np.ones(m, dtype=np.bool_)
    stale = np.zeros(m, dtype=np.bool_)
    steps = max(m - 1, 0)
    merges = np.zeros((steps, 2), dtype=np.int64)
    costs = np.zeros(steps)
    for step in range(steps):
        a = 0
        for i in range(1, m):
            if best[i] < best[a]:
                a = i
        b = arg[a]
        merges[step, 0] = a
        merges[step, 1] = b
        costs[step] = cost[a, b]
        own[a] = _score(counts, means, scatter, trace, a, b, alpha, beta, diff, W)
        # Cluster b merged into a.
        na, nb = counts[a], counts[b]
        n = na + nb
        f = na * nb / n
        for p in range(d):
            diff[p] = means[a, p] - means[b, p]
        tr = 0.0
        for p in range(d):
            for q in range(d):
                scatter[a, p, q] = scatter[a, p, q] + scatter[b, p, q] + f * (diff[p] * diff[q])
            tr += scatter[a, p, p]
        trace[a] = tr
        for p in range(d):
            means[a, p] = (na * means[a, p] + nb * means[b, p]) / n
        counts[a] = n
        alive[b] = False
        for j in range(m):
            cost[b, j] = np.inf
        for i in range(b):
            cost[i, b] = np.inf
        best[b] = np.inf
        for i in range(b):
            if alive[i] and arg[i] == b:
                stale[i] = True
        stale[a] = True
        nr = 0
        for r in range(m):
            if alive[r] and r != a:
                rs[nr] = r
                nr += 1
        _scores_with(counts, means, scatter, trace, a, rs, nr, alpha, beta, buf, merged)
        for t in range(nr):
            r = rs[t]
            value = merged[t] - own[a] - own[r]
            if r < a:
                cost[r, a] = value
                # Rows above a: their column a changed.
                if arg[r] == a:
                    stale[r] = True
                elif value < best[r] or (value == best[r] and a < arg[r]):
                    best[r] = value
                    arg[r] = a
            else:
                cost[a, r] = value
        for i in range(m):
            if stale[i]:
                stale[i] = False
                _refresh(cost, best, arg, i)
    return merges, costs
