"""Compiled (numba) Gaussian E-step on rows with missing (NaN) coordinates.

The fast twin of :mod:`emkit.kernels.gaussian_missing_numpy` (same signatures and
conventions, same results to rounding). One pass over the rows of a block, grouped by
missingness pattern: per pattern, each component's observed block ``S_oo`` is factorised once
(``L L^T = S_oo``, ``W = L^-1 S_om``, ``C = S_mm - W^T W``); the rows of the pattern then go
through tiles of ``TILE`` rows transposed to feature-major order, so that the innermost loops
(whitening, exponentials, completed statistics) run over the rows of a tile and vectorise. A
pattern seen once costs one factorisation per component for its single row (the per-row
conditionals of the textbook algorithm); a pattern shared by many rows costs one in all.

The kernel runs on one thread and releases the GIL: the engine computes several blocks at
once on its thread pool. Inputs are float64 (the caller converts float32 blocks).
"""

from __future__ import annotations

import math

import numpy as np

from emkit.kernels._jit import njit
from emkit.kernels.gaussian_missing_numpy import missing_patterns
from emkit.kernels.vecmath import exp_nonpos

__all__ = ["log_prob", "missing_patterns", "mixture_estep", "scatter"]

#: Rows per tile: the vector dimension of the inner loops.
TILE = 128

LOG_2PI = math.log(2.0 * math.pi)

# Modes of the one compiled pass.
_LOG_PROB, _ESTEP, _GIVEN = 0, 1, 2

_JIT = {"nogil": True, "cache": True, "error_model": "numpy"}
_REDUCTION = {"contract", "reassoc", "nsz"}


@njit(**_JIT)
def _factor(cov, obs, no, mis, nm, L, W, C, diagonal):
    """Factor the observed block of ``cov``; fill ``L``, ``W``, ``C``; return ``log det L``.

    With ``diagonal``, ``cov`` is known to be diagonal: ``L`` holds standard deviations on its
    diagonal (nothing else is read), ``W`` is zero and ``C`` the missing variances.
    """
    if diagonal:
        log_det = 0.0
        for a in range(no):
            L[a, a] = math.sqrt(cov[obs[a], obs[a]])
            log_det += math.log(L[a, a])
        for c in range(nm):
            for e in range(c, nm):
                C[c, e] = cov[mis[c], mis[e]]
        return log_det
    for a in range(no):
        for b in range(a + 1):
            L[a, b] = cov[obs[a], obs[b]]
    log_det = 0.0
    for a in range(no):
        for b in range(a + 1):
            s = L[a, b]
            for c in range(b):
                s -= L[a, c] * L[b, c]
            if a == b:
                # A principal block of a positive definite matrix is positive definite; the
                # floor only guards against rounding in a nearly singular covariance.
                s = math.sqrt(max(s, 1e-300))
                L[a, a] = s
                log_det += math.log(s)
            else:
                L[a, b] = s / L[b, b]
    for c in range(nm):
        for a in range(no):
            s = cov[obs[a], mis[c]]
            for b in range(a):
                s -= L[a, b] * W[b, c]
            W[a, c] = s / L[a, a]
    for c in range(nm):
        for e in range(c, nm):
            s = cov[mis[c], mis[e]]
            for a in range(no):
                s -= W[a, c] * W[a, e]
            C[c, e] = s
    return log_det


@njit(fastmath=_REDUCTION, **_JIT)
def _whiten(XT, m, means, k, obs, no, L, Z, lp, c0, diagonal):
    """``Z = L^-1 (x_o - mu_o)`` for the tile's rows and their log-densities ``lp``."""
    for a in range(no):
        mu = means[k, obs[a]]
        for t in range(m):
            Z[a, t] = XT[a, t] - mu
    for a in range(no):
        for b in range(0 if diagonal else a):
            lab = L[a, b]
            for t in range(m):
                Z[a, t] -= lab * Z[b, t]
        inv = 1.0 / L[a, a]
        for t in range(m):
            Z[a, t] *= inv
    for t in range(m):
        lp[t] = c0
    for a in range(no):
        for t in range(m):
            lp[t] -= 0.5 * Z[a, t] * Z[a, t]


