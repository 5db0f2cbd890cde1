"""NumPy reference kernels of the Gaussian E-step on rows with missing (NaN) coordinates.

The oracle of :mod:`emkit.kernels.gaussian_missing_numba` (same signatures, same results to
rounding). Every row is scored on its observed coordinates ``o`` (the marginal
``N(x_o | mu_o, S_oo)`` of each component) and completed, for the statistics, by the
conditional expectation of its missing coordinates ``m`` given ``x_o``,
``mu_m + S_mo S_oo^-1 (x_o - mu_o)``, whose conditional covariance
``S_mm - S_mo S_oo^-1 S_om`` is added to the scatter (Ghahramani & Jordan, 1994).

Rows are grouped by their *missingness pattern* (:func:`missing_patterns`): ``S_oo`` is
factorised once per component and pattern, and the rows of a pattern are processed together.

Conventions
-----------
``cov`` holds dense covariances of shape (Kc, d, d), with ``Kc = K`` or ``Kc = 1`` (one matrix
shared by every component). ``order`` lists the rows grouped by pattern, pattern ``p``
occupying ``order[starts[p]:starts[p + 1]]``. ``diagonal`` says that every covariance is
diagonal: only the diagonal of the scatter is then formed (the rest is zero). The scatter is dense,
(K, d, d): the covariance strategies map it to their own layout. A row with no observed
coordinate is left out of every statistic and has log-density 0.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg

LOG_2PI = float(np.log(2.0 * np.pi))

# Beyond this many features a pattern is keyed by its packed bytes instead of an integer.
_INT_KEY_FEATURES = 62


def missing_patterns(missing):
    """Group rows by missingness pattern.

    Parameters
    ----------
    missing : ndarray of bool, shape (n, d)
        True where a value is missing.

    Returns
    -------
    order : ndarray of int64, shape (n,)
        Row indices, grouped by pattern (rows keep their relative order within a pattern).
    starts : ndarray of int64, shape (P + 1,)
        Pattern ``p`` occupies ``order[starts[p]:starts[p + 1]]``.
    """
    n, d = missing.shape
    if d <= _INT_KEY_FEATURES:
        # One bit per feature, a column at a time (row reductions over a few features are
        # slow in NumPy); 16-bit keys sort by radix.
        dtype = np.uint16 if d <= 16 else np.int64
        keys = np.zeros(n, dtype=dtype)
        for j in range(d):
            keys |= missing[:, j].astype(dtype) << dtype(j)
    else:
        packed = np.packbits(missing, axis=1)
        _, keys = np.unique(packed, axis=0, return_inverse=True)
        keys = keys.reshape(-1)
    order = np.argsort(keys, kind="stable").astype(np.int64)
    sorted_keys = keys[order]
    cuts = np.flatnonzero(sorted_keys[1:] != sorted_keys[:-1]) + 1
    starts = np.concatenate([[0], cuts, [n]]).astype(np.int64)
    return order, starts


def pattern_factors(cov_k, obs, mis):
    """The conditional of one component given the observed coordinates ``obs``.

    Returns
    -------
    L : ndarray of shape (o, o)
        Lower Cholesky factor of ``S_oo``.
    W : ndarray of shape (o, m)
        ``L^-1 S_om``: the conditional mean of the missing coordinates is
        ``mu_m + W^T L^-1 (x_o - mu_o)``.
    C : ndarray of shape (m, m)
        Conditional covariance ``S_mm - W^T W``.
    """
    L = linalg.cholesky(cov_k[np.ix_(obs, obs)], lower=True, check_finite=False)
    W = linalg.solve_triangular(L, cov_k[np.ix_(obs, mis)], lower=True, check_finite=False)
    C = cov_k[np.ix_(mis, mis)] - W.T @ W
    return L, W, C


def pattern_parts(X, order, starts, means, cov):
    """Yield, per pattern with an observed coordinate: rows, obs, mis, and per-component parts.

    The parts of component ``k`` are ``(log_p, E, C)``: log-densities of the rows (n_p,),
    the completed rows centred on the means (n_p, d), and the conditional covariance.
    """
    K, d = means.shape
    for p in range(len(starts) - 1):
        rows = order[starts[p] : starts[p + 1]]
        miss = np.isnan(X[rows[0]])
        obs, mis = np.flatnonzero(~miss), np.flatnonzero(miss)
        if obs.size == 0:
            continue
        Xo = X[np.ix_(rows, obs)].astype(np.float64)
        parts = []
        for k in range(K):
            L, W, C = pattern_factors(cov[k if cov.shape[0] > 1 else 0], obs, mis)
            Z = linalg.solve_triangular(L, (Xo - means[k, obs]).T, lower=True, check_finite=False)
            log_p = -0.5 * (obs.size * LOG_2PI + np.sum(Z * Z, axis=0))
            log_p -= np.sum(np.log(np.diag(L)))
            E = np.empty((rows.size, d))
            E[:, obs] = Xo - means[k, obs]
            E[:, mis] = Z.T @ W
            parts.append((log_p, E, C))
        yield rows, obs, mis, parts


def log_prob(X, order, starts, means, cov, diagonal=False):
    """Log-densities of the observed coordinates of each row, shape (n, K), float64."""
    out = np.zeros((X.shape[0], means.shape[0]))
    for rows, _, _, parts in pattern_parts(X, order, starts, means, cov):
        for k, (log_p, _, _) in enumerate(parts):
            out[rows, k] = log_p
    return out


def _accumulate(stats, rows, mis, parts, R):
    """Add the statistics of a pattern's rows under weights ``R`` (n_p, K) to ``stats``."""
    counts, sums, scatter = stats
    for k, (_, E, C) in enumerate(parts):
        r = R[:, k]
        counts[k] += r.sum()
        sums[k] += r @ E
        scatter[k] += (E * r[:, None]).T @ E
        scatter[k][np.ix_(mis, mis)] += r.sum() * C


