"""NumPy reference kernels for Gaussian log-densities and centred scatter statistics.

These are the oracle for the compiled kernels: same signatures, same results to rounding.
Shapes use ``n`` rows, ``d`` features and ``K`` components. Precision factors follow the
precision-Cholesky convention: ``prec_chol[k] @ prec_chol[k].T`` is the precision of component
``k`` and ``(x - mu) @ prec_chol[k]`` is the whitened residual.
"""

from __future__ import annotations

import numpy as np

from emkit.kernels.logsumexp import normalize_rows

LOG_2PI = float(np.log(2.0 * np.pi))


def log_prob_full(X, means, prec_chol, log_det):
    """Log-densities for full covariances.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    means : ndarray of shape (K, d)
    prec_chol : ndarray of shape (K, d, d)
    log_det : ndarray of shape (K,)
        ``log det prec_chol[k]`` (half the log-determinant of the precision).

    Returns
    -------
    ndarray of shape (n, K), in the dtype of ``X``.
    """
    n, d = X.shape
    K = means.shape[0]
    dt = X.dtype
    out = np.empty((n, K), dtype=dt)
    for k in range(K):
        y = (X - means[k].astype(dt)) @ prec_chol[k].astype(dt)
        out[:, k] = np.einsum("ij,ij->i", y, y)
    return _finish(out, d, log_det)


def log_prob_tied(X, means, prec_chol, log_det):
    """Log-densities for one shared covariance; ``prec_chol`` has shape (d, d)."""
    n, d = X.shape
    K = means.shape[0]
    dt = X.dtype
    out = np.empty((n, K), dtype=dt)
    L = prec_chol.astype(dt)
    for k in range(K):
        y = (X - means[k].astype(dt)) @ L
        out[:, k] = np.einsum("ij,ij->i", y, y)
    return _finish(out, d, np.full(K, log_det))


def log_prob_diag(X, means, prec_chol, log_det):
    """Log-densities for diagonal covariances; ``prec_chol`` has shape (K, d)."""
    n, d = X.shape
    K = means.shape[0]
    dt = X.dtype
    out = np.empty((n, K), dtype=dt)
    for k in range(K):
        y = (X - means[k].astype(dt)) * prec_chol[k].astype(dt)
        out[:, k] = np.einsum("ij,ij->i", y, y)
    return _finish(out, d, log_det)


def log_prob_spherical(X, means, prec_chol, log_det):
    """Log-densities for spherical covariances; ``prec_chol`` has shape (K,)."""
    n, d = X.shape
    K = means.shape[0]
    dt = X.dtype
    out = np.empty((n, K), dtype=dt)
    for k in range(K):
        y = X - means[k].astype(dt)
        out[:, k] = np.einsum("ij,ij->i", y, y) * dt.type(prec_chol[k] ** 2)
    return _finish(out, d, log_det)


def _finish(maha, d, log_det):
    maha += d * LOG_2PI
    maha *= -0.5
    maha += np.asarray(log_det).astype(maha.dtype)
    return maha


def _centred(X, ref_k):
    return X.astype(np.float64, copy=False) - ref_k


def scatter_full(X, wresp, ref):
    """Centred statistics per component, accumulated in float64.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    wresp : ndarray of shape (n, K)
        Responsibilities already multiplied by the row weights.
    ref : ndarray of shape (K, d)
        Reference point per component (the iteration's current means).

    Returns
    -------
    counts : ndarray of shape (K,)
    sums : ndarray of shape (K, d)
        ``sum_i w_ik (x_i - ref_k)``.
    scatter : ndarray of shape (K, d, d)
        ``sum_i w_ik (x_i - ref_k)(x_i - ref_k)^T``.
    """
    K, d = ref.shape
    W = wresp.astype(np.float64, copy=False)
    counts = W.sum(axis=0)
    sums = np.empty((K, d))
    scatter = np.empty((K, d, d))
    for k in range(K):
        diff = _centred(X, ref[k])
        wd = diff * W[:, k : k + 1]
        sums[k] = wd.sum(axis=0)
        scatter[k] = wd.T @ diff
    return counts, sums, scatter


