"""Compiled (numba) precision-Cholesky factors of a stack of small covariance matrices.

The M-step of every full-covariance mixture turns ``K`` covariances into the factors ``U_k``
(upper triangular, ``U_k U_k^T = Sigma_k^-1``) that the E-step kernels read. With LAPACK that
is a Cholesky factorisation and a triangular solve per component, each a Python call of a
few tens of microseconds, which for small ``d`` costs more than the factorisations; here the
whole stack is one call. The result agrees with LAPACK's to rounding.
"""

from __future__ import annotations

import math

import numpy as np

from emkit.kernels._jit import njit

__all__ = ["prec_chol"]


@njit(nogil=True, cache=True, error_model="numpy")
def prec_chol(cov, out):
    """Write the precision-Cholesky factor of each ``cov[k]`` into ``out[k]``.

    Parameters
    ----------
    cov : ndarray of shape (K, d, d)
        Symmetric matrices (only the lower triangle is read).
    out : ndarray of shape (K, d, d)

    Returns
    -------
    int
        The first ``k`` whose matrix is not numerically positive definite (its Cholesky
        factor has a non-positive or non-finite entry on the diagonal, or a non-finite one
        below it), else -1.
    """
    K, d, _ = cov.shape
    L = np.zeros((d, d))
    for k in range(K):
        for j in range(d):
            s = cov[k, j, j]
            for m in range(j):
                s -= L[j, m] * L[j, m]
            if not (s > 0.0 and math.isfinite(s)):
                return k
            r = math.sqrt(s)
            L[j, j] = r
            for i in range(j + 1, d):
                t = cov[k, i, j]
                for m in range(j):
                    t -= L[i, m] * L[j, m]
                t = t / r
                if not math.isfinite(t):
                    return k
                L[i, j] = t
        # U = (L^-1)^T: column c of L^-1 by forward substitution is row c of U.
        for c in range(d):
            for i in range(c):
                out[k, c, i] = 0.0
            out[k, c, c] = 1.0 / L[c, c]
            for i in range(c + 1, d):
                t = 0.0
                for m in range(c, i):
                    t += L[i, m] * out[k, c, m]
                out[k, c, i] = -t / L[i, i]
    return -1