def scatter(X, wresp, order, starts, means, cov, diagonal=False):
    """Completed statistics under given weighted responsibilities ``wresp`` (n, K).

    Returns
    -------
    counts : ndarray of shape (K,)
    sums : ndarray of shape (K, d)
        ``sum_i w_ik (E[x_i] - mu_k)``, the conditional expectation under component ``k``.
    scatter : ndarray of shape (K, d, d)
        ``sum_i w_ik [(E[x_i] - mu_k)(E[x_i] - mu_k)^T + Cov[x_i]]``.
    """
    K, d = means.shape
    stats = (np.zeros(K), np.zeros((K, d)), np.zeros((K, d, d)))
    for rows, _, mis, parts in pattern_parts(X, order, starts, means, cov):
        _accumulate(stats, rows, mis, parts, wresp[rows].astype(np.float64))
    return _diagonal_only(stats, diagonal)


def _diagonal_only(stats, diagonal):
    counts, sums, scat = stats
    return counts, sums, scat * np.eye(scat.shape[1]) if diagonal else scat


def mixture_estep(X, w, order, starts, means, cov, log_weights, diagonal=False):
    """Fused mixture E-step on rows with missing coordinates.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    w : ndarray of shape (n,) or (0,)
        Row weights; an empty array for all ones.
    order, starts : ndarray of int64
        From :func:`missing_patterns`.
    means : ndarray of shape (K, d)
        The components' means, also the centre of the statistics.
    cov : ndarray of shape (Kc, d, d)
    log_weights : ndarray of shape (K,)
    diagonal : bool, default=False
        Whether ``cov`` is known to be diagonal; only the diagonal of the scatter is then
        formed.

    Returns
    -------
    log_likelihood, counts, sums, scatter, worst_score, worst_index
        As the fused kernels of :mod:`emkit.kernels.gaussian_numpy`, with a dense scatter
        (see :func:`scatter`); rows without an observed coordinate are left out.
    """
    K, d = means.shape
    stats = (np.zeros(K), np.zeros((K, d)), np.zeros((K, d, d)))
    ll, score, index = 0.0, np.inf, -1
    for rows, _, mis, parts in pattern_parts(X, order, starts, means, cov):
        joint = np.stack([log_p for log_p, _, _ in parts], axis=1) + log_weights
        top = joint.max(axis=1)
        norm = top + np.log(np.exp(joint - top[:, None]).sum(axis=1))
        R = np.exp(joint - norm[:, None])
        ww = np.ones(rows.size) if w.size == 0 else w[rows].astype(np.float64)
        _accumulate(stats, rows, mis, parts, R * ww[:, None])
        live = ww > 0
        ll += float(np.dot(ww[live], norm[live]))
        if live.any():
            cand = norm[live].min()
            first = rows[live][norm[live] == cand].min()
            if cand < score or (cand == score and first < index):
                score, index = float(cand), int(first)
    counts, sums, scat = _diagonal_only(stats, diagonal)
    return ll, counts, sums, scat, score, index
