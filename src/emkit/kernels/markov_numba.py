"""Numba kernels for hidden Markov models: forward-backward, forward, Viterbi, path sampling.

Twins of :mod:`emkit.kernels.markov_numpy`: same signatures, same results to rounding.

Conventions shared by both modules:

- A batch of ``S`` sequences stacked row-wise is described by ``offsets`` (int64, shape
  (S + 1,)): sequence ``s`` occupies rows ``offsets[s]:offsets[s + 1]``. Row indices are
  absolute, so a slice ``offsets[i:j + 1]`` processes sequences ``i`` to ``j - 1`` only:
  callers run disjoint pieces in parallel threads (every kernel releases the GIL) and sum the
  statistics.
- Forward-backward is two phases. :func:`messages` runs the forward and the backward
  recursions (independent chains, so a long sequence can run them in two threads);
  :func:`posteriors` turns them into posteriors and expected counts for any range of rows.
- The scaled kernels take emission likelihoods as ``prob`` of shape (n, K) with every entry in
  [0, 1], the likelihood of state ``k`` at frame ``t`` being ``prob[t, k] * exp(log_scale[t])``
  (a per-frame max shift of the log-likelihoods). Messages are rescaled only when their sum
  falls below ``LOW``; a sequence whose messages fall below ``FAIL`` even so is reported as
  failed, so the caller can redo it with the log-space kernels.
- The log-space kernels take log-likelihoods, log start probabilities and log transition
  probabilities (``-inf`` allowed).
- Expected transition counts are accumulated on the fly (O(K^2) memory per thread).
- Statistics are multiplied by the per-sequence ``weights``; posteriors are not.
"""

from __future__ import annotations

import numpy as np

from emkit.kernels._jit import njit
from emkit.kernels.vecmath import exp_nonpos

# Rescale the messages when their sum falls below LOW; give up (log-space fallback) below FAIL.
LOW = 1e-100
FAIL = 1e-290

# Reassociation lets LLVM vectorise the length-K dot products; no assumption about NaN/inf.
_FAST = {"reassoc", "contract", "arcp", "nsz"}


@njit(cache=True, nogil=True, fastmath=_FAST)
def _forward_one(prob, a, b, startprob, transmat_t, alpha, rescale, cur, nxt, store):
    """Scaled forward pass over rows a:b; returns the log of the message normalisers.

    ``alpha[t]`` receives the (lazily rescaled) forward message when ``store``; ``rescale[t]``
    the factor applied at frame ``t`` (1 when none). Returns NaN when the messages underflow.
    """
    K = prob.shape[1]
    log_norm = 0.0
    total = 0.0
    for j in range(K):
        x = startprob[j] * prob[a, j]
        cur[j] = x
        total += x
    r = 1.0
    if total < LOW:
        if not total > FAIL:
            return np.nan
        r = 1.0 / total
        log_norm += np.log(total)
        for j in range(K):
            cur[j] *= r
    rescale[a] = r
    if store:
        for j in range(K):
            alpha[a, j] = cur[j]
    for t in range(a + 1, b):
        total = 0.0
        for j in range(K):
            acc = 0.0
            for i in range(K):
                acc += cur[i] * transmat_t[j, i]
            x = acc * prob[t, j]
            nxt[j] = x
            total += x
        r = 1.0
        if total < LOW:
            if not total > FAIL:
                return np.nan
            r = 1.0 / total
            log_norm += np.log(total)
            for j in range(K):
                nxt[j] *= r
        rescale[t] = r
        for j in range(K):
            cur[j] = nxt[j]
        if store:
            for j in range(K):
                alpha[t, j] = nxt[j]
    total = 0.0
    for j in range(K):
        total += cur[j]
    if not total > 0.0:
        return np.nan
    return log_norm + np.log(total)


@njit(cache=True, nogil=True, fastmath=_FAST)
def _backward_one(prob, a, b, transmat, beta, v, nxt):
    """Backward messages of rows a:b up to a positive factor per frame; False on underflow."""
    K = prob.shape[1]
    for i in range(K):
        beta[b - 1, i] = 1.0
    for u in range(b - 2, a - 1, -1):
        for j in range(K):
            v[j] = prob[u + 1, j] * beta[u + 1, j]
        total = 0.0
        for i in range(K):
            acc = 0.0
            for j in range(K):
                acc += transmat[i, j] * v[j]
            nxt[i] = acc
            total += acc
        if total < LOW:
            if not total > FAIL:
                return False
            r = 1.0 / total
            for i in range(K):
                nxt[i] *= r
        for i in range(K):
            beta[u, i] = nxt[i]
    return True


