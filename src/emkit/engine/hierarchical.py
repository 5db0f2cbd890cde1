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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
        for a, b in self.merges[: m - n_clusters]:
            parent[b] = a
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


def _scores(counts, trace, logdet, d, alpha, beta):
    """Mclust's regularised VVV score of clusters (see the module notes)."""
    spread = beta * (trace + alpha) / counts
    big = counts > d
    with np.errstate(over="ignore"):
        det = np.where(big, np.exp(np.where(big, logdet, 0.0)), 0.0)
    return counts * np.log(det + spread)


def _merged(i, counts, sums, scatter, others):
    """Count, mean-free scatter of cluster ``i`` merged with each cluster of ``others``."""
    n = counts[i] + counts[others]
    diff = sums[i] / counts[i] - sums[others] / counts[others][:, None]
    factor = counts[i] * counts[others] / n
    W = scatter[i] + scatter[others] + factor[:, None, None] * diff[:, :, None] * diff[:, None, :]
    return n, W


def _merge_scores(i, others, counts, sums, scatter, d, alpha, beta):
    n, W = _merged(i, counts, sums, scatter, others)
    trace = np.trace(W, axis1=1, axis2=2)
    sign, logdet = np.linalg.slogdet(W / n[:, None, None])
    logdet = np.where(sign > 0, logdet, -np.inf)
    return n, W, _scores(n, trace, logdet, d, alpha, beta)


def agglomerate(X, partition=None):
    """Model-based hierarchical agglomeration of the rows of ``X`` (already transformed).

    Parameters
    ----------
    X : ndarray of shape (n, d)
    partition : ndarray of int of shape (n,), optional
        Initial clusters (default: :func:`duplicate_partition`).

    Returns
    -------
    Hierarchy
    """
    X = np.asarray(X, dtype=np.float64)
    n, d = X.shape
    initial = duplicate_partition(X) if partition is None else np.asarray(partition)
    m = int(initial.max()) + 1
    counts = np.bincount(initial, minlength=m).astype(np.float64)
    sums = np.zeros((m, d))
    np.add.at(sums, initial, X)
    centred = X - (sums / counts[:, None])[initial]
    scatter = np.zeros((m, d, d))
    np.add.at(scatter, initial, centred[:, :, None] * centred[:, None, :])
    total = X - X.mean(axis=0)
    alpha = max(float(np.sum(total**2)) / (n * d), np.finfo(np.float64).eps)
    beta = 1.0
    trace = np.trace(scatter, axis1=1, axis2=2)
    sign, logdet = np.linalg.slogdet(scatter / counts[:, None, None])
    own = _scores(counts, trace, np.where(sign > 0, logdet, -np.inf), d, alpha, beta)
    # cost[i, j] (i < j) of merging i and j; inf elsewhere and for merged-away clusters.
    cost = np.full((m, m), np.inf)
    for i in range(m - 1):
        others = np.arange(i + 1, m)
        _, _, merged = _merge_scores(i, others, counts, sums, scatter, d, alpha, beta)
        cost[i, others] = merged - own[i] - own[others]
    alive = np.ones(m, dtype=bool)
    merges = np.zeros((max(m - 1, 0), 2), dtype=np.intp)
    costs = np.zeros(max(m - 1, 0))
    for step in range(m - 1):
        flat = int(np.argmin(cost))
        a, b = divmod(flat, m)
        merges[step] = a, b
        costs[step] = cost[a, b]
        others = np.array([b])
        nab, Wab, sab = _merge_scores(a, others, counts, sums, scatter, d, alpha, beta)
        counts[a], sums[a], scatter[a], own[a] = nab[0], sums[a] + sums[b], Wab[0], sab[0]
        alive[b] = False
        cost[b, :] = np.inf
        cost[:, b] = np.inf
        rest = np.flatnonzero(alive)
        rest = rest[rest != a]
        if rest.size:
            _, _, merged = _merge_scores(a, rest, counts, sums, scatter, d, alpha, beta)
            value = merged - own[a] - own[rest]
            low, high = np.minimum(rest, a), np.maximum(rest, a)
            cost[low, high] = value
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
