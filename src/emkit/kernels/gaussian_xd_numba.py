"""Compiled (numba) Gaussian E-step of rows measured with their own noise (extreme deconvolution).

The fast twin of :mod:`emkit.kernels.gaussian_xd_numpy` (same signatures, conventions and
results to rounding; the mathematics is described there). One pass over the rows: per row and
component, ``T = V_k + S_i`` is factorised in place (``L L^T = T``), ``L^-1`` gives ``T^-1``
and the log-density; the posterior weights then add ``r (b - m_k)``, ``r (b - m_k)(b - m_k)^T``
and ``r T^-1`` to per-component sums, from which the completed scatter is formed once per
block. No (n, K, d, d) temporary is made.

The kernel runs on one thread and releases the GIL: the engine computes several blocks at
once on its thread pool. Inputs are float64.
"""

from __future__ import annotations

import math

import numpy as np

from emkit.kernels._jit import njit

__all__ = ["log_prob", "mixture_estep", "scatter"]

LOG_2PI = math.log(2.0 * math.pi)

# Modes of the one compiled pass.
_LOG_PROB, _ESTEP, _GIVEN = 0, 1, 2

_JIT = {"nogil": True, "cache": True, "error_model": "numpy"}


@njit(**_JIT)
def _solve_row(x, S, means, covs, logp, z, tinv, L, Li, diff):
    """Per component ``k``: ``logp[k]``, ``z[k] = T^-1 (x - m_k)`` and ``tinv[k] = T^-1``."""
    K, d = means.shape
    shared = covs.shape[0] == 1
    for k in range(K):
        V = covs[0] if shared else covs[k]
        log_det = 0.0
        ok = True
        for a in range(d):  # Cholesky of T = V + S, lower triangle
            for b in range(a + 1):
                acc = V[a, b] + S[a, b]
                for c in range(b):
                    acc -= L[a, c] * L[b, c]
                if a == b:
                    if not acc > 0.0:
                        ok = False
                        acc = 1.0
                    L[a, a] = math.sqrt(acc)
                    log_det += math.log(L[a, a])
                else:
                    L[a, b] = acc / L[b, b]
        for a in range(d):  # Li = L^-1 (lower)
            for b in range(d):
                Li[a, b] = 0.0
        for b in range(d):
            Li[b, b] = 1.0 / L[b, b]
            for a in range(b + 1, d):
                acc = 0.0
                for c in range(b, a):
                    acc -= L[a, c] * Li[c, b]
                Li[a, b] = acc / L[a, a]
        for a in range(d):  # T^-1 = Li^T Li
            for b in range(a + 1):
                acc = 0.0
                for c in range(a, d):
                    acc += Li[c, a] * Li[c, b]
                tinv[k, a, b] = acc
                tinv[k, b, a] = acc
        for a in range(d):
            diff[a] = x[a] - means[k, a]
        maha = 0.0
        for a in range(d):
            acc = 0.0
            for b in range(d):
                acc += tinv[k, a, b] * diff[b]
            z[k, a] = acc
            maha += diff[a] * acc
        logp[k] = -0.5 * (d * LOG_2PI + 2.0 * log_det + maha) if ok else np.nan


@njit(**_JIT)
def _pass(mode, X, S, w, wresp, means, covs, log_weights, out):
    n, d = X.shape
    K = means.shape[0]
    shared = covs.shape[0] == 1
    logp = np.empty(K)
    r = np.empty(K)
    z = np.empty((K, d))
    tinv = np.empty((K, d, d))
    L = np.empty((d, d))
    Li = np.empty((d, d))
    diff = np.empty(d)
    delta = np.empty(d)
    counts = np.zeros(K)
    sums = np.zeros((K, d))
    outer = np.zeros((K, d, d))
    A = np.zeros((K, d, d))
    ll = 0.0
    worst = math.inf
    index = -1
    for i in range(n):
        _solve_row(X[i], S[i], means, covs, logp, z, tinv, L, Li, diff)
        if mode == _LOG_PROB:
            for k in range(K):
                out[i, k] = logp[k]
            continue
        if mode == _ESTEP:
            wi = 1.0 if w.size == 0 else w[i]
            top = -math.inf
            for k in range(K):
                r[k] = logp[k] + log_weights[k]
                top = max(top, r[k])
            total = 0.0
            for k in range(K):
                r[k] = math.exp(r[k] - top)
                total += r[k]
            log_norm = top + math.log(total)
            for k in range(K):
                r[k] = r[k] / total * wi
            if wi > 0.0:
                ll += wi * log_norm
                if log_norm < worst:
                    worst = log_norm
                    index = i
        else:
            for k in range(K):
                r[k] = wresp[i, k]
        for k in range(K):
            rk = r[k]
            if rk == 0.0:
                continue
            V = covs[0] if shared else covs[k]
            for a in range(d):  # b - m_k = V T^-1 (x - m_k)
                acc = 0.0
                for b in range(d):
                    acc += V[a, b] * z[k, b]
                delta[a] = acc
            counts[k] += rk
            for a in range(d):
                sums[k, a] += rk * delta[a]
                for b in range(d):
                    outer[k, a, b] += rk * delta[a] * delta[b]
                    A[k, a, b] += rk * tinv[k, a, b]
    dense = np.empty((K, d, d))
    VA = np.empty((d, d))
    for k in range(K):
        V = covs[0] if shared else covs[k]
        for a in range(d):
            for b in range(d):
                acc = 0.0
                for c in range(d):
                    acc += V[a, c] * A[k, c, b]
                VA[a, b] = acc
        for a in range(d):
            for b in range(d):
                acc = 0.0
                for c in range(d):
                    acc += VA[a, c] * V[c, b]
                dense[k, a, b] = outer[k, a, b] + counts[k] * V[a, b] - acc
    return ll, counts, sums, dense, worst, index


_NO_ROWS = np.empty((0, 0))


def log_prob(X, S, means, covs):
    """Log-density of each noisy row under each component, shape (n, K)."""
    out = np.empty((X.shape[0], means.shape[0]))
    _pass(_LOG_PROB, X, S, np.empty(0), _NO_ROWS, means, covs, np.empty(0), out)
    return out


def scatter(X, S, wresp, means, covs):
    """``(counts, sums, dense)`` of the completed points under posterior weights ``wresp``."""
    res = _pass(_GIVEN, X, S, np.empty(0), wresp, means, covs, np.empty(0), _NO_ROWS)
    return res[1], res[2], res[3]


def mixture_estep(X, S, w, means, covs, log_weights):
    """One-pass mixture E-step of a block of noisy rows (see the NumPy twin)."""
    return _pass(_ESTEP, X, S, w, _NO_ROWS, means, covs, log_weights, _NO_ROWS)