@njit(cache=True, nogil=True, fastmath=_FAST)
def messages(prob, offsets, startprob, transmat, alpha, beta, rescale, mode):
    """Forward and/or backward messages of every sequence.

    Parameters
    ----------
    prob : ndarray of shape (n, K)
        Emission likelihoods, entries in [0, 1].
    offsets : ndarray of shape (S + 1,), int64
    startprob : ndarray of shape (K,)
    transmat : ndarray of shape (K, K)
    alpha : ndarray of shape (n, K)
        Output (modes 0 and 1): forward messages, rescaled by ``rescale`` when small.
    beta : ndarray of shape (n, K)
        Output (modes 0 and 2): backward messages, each frame up to a positive factor.
    rescale : ndarray of shape (n,)
        Output (modes 0 and 1): factor applied to the forward message of each frame.
    mode : int
        0 both, 1 forward only, 2 backward only (the two can run in different threads).

    Returns
    -------
    log_norm : ndarray of shape (S,)
        ``log p(x)`` of each sequence up to ``sum(log_scale)`` (modes 0 and 1; NaN on
        underflow).
    ok : ndarray of shape (S,), bool
        False where the messages underflowed.
    """
    K = prob.shape[1]
    S = offsets.shape[0] - 1
    log_norm = np.zeros(S)
    ok = np.ones(S, dtype=np.bool_)
    transmat_t = np.ascontiguousarray(transmat.T)
    c1 = np.empty(K)
    c2 = np.empty(K)
    for s in range(S):
        a = offsets[s]
        b = offsets[s + 1]
        if mode != 2:
            lp = _forward_one(prob, a, b, startprob, transmat_t, alpha, rescale, c1, c2, True)
            log_norm[s] = lp
            if np.isnan(lp):
                ok[s] = False
        if mode != 1 and not _backward_one(prob, a, b, transmat, beta, c1, c2):
            ok[s] = False
    return log_norm, ok


@njit(cache=True, nogil=True, fastmath=_FAST)
def _flush(Ms, P4, W4, nq):
    """``Ms += sum_q outer(P4[q], W4[q])`` for the ``nq`` staged frames."""
    K = Ms.shape[0]
    if nq == 4:
        for i in range(K):
            p0 = P4[0, i]
            p1 = P4[1, i]
            p2 = P4[2, i]
            p3 = P4[3, i]
            for j in range(K):
                Ms[i, j] += p0 * W4[0, j] + p1 * W4[1, j] + p2 * W4[2, j] + p3 * W4[3, j]
    else:
        for q in range(nq):
            for i in range(K):
                pq = P4[q, i]
                for j in range(K):
                    Ms[i, j] += pq * W4[q, j]


@njit(cache=True, nogil=True, fastmath=_FAST)
def posteriors(prob, offsets, r0, r1, weights, skip, alpha, beta, rescale, gamma):
    """Posteriors and expected counts of rows ``r0:r1`` from the messages.

    Parameters
    ----------
    prob, offsets, alpha, beta, rescale
        As given to and filled by :func:`messages` (all sequences of the batch).
    r0, r1 : int
        Rows to process; they may cut sequences (the threads split rows).
    weights : ndarray of shape (S,)
    skip : ndarray of shape (S,), bool
        Sequences to leave out.
    gamma : ndarray of shape (n, K)
        Output: posterior state probabilities (unweighted) of rows ``r0:r1``.

    Returns
    -------
    start : ndarray of shape (K,)
        Weighted posterior of the first state of the sequences starting in ``r0:r1``.
    occupancy : ndarray of shape (K,)
        Weighted posterior state counts of the rows.
    trans : ndarray of shape (K, K)
        Weighted expected transitions into the rows, divided by ``transmat`` (multiply by it).
    failed : ndarray of shape (S,), bool
        Sequences with a frame of zero posterior mass (messages underflowed); their rows in
        this range contribute nothing.
    """
    K = prob.shape[1]
    S = offsets.shape[0] - 1
    start = np.zeros(K)
    occupancy = np.zeros(K)
    trans = np.zeros((K, K))
    failed = np.zeros(S, dtype=np.bool_)
    Ms = np.empty((K, K))
    occ = np.empty(K)
    P4 = np.empty((4, K))
    W4 = np.empty((4, K))
    s = np.searchsorted(offsets, r0, side="right") - 1
    while s < S and offsets[s] < r1:
        a = offsets[s]
        b = offsets[s + 1]
        lo = max(a, r0)
        hi = min(b, r1)
        if skip[s]:
            s += 1
            continue
        for i in range(K):
            occ[i] = 0.0
            for j in range(K):
                Ms[i, j] = 0.0
        nq = np.int64(0)  # not a literal: one compiled variant of _flush
        bad = False
        for t in range(lo, hi):
            z = 0.0
            for j in range(K):
                z += alpha[t, j] * beta[t, j]
            if not z > 0.0:
                bad = True
                break
            inv = 1.0 / z
            for j in range(K):
                g = alpha[t, j] * beta[t, j] * inv
                gamma[t, j] = g
                occ[j] += g
            if t > a:
                # xi_{t-1}(i, j) = alpha_{t-1}(i) A_ij prob_t(j) beta_t(j) rescale_t / z_t
                f = rescale[t] * inv
                for j in range(K):
                    P4[nq, j] = alpha[t - 1, j]
                    W4[nq, j] = prob[t, j] * beta[t, j] * f
                nq += 1
                if nq == 4:
                    _flush(Ms, P4, W4, nq)
                    nq = np.int64(0)
        if bad:
            failed[s] = True
            s += 1
            continue
        _flush(Ms, P4, W4, nq)
        w = weights[s]
        for i in range(K):
            occupancy[i] += w * occ[i]
            for j in range(K):
                trans[i, j] += w * Ms[i, j]
        if lo == a:
            for i in range(K):
                start[i] += w * gamma[a, i]
        s += 1
    return start, occupancy, trans, failed


