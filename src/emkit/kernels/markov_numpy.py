"""NumPy reference kernels for hidden Markov models.

The oracle for :mod:`emkit.kernels.markov_numba`: same signatures, same conventions (see that
module's notes), same results to rounding. Written for clarity: a Python loop over frames with
NumPy vector operations over states.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from emkit.kernels.markov_numba import FAIL, LOW


def _forward_one(prob, a, b, startprob, transmat, alpha, rescale):
    cur = startprob * prob[a]
    log_norm = 0.0
    for t in range(a, b):
        if t > a:
            cur = (cur @ transmat) * prob[t]
        total = cur.sum()
        r = 1.0
        if total < LOW:
            if not total > FAIL:
                return np.nan
            r = 1.0 / total
            log_norm += np.log(total)
            cur = cur * r
        rescale[t] = r
        if alpha is not None:
            alpha[t] = cur
    total = cur.sum()
    if not total > 0.0:
        return np.nan
    return log_norm + np.log(total)


def _backward_one(prob, a, b, transmat, beta):
    beta[b - 1] = 1.0
    for u in range(b - 2, a - 1, -1):
        new = transmat @ (prob[u + 1] * beta[u + 1])
        total = new.sum()
        if total < LOW:
            if not total > FAIL:
                return False
            new = new / total
        beta[u] = new
    return True


def messages(prob, offsets, startprob, transmat, alpha, beta, rescale, mode):
    """Forward and/or backward messages; see :func:`emkit.kernels.markov_numba.messages`."""
    S = offsets.shape[0] - 1
    log_norm = np.zeros(S)
    ok = np.ones(S, dtype=bool)
    for s in range(S):
        a, b = offsets[s], offsets[s + 1]
        if mode != 2:
            log_norm[s] = _forward_one(prob, a, b, startprob, transmat, alpha, rescale)
            ok[s] = not np.isnan(log_norm[s])
        if mode != 1 and not _backward_one(prob, a, b, transmat, beta):
            ok[s] = False
    return log_norm, ok


def posteriors(prob, offsets, r0, r1, weights, skip, alpha, beta, rescale, gamma):
    """Posteriors and counts of rows r0:r1; see :func:`emkit.kernels.markov_numba.posteriors`."""
    K = prob.shape[1]
    S = offsets.shape[0] - 1
    start = np.zeros(K)
    occupancy = np.zeros(K)
    trans = np.zeros((K, K))
    failed = np.zeros(S, dtype=bool)
    first = int(np.searchsorted(offsets, r0, side="right")) - 1
    for s in range(first, S):
        a, b = offsets[s], offsets[s + 1]
        if a >= r1:
            break
        if skip[s]:
            continue
        lo, hi = max(a, r0), min(b, r1)
        z = np.einsum("ij,ij->i", alpha[lo:hi], beta[lo:hi])
        if not np.all(z > 0):
            failed[s] = True
            continue
        g = alpha[lo:hi] * beta[lo:hi] / z[:, None]
        gamma[lo:hi] = g
        t = np.arange(max(lo, a + 1), hi)
        w = prob[t] * beta[t] * (rescale[t] / z[t - lo])[:, None]
        trans += weights[s] * (alpha[t - 1].T @ w)
        occupancy += weights[s] * g.sum(axis=0)
        if lo == a:
            start += weights[s] * g[0]
    return start, occupancy, trans, failed


def forward(prob, log_scale, offsets, startprob, transmat):
    """Log-likelihood of every sequence (scaled forward pass only); returns (log_prob, ok)."""
    S = offsets.shape[0] - 1
    log_prob = np.full(S, np.nan)
    ok = np.zeros(S, dtype=bool)
    rescale = np.empty(prob.shape[0])
    for s in range(S):
        a, b = offsets[s], offsets[s + 1]
        lp = _forward_one(prob, a, b, startprob, transmat, None, rescale)
        if not np.isnan(lp):
            log_prob[s] = lp + log_scale[a:b].sum()
            ok[s] = True
    return log_prob, ok


def _forward_log_one(log_frame, a, b, log_startprob, log_transmat):
    fwd = np.empty((b - a, log_frame.shape[1]))
    fwd[0] = log_startprob + log_frame[a]
    for t in range(1, b - a):
        fwd[t] = logsumexp(fwd[t - 1][:, None] + log_transmat, axis=0) + log_frame[a + t]
    return fwd


def forward_log(log_frame, offsets, log_startprob, log_transmat):
    """Log-likelihood of every sequence, in log space. Returns shape (S,)."""
    S = offsets.shape[0] - 1
    out = np.empty(S)
    for s in range(S):
        fwd = _forward_log_one(log_frame, offsets[s], offsets[s + 1], log_startprob, log_transmat)
        out[s] = logsumexp(fwd[-1])
    return out


def forward_backward_log(log_frame, offsets, log_startprob, log_transmat, weights, gamma):
    """Log-space twin of :func:`forward_backward`; returns (log_prob, start, occupancy, trans)."""
    K = log_frame.shape[1]
    S = offsets.shape[0] - 1
    log_prob = np.empty(S)
    start = np.zeros(K)
    occupancy = np.zeros(K)
    trans = np.zeros((K, K))
    for s in range(S):
        a, b = offsets[s], offsets[s + 1]
        fwd = _forward_log_one(log_frame, a, b, log_startprob, log_transmat)
        lp = logsumexp(fwd[-1])
        log_prob[s] = lp
        bwd = np.zeros((b - a, K))
        for t in range(b - a - 2, -1, -1):
            bwd[t] = logsumexp(log_transmat + log_frame[a + t + 1] + bwd[t + 1], axis=1)
        with np.errstate(invalid="ignore"):
            gamma[a:b] = np.exp(fwd + bwd - lp)
        if lp == -np.inf:
            continue
        start += weights[s] * gamma[a]
        occupancy += weights[s] * gamma[a:b].sum(axis=0)
        for t in range(b - a - 1):
            x = fwd[t][:, None] + log_transmat + (log_frame[a + t + 1] + bwd[t + 1])[None, :]
            trans += weights[s] * np.exp(x - lp)
    return log_prob, start, occupancy, trans


def viterbi(log_frame, offsets, log_startprob, log_transmat, path):
    """Most probable state path of every sequence, written to ``path``; returns log_prob (S,)."""
    K = log_frame.shape[1]
    S = offsets.shape[0] - 1
    log_prob = np.empty(S)
    for s in range(S):
        a, b = offsets[s], offsets[s + 1]
        back = np.zeros((b - a, K), dtype=np.int64)
        delta = log_startprob + log_frame[a]
        for t in range(1, b - a):
            scores = delta[:, None] + log_transmat
            back[t] = np.argmax(scores, axis=0)
            delta = scores[back[t], np.arange(K)] + log_frame[a + t]
        state = int(np.argmax(delta))
        log_prob[s] = delta[state]
        path[b - 1] = state
        for t in range(b - a - 1, 0, -1):
            state = back[t, state]
            path[a + t - 1] = state
    return log_prob


def sample_states(start_cdf, trans_cdf, u, first):
    """A state path drawn from cumulative probabilities; see the numba twin."""
    n = u.shape[0]
    K = start_cdf.shape[0]
    out = np.empty(n, dtype=np.int64)
    if n == 0:
        return out

    def draw(cdf, x):
        hit = np.flatnonzero(cdf[: K - 1] > x)
        return int(hit[0]) if hit.size else K - 1

    state = first if first >= 0 else draw(start_cdf, u[0])
    out[0] = state
    for t in range(1, n):
        state = draw(trans_cdf[state], u[t])
        out[t] = state
    return out


def exp_rows(log_frame, prob, log_scale, a, b):
    """Scaled likelihoods of the frames ``a:b``, written to ``prob`` and ``log_scale``.

    See the numba twin.
    """
    m = log_frame[a:b].max(axis=1, initial=-np.inf)
    m[~np.isfinite(m)] = 0.0
    log_scale[a:b] = m
    np.exp(log_frame[a:b] - m[:, None], out=prob[a:b])
