"""Compiled (numba) iterative M-steps of the parsimonious covariance structures.

The fast twin of the NumPy loop in :func:`emkit.families.parsimonious.common_orientation`
(EVE and VVE: sweeps of exact plane rotations of a common orientation ``D``, each followed by
the closed-form eigenvalues ``deltas``), operation by operation in the same order, so that
both stop after the same sweep with the same result to rounding.
"""

from __future__ import annotations

import math

import numpy as np

from emkit.kernels._jit import njit

__all__ = ["common_orientation"]

_JIT = {"nogil": True, "cache": True, "error_model": "numpy"}
_TINY = np.finfo(np.float64).tiny


@njit(**_JIT)
def _diagonals(W, D, B):
    """``B[k, i] = max(D[:, i]^T W_k D[:, i], tiny)``."""
    K, d, _ = W.shape
    for k in range(K):
        for i in range(d):
            s = 0.0
            for j in range(d):
                t = 0.0
                for ll in range(d):
                    t += W[k, j, ll] * D[ll, i]
                s += D[j, i] * t
            B[k, i] = max(s, _TINY)


@njit(**_JIT)
def _deltas(counts, B, equal_volume, out):
    """Closed-form eigenvalues given the diagonals ``B`` (see the NumPy loop's ``_deltas``)."""
    K, d = B.shape
    if equal_volume:
        scale = np.empty(K)
        for k in range(K):
            s = 0.0
            for i in range(d):
                s += math.log(B[k, i])
            scale[k] = math.exp(s / d)
        f = scale.sum() / counts.sum()
        for k in range(K):
            for i in range(d):
                out[k, i] = f * B[k, i] / scale[k]
    else:
        for k in range(K):
            for i in range(d):
                out[k, i] = B[k, i] / counts[k]


@njit(**_JIT)
def _rotate_plane(W, D, B, deltas, p, q, dp, dq, e):
    """One exact plane rotation of columns ``p``, ``q`` of ``D`` (``B`` updated in place)."""
    K, d, _ = W.shape
    for j in range(d):
        dp[j] = D[j, p]
        dq[j] = D[j, q]
    P = 0.0
    Q = 0.0
    for k in range(K):
        s = 0.0
        for j in range(d):
            t = 0.0
            for ll in range(d):
                t += W[k, j, ll] * dp[ll]
            s += t * dq[j]
        e[k] = s
        gap = 1.0 / deltas[k, p] - 1.0 / deltas[k, q]
        P += gap * (B[k, p] - B[k, q])
        Q += gap * s
    P = 0.5 * P
    R = math.hypot(P, Q)
    if not R > 0:
        return
    cos2, sin2 = -P / R, -Q / R
    c = math.sqrt(max(0.5 * (1.0 + cos2), 0.0))
    s = math.copysign(math.sqrt(max(0.5 * (1.0 - cos2), 0.0)), sin2)
    for j in range(d):
        D[j, p] = c * dp[j] + s * dq[j]
        D[j, q] = -s * dp[j] + c * dq[j]
    for k in range(K):
        a, b = B[k, p], B[k, q]
        cross = 2.0 * c * s * e[k]
        B[k, p] = max(c * c * a + s * s * b + cross, _TINY)
        B[k, q] = max(s * s * a + c * c * b - cross, _TINY)


@njit(**_JIT)
def common_orientation(counts, W, D, equal_volume, tol, max_iterations):
    """Sweeps of plane rotations from the orientation ``D`` (updated in place).

    Parameters
    ----------
    counts : ndarray of shape (K,)
    W : ndarray of shape (K, d, d)
        Regularised within-component scatters.
    D : ndarray of shape (d, d)
        Starting orientation (columns), rotated in place.
    equal_volume : bool
        EVE (True) or VVE.
    tol : float
        Relative change of the objective below which the sweeps stop.
    max_iterations : int

    Returns
    -------
    deltas : ndarray of shape (K, d)
    """
    K, d, _ = W.shape
    B = np.empty((K, d))
    deltas = np.empty((K, d))
    dp, dq, e = np.empty(d), np.empty(d), np.empty(K)
    _diagonals(W, D, B)
    _deltas(counts, B, equal_volume, deltas)
    objective = np.inf
    for _ in range(max_iterations):
        for p in range(d - 1):
            for q in range(p + 1, d):
                _rotate_plane(W, D, B, deltas, p, q, dp, dq, e)
                _deltas(counts, B, equal_volume, deltas)
        # Recompute the diagonals once per sweep so that rounding does not accumulate.
        _diagonals(W, D, B)
        _deltas(counts, B, equal_volume, deltas)
        new = 0.0
        for k in range(K):
            for i in range(d):
                new += counts[k] * math.log(deltas[k, i])
        extra = 0.0
        for k in range(K):
            for i in range(d):
                extra += B[k, i] / deltas[k, i]
        new += extra
        if abs(objective - new) <= tol * (1.0 + abs(new)):
            break
        objective = new
    return deltas


@njit(**_JIT)
def volumes_common_matrix(counts, W, tol, max_iterations):
    """VEE: volumes and a common matrix ``C`` (determinant 1), ``Sigma_k = lambda_k C``.

    The twin of :func:`emkit.families.parsimonious.volumes_common_matrix`: alternates
    ``C = unit(sum_k W_k / lambda_k)`` and ``lambda_k = tr(W_k C^-1) / (n_k d)``.

    Returns
    -------
    volumes : ndarray of shape (K,)
    C : ndarray of shape (d, d)
    """
    K, d, _ = W.shape
    volumes = np.empty(K)
    for k in range(K):
        t = 0.0
        for i in range(d):
            t += W[k, i, i]
        volumes[k] = t / (counts[k] * d)
    C = np.zeros((d, d))
    objective = np.inf
    for _ in range(max_iterations):
        C[:] = 0.0
        for k in range(K):
            for i in range(d):
                for j in range(d):
                    C[i, j] += W[k, i, j] / volumes[k]
        _, logdet = np.linalg.slogdet(C)
        C /= math.exp(logdet / d)
        inv = np.linalg.inv(C)
        new = 0.0
        for k in range(K):
            t = 0.0
            for i in range(d):
                for j in range(d):
                    t += W[k, i, j] * inv[j, i]
            volumes[k] = t / (counts[k] * d)
            new += counts[k] * d * math.log(volumes[k])
        if abs(objective - new) <= tol * (1.0 + abs(new)):
            break
        objective = new
    return volumes, 0.5 * (C + C.T)
