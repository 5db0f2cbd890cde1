"""Stacked-GEMM Gaussian kernels for full and tied covariances (the large-``d`` path).

Rows are processed in parts of ``m`` rows (``m * K * d`` about ``BLOCK_BYTES / 8``). For each
part, one BLAS call whitens the rows for every component at once,
``Y = (X - c) @ [U_1 | ... | U_K]`` with ``c`` the mean of the component means, and a numba
row kernel forms ``|Y_k - (mu_k - c) U_k|^2``, the log-sum-exp, the responsibilities, the
log-likelihood and the worst-fitted row. The scatter of each component is one BLAS ``syrk``
on ``sqrt(r_k) * (X - mu_k)``, exactly centred on the component's mean. Parts run in the
shared thread pool with BLAS held to one thread; their statistics are added in part order.

The GEMM whitening does the full ``d x d`` product where the fused kernels of
:mod:`emkit.kernels.gaussian_numba` skip the zero triangle of ``U_k``, so the two paths execute
about ``3 n K d^2`` and ``2 n K d^2`` flops per E-step, and the fused kernels' 4 x 4 register
blocks run near BLAS speed. Measured crossover (2-core AMD EPYC, AVX-512, OpenBLAS 0.3
``SkylakeX`` kernels, 2 threads, full covariances, K = 16, float64; microseconds per row of
a fused E-step; ``benchmarks/run.py`` re-measures it):

=====  ===========  ============  ============
d      fused numba  stacked GEMM  GEMM / fused
=====  ===========  ============  ============
32     0.55         1.57          2.8
64     1.75         4.74          2.7
96     3.95         8.00          2.0
128    8.60         14.8          1.7
192    22.9         29.9          1.3
256    31.8         57.5          1.8
384    113          143           1.3
512    214          348           1.6
=====  ===========  ============  ============

The fused kernels win at every size, so ``'auto'`` never selects this path; it remains
available with ``use_kernels('gemm')``.

Whitening in ``X``'s dtype after subtracting ``c`` loses ``eps * |mu_k - c| / sigma_k`` of
relative accuracy in the whitened residual (far-apart components); the statistics are
centred exactly. Diagonal and spherical covariances have no matrix product to stack and
always use the fused kernels.
"""

from __future__ import annotations

import math

import numpy as np

from emkit.kernels._jit import njit
from emkit.kernels.threads import one_blas_thread, run_in_rounds
from emkit.kernels.vecmath import exp_nonpos

#: Target size in bytes of the whitened block ``Y`` (``m x K d``) of one part.
BLOCK_BYTES = 4 * 2**20
#: Bytes of per-part scatter slots kept at once (parts run in rounds; see ``threads``).
ROUND_BYTES = 64 * 2**20
MIN_ROUND_PARTS = 8

LOG_2PI = math.log(2.0 * math.pi)

_JIT = {"nogil": True, "cache": True, "error_model": "numpy"}


