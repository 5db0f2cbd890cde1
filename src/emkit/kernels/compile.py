"""Compile every kernel emkit uses by default, once, as a visible step (``emkit compile``).

numba compiles a kernel on its first call and keeps the machine code in its cache (see
:mod:`emkit.kernels._jit` for where), so the first fit in a fresh environment pays for the
compilation of what it touches: 10 to 20 seconds for a mixture, as much again for float32
data, about 10 seconds for a first HMM. :func:`compile_all` pays all of it up front by calling
each kernel on a few rows of every argument type that emkit's default paths pass (the same
dtypes and array layouts, so the signatures built are exactly the ones later looked up), after
which fits in any process load the compiled code from the cache in milliseconds per kernel.

Each kernel is built for the types it is called with and no others: the Gaussian part loops
are specialised per mode (log-densities, fused E-step, statistics under given weights) and
covariance family (full/tied, diagonal/spherical) so a full-covariance fit never compiles
the diagonal kernels; float32 variants are built only for the mixture kernels, the only ones
that run in float32.
"""

from __future__ import annotations

import numpy as np

from emkit.kernels import (
    categorical_numba,
    cholesky_numba,
    discrete_numba,
    gaussian_missing_numba,
    gaussian_numba,
    gaussian_xd_numba,
    hierarchical_numba,
    markov_numba,
    markov_unrolled,
    parsimonious_numba,
)

__all__ = ["TASKS", "compile_all"]

#: Data types of the Gaussian kernels (float32 input is processed in float32).
DTYPES = ("float64", "float32")


def _gaussian(dtype):
    """The Gaussian log-density, statistics and fused E-step kernels for ``dtype``."""
    rng = np.random.default_rng(0)
    K, d = 2, 3
    X = rng.normal(size=(8, d)).astype(dtype)
    means = rng.normal(size=(K, d))
    prec_chol = {
        "full": np.tile(np.eye(d), (K, 1, 1)),
        "tied": np.eye(d),
        "diag": np.ones((K, d)),
        "spherical": np.ones(K),
    }
    log_det, log_w = np.zeros(K), np.log(np.full(K, 1.0 / K))
    resp = np.full((X.shape[0], K), 1.0 / K)
    for kind, pc in prec_chol.items():
        gaussian_numba.log_prob(kind, X, means, pc, log_det)
        gaussian_numba.scatter(kind, X, resp, means)
        for w in (None, np.ones(X.shape[0])):
            gaussian_numba.mixture_estep(kind, X, w, means, pc, log_det, log_w)


def _gaussian_missing():
    """The E-step, statistics and log-densities of rows with missing values (float64)."""
    X = np.array([[0.5, np.nan, 1.0], [np.nan, 0.2, -1.0], [1.0, 2.0, 0.0], [0.1, np.nan, 3.0]])
    order, starts = gaussian_missing_numba.missing_patterns(np.isnan(X))
    means, cov = np.zeros((2, 3)), np.tile(np.eye(3), (2, 1, 1))
    for diagonal in (False, True):
        for w in (np.empty(0), np.ones(4)):
            gaussian_missing_numba.mixture_estep(
                X, w, order, starts, means, cov, np.log([0.5, 0.5]), diagonal
            )
        gaussian_missing_numba.scatter(X, np.full((4, 2), 0.5), order, starts, means, cov, diagonal)
        gaussian_missing_numba.log_prob(X, order, starts, means, cov, diagonal)


def _gaussian_xd():
    """The E-step, statistics and log-densities of rows with noise covariances (float64)."""
    X = np.array([[0.5, 0.0], [1.0, -1.0], [2.0, 0.5]])
    S = np.tile(0.1 * np.eye(2), (3, 1, 1))
    means, log_w = np.zeros((2, 2)), np.log([0.5, 0.5])
    for cov in (np.tile(np.eye(2), (2, 1, 1)), np.eye(2)[None]):
        for w in (np.empty(0), np.ones(3)):
            gaussian_xd_numba.mixture_estep(X, S, w, means, cov, log_w)
        gaussian_xd_numba.scatter(X, S, np.full((3, 2), 0.5), means, cov)
        gaussian_xd_numba.log_prob(X, S, means, cov)


