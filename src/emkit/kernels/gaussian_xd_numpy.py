"""NumPy Gaussian E-step of rows measured with their own noise (extreme deconvolution).

Bovy, Hogg & Roweis (2011): row ``x_i`` is a draw ``v_i`` of the mixture plus noise of known
covariance ``S_i``. Under component ``k`` (mean ``m_k``, covariance ``V_k``) the row has density
``N(x_i; m_k, T_ik)`` with ``T_ik = V_k + S_i``, and the true point ``v_i`` has conditional mean
``b_ik = m_k + V_k T_ik^-1 (x_i - m_k)`` and covariance ``B_ik = V_k - V_k T_ik^-1 V_k``. The
statistics are those of the completed points, centred on ``m_k``::

    sums_k    = sum_i r_ik (b_ik - m_k)
    scatter_k = sum_i r_ik [(b_ik - m_k)(b_ik - m_k)^T + B_ik]
              = sum_i r_ik (b_ik - m_k)(b_ik - m_k)^T + n_k V_k - V_k (sum_i r_ik T_ik^-1) V_k

so every covariance structure's M-step (which reads dense per-component scatters) is the exact
XD update. Inputs are float64; ``covs`` has one matrix per component, or one shared by all.
The compiled twin is :mod:`emkit.kernels.gaussian_xd_numba`.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["log_prob", "mixture_estep", "scatter"]

LOG_2PI = math.log(2.0 * math.pi)


def _cov(covs, k):
    return covs[k if covs.shape[0] > 1 else 0]


def _solved(X, S, means, covs):
    """``log N(x_i; m_k, T_ik)`` (n, K), ``T_ik^-1 (x_i - m_k)`` (n, K, d), ``T_ik^-1``."""
    n, d = X.shape
    K = means.shape[0]
    logp = np.empty((n, K))
    z = np.empty((n, K, d))
    tinv = np.empty((n, K, d, d))
    eye = np.eye(d)
    for k in range(K):
        T = _cov(covs, k)[None] + S
        L = np.linalg.cholesky(T)
        diff = X - means[k]
        inv_l = np.linalg.solve(L, np.broadcast_to(eye, T.shape))
        tinv[:, k] = np.einsum("nji,njk->nik", inv_l, inv_l)
        z[:, k] = np.einsum("nij,nj->ni", tinv[:, k], diff)
        log_det = 2.0 * np.log(np.diagonal(L, axis1=1, axis2=2)).sum(axis=1)
        logp[:, k] = -0.5 * (d * LOG_2PI + log_det + np.einsum("ni,ni->n", diff, z[:, k]))
    return logp, z, tinv


def log_prob(X, S, means, covs):
    """Log-density of each noisy row under each component, shape (n, K)."""
    return _solved(X, S, means, covs)[0]


def _stats(z, tinv, wresp, covs):
    K, d = z.shape[1], z.shape[2]
    counts = wresp.sum(axis=0)
    sums = np.empty((K, d))
    dense = np.empty((K, d, d))
    for k in range(K):
        V = _cov(covs, k)
        delta = z[:, k] @ V  # b_ik - m_k (V symmetric)
        r = wresp[:, k]
        sums[k] = r @ delta
        A = np.einsum("n,nij->ij", r, tinv[:, k])
        dense[k] = (delta * r[:, None]).T @ delta + counts[k] * V - V @ A @ V
    return counts, sums, dense


def scatter(X, S, wresp, means, covs):
    """``(counts, sums, dense)`` of the completed points under posterior weights ``wresp``."""
    _, z, tinv = _solved(X, S, means, covs)
    return _stats(z, tinv, wresp, covs)


def mixture_estep(X, S, w, means, covs, log_weights):
    """One-pass mixture E-step of a block of noisy rows.

    Returns ``(log_lik, counts, sums, dense, worst_score, worst_index)`` with the conventions
    of the other Gaussian kernels (``w`` empty for unit weights; ``worst`` over rows of
    positive weight).
    """
    logp, z, tinv = _solved(X, S, means, covs)
    joint = logp + log_weights
    top = joint.max(axis=1, keepdims=True)
    log_norm = (top + np.log(np.exp(joint - top).sum(axis=1, keepdims=True)))[:, 0]
    resp = np.exp(joint - log_norm[:, None])
    weights = np.ones(X.shape[0]) if w.size == 0 else w
    counts, sums, dense = _stats(z, tinv, resp * weights[:, None], covs)
    live = np.flatnonzero(weights > 0)
    ll = float(np.dot(weights[live], log_norm[live]))
    if live.size == 0:
        return ll, counts, sums, dense, math.inf, -1
    worst = int(live[np.argmin(log_norm[live])])
    return ll, counts, sums, dense, float(log_norm[worst]), worst