def part_rows(K, d):
    """Rows per part: ``Y`` of about ``BLOCK_BYTES``, between 64 and 4096 rows."""
    return int(max(64, min(4096, BLOCK_BYTES // (8 * K * d))))


@njit(fastmath={"contract", "reassoc", "nsz"}, **_JIT)
def _rows(Y, B, cst, tied, w, out, out_row, R):
    """Log-densities (``out`` given) or responsibilities (``R``) of the rows of ``Y``.

    ``Y`` (m, K d) or (m, d) when ``tied``; ``B`` (K, d) offsets; ``cst`` (K,) constants.
    With ``out`` of shape (n, K), writes ``cst_k - |Y_k - B_k|^2 / 2`` to rows ``out_row:``
    and returns zeros. Otherwise writes ``w_i * resp_ik`` to ``R`` (m, K) and returns the
    weighted log-likelihood, the lowest row score among positive weights and its row.
    """
    m = Y.shape[0]
    K, d = B.shape
    dt = cst.dtype
    half = dt.type(0.5)
    lp = np.empty(K, dtype=dt)
    weighted = w.shape[0] > 0
    write = out.shape[0] > 0
    ll = 0.0
    worst = np.inf
    index = -1
    for i in range(m):
        for k in range(K):
            off = 0 if tied else k * d
            s = dt.type(0.0)
            for j in range(d):
                v = Y[i, off + j] - B[k, j]
                s += v * v
            lp[k] = cst[k] - half * s
        if write:
            for k in range(K):
                out[out_row + i, k] = lp[k]
            continue
        top = -np.inf
        for k in range(K):
            top = max(top, lp[k])
        if top == -np.inf:
            top = dt.type(0.0)
        total = dt.type(0.0)
        for k in range(K):
            e = exp_nonpos(lp[k] - top)
            lp[k] = e
            total += e
        log_norm = top + math.log(total)
        inv = 1.0 / total
        wi = w[i] if weighted else 1.0
        for k in range(K):
            R[i, k] = wi * (lp[k] * inv)
        if wi > 0.0:
            ll += wi * log_norm
            if log_norm < worst:
                worst = log_norm
                index = i
    return ll, worst, index


def _factors(kind, means, prec_chol, dtype):
    """Stacked factors ``[U_1 | ... | U_K]`` (d, K d) or ``U`` (d, d), offsets and centre."""
    means = np.asarray(means, dtype=np.float64)
    K, d = means.shape
    centre = means.mean(axis=0)
    pc = np.asarray(prec_chol, dtype=np.float64)
    if kind == "tied":
        stacked = pc
        offsets = (means - centre) @ pc
    else:
        stacked = pc.transpose(1, 0, 2).reshape(d, K * d)
        offsets = np.einsum("ka,kab->kb", means - centre, pc)
    return (
        centre,
        np.ascontiguousarray(stacked, dtype=dtype),
        np.ascontiguousarray(offsets, dtype=dtype),
    )


def _scatter_part(kind, X64, R, means, counts, sums, scat):
    """Add the exactly centred statistics of rows ``X64`` under weights ``R`` (m, K)."""
    part_counts = R.sum(axis=0)
    counts += part_counts
    for k in np.flatnonzero(part_counts):
        r = R[:, k]
        D = X64 - means[k]
        sums[k] += r @ D
        Z = D * np.sqrt(r)[:, None]
        gram = Z.T @ Z  # BLAS syrk
        if kind == "tied":
            scat += gram
        else:
            scat[k] += gram


def _run(mode, kind, X, w, W, means, prec_chol, cst):
    """Shared driver. ``mode``: 'log_prob' (returns out), 'estep' or 'scatter'."""
    X = np.ascontiguousarray(X)
    if X.dtype != np.float32:
        X = X.astype(np.float64, copy=False)
    n, d = X.shape
    means = np.asarray(means, dtype=np.float64)
    K = means.shape[0]
    m = part_rows(K, d)
    n_parts = max(1, -(-n // m))
    tied = kind == "tied"
    if mode != "scatter":
        centre, stacked, offsets = _factors(kind, means, prec_chol, X.dtype)
    cst = np.asarray(cst, dtype=X.dtype)
    out = np.empty((n, K), dtype=X.dtype) if mode == "log_prob" else np.zeros((0, K), X.dtype)
    p_ll = np.zeros((n_parts, 3))
    scat_shape = (d, d) if tied else (K, d, d)
    slot = 8 * (K + K * d + int(np.prod(scat_shape)))
    group = n_parts if mode == "log_prob" else max(MIN_ROUND_PARTS, ROUND_BYTES // slot)
    group = min(group, n_parts)
    slots = 0 if mode == "log_prob" else group
    counts = np.zeros((slots, K))
    sums = np.zeros((slots, K, d))
    scat = np.zeros((slots, *scat_shape))
    totals = [np.zeros(K), np.zeros((K, d)), np.zeros(scat_shape)]

    def one_part(p, q):
        lo, hi = p * m, min(n, (p + 1) * m)
        if mode == "scatter":
            R = np.ascontiguousarray(W[lo:hi], dtype=np.float64)
        else:
            # x - c in float64, rounded once; then one GEMM whitens for every component.
            Y = (X[lo:hi] - centre).astype(X.dtype, copy=False) @ stacked
            R = np.empty((hi - lo, K)) if mode == "estep" else np.zeros((0, K))
            wp = _NO_W if w is None else w[lo:hi]
            ll, worst, index = _rows(Y, offsets, cst, tied, wp, out, lo, R)
            if mode == "log_prob":
                return
            p_ll[p] = (ll, worst, lo + index if index >= 0 else -1)
        X64 = X[lo:hi].astype(np.float64, copy=False)
        _scatter_part(kind, X64, R, means, counts[q], sums[q], scat[q])

    def work(lo, hi, first):
        for p in range(lo, hi):
            one_part(p, p - first)

    def collect(first, stop):
        for total, part in zip(totals, (counts, sums, scat), strict=True):
            for i in range(stop - first if slots else 0):
                total += part[i]
            part[:] = 0.0

    with one_blas_thread():
        run_in_rounds(work, n_parts, group, collect)
    if mode == "log_prob":
        return out
    return totals, p_ll


_NO_W = np.zeros(0)


def _constants(means, log_det, log_w):
    d = np.shape(means)[1]
    cst = np.asarray(log_det, dtype=np.float64) - 0.5 * d * LOG_2PI
    return cst if log_w is None else cst + log_w


def _log_prob(kind, X, means, prec_chol, log_det):
    return _run("log_prob", kind, X, None, None, means, prec_chol, _constants(means, log_det, None))


def _scatter(kind, X, wresp, ref):
    K = np.shape(ref)[0]
    W = np.ascontiguousarray(wresp, dtype=np.float64)
    (counts, sums, scat), _ = _run("scatter", kind, X, None, W, ref, None, np.zeros(K))
    return counts, sums, scat


def _mixture_estep(kind, X, w, means, prec_chol, log_det, log_w):
    w = None if w is None else np.ascontiguousarray(w, dtype=np.float64)
    cst = _constants(means, log_det, log_w)
    (counts, sums, scat), p_ll = _run("estep", kind, X, w, None, means, prec_chol, cst)
    ll = 0.0
    for value in p_ll[:, 0]:  # in part order
        ll += float(value)
    best = int(np.argmin(p_ll[:, 1]))
    return ll, counts, sums, scat, float(p_ll[best, 1]), int(p_ll[best, 2])


def log_prob_full(X, means, prec_chol, log_det):
    """Log-densities for full covariances, shape (n, K); see ``gaussian_numpy``."""
    return _log_prob("full", X, means, prec_chol, log_det)


def log_prob_tied(X, means, prec_chol, log_det):
    """Log-densities for one shared covariance, shape (n, K); see ``gaussian_numpy``."""
    return _log_prob("tied", X, means, prec_chol, log_det)


def scatter_full(X, wresp, ref):
    """Centred statistics (counts, sums, (K, d, d) scatter); see ``gaussian_numpy``."""
    return _scatter("full", X, wresp, ref)


def scatter_tied(X, wresp, ref):
    """Centred statistics with the scatter summed over components, (d, d)."""
    return _scatter("tied", X, wresp, ref)


def mixture_estep_full(X, w, means, prec_chol, log_det, log_w):
    """Mixture E-step for full covariances; see ``gaussian_numpy.mixture_estep_full``."""
    return _mixture_estep("full", X, w, means, prec_chol, log_det, log_w)


def mixture_estep_tied(X, w, means, prec_chol, log_det, log_w):
    """Mixture E-step for one shared covariance; see ``gaussian_numpy.mixture_estep_full``."""
    return _mixture_estep("tied", X, w, means, prec_chol, log_det, log_w)