@njit(fastmath=_REDUCTION, **_JIT)
def _completed(XT, m, means, k, obs, no, mis, nm, W, Z, r, E, tmp, sums, scatter, diagonal):
    """Add the tile's completed statistics of component ``k`` under weights ``r``.

    With ``diagonal`` only the diagonal of the scatter is formed, from the observed
    coordinates alone (the completed ones sit at the mean).
    """
    if diagonal:
        for a in range(no):
            i = obs[a]
            mu = means[k, i]
            s = 0.0
            q = 0.0
            for t in range(m):
                e = XT[a, t] - mu
                s += r[t] * e
                q += r[t] * e * e
            sums[k, i] += s
            scatter[k, i, i] += q
        return
    d = means.shape[1]
    for a in range(no):
        mu = means[k, obs[a]]
        row = E[obs[a]]
        for t in range(m):
            row[t] = XT[a, t] - mu
    for c in range(nm):
        row = E[mis[c]]
        for t in range(m):
            row[t] = 0.0
        for a in range(no):
            wac = W[a, c]
            for t in range(m):
                row[t] += wac * Z[a, t]
    for i in range(d):
        s = 0.0
        for t in range(m):
            tmp[t] = r[t] * E[i, t]
            s += tmp[t]
        sums[k, i] += s
        for j in range(i, d):
            s = 0.0
            for t in range(m):
                s += tmp[t] * E[j, t]
            scatter[k, i, j] += s


@njit(fastmath=_REDUCTION, **_JIT)
def _posterior(lp, log_weights, m, R, norm, top):
    """Responsibilities ``R`` of the tile's rows and their log-normalisers ``norm``."""
    K = lp.shape[0]
    for t in range(m):
        top[t] = -np.inf
    for k in range(K):
        lw = log_weights[k]
        for t in range(m):
            top[t] = max(top[t], lp[k, t] + lw)
    for t in range(m):
        norm[t] = 0.0
    for k in range(K):
        lw = log_weights[k]
        for t in range(m):
            R[k, t] = exp_nonpos(lp[k, t] + lw - top[t])
            norm[t] += R[k, t]
    for t in range(m):
        inv = 1.0 / norm[t]
        norm[t] = top[t] + math.log(norm[t])
        top[t] = inv
    for k in range(K):
        for t in range(m):
            R[k, t] *= top[t]


