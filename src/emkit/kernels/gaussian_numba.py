"""Compiled (numba) Gaussian kernels: the fast twins of :mod:`emkit.kernels.gaussian_numpy`.

Layout of the work
------------------
A block of rows is cut into *parts* that run in parallel on a shared thread pool
(:mod:`emkit.kernels.threads`, GIL released); each part writes its own partial statistics, and
the partials are added in part order afterwards. A part holds :func:`part_rows` rows, a
number set by ``K`` and ``d`` alone (about the same work per part for any model), so the
summation order depends on the block size and the model only, never on the number of threads.

Inside a part, rows go through *tiles* of ``TILE`` rows transposed to feature-major order
(``d x TILE``), so that every innermost loop runs over the rows of a tile: LLVM vectorises
the whitening, the exponentials (:func:`emkit.kernels.vecmath.exp_nonpos`) and the
statistics across rows, whatever ``d`` and ``K``. For ``d > 4`` the features are padded with
zeros to a multiple of 4 and the triangular whitening ``y = (x - mu) U`` and the scatter
``sum_t r_t (x_t - mu)(x_t - mu)^T`` are computed in 4 x 4 register blocks, skipping the zero
half of the triangle (about 2 n K d^2 flops per E-step, executed at roughly the rate of
single-threaded BLAS for ``d >= 16``). Per-row quantities (log-densities, responsibilities)
live in a ``K x TILE`` scratch array; the fused E-step never forms an ``n x K`` array, and
components whose responsibilities are exactly zero on a tile are skipped when accumulating
statistics (adding zero changes nothing).

Covariance layouts are normalised to three-dimensional precision factors, so one compiled
function per dtype serves all four covariance types (``kind``: 0 full, 1 tied, 2 diag,
3 spherical): full ``(K, d, d)``, tied ``(1, d, d)``, diag ``(K, 1, d)``, spherical
``(K, 1, 1)``; scatter accumulators use the same convention.

float32 input is whitened and exponentiated in float32. Residuals ``x - mu`` are formed in
float64 and rounded once to the compute dtype, so data far from the origin keep float32
accuracy (rounding ``mu`` to float32 first would move it by up to half a float32 spacing);
statistics and the log-likelihood are accumulated in float64, as in the reference.

Functions compile lazily on first call and are cached on disk (``cache=True``).
"""

from __future__ import annotations

import functools
import math

import numpy as np

from emkit.kernels._jit import njit
from emkit.kernels.threads import run_in_rounds
from emkit.kernels.vecmath import exp_nonpos, like

KINDS = {"full": 0, "tied": 1, "diag": 2, "spherical": 3}
FULL, TIED, DIAG, SPHERICAL = 0, 1, 2, 3

#: Rows per tile: the vector dimension of the inner loops.
TILE = 256
#: Most rows in a parallel part (a multiple of ``TILE``); see :func:`part_rows`.
PART_ROWS = 2048
#: Scratch for per-part statistics is bounded by running parts in rounds of about this many
#: bytes of slots (at least ``MIN_ROUND_PARTS`` parts per round); the round size depends on
#: ``K`` and ``d`` only.
ROUND_BYTES = 32 * 2**20
MIN_ROUND_PARTS = 8
#: A call with at most this much work (rows times ``K (d^2 + 16)``, about 0.2 ms of one
#: thread) runs in the calling thread: handing parts to the pool would cost more than it saves.
INLINE_WORK = 2**20

LOG_2PI = math.log(2.0 * math.pi)

_JIT = {"nogil": True, "cache": True, "error_model": "numpy"}
# Elementwise loops: fused multiply-add only. Reductions over the rows of a tile also allow
# reassociation, which is what lets LLVM vectorise them (the order stays fixed per build).
_ELEMENTWISE = {"contract"}
_REDUCTION = {"contract", "reassoc", "nsz"}