@njit(cache=True, nogil=True, fastmath=_FAST)
def forward(prob, log_scale, offsets, startprob, transmat):
    """Log-likelihood of every sequence (scaled forward pass only).

    Returns
    -------
    log_prob : ndarray of shape (S,)
        NaN where ``ok`` is False.
    ok : ndarray of shape (S,), bool
    """
    n, K = prob.shape
    S = offsets.shape[0] - 1
    log_prob = np.full(S, np.nan)
    ok = np.zeros(S, dtype=np.bool_)
    rescale = np.empty(n)
    transmat_t = np.ascontiguousarray(transmat.T)
    dummy = np.empty((0, K))
    cur = np.empty(K)
    nxt = np.empty(K)
    for s in range(S):
        a = offsets[s]
        b = offsets[s + 1]
        lp = _forward_one(prob, a, b, startprob, transmat_t, dummy, rescale, cur, nxt, False)
        if np.isnan(lp):
            continue
        for t in range(a, b):
            lp += log_scale[t]
        log_prob[s] = lp
        ok[s] = True
    return log_prob, ok


@njit(cache=True, nogil=True)
def _logsumexp(x):
    m = -np.inf
    for v in x:
        if v > m:
            m = v
    if m == -np.inf:
        return -np.inf
    acc = 0.0
    for v in x:
        acc += np.exp(v - m)
    return m + np.log(acc)


@njit(cache=True, nogil=True)
def _forward_log_one(log_frame, a, b, log_startprob, log_transmat, fwd):
    K = log_frame.shape[1]
    buf = np.empty(K)
    for j in range(K):
        fwd[a, j] = log_startprob[j] + log_frame[a, j]
    for t in range(a + 1, b):
        for j in range(K):
            for i in range(K):
                buf[i] = fwd[t - 1, i] + log_transmat[i, j]
            fwd[t, j] = _logsumexp(buf) + log_frame[t, j]
    return _logsumexp(fwd[b - 1])


@njit(cache=True, nogil=True)
def forward_log(log_frame, offsets, log_startprob, log_transmat):
    """Log-likelihood of every sequence, in log space. Returns shape (S,)."""
    n, K = log_frame.shape
    S = offsets.shape[0] - 1
    fwd = np.empty((n, K))
    log_prob = np.empty(S)
    for s in range(S):
        a = offsets[s]
        b = offsets[s + 1]
        log_prob[s] = _forward_log_one(log_frame, a, b, log_startprob, log_transmat, fwd)
    return log_prob


@njit(cache=True, nogil=True)
def forward_backward_log(log_frame, offsets, log_startprob, log_transmat, weights, gamma):
    """Log-space twin of :func:`forward_backward` (exact for any dynamic range).

    Returns ``(log_prob, start, occupancy, trans)`` with the shapes of
    :func:`forward_backward`; ``log_prob`` is ``-inf`` for an impossible sequence, whose
    posteriors are then NaN and whose statistics are skipped.
    """
    n, K = log_frame.shape
    S = offsets.shape[0] - 1
    fwd = np.empty((n, K))
    log_prob = np.empty(S)
    start = np.zeros(K)
    occupancy = np.zeros(K)
    trans = np.zeros((K, K))
    for s in range(S):
        a = offsets[s]
        b = offsets[s + 1]
        lp = _forward_log_one(log_frame, a, b, log_startprob, log_transmat, fwd)
        log_prob[s] = lp
        bwd = np.zeros(K)
        new = np.empty(K)
        buf = np.empty(K)
        w = weights[s]
        for t in range(b - 1, a - 1, -1):
            if t < b - 1:
                for i in range(K):
                    for j in range(K):
                        buf[j] = log_transmat[i, j] + log_frame[t + 1, j] + bwd[j]
                    new[i] = _logsumexp(buf)
                for i in range(K):
                    for j in range(K):
                        x = fwd[t, i] + log_transmat[i, j] + log_frame[t + 1, j] + bwd[j] - lp
                        if lp > -np.inf:
                            trans[i, j] += w * np.exp(x)
                for i in range(K):
                    bwd[i] = new[i]
            for i in range(K):
                g = np.exp(fwd[t, i] + bwd[i] - lp)
                gamma[t, i] = g
                if lp > -np.inf:
                    occupancy[i] += w * g
        if lp > -np.inf:
            for i in range(K):
                start[i] += w * gamma[a, i]
    return log_prob, start, occupancy, trans