@njit(fastmath=_REDUCTION, **_JIT)
def _run(
    X, w, wresp, order, starts, means, cov, diagonal, log_weights, mode, out, counts, sums, scatter
):
    d = X.shape[1]
    K = means.shape[0]
    Kc = cov.shape[0]
    weighted = w.shape[0] > 0
    L = np.empty((Kc, d, d))
    W = np.empty((Kc, d, d))
    C = np.empty((Kc, d, d))
    log_det = np.empty(Kc)
    obs = np.empty(d, dtype=np.int64)
    mis = np.empty(d, dtype=np.int64)
    XT = np.empty((d, TILE))
    Z = np.empty((K, d, TILE))
    lp = np.empty((K, TILE))
    R = np.empty((K, TILE))
    E = np.empty((d, TILE))
    tmp = np.empty(TILE)
    norm = np.empty(TILE)
    mass = np.empty(K)
    ll = 0.0
    score = np.inf
    index = -1
    for p in range(starts.shape[0] - 1):
        s0, s1 = starts[p], starts[p + 1]
        first = order[s0]
        no = 0
        nm = 0
        for j in range(d):
            if np.isnan(X[first, j]):
                mis[nm] = j
                nm += 1
            else:
                obs[no] = j
                no += 1
        if no == 0:
            continue
        for kc in range(Kc):
            log_det[kc] = _factor(cov[kc], obs, no, mis, nm, L[kc], W[kc], C[kc], diagonal)
        for k in range(K):
            mass[k] = 0.0
        for t0 in range(s0, s1, TILE):
            m = min(TILE, s1 - t0)
            for a in range(no):
                ja = obs[a]
                for t in range(m):
                    XT[a, t] = X[order[t0 + t], ja]
            for k in range(K):
                kc = k if Kc > 1 else 0
                c0 = -0.5 * no * LOG_2PI - log_det[kc]
                _whiten(XT, m, means, k, obs, no, L[kc], Z[k], lp[k], c0, diagonal)
            if mode == _LOG_PROB:
                for t in range(m):
                    i = order[t0 + t]
                    for k in range(K):
                        out[i, k] = lp[k, t]
                continue
            if mode == _ESTEP:
                _posterior(lp, log_weights, m, R, norm, tmp)
                for t in range(m):
                    i = order[t0 + t]
                    wi = w[i] if weighted else 1.0
                    if wi > 0:
                        ll += wi * norm[t]
                        if norm[t] < score or (norm[t] == score and i < index):
                            score = norm[t]
                            index = i
                    if weighted:
                        for k in range(K):
                            R[k, t] *= wi
            else:
                for t in range(m):
                    i = order[t0 + t]
                    for k in range(K):
                        R[k, t] = wresp[i, k]
            for k in range(K):
                tot = 0.0
                for t in range(m):
                    tot += R[k, t]
                if tot == 0.0:
                    continue
                mass[k] += tot
                counts[k] += tot
                kc = k if Kc > 1 else 0
                _completed(
                    XT,
                    m,
                    means,
                    k,
                    obs,
                    no,
                    mis,
                    nm,
                    W[kc],
                    Z[k],
                    R[k],
                    E,
                    tmp,
                    sums,
                    scatter,
                    diagonal,
                )
        if mode == _LOG_PROB:
            continue
        for k in range(K):
            if mass[k] == 0.0:
                continue
            kc = k if Kc > 1 else 0
            for c in range(nm):
                for e in range(c, nm):
                    scatter[k, mis[c], mis[e]] += mass[k] * C[kc, c, e]
    for k in range(K):
        for i in range(d):
            for j in range(i):
                scatter[k, i, j] = scatter[k, j, i]
    return ll, score, index


def _call(mode, X, w, wresp, order, starts, means, cov, diagonal, log_weights, out):
    """Run the compiled pass in ``mode``; returns ``(ll, score, index, counts, sums, scatter)``."""
    K, d = means.shape
    counts, sums, scat = np.zeros(K), np.zeros((K, d)), np.zeros((K, d, d))
    ll, score, index = _run(
        X, w, wresp, order, starts, means, cov, diagonal, log_weights, mode, out, counts, sums,
        scat,
    )  # fmt: skip
    return ll, score, int(index), counts, sums, scat


def log_prob(X, order, starts, means, cov, diagonal=False):
    """Log-densities of the observed coordinates of each row, shape (n, K), float64."""
    K = means.shape[0]
    out = np.zeros((X.shape[0], K))
    none = np.empty((0, K))
    _call(_LOG_PROB, X, np.empty(0), none, order, starts, means, cov, diagonal, np.zeros(K), out)
    return out


def scatter(X, wresp, order, starts, means, cov, diagonal=False):
    """Completed statistics under given weighted responsibilities (see the NumPy twin)."""
    K = means.shape[0]
    wresp = np.ascontiguousarray(wresp, dtype=np.float64)
    found = _call(
        _GIVEN, X, np.empty(0), wresp, order, starts, means, cov, diagonal, np.zeros(K),
        np.empty((0, K)),
    )  # fmt: skip
    return found[3:]


def mixture_estep(X, w, order, starts, means, cov, log_weights, diagonal=False):
    """Fused mixture E-step on rows with missing coordinates (see the NumPy twin)."""
    none = np.empty((0, means.shape[0]))
    ll, score, index, counts, sums, scat = _call(
        _ESTEP, X, w, none, order, starts, means, cov, diagonal, log_weights, none
    )
    return ll, counts, sums, scat, score, index