def part_rows(K, d):
    """Rows per parallel part, a multiple of ``TILE`` set by ``K`` and ``d`` only.

    ``PART_ROWS`` for the cheapest models, fewer (down to one tile) as the work per row,
    about ``K (d^2 + 16)``, grows, so that even small blocks split evenly over the threads.
    """
    dp = padded_features(d)
    tiles = (PART_ROWS // TILE) * 160 // (K * (dp * dp + 16))
    return TILE * int(min(PART_ROWS // TILE, max(1, tiles)))


def padded_features(d):
    """Feature count used inside the kernels: ``d`` up to 4, else the next multiple of 4."""
    return d if d <= 4 else -(-d // 4) * 4


# --------------------------------------------------------------------------- tiles
@njit(fastmath=_ELEMENTWISE, **_JIT)
def _load_tile(X, r0, m, XT64):
    """Rows ``r0:r0+m`` of ``X`` into the columns of ``XT64`` (float64, zero-padded)."""
    d = X.shape[1]
    nt = XT64.shape[1]
    for a in range(d):
        # A column view with a known stride: about twice as fast as a row-by-row transpose.
        col = X[r0 : r0 + m, a]
        for t in range(m):
            XT64[a, t] = col[t]
    for a in range(d):
        for t in range(m, nt):
            XT64[a, t] = 0.0


@njit(fastmath=_ELEMENTWISE, **_JIT)
def _residual_tile(XT64, ref, k, D):
    """``D = x - ref_k`` formed in float64, then rounded once to the dtype of ``D``."""
    dp, nt = XT64.shape
    for a in range(dp):
        m = ref[k, a]
        for t in range(nt):
            D[a, t] = XT64[a, t] - m


@njit(fastmath=_ELEMENTWISE, **_JIT)
def _maha_full(D, U, pk, Y, maha):
    """``maha[t] = |D[:, t]^T U_pk|^2`` with ``U_pk`` upper-triangular."""
    dp, nt = D.shape
    for t in range(nt):
        maha[t] = 0.0
    if dp <= 4:
        for j in range(dp):
            u = U[pk, 0, j]
            for t in range(nt):
                Y[0, t] = D[0, t] * u
            for a in range(1, j + 1):
                u = U[pk, a, j]
                for t in range(nt):
                    Y[0, t] += D[a, t] * u
            for t in range(nt):
                maha[t] += Y[0, t] * Y[0, t]
        return
    for j0 in range(0, dp, 4):
        for t in range(nt):
            Y[0, t] = 0.0
            Y[1, t] = 0.0
            Y[2, t] = 0.0
            Y[3, t] = 0.0
        for a0 in range(0, j0 + 4, 4):
            u00 = U[pk, a0, j0]
            u01 = U[pk, a0, j0 + 1]
            u02 = U[pk, a0, j0 + 2]
            u03 = U[pk, a0, j0 + 3]
            u10 = U[pk, a0 + 1, j0]
            u11 = U[pk, a0 + 1, j0 + 1]
            u12 = U[pk, a0 + 1, j0 + 2]
            u13 = U[pk, a0 + 1, j0 + 3]
            u20 = U[pk, a0 + 2, j0]
            u21 = U[pk, a0 + 2, j0 + 1]
            u22 = U[pk, a0 + 2, j0 + 2]
            u23 = U[pk, a0 + 2, j0 + 3]
            u30 = U[pk, a0 + 3, j0]
            u31 = U[pk, a0 + 3, j0 + 1]
            u32 = U[pk, a0 + 3, j0 + 2]
            u33 = U[pk, a0 + 3, j0 + 3]
            for t in range(nt):
                d0 = D[a0, t]
                d1 = D[a0 + 1, t]
                d2 = D[a0 + 2, t]
                d3 = D[a0 + 3, t]
                Y[0, t] += d0 * u00 + d1 * u10 + d2 * u20 + d3 * u30
                Y[1, t] += d0 * u01 + d1 * u11 + d2 * u21 + d3 * u31
                Y[2, t] += d0 * u02 + d1 * u12 + d2 * u22 + d3 * u32
                Y[3, t] += d0 * u03 + d1 * u13 + d2 * u23 + d3 * u33
        for t in range(nt):
            y0 = Y[0, t]
            y1 = Y[1, t]
            y2 = Y[2, t]
            y3 = Y[3, t]
            maha[t] += y0 * y0 + y1 * y1 + y2 * y2 + y3 * y3


@njit(fastmath=_ELEMENTWISE, **_JIT)
def _maha_diag(XT64, ref, P, k, spherical, maha):
    """``maha[t] = sum_a ((x_ta - ref_ka) p_ka)^2`` (spherical: one ``p_k`` for all features).

    The residual is formed in float64 and rounded once to the dtype of ``maha``.
    """
    dp, nt = XT64.shape
    for t in range(nt):
        maha[t] = 0.0
    a0 = 0
    while a0 + 4 <= dp:
        m0 = ref[k, a0]
        m1 = ref[k, a0 + 1]
        m2 = ref[k, a0 + 2]
        m3 = ref[k, a0 + 3]
        if spherical:
            p0 = p1 = p2 = p3 = P[k, 0, 0]
        else:
            p0 = P[k, 0, a0]
            p1 = P[k, 0, a0 + 1]
            p2 = P[k, 0, a0 + 2]
            p3 = P[k, 0, a0 + 3]
        for t in range(nt):
            v0 = like(XT64[a0, t] - m0, maha) * p0
            v1 = like(XT64[a0 + 1, t] - m1, maha) * p1
            v2 = like(XT64[a0 + 2, t] - m2, maha) * p2
            v3 = like(XT64[a0 + 3, t] - m3, maha) * p3
            maha[t] += v0 * v0 + v1 * v1 + v2 * v2 + v3 * v3
        a0 += 4
    for a in range(a0, dp):
        m = ref[k, a]
        p = P[k, 0, 0] if spherical else P[k, 0, a]
        for t in range(nt):
            v = like(XT64[a, t] - m, maha) * p
            maha[t] += v * v


@njit(fastmath=_ELEMENTWISE, **_JIT)
def _maha_diag_pair(XT64, ref, P, k, spherical, maha, maha1):
    """:func:`_maha_diag` for components ``k`` and ``k + 1`` (into ``maha`` and ``maha1``).

    Each element of the tile is loaded once for both components.
    """
    dp, nt = XT64.shape
    for t in range(nt):
        maha[t] = 0.0
        maha1[t] = 0.0
    a0 = 0
    while a0 + 4 <= dp:
        m0 = ref[k, a0]
        m1 = ref[k, a0 + 1]
        m2 = ref[k, a0 + 2]
        m3 = ref[k, a0 + 3]
        n0 = ref[k + 1, a0]
        n1 = ref[k + 1, a0 + 1]
        n2 = ref[k + 1, a0 + 2]
        n3 = ref[k + 1, a0 + 3]
        if spherical:
            p0 = p1 = p2 = p3 = P[k, 0, 0]
            o0 = o1 = o2 = o3 = P[k + 1, 0, 0]
        else:
            p0 = P[k, 0, a0]
            p1 = P[k, 0, a0 + 1]
            p2 = P[k, 0, a0 + 2]
            p3 = P[k, 0, a0 + 3]
            o0 = P[k + 1, 0, a0]
            o1 = P[k + 1, 0, a0 + 1]
            o2 = P[k + 1, 0, a0 + 2]
            o3 = P[k + 1, 0, a0 + 3]
        for t in range(nt):
            x0 = XT64[a0, t]
            x1 = XT64[a0 + 1, t]
            x2 = XT64[a0 + 2, t]
            x3 = XT64[a0 + 3, t]
            v0 = like(x0 - m0, maha) * p0
            v1 = like(x1 - m1, maha) * p1
            v2 = like(x2 - m2, maha) * p2
            v3 = like(x3 - m3, maha) * p3
            y0 = like(x0 - n0, maha) * o0
            y1 = like(x1 - n1, maha) * o1
            y2 = like(x2 - n2, maha) * o2
            y3 = like(x3 - n3, maha) * o3
            maha[t] += v0 * v0 + v1 * v1 + v2 * v2 + v3 * v3
            maha1[t] += y0 * y0 + y1 * y1 + y2 * y2 + y3 * y3
        a0 += 4
    for a in range(a0, dp):
        m = ref[k, a]
        n = ref[k + 1, a]
        p = P[k, 0, 0] if spherical else P[k, 0, a]
        o = P[k + 1, 0, 0] if spherical else P[k + 1, 0, a]
        for t in range(nt):
            x = XT64[a, t]
            v = like(x - m, maha) * p
            y = like(x - n, maha) * o
            maha[t] += v * v
            maha1[t] += y * y


@njit(fastmath=_ELEMENTWISE, **_JIT)
def _log_density_rows(c, half, maha, k, LP, top):
    """``LP[k, t] = c - half * maha[t]`` and the running maximum ``top[t]``."""
    for t in range(maha.shape[0]):
        v = c - half * maha[t]
        LP[k, t] = v
        top[t] = max(top[t], v)


@njit(fastmath=_ELEMENTWISE, **_JIT)
def _log_density_pair(c, c1, half, maha, maha1, k, LP, top):
    """:func:`_log_density_rows` for components ``k`` and ``k + 1`` in one pass."""
    for t in range(maha.shape[0]):
        v = c - half * maha[t]
        v1 = c1 - half * maha1[t]
        LP[k, t] = v
        LP[k + 1, t] = v1
        top[t] = max(max(top[t], v), v1)


@njit(fastmath=_ELEMENTWISE, **_JIT)
def _tile_log_prob_full(tied, XT64, ref, P3, cst, LP, D, Y, maha, top):
    """``LP[k, t] = cst[k] - maha_k(t) / 2`` for every component; ``top[t] = max_k LP[k, t]``.

    Full covariances, or the one tied factor ``P3[0]`` when ``tied``; ``Y`` is scratch.
    """
    K, nt = LP.shape
    half = cst.dtype.type(0.5)
    for t in range(nt):
        top[t] = -np.inf
    for k in range(K):
        _residual_tile(XT64, ref, k, D)
        _maha_full(D, P3, 0 if tied else k, Y, maha)
        _log_density_rows(cst[k], half, maha, k, LP, top)


@njit(fastmath=_ELEMENTWISE, **_JIT)
def _tile_log_prob_diag(spherical, XT64, ref, P3, cst, LP, Y, maha, top):
    """:func:`_tile_log_prob_full` for diagonal (or ``spherical``) covariances.

    The first row of the scratch ``Y`` holds a second ``maha`` (components go in pairs).
    """
    K, nt = LP.shape
    half = cst.dtype.type(0.5)
    for t in range(nt):
        top[t] = -np.inf
    maha1 = Y[0]
    k = np.int64(0)  # not a literal: one compiled variant of the callees
    while k + 2 <= K:
        _maha_diag_pair(XT64, ref, P3, k, spherical, maha, maha1)
        _log_density_pair(cst[k], cst[k + 1], half, maha, maha1, k, LP, top)
        k += 2
    if k < K:
        _maha_diag(XT64, ref, P3, k, spherical, maha)
        _log_density_rows(cst[k], half, maha, k, LP, top)


@njit(fastmath=_ELEMENTWISE, **_JIT)
def _tile_normalize(LP, top, total):
    """Log-sum-exp of the columns of ``LP`` (K, TILE), leaving unnormalised weights.

    ``top`` comes in holding ``max_k LP[k, t]`` (from :func:`_tile_log_prob`).
    ``LP[k, t]`` becomes ``exp(LP[k, t] - max_k LP[k, t])``, ``top`` the log-normaliser
    ``log sum_k exp LP[k, t]`` and ``total`` the factor ``1 / sum_k LP[k, t]`` that turns the
    column into responsibilities (applied by the caller with the row weights).
    """
    K, nt = LP.shape
    ninf = -np.inf
    for t in range(nt):
        if top[t] == ninf:
            top[t] = 0.0
        total[t] = 0.0
    for k in range(K):
        for t in range(nt):
            e = exp_nonpos(LP[k, t] - top[t])
            LP[k, t] = e
            total[t] += e
    for t in range(nt):
        top[t] += math.log(total[t])
        total[t] = 1.0 / total[t]


@njit(fastmath=_REDUCTION, **_JIT)
def _residuals(XT64, ref, k, r, D64, Z, sums):
    """``D64 = x - ref_k``, ``Z = r * D64``; adds the row sums of ``Z`` to ``sums[k]``."""
    dp, nt = XT64.shape
    for a in range(dp):
        m = ref[k, a]
        s = 0.0
        for t in range(nt):
            v = XT64[a, t] - m
            z = r[t] * v
            D64[a, t] = v
            Z[a, t] = z
            s += z
        sums[k, a] += s


@njit(fastmath=_REDUCTION, **_JIT)
def _scatter_full(D64, Z, scat, ks):
    """``scat[ks, a, b] += sum_t Z[a, t] D64[b, t]`` on the upper triangle (4 x 4 blocks)."""
    dp, nt = D64.shape
    if dp <= 4:
        for a in range(dp):
            for b in range(a, dp):
                s = 0.0
                for t in range(nt):
                    s += Z[a, t] * D64[b, t]
                scat[ks, a, b] += s
        return
    for a0 in range(0, dp, 4):
        for b0 in range(a0, dp, 4):
            s00 = s01 = s02 = s03 = 0.0
            s10 = s11 = s12 = s13 = 0.0
            s20 = s21 = s22 = s23 = 0.0
            s30 = s31 = s32 = s33 = 0.0
            for t in range(nt):
                z0 = Z[a0, t]
                z1 = Z[a0 + 1, t]
                z2 = Z[a0 + 2, t]
                z3 = Z[a0 + 3, t]
                e0 = D64[b0, t]
                e1 = D64[b0 + 1, t]
                e2 = D64[b0 + 2, t]
                e3 = D64[b0 + 3, t]
                s00 += z0 * e0
                s01 += z0 * e1
                s02 += z0 * e2
                s03 += z0 * e3
                s10 += z1 * e0
                s11 += z1 * e1
                s12 += z1 * e2
                s13 += z1 * e3
                s20 += z2 * e0
                s21 += z2 * e1
                s22 += z2 * e2
                s23 += z2 * e3
                s30 += z3 * e0
                s31 += z3 * e1
                s32 += z3 * e2
                s33 += z3 * e3
            scat[ks, a0, b0] += s00
            scat[ks, a0, b0 + 1] += s01
            scat[ks, a0, b0 + 2] += s02
            scat[ks, a0, b0 + 3] += s03
            scat[ks, a0 + 1, b0] += s10
            scat[ks, a0 + 1, b0 + 1] += s11
            scat[ks, a0 + 1, b0 + 2] += s12
            scat[ks, a0 + 1, b0 + 3] += s13
            scat[ks, a0 + 2, b0] += s20
            scat[ks, a0 + 2, b0 + 1] += s21
            scat[ks, a0 + 2, b0 + 2] += s22
            scat[ks, a0 + 2, b0 + 3] += s23
            scat[ks, a0 + 3, b0] += s30
            scat[ks, a0 + 3, b0 + 1] += s31
            scat[ks, a0 + 3, b0 + 2] += s32
            scat[ks, a0 + 3, b0 + 3] += s33


@njit(fastmath=_REDUCTION, **_JIT)
def _moments_diag(XT64, ref, k, r, sums, scat, spherical):
    """Per-feature ``sum_t r_t v`` and ``sum_t r_t v^2`` with ``v = x - ref_k``."""
    dp, nt = XT64.shape
    a0 = 0
    while a0 + 4 <= dp:
        m0 = ref[k, a0]
        m1 = ref[k, a0 + 1]
        m2 = ref[k, a0 + 2]
        m3 = ref[k, a0 + 3]
        s0 = s1 = s2 = s3 = q0 = q1 = q2 = q3 = 0.0
        for t in range(nt):
            rt = r[t]
            v0 = XT64[a0, t] - m0
            v1 = XT64[a0 + 1, t] - m1
            v2 = XT64[a0 + 2, t] - m2
            v3 = XT64[a0 + 3, t] - m3
            z0 = rt * v0
            z1 = rt * v1
            z2 = rt * v2
            z3 = rt * v3
            s0 += z0
            s1 += z1
            s2 += z2
            s3 += z3
            q0 += z0 * v0
            q1 += z1 * v1
            q2 += z2 * v2
            q3 += z3 * v3
        sums[k, a0] += s0
        sums[k, a0 + 1] += s1
        sums[k, a0 + 2] += s2
        sums[k, a0 + 3] += s3
        if spherical:
            scat[k, 0, 0] += q0 + q1 + q2 + q3
        else:
            scat[k, 0, a0] += q0
            scat[k, 0, a0 + 1] += q1
            scat[k, 0, a0 + 2] += q2
            scat[k, 0, a0 + 3] += q3
        a0 += 4
    for a in range(a0, dp):
        m = ref[k, a]
        s = q = 0.0
        for t in range(nt):
            v = XT64[a, t] - m
            z = r[t] * v
            s += z
            q += z * v
        sums[k, a] += s
        if spherical:
            scat[k, 0, 0] += q
        else:
            scat[k, 0, a] += q


@njit(fastmath=_REDUCTION, **_JIT)
def _moments_diag_pair(XT64, ref, k, r, r1, sums, scat, spherical):
    """:func:`_moments_diag` for components ``k`` (weights ``r``) and ``k + 1`` (``r1``).

    Two features at a time, each element of the tile loaded once for both components.
    """
    dp, nt = XT64.shape
    for a0 in range(0, dp - 1, 2):
        m0 = ref[k, a0]
        m1 = ref[k, a0 + 1]
        n0 = ref[k + 1, a0]
        n1 = ref[k + 1, a0 + 1]
        s0 = s1 = q0 = q1 = 0.0
        u0 = u1 = w0 = w1 = 0.0
        for t in range(nt):
            x0 = XT64[a0, t]
            x1 = XT64[a0 + 1, t]
            rt = r[t]
            ru = r1[t]
            v0 = x0 - m0
            v1 = x1 - m1
            y0 = x0 - n0
            y1 = x1 - n1
            z0 = rt * v0
            z1 = rt * v1
            c0 = ru * y0
            c1 = ru * y1
            s0 += z0
            s1 += z1
            q0 += z0 * v0
            q1 += z1 * v1
            u0 += c0
            u1 += c1
            w0 += c0 * y0
            w1 += c1 * y1
        sums[k, a0] += s0
        sums[k, a0 + 1] += s1
        sums[k + 1, a0] += u0
        sums[k + 1, a0 + 1] += u1
        if spherical:
            scat[k, 0, 0] += q0 + q1
            scat[k + 1, 0, 0] += w0 + w1
        else:
            scat[k, 0, a0] += q0
            scat[k, 0, a0 + 1] += q1
            scat[k + 1, 0, a0] += w0
            scat[k + 1, 0, a0 + 1] += w1
    if dp % 2:
        a = dp - 1
        m = ref[k, a]
        n = ref[k + 1, a]
        s0 = q0 = u0 = w0 = 0.0
        for t in range(nt):
            x = XT64[a, t]
            v = x - m
            y = x - n
            z = r[t] * v
            c = r1[t] * y
            s0 += z
            q0 += z * v
            u0 += c
            w0 += c * y
        sums[k, a] += s0
        sums[k + 1, a] += u0
        if spherical:
            scat[k, 0, 0] += q0
            scat[k + 1, 0, 0] += w0
        else:
            scat[k, 0, a] += q0
            scat[k + 1, 0, a] += w0


@njit(fastmath=_REDUCTION, **_JIT)
def _weights(wt, resp, k, r):
    """``r[t] = wt[t] * resp[k, t]``; returns their sum."""
    c = 0.0
    for t in range(r.shape[0]):
        v = wt[t] * resp[k, t]
        r[t] = v
        c += v
    return c


@njit(fastmath=_REDUCTION, **_JIT)
def _tile_stats_full(tied, XT64, ref, resp, wt, counts, sums, scat, r, D64, Z):
    """Add one tile's centred statistics under weights ``wt[t] * resp[k, t]``.

    Full covariances (one scatter per component), or one pooled scatter when ``tied``.
    """
    K = resp.shape[0]
    for k in range(K):
        c = _weights(wt, resp, k, r)
        if c == 0.0:
            continue
        counts[k] += c
        _residuals(XT64, ref, k, r, D64, Z, sums)
        _scatter_full(D64, Z, scat, 0 if tied else k)


@njit(fastmath=_REDUCTION, **_JIT)
def _tile_stats_diag(spherical, XT64, ref, resp, wt, counts, sums, scat, r, D64):
    """:func:`_tile_stats_full` for diagonal (or ``spherical``) covariances.

    The first row of ``D64`` holds a second ``r`` (components go in pairs).
    """
    K = resp.shape[0]
    r1 = D64[0]
    k = np.int64(0)  # not a literal: one compiled variant of the callees
    while k < K:
        c = _weights(wt, resp, k, r)
        c1 = _weights(wt, resp, k + 1, r1) if k + 1 < K else 0.0
        # Components with zero weight on the tile add nothing and are skipped.
        if c != 0.0:
            counts[k] += c
        if c1 != 0.0:
            counts[k + 1] += c1
        if c != 0.0 and c1 != 0.0:
            _moments_diag_pair(XT64, ref, k, r, r1, sums, scat, spherical)
        elif c != 0.0:
            _moments_diag(XT64, ref, k, r, sums, scat, spherical)
        elif c1 != 0.0:
            _moments_diag(XT64, ref, k + 1, r1, sums, scat, spherical)
        k += 2


# --------------------------------------------------------------------------- parts
LOG_PROB, ESTEP, SCATTER = 0, 1, 2


def _make_parts_kernel(mode, diagonal):
    """The compiled body of :func:`_parts_kernel`; ``mode`` and ``diagonal`` are constants."""

    def run_parts(kind, X, w, W, ref, P3, cst, out, rows, lo, hi, first, counts, sums, scat, p_ll):
        """Process parts ``lo:hi`` of ``X`` (``rows`` rows each).

        ``mode`` LOG_PROB writes log-densities into ``out`` (n, K); ESTEP runs the fused
        E-step with row weights ``w`` (length 0: all ones); SCATTER accumulates statistics
        under given weights ``W`` (n, K). Part ``p`` adds its statistics to slot
        ``p - first`` of ``counts``, ``sums`` and ``scat``; ``p_ll[p]`` receives the part's
        log-likelihood, lowest row score and that row's index.
        """
        n = X.shape[0]
        K, dp = ref.shape
        dt = cst.dtype
        weighted = w.shape[0] > 0
        flag = kind == SPHERICAL if diagonal else kind == TIED
        XT64 = np.zeros((dp, TILE))
        D = np.zeros((dp, TILE), dtype=dt)
        Y = np.zeros((4, TILE), dtype=dt)
        maha = np.zeros(TILE, dtype=dt)
        LP = np.zeros((K, TILE), dtype=dt)
        top = np.zeros(TILE, dtype=dt)
        total = np.zeros(TILE, dtype=dt)
        R = np.zeros((K, TILE))
        r = np.zeros(TILE)
        D64 = np.zeros((dp, TILE))
        Z = np.zeros((dp, TILE))
        wt = np.zeros(TILE)
        for p in range(lo, hi):
            q = p - first
            if mode != LOG_PROB:
                counts[q][:] = 0.0
                sums[q][:] = 0.0
                scat[q][:] = 0.0
            ll = 0.0
            worst = np.inf
            index = -1
            stop = min(n, (p + 1) * rows)
            for r0 in range(p * rows, stop, TILE):
                m = min(TILE, stop - r0)
                _load_tile(X, r0, m, XT64)
                if mode == SCATTER:
                    for k in range(K):
                        for t in range(m):
                            R[k, t] = W[r0 + t, k]
                        for t in range(m, TILE):
                            R[k, t] = 0.0
                    for t in range(TILE):
                        wt[t] = 1.0
                    resp = R
                else:
                    if diagonal:
                        _tile_log_prob_diag(flag, XT64, ref, P3, cst, LP, Y, maha, top)
                    else:
                        _tile_log_prob_full(flag, XT64, ref, P3, cst, LP, D, Y, maha, top)
                    if mode == LOG_PROB:
                        for t in range(m):
                            for k in range(K):
                                out[r0 + t, k] = LP[k, t]
                        continue
                    for t in range(TILE):
                        wt[t] = 0.0
                    for t in range(m):
                        wt[t] = w[r0 + t] if weighted else 1.0
                    _tile_normalize(LP, top, total)
                    for t in range(m):
                        if wt[t] > 0.0:
                            v = top[t]
                            ll += wt[t] * v
                            if v < worst:
                                worst = v
                                index = r0 + t
                    for t in range(m):
                        wt[t] *= total[t]  # responsibilities = exponentials / their sum
                    resp = LP
                if diagonal:
                    _tile_stats_diag(flag, XT64, ref, resp, wt, counts[q], sums[q], scat[q], r, D64)
                else:
                    _tile_stats_full(
                        flag, XT64, ref, resp, wt, counts[q], sums[q], scat[q], r, D64, Z
                    )
            if mode == ESTEP:
                p_ll[p, 0] = ll
                p_ll[p, 1] = worst
                p_ll[p, 2] = index

    return run_parts


@functools.cache
def _parts_kernel(mode, diagonal):
    """The part loop for one ``mode`` and covariance family (diagonal/spherical or full/tied).

    A closure over the two constants: numba prunes the branches they rule out before typing,
    so each variant compiles only the kernels it calls (a full-covariance E-step never
    compiles the diagonal ones, nor the log-density-only loop). Cached on disk like the others
    (numba keys a closure's cache entries on the values it closes over).
    """
    return njit(**_JIT)(_make_parts_kernel(mode, diagonal))


def _run(mode, kind, X, w, W, ref, p3, cst, out, scat_shape):
    """Run every part of ``X`` on the thread pool.

    Returns the statistics summed in part order (``None`` for LOG_PROB) and the per-part
    log-likelihoods, lowest scores and their rows, shape (n_parts, 3).
    """
    K, dp = ref.shape
    rows = part_rows(K, dp)
    n_parts = max(1, -(-X.shape[0] // rows))
    p_ll = np.zeros((n_parts, 3))
    if mode == LOG_PROB:
        group = n_parts
        slots = 0
    else:
        slot_bytes = 8 * (K + K * dp + math.prod(scat_shape))
        group = min(n_parts, max(MIN_ROUND_PARTS, ROUND_BYTES // slot_bytes))
        slots = group
    counts = np.empty((slots, K))
    sums = np.empty((slots, K, dp))
    scat = np.empty((slots, *scat_shape))
    run_parts = _parts_kernel(mode, kind >= DIAG)
    if n_parts <= group and X.shape[0] * K * (dp * dp + 16) <= INLINE_WORK:
        # One round, in this thread: the same parts, slots and sums as on the pool.
        run_parts(kind, X, w, W, ref, p3, cst, out, rows, 0, n_parts, 0, counts, sums, scat, p_ll)
        if mode == LOG_PROB:
            return None, p_ll
        return [_slot_sum(a, n_parts) for a in (counts, sums, scat)], p_ll
    totals = []

    def work(lo, hi, first):
        run_parts(kind, X, w, W, ref, p3, cst, out, rows, lo, hi, first, counts, sums, scat, p_ll)

    def collect(first, stop):
        # Slots are summed in a fixed (pairwise) order that depends on the round size only.
        if slots:
            parts = [a[: stop - first].sum(axis=0) for a in (counts, sums, scat)]
            if totals:
                for total, part in zip(totals, parts, strict=True):
                    total += part
            else:
                totals.extend(parts)

    run_in_rounds(work, n_parts, group, collect)
    return (None if mode == LOG_PROB else totals), p_ll


def _slot_sum(a, n):
    """``a[:n].sum(axis=0)`` (the same values), without NumPy's reduction for one or two."""
    if n == 1:
        return a[0]
    if n == 2:
        return a[0] + a[1]
    return a[:n].sum(axis=0)


@functools.lru_cache(maxsize=64)
def _upper_indices(dp):
    return np.triu_indices(dp, 1)


def _statistics(kind, totals, d):
    """Summed statistics in the covariance type's layout, padding removed."""
    counts, sums, scat = totals
    sums = np.ascontiguousarray(sums[:, :d])
    if kind == FULL or kind == TIED:
        # Only the upper triangle was accumulated: mirror it.
        rows, cols = _upper_indices(scat.shape[1])
        scat[:, cols, rows] = scat[:, rows, cols]
        scat = scat[:, :d, :d] if kind == FULL else scat[0, :d, :d]
    elif kind == DIAG:
        scat = scat[:, 0, :d]
    else:
        scat = scat[:, 0, 0]
    return counts, sums, np.ascontiguousarray(scat)


# --------------------------------------------------------------------------- arguments
def _pad(a, axes, dp):
    """Zero-pad the given axes of ``a`` to length ``dp``."""
    widths = [(0, dp - a.shape[i]) if i in axes else (0, 0) for i in range(a.ndim)]
    return np.pad(a, widths) if any(w for _, w in widths) else a


def _precision_factors(kind, prec_chol, K, d, dtype):
    dp = padded_features(d)
    pc = np.asarray(prec_chol, dtype=np.float64)
    if kind == FULL:
        p3 = _pad(pc.reshape(K, d, d), (1, 2), dp)
    elif kind == TIED:
        p3 = _pad(pc.reshape(1, d, d), (1, 2), dp)
    elif kind == DIAG:
        p3 = _pad(pc.reshape(K, 1, d), (2,), dp)
    else:
        p3 = pc.reshape(K, 1, 1)
    return np.ascontiguousarray(p3, dtype=dtype)


def _scatter_shape(kind, K, dp):
    if kind == FULL:
        return (K, dp, dp)
    if kind == TIED:
        return (1, dp, dp)
    return (K, 1, dp) if kind == DIAG else (K, 1, 1)


def _reference(means):
    m = np.asarray(means, dtype=np.float64)
    return np.ascontiguousarray(_pad(m, (1,), padded_features(m.shape[1])))


def _rows(X):
    X = np.asarray(X)
    if X.dtype != np.float32:
        X = X.astype(np.float64, copy=False)
    return np.ascontiguousarray(X)


def _constants(kind, X, means, prec_chol, log_det, log_w):
    K, d = np.shape(means)
    cst = np.asarray(log_det, dtype=np.float64) - 0.5 * d * LOG_2PI
    if log_w is not None:
        cst = cst + log_w
    p3 = _precision_factors(kind, prec_chol, K, d, X.dtype)
    return _reference(means), p3, cst.astype(X.dtype)


_NO_W = np.zeros(0)
_NO_W2 = np.zeros((0, 0))


# --------------------------------------------------------------------------- entry points
def log_prob(kind, X, means, prec_chol, log_det):
    """Per-component Gaussian log-densities, in the dtype of ``X``.

    Parameters
    ----------
    kind : {'full', 'tied', 'diag', 'spherical'}
    X : ndarray of shape (n, d), float32 or float64
    means : ndarray of shape (K, d)
    prec_chol : ndarray
        Precision-Cholesky factors in the covariance type's layout.
    log_det : ndarray of shape (K,)
        ``log det`` of each precision-Cholesky factor.

    Returns
    -------
    ndarray of shape (n, K)
    """
    code = KINDS[kind]
    X = _rows(X)
    ref, p3, cst = _constants(code, X, means, prec_chol, log_det, None)
    out = np.empty((X.shape[0], ref.shape[0]), dtype=X.dtype)
    _run(LOG_PROB, code, X, _NO_W, _NO_W2, ref, p3, cst, out, (1, 1, 1))
    return out


def scatter(kind, X, wresp, ref):
    """Centred statistics under given posterior weights, accumulated in float64.

    Parameters
    ----------
    kind : {'full', 'tied', 'diag', 'spherical'}
    X : ndarray of shape (n, d)
    wresp : ndarray of shape (n, K)
        Responsibilities already multiplied by the row weights.
    ref : ndarray of shape (K, d)
        Reference point per component.

    Returns
    -------
    counts : ndarray of shape (K,)
    sums : ndarray of shape (K, d)
    scatter : ndarray
        In the covariance type's layout.
    """
    code = KINDS[kind]
    X = _rows(X)
    K, d = np.shape(ref)
    ref64 = _reference(ref)
    W = np.ascontiguousarray(wresp, dtype=np.float64)
    p3 = np.zeros((K, 1, 1), dtype=X.dtype)
    cst = np.zeros(K, dtype=X.dtype)
    out = np.zeros((0, 0), dtype=X.dtype)
    shape = _scatter_shape(code, K, ref64.shape[1])
    totals, _ = _run(SCATTER, code, X, _NO_W, W, ref64, p3, cst, out, shape)
    return _statistics(code, totals, d)


def mixture_estep(kind, X, w, means, prec_chol, log_det, log_w):
    """Fused mixture E-step over the rows of ``X``: one pass, no ``n x K`` array.

    Parameters
    ----------
    kind : {'full', 'tied', 'diag', 'spherical'}
    X : ndarray of shape (n, d), float32 or float64
    w : ndarray of shape (n,) or None
        Row weights (None for all ones).
    means : ndarray of shape (K, d)
        Component means; the statistics are centred on them.
    prec_chol : ndarray
        Precision-Cholesky factors in the covariance type's layout.
    log_det : ndarray of shape (K,)
    log_w : ndarray of shape (K,)
        Log mixture weights.

    Returns
    -------
    log_likelihood : float
        ``sum_i w_i log p(x_i)`` over the rows with ``w_i > 0``, accumulated in float64.
    counts : ndarray of shape (K,)
    sums : ndarray of shape (K, d)
    scatter : ndarray
        Centred scatter in the covariance type's layout.
    worst_score : float
        Lowest ``log p(x_i)`` among the rows with ``w_i > 0`` (``inf`` if none).
    worst_index : int
        Its row, the first on ties (-1 if none).
    """
    code = KINDS[kind]
    X = _rows(X)
    K, d = np.shape(means)
    ref, p3, cst = _constants(code, X, means, prec_chol, log_det, log_w)
    wv = _NO_W if w is None else np.ascontiguousarray(w, dtype=np.float64)
    out = np.zeros((0, 0), dtype=X.dtype)
    shape = _scatter_shape(code, K, ref.shape[1])
    totals, p_ll = _run(ESTEP, code, X, wv, _NO_W2, ref, p3, cst, out, shape)
    ll = 0.0
    for value in p_ll[:, 0].tolist():  # in part order
        ll += value
    best = int(np.argmin(p_ll[:, 1]))  # the first part holding the lowest score
    counts, sums, scat = _statistics(code, totals, d)
    return ll, counts, sums, scat, float(p_ll[best, 1]), int(p_ll[best, 2])


def _named(op, kind):
    def call(*args):
        return op(kind, *args)

    call.__name__ = f"{op.__name__}_{kind}"
    call.__qualname__ = call.__name__
    call.__doc__ = f"``{op.__name__}`` for {kind} covariances (the reference's signature)."
    return call


log_prob_full, log_prob_tied, log_prob_diag, log_prob_spherical = (
    _named(log_prob, k) for k in KINDS
)
scatter_full, scatter_tied, scatter_diag, scatter_spherical = (_named(scatter, k) for k in KINDS)
mixture_estep_full, mixture_estep_tied, mixture_estep_diag, mixture_estep_spherical = (
    _named(mixture_estep, k) for k in KINDS
)