def _frames(K, n):
    """A small scaled-frame problem of ``n`` frames and ``K`` states (two sequences)."""
    rng = np.random.default_rng(1)
    L = rng.normal(size=(n, K))
    prob, log_scale = np.empty((n, K)), np.empty(n)
    markov_numba.exp_rows(L, prob, log_scale, 0, n)
    offsets = np.array([0, n // 2, n], dtype=np.int64)
    start = np.full(K, 1.0 / K)
    trans = np.full((K, K), 1.0 / K)
    return L, prob, log_scale, offsets, start, trans


def _markov():
    """Forward-backward (scaled and log-space), forward, Viterbi, sampling, frame shifts."""
    K, n = 3, 12
    L, prob, log_scale, off, start, trans = _frames(K, n)
    alpha, beta, gamma = np.empty((n, K)), np.empty((n, K)), np.empty((n, K))
    rescale, w = np.empty(n), np.ones(2)
    for mode in (0, 1, 2):
        markov_numba.messages(prob, off, start, trans, alpha, beta, rescale, mode)
    skip = np.zeros(2, dtype=np.bool_)
    markov_numba.posteriors(prob, off, 0, n, w, skip, alpha, beta, rescale, gamma)
    markov_numba.forward(prob, log_scale, off, start, trans)
    log_start, log_trans = np.log(start), np.log(trans)
    markov_numba.forward_log(L, off, log_start, log_trans)
    markov_numba.forward_backward_log(L, off, log_start, log_trans, w, gamma)
    markov_numba.viterbi(L, off, log_start, log_trans, np.empty(n, dtype=np.int64))
    cdf = np.ascontiguousarray(np.cumsum(trans, axis=1))
    markov_numba.sample_states(np.cumsum(start), cdf, np.full(n, 0.5), -1)


def _unrolled(K):
    """The kernels unrolled for ``K`` states (long sequences of up to 8 states)."""
    n = 12
    L, prob, log_scale, off, start, trans = _frames(K, n)
    gamma, w, skip = np.empty((n, K)), np.ones(2), np.zeros(2, dtype=np.bool_)
    ckpt, bckpt = np.empty((1, K)), np.empty((1, K))
    src = (prob[:2].copy(), np.arange(n, dtype=np.int64) % 2)  # a table and its index
    alpha, beta, rescale = np.empty((n, K)), np.empty((n, K)), np.empty(n)
    markov_unrolled.smooth(K)(L, log_scale, prob, off, start, trans, w, gamma)
    for mode in (0, 1, 2):
        markov_unrolled.messages(K)(prob, off, start, trans, alpha, beta, rescale, mode)
    if K <= markov_unrolled.MAX_POSTERIOR_STATES:
        markov_unrolled.posteriors(K)(prob, off, 0, n, w, skip, alpha, beta, rescale, gamma)
    table = markov_unrolled.table_kernels(K)
    table.smooth(*src, off, start, trans, w, skip)
    table.checkpoints(*src, 0, n, start, trans, ckpt, 1)
    table.checkpoints(*src, 0, n, start, trans, bckpt, 2)
    table.smooth_blocks(*src, 0, n, 0, 1, start, trans, ckpt, bckpt, 1.0)


def _categorical():
    """Categorical emission probabilities and counts."""
    symbols = np.array([0, 2, 1, 2], dtype=np.int64)
    table = np.full((3, 2), 1.0 / 3.0)
    for out in (None, np.empty((4, 2))):  # ``out`` is passed, as None or an array
        categorical_numba.symbol_probabilities(symbols, table, out)
    categorical_numba.symbol_counts(symbols, np.full((4, 2), 0.5), 3)


def _discrete():
    """The one-pass mixture E-steps of categorical items (int16 codes) and Poisson counts."""
    log_weights = np.log(np.full(2, 0.5))
    for w in (np.empty(0), np.ones(3)):
        codes = np.array([[0, 1], [1, -1], [2, 0]], dtype=np.int16)
        logp_t = np.log(np.full((5, 2), 0.4))
        discrete_numba.items_estep(codes, np.array([0, 3]), w, logp_t, log_weights)
        X = np.array([[0.0, 2.0], [1.0, 0.0], [3.0, 1.0]])
        log_rates_t = np.zeros((2, 2))
        discrete_numba.poisson_estep(X, w, log_rates_t, np.ones(2), log_weights, np.zeros(4))


def _selection():
    """The hierarchical agglomeration, iterative parsimonious M-steps, precision factors."""
    X = np.array([[0.0, 0.0], [1.0, 0.5], [3.0, 1.0], [4.0, 2.5]])
    counts, trace, own = np.ones(4), np.zeros(4), np.zeros(4)
    hierarchical_numba.merge(counts, X.copy(), np.zeros((4, 2, 2)), trace, own, 1.0, 1.0)
    W = np.tile(np.eye(2), (2, 1, 1))
    for equal_volume in (True, False):
        parsimonious_numba.common_orientation(np.ones(2), W, np.eye(2), equal_volume, 1e-13, 5)
    parsimonious_numba.volumes_common_matrix(np.ones(2), W, 1e-13, 5)
    cholesky_numba.prec_chol(W, np.empty_like(W))


#: ``(label, build)`` of every group of kernels, in the order :func:`compile_all` runs them.
TASKS = (
    *((f"Gaussian kernels, {dtype}", lambda dt=dtype: _gaussian(dt)) for dtype in DTYPES),
    ("Gaussian kernels for missing values", _gaussian_missing),
    ("Gaussian kernels for noisy measurements", _gaussian_xd),
    ("HMM kernels", _markov),
    ("categorical emissions", _categorical),
    ("discrete mixture E-steps", _discrete),
    ("M-step and model selection kernels", _selection),
    *(
        (f"HMM kernels unrolled for {K} states", lambda K=K: _unrolled(K))
        for K in range(1, markov_unrolled.MAX_STATES + 1)
    ),
)


def compile_all(progress=None):
    """Compile (or load from numba's cache) every kernel emkit uses by default.

    Parameters
    ----------
    progress : callable, optional
        Called as ``progress(index, total, label)`` before each group of kernels
        (``index`` from 0) and ``progress(total, total, "done")`` at the end.

    Returns
    -------
    int
        The number of groups built (``len(TASKS)``).

    Notes
    -----
    With an empty cache this takes about a minute (one or two on a busy machine); afterwards
    it only loads the cache and returns in a few seconds.
    """
    total = len(TASKS)
    for index, (label, build) in enumerate(TASKS):
        if progress is not None:
            progress(index, total, label)
        build()
    if progress is not None:
        progress(total, total, "done")
    return total
