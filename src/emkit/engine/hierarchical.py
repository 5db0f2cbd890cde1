"""Model-based agglomerative hierarchical clustering (Fraley 1998), as mclust's ``hc``.

Starting from singletons (rows that are exact duplicates start together), the two clusters
whose merge costs least classification likelihood are merged, until one cluster is left. The
criterion is mclust's for unconstrained Gaussian clusters (``hcVVV``), regularised so that it
is defined for clusters of fewer than ``d + 1`` rows: a cluster of ``m`` rows with
within-cluster scatter ``W`` scores

``m log(det(W / m) + beta (tr W + alpha) / m)`` when ``m > d``, else
``m log(beta (tr W + alpha) / m)``,

with ``alpha = tr(W_total) / (n d)`` on the transformed data and ``beta = 1``; a merge costs the
score of the merged cluster minus the scores of its parts. Like mclust's default
(``hcUse = 'SVD'``) the rows are first centred, scaled and rotated onto their principal axes
with unit singular values. The hierarchy is computed once; :meth:`Hierarchy.labels` cuts it at
any number of clusters, which is how every ``K`` of a model-selection grid is initialised.
The merge loop runs compiled (:mod:`emkit.kernels.hierarchical_numba`, its initial pair
costs on the kernels' threads: about 0.15 s for mclust's 2000-row sample on two cores) or, as
the tests' reference, in NumPy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emkit.kernels import hierarchical_numba
from emkit.kernels.threads import run_ranges

#: The implementations of the merge loop.
KERNELS = ("numba", "numpy")


def svd_transform(X):
    """Mclust's ``use = 'SVD'``: centred, scaled columns rotated and whitened by their SVD.

    Constant columns are dropped (they carry no clustering information).
    """
    X = np.asarray(X, dtype=np.float64)
    sd = X.std(axis=0, ddof=1) if X.shape[0] > 1 else np.zeros(X.shape[1])
    keep = sd > 0
    if not np.any(keep):
        return np.zeros((X.shape[0], 1))
    Z = (X[:, keep] - X[:, keep].mean(axis=0)) / sd[keep]
    _, s, vt = np.linalg.svd(Z, full_matrices=False)
    s = np.where(s > 0, s, 1.0)
    return (Z @ vt.T) / np.sqrt(s)


def duplicate_partition(X):
    """Initial clusters: one per distinct row, exact duplicates together (mclust's default)."""
    _, first, inverse = np.unique(X, axis=0, return_index=True, return_inverse=True)
    # Number the groups by the first row of each, in row order.
    order = np.argsort(np.argsort(first))
    return order[inverse.reshape(-1)]


@dataclass(frozen=True)
class Hierarchy:
    """The merges of an agglomeration.

    Parameters
    ----------
    initial : ndarray of int of shape (n,)
        Initial cluster of each row (0 .. n_initial - 1).
    merges : ndarray of int of shape (n_initial - 1, 2)
        Step ``t`` merges cluster ``merges[t, 1]`` into ``merges[t, 0]`` (initial cluster
        numbers; a merged cluster keeps the number of its first part).
    costs : ndarray of shape (n_initial - 1,)
        The criterion's increase at each merge.
    rows : ndarray of int of shape (n,) or None
        Which rows of the data the hierarchy was computed on (None: all of them).
    """

    initial: np.ndarray
    merges: np.ndarray
    costs: np.ndarray
    rows: np.ndarray | None = None

    @property
    def n_initial(self):
        """Number of initial clusters."""
        return len(self.merges) + 1

    def labels(self, n_clusters):
        """Cluster of each row when the hierarchy is cut at ``n_clusters`` clusters.

        Clusters are numbered 0 .. n_clusters - 1 in the order of their first row.
        """
        m = self.n_initial
        if not 1 <= n_clusters <= m:
            raise ValueError(f"n_clusters must lie in [1, {m}], got {n_clusters}")
        parent = np.arange(m)
        done = np.asarray(self.merges[: m - n_clusters])
        parent[done[:, 1]] = done[:, 0]  # a merged cluster never appears again: no order
        # Follow the merges to each initial cluster's representative.
        root = parent.copy()
        while True:
            nxt = root[root]
            if np.array_equal(nxt, root):
                break
            root = nxt
        rep = root[self.initial]
        _, first, inverse = np.unique(rep, return_index=True, return_inverse=True)
        order = np.argsort(np.argsort(first))
        return order[inverse.reshape(-1)]


def _scores(counts, trace, det, alpha, beta):
    """The regularised VVV score of mclust for clusters (see the module notes).

    ``det`` is ``det(W / m)``, 0 for clusters of at most ``d`` rows.
    """
    return counts * np.log(det + beta * (trace + alpha) / counts)


class _Clusters:
    """Counts, means, scatters and traces of the current clusters (indexed by first part)."""

    def __init__(self, X, initial, m):
        d = X.shape[1]
        self.d = d
        self.counts = np.bincount(initial, minlength=m).astype(np.float64)
        sums = np.zeros((m, d))
        np.add.at(sums, initial, X)
        self.means = sums / self.counts[:, None]
        centred = X - self.means[initial]
        self.scatter = np.zeros((m, d, d))
        np.add.at(self.scatter, initial, centred[:, :, None] * centred[:, None, :])
        self.trace = np.trace(self.scatter, axis1=1, axis2=2)

    def determinants(self, n, W):
        """``det(W / n)`` of clusters of more than ``d`` rows, else 0 (the score ignores it)."""
        det = np.zeros(n.shape[0])
        big = np.flatnonzero(n > self.d)
        if big.size:
            det[big] = np.maximum(np.linalg.det(W[big] / n[big, None, None]), 0.0)
        return det

    def scores(self, i, others, alpha, beta):
        """Scores of cluster ``i`` merged with each of ``others`` (an index array)."""
        n = self.counts[i] + self.counts[others]
        diff = self.means[i] - self.means[others]
        factor = self.counts[i] * self.counts[others] / n
        trace = self.trace[i] + self.trace[others] + factor * np.einsum("kj,kj->k", diff, diff)
        det = np.zeros(n.shape[0])
        big = np.flatnonzero(n > self.d)
        if big.size:
            dv = diff[big]
            W = self.scatter[i] + self.scatter[others[big]]
            W += factor[big, None, None] * dv[:, :, None] * dv[:, None, :]
            det[big] = np.maximum(np.linalg.det(W / n[big, None, None]), 0.0)
        return _scores(n, trace, det, alpha, beta)

    def absorb(self, a, b):
        """Cluster ``b`` merged into ``a``."""
        na, nb = self.counts[a], self.counts[b]
        n = na + nb
        diff = self.means[a] - self.means[b]
        self.scatter[a] = self.scatter[a] + self.scatter[b] + (na * nb / n) * np.outer(diff, diff)
        self.trace[a] = np.trace(self.scatter[a])
        self.means[a] = (na * self.means[a] + nb * self.means[b]) / n
        self.counts[a] = n


def _merge_reference(c, own, alpha, beta):
    """The merge loop in NumPy (the reference of :func:`emkit.kernels.hierarchical_numba.merge`).

    ``c`` (:class:`_Clusters`) and ``own`` (each cluster's score) are updated in place.
    """
    m = own.shape[0]
    # cost[i, j] (i < j) of merging i and j; inf elsewhere and for merged-away clusters.
    # best[i], arg[i]: the smallest cost of row i and its first column.
    cost = np.full((m, m), np.inf)
    for i in range(m - 1):
        others = np.arange(i + 1, m)
        cost[i, others] = c.scores(i, others, alpha, beta) - own[i] - own[others]
    best = np.full(m, np.inf)
    arg = np.zeros(m, dtype=np.intp)

    def refresh(i):
        j = int(np.argmin(cost[i]))
        best[i], arg[i] = cost[i, j], j

    for i in range(m - 1):
        refresh(i)
    alive = np.ones(m, dtype=bool)
    rows = np.arange(m)
    merges = np.zeros((max(m - 1, 0), 2), dtype=np.intp)
    costs = np.zeros(max(m - 1, 0))
    for step in range(m - 1):
        a = int(np.argmin(best))
        b = int(arg[a])
        merges[step] = a, b
        costs[step] = cost[a, b]
        own[a] = c.scores(a, np.array([b]), alpha, beta)[0]
        c.absorb(a, b)
        alive[b] = False
        cost[b, :] = np.inf
        cost[:b, b] = np.inf
        best[b] = np.inf
        stale = [rows[:b][alive[:b] & (arg[:b] == b)], np.array([a])]
        rest = np.flatnonzero(alive)
        rest = rest[rest != a]
        if rest.size:
            value = c.scores(a, rest, alpha, beta) - own[a] - own[rest]
            low, high = np.minimum(rest, a), np.maximum(rest, a)
            cost[low, high] = value
            # Rows above a: their column a changed.
            up, v = rest[rest < a], value[rest < a]
            was_a = arg[up] == a
            stale.append(up[was_a])
            up, v = up[~was_a], v[~was_a]
            better = (v < best[up]) | ((v == best[up]) & (a < arg[up]))
            best[up[better]], arg[up[better]] = v[better], a
        for i in np.unique(np.concatenate(stale)).tolist():
            refresh(i)
    return merges, costs


def agglomerate(X, partition=None, *, kernels="numba"):
    """Model-based hierarchical agglomeration of the rows of ``X`` (already transformed).

    Parameters
    ----------
    X : ndarray of shape (n, d)
    partition : ndarray of int of shape (n,), optional
        Initial clusters (default: :func:`duplicate_partition`).
    kernels : {'numba', 'numpy'}, default='numba'
        The compiled merge loop (:func:`emkit.kernels.hierarchical_numba.merge`) or its NumPy
        reference (the same merges; the compiled one is about ten times faster on 2000 rows).

    Returns
    -------
    Hierarchy
    """
    if kernels not in KERNELS:
        raise ValueError(f"kernels must be one of {list(KERNELS)}, got {kernels!r}")
    X = np.asarray(X, dtype=np.float64)
    n, d = X.shape
    initial = duplicate_partition(X) if partition is None else np.asarray(partition)
    m = int(initial.max()) + 1
    c = _Clusters(X, initial, m)
    total = X - X.mean(axis=0)
    alpha = max(float(np.sum(total**2)) / (n * d), np.finfo(np.float64).eps)
    beta = 1.0
    own = _scores(c.counts, c.trace, c.determinants(c.counts, c.scatter), alpha, beta)
    if kernels == "numpy":
        merges, costs = _merge_reference(c, own, alpha, beta)
    else:
        stats = (c.counts, c.means, c.scatter, c.trace, own, alpha, beta)
        cost = np.full((m, m), np.inf)

        def rows(lo, hi):
            hierarchical_numba.initial_costs(*stats, cost, lo, hi)

        # The initial pair costs (half the work) on the kernels' threads; the merges serially.
        run_ranges(rows, hierarchical_numba.n_cost_items(m))
        merges, costs = hierarchical_numba.merge_from(cost, *stats)
        merges = merges.astype(np.intp, copy=False)
    return Hierarchy(initial, merges, costs)


def hierarchy(X, *, max_rows=2000, random_state=None):
    """Mclust's default initialisation hierarchy: :func:`agglomerate` on :func:`svd_transform`.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    max_rows : int, default=2000
        With more rows, the hierarchy is computed on a uniform sample of this many (mclust's
        ``subset``); ``Hierarchy.rows`` says which.
    random_state : numpy.random.RandomState
        Draws the sample (only when one is needed).

    Returns
    -------
    Hierarchy
    """
    rows = None
    if X.shape[0] > max_rows:
        rows = np.sort(random_state.choice(X.shape[0], size=max_rows, replace=False))
        X = X[rows]
    h = agglomerate(svd_transform(X))
    return Hierarchy(h.initial, h.merges, h.costs, rows)