def scatter_tied(X, wresp, ref):
    """Like :func:`scatter_full` but the scatter is summed over components: shape (d, d)."""
    counts, sums, scatter = scatter_full(X, wresp, ref)
    return counts, sums, scatter.sum(axis=0)


def scatter_diag(X, wresp, ref):
    """Like :func:`scatter_full` but keeps only the diagonal: scatter of shape (K, d)."""
    K, d = ref.shape
    W = wresp.astype(np.float64, copy=False)
    counts = W.sum(axis=0)
    sums = np.empty((K, d))
    scatter = np.empty((K, d))
    for k in range(K):
        diff = _centred(X, ref[k])
        wd = diff * W[:, k : k + 1]
        sums[k] = wd.sum(axis=0)
        scatter[k] = (wd * diff).sum(axis=0)
    return counts, sums, scatter


def scatter_spherical(X, wresp, ref):
    """Like :func:`scatter_diag` but summed over features: scatter of shape (K,)."""
    counts, sums, scatter = scatter_diag(X, wresp, ref)
    return counts, sums, scatter.sum(axis=1)


def _mixture_estep(log_prob, scatter, X, w, means, prec_chol, log_det, log_w):
    log_p = log_prob(X, means, prec_chol, log_det)
    log_norm, resp = normalize_rows(log_p + np.asarray(log_w).astype(log_p.dtype))
    if w is None:
        wresp = resp
        ll = float(np.sum(log_norm, dtype=np.float64))
        candidates = log_norm
    else:
        wresp = resp * w[:, None].astype(resp.dtype)
        positive = w > 0
        ll = float(np.dot(w[positive], log_norm[positive].astype(np.float64)))
        candidates = np.where(positive, log_norm, np.inf)
    counts, sums, scat = scatter(X, wresp, means)
    index = int(np.argmin(candidates)) if X.shape[0] else -1
    score = float(candidates[index]) if index >= 0 else np.inf
    if score == np.inf:
        index = -1
    return ll, counts, sums, scat, score, index


def mixture_estep_full(X, w, means, prec_chol, log_det, log_w):
    """Mixture E-step of a block of rows for full covariances.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    w : ndarray of shape (n,) or None
        Row weights (None for all ones).
    means : ndarray of shape (K, d)
        Component means; the statistics are centred on them.
    prec_chol, log_det : ndarray
        As for :func:`log_prob_full`.
    log_w : ndarray of shape (K,)
        Log mixture weights.

    Returns
    -------
    log_likelihood : float
        ``sum_i w_i log p(x_i)`` over the rows with ``w_i > 0``, in float64.
    counts, sums, scatter : ndarray
        As returned by :func:`scatter_full` under the weighted responsibilities.
    worst_score : float
        Lowest ``log p(x_i)`` among the rows with ``w_i > 0`` (``inf`` if none).
    worst_index : int
        Its row, the first on ties (-1 if none).
    """
    return _mixture_estep(log_prob_full, scatter_full, X, w, means, prec_chol, log_det, log_w)


def mixture_estep_tied(X, w, means, prec_chol, log_det, log_w):
    """Like :func:`mixture_estep_full` for one shared covariance."""
    return _mixture_estep(log_prob_tied, scatter_tied, X, w, means, prec_chol, log_det, log_w)


def mixture_estep_diag(X, w, means, prec_chol, log_det, log_w):
    """Like :func:`mixture_estep_full` for diagonal covariances."""
    return _mixture_estep(log_prob_diag, scatter_diag, X, w, means, prec_chol, log_det, log_w)


def mixture_estep_spherical(X, w, means, prec_chol, log_det, log_w):
    """Like :func:`mixture_estep_full` for spherical covariances."""
    return _mixture_estep(
        log_prob_spherical, scatter_spherical, X, w, means, prec_chol, log_det, log_w
    )