@njit(cache=True, nogil=True)
def viterbi(log_frame, offsets, log_startprob, log_transmat, path):
    """Most probable state path of every sequence.

    Parameters
    ----------
    log_frame : ndarray of shape (n, K)
    offsets : ndarray of shape (S + 1,), int64
    log_startprob : ndarray of shape (K,)
    log_transmat : ndarray of shape (K, K)
    path : ndarray of shape (n,), int64
        Output: the best path of each processed sequence (ties go to the lowest state).

    Returns
    -------
    log_prob : ndarray of shape (S,)
        ``log p(x, path)`` of each sequence's best path.
    """
    n, K = log_frame.shape
    S = offsets.shape[0] - 1
    back = np.empty((n, K), dtype=np.int32)
    log_prob = np.empty(S)
    delta = np.empty(K)
    new = np.empty(K)
    for s in range(S):
        a = offsets[s]
        b = offsets[s + 1]
        for j in range(K):
            delta[j] = log_startprob[j] + log_frame[a, j]
        for t in range(a + 1, b):
            for j in range(K):
                best = delta[0] + log_transmat[0, j]
                arg = 0
                for i in range(1, K):
                    x = delta[i] + log_transmat[i, j]
                    if x > best:
                        best = x
                        arg = i
                new[j] = best + log_frame[t, j]
                back[t, j] = arg
            for j in range(K):
                delta[j] = new[j]
        best = delta[0]
        arg = 0
        for j in range(1, K):
            if delta[j] > best:
                best = delta[j]
                arg = j
        log_prob[s] = best
        path[b - 1] = arg
        for t in range(b - 1, a, -1):
            arg = back[t, arg]
            path[t - 1] = arg
    return log_prob


@njit(cache=True, nogil=True)
def sample_states(start_cdf, trans_cdf, u, first):
    """A state path drawn from cumulative start and transition probabilities.

    Parameters
    ----------
    start_cdf : ndarray of shape (K,)
    trans_cdf : ndarray of shape (K, K)
        Row-wise cumulative sums; the last entry of each is treated as 1.
    u : ndarray of shape (n,)
        Uniform draws in [0, 1); ``u[0]`` is unused when ``first >= 0``.
    first : int
        The first state, or -1 to draw it from ``start_cdf``.

    Returns
    -------
    ndarray of shape (n,), int64
    """
    n = u.shape[0]
    K = start_cdf.shape[0]
    out = np.empty(n, dtype=np.int64)
    if n == 0:
        return out
    if first >= 0:
        state = first
    else:
        state = K - 1
        for k in range(K - 1):
            if start_cdf[k] > u[0]:
                state = k
                break
    out[0] = state
    for t in range(1, n):
        nxt = K - 1
        for k in range(K - 1):
            if trans_cdf[state, k] > u[t]:
                nxt = k
                break
        state = nxt
        out[t] = state
    return out


@njit(cache=True, nogil=True, fastmath=_FAST)
def exp_rows(log_frame, prob, log_scale, a, b):
    """Scaled likelihoods of the frames ``a:b`` from their log-likelihoods.

    Parameters
    ----------
    log_frame : ndarray of shape (n, K)
    prob : ndarray of shape (n, K)
        Rows ``a:b`` receive ``exp(log_frame - log_scale[:, None])``, entries in [0, 1] (may
        be ``log_frame`` itself).
    log_scale : ndarray of shape (n,)
        Rows ``a:b`` receive each frame's maximum (0 for a frame that is ``-inf``
        throughout).
    a, b : int
    """
    K = log_frame.shape[1]
    for t in range(a, b):
        m = -np.inf
        for k in range(K):
            if log_frame[t, k] > m:
                m = log_frame[t, k]
        if not np.isfinite(m):
            m = 0.0
        log_scale[t] = m
        for k in range(K):
            prob[t, k] = exp_nonpos(log_frame[t, k] - m)
