"""Markov latent structure: forward-backward, Viterbi, posterior decoding, sampling.

Inference here sees only per-frame emission likelihoods of a batch of sequences (a
log-likelihood array of shape (n_samples, K), :class:`Frames`, or :class:`TableFrames` for
likelihoods that take few distinct rows) and the sequence offsets; it knows nothing of
emission families, so every family gets all of it for free.

Forward-backward runs on messages scaled by a per-frame max shift of the log-likelihoods, which
cannot underflow however large the dimension of the emissions; a sequence whose messages
underflow anyway (an observation impossible under every reachable state, say) is redone
exactly in log space.

Sequences are processed in parallel threads (the compiled kernels release the GIL) when there
is enough work; each thread takes a contiguous run of sequences and the statistics are summed
in a fixed order. Large batches of up to 8 states run the fused kernels of
:mod:`emkit.kernels.markov_unrolled`, which store no message arrays (one message per block of
frames, the rest recomputed): each thread makes its rows' frames from the log-likelihoods and
runs forward, then backward and posteriors together, over its sequences. With
:class:`TableFrames` and ``need_gamma=False`` (a fit's E-step) they read the likelihoods from
the table and add each frame's posteriors to its table row, so that no (n, K) array is made at
all; a single long sequence then runs its forward and backward passes in two threads at once,
and each thread walks back through half of its blocks. Otherwise the messages and the
posteriors are two phases over (n, K) arrays (a single long sequence runs its two recursions
in two threads).
"""

from __future__ import annotations

import itertools
import mmap
import threading
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from emkit.kernels import markov_numba, markov_numpy, markov_unrolled
from emkit.kernels.threads import n_threads, run_ranges

KERNELS = {"numba": markov_numba, "numpy": markov_numpy}

# A thread is given at least this much work (frames times K squared) before another is used.
MIN_WORK_PER_THREAD = 2**20
# Element-wise work (shift and exponential of the frames) per thread.
MIN_ELEMENTS_PER_THREAD = 2**16
# Batches of at least this many frames with at most 8 states use the kernels unrolled for their
# number of states (modules of emkit.kernels.unrolled, compiled once, then loaded from the cache).
UNROLL_MIN_ROWS = 10_000


def sequence_chunks(offsets, K):
    """Split sequences into contiguous runs of about equal work, at most one per thread.

    Returns
    -------
    list of (int, int)
        ``(first, stop)`` sequence indices of each run.
    """
    S = offsets.shape[0] - 1
    rows = int(offsets[-1] - offsets[0])
    count = min(n_threads(), S, max(1, rows * K * K // MIN_WORK_PER_THREAD))
    if count <= 1:
        return [(0, S)]
    targets = offsets[0] + rows * np.arange(1, count) / count
    cuts = np.unique(np.clip(np.searchsorted(offsets, targets), 1, S - 1))
    edges = [0, *cuts.tolist(), S]
    return [(a, b) for a, b in itertools.pairwise(edges) if b > a]


def _run(chunks, task):
    """``task(first, stop)`` for every chunk (in parallel threads); results in chunk order."""
    out = [None] * len(chunks)

    def work(lo, hi):
        for i in range(lo, hi):
            out[i] = task(*chunks[i])

    run_ranges(work, len(chunks))
    return out


def get_kernels(kernels):
    """The kernel module named ``kernels`` ('numba' or 'numpy'), or ``kernels`` itself."""
    if isinstance(kernels, str):
        return KERNELS[kernels]
    return kernels


def offsets_from_lengths(lengths):
    """Row offsets of stacked sequences: shape (S + 1,), int64, starting at 0."""
    out = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=out[1:])
    return out


def _log(p):
    with np.errstate(divide="ignore"):
        return np.log(np.asarray(p, dtype=np.float64))


@dataclass(frozen=True)
class Frames:
    """Emission likelihoods of a batch of frames, ``prob[t, k] * exp(log_scale[t])``.

    Attributes
    ----------
    prob : ndarray of shape (n, K)
        Entries in [0, 1].
    log_scale : ndarray of shape (n,)
    log : ndarray of shape (n, K) or None
        The exact log-likelihoods when known (used by the log-space fallback and Viterbi).
    """

    prob: np.ndarray
    log_scale: np.ndarray
    log: np.ndarray | None = None

    @classmethod
    def from_log(cls, log_frame, kernels="numba", workspace=None):
        """Frames from log-likelihoods, shifted by each frame's maximum."""
        L = np.ascontiguousarray(log_frame, dtype=np.float64)
        n = L.shape[0]
        prob = np.empty(L.shape) if workspace is None else workspace.get("prob", L.shape)
        log_scale = np.empty(n)
        exp_rows = get_kernels(kernels).exp_rows

        def task(r0, r1):  # the kernel releases the GIL: row ranges in parallel threads
            exp_rows(L, prob, log_scale, r0, r1)

        count = min(n_threads(), max(1, L.size // MIN_ELEMENTS_PER_THREAD))
        edges = [n * i // count for i in range(count + 1)]
        _run([(a, b) for a, b in itertools.pairwise(edges) if b > a], task)
        return cls(prob, log_scale, L)

    @classmethod
    def from_prob(cls, prob):
        """Frames from likelihoods already in [0, 1] (categorical probabilities, say)."""
        P = np.ascontiguousarray(prob, dtype=np.float64)
        return cls(P, np.zeros(P.shape[0]))

    def log_likelihood(self):
        """Log-likelihoods, shape (n, K)."""
        if self.log is not None:
            return self.log
        return _log(self.prob) + self.log_scale[:, None]


@dataclass(frozen=True)
class TableFrames:
    """Emission likelihoods that take few distinct values: frame ``t`` has row ``index[t]``.

    The likelihood of state ``k`` at frame ``t`` is ``table[index[t], k]`` (a categorical
    emission's probability of the observed symbol, say). Forward-backward reads the table
    directly and can return the posterior mass of each table row instead of the (n, K)
    posteriors (see :func:`forward_backward`).

    Attributes
    ----------
    table : ndarray of shape (M, K)
        Entries in [0, 1].
    index : ndarray of shape (n,), int64
        Entries in ``[0, M)``.
    """

    table: np.ndarray
    index: np.ndarray

    def frames(self, workspace=None):
        """The same likelihoods as :class:`Frames` (an (n, K) array)."""
        n, K = self.index.shape[0], self.table.shape[1]
        prob = np.empty((n, K)) if workspace is None else workspace.get("prob", (n, K))
        np.take(self.table, self.index, axis=0, out=prob)
        return Frames(prob, np.zeros(n))

    def log_likelihood(self):
        """Log-likelihoods, shape (n, K)."""
        return _log(self.table)[self.index]


def as_frames(frames, kernels="numba", workspace=None):
    """``frames`` itself, or :class:`Frames` built from log-likelihoods or a table."""
    if isinstance(frames, Frames):
        return frames
    if isinstance(frames, TableFrames):
        return frames.frames(workspace)
    return Frames.from_log(frames, kernels, workspace)


@dataclass
class Posteriors:
    """Output of :func:`forward_backward`.

    Attributes
    ----------
    log_prob : ndarray of shape (S,)
        Log-likelihood of each sequence.
    gamma : ndarray of shape (n, K)
        Posterior state probabilities of each frame.
    start : ndarray of shape (K,)
        Weighted posterior of the first state, summed over sequences.
    occupancy : ndarray of shape (K,)
        Weighted expected number of frames in each state.
    trans : ndarray of shape (K, K)
        Weighted expected number of transitions between states.
    table_mass : ndarray of shape (M, K) or None
        For :class:`TableFrames` without ``gamma``: the weighted posterior mass of each table
        row, ``sum over frames t with index[t] == m of weight * gamma[t, k]``.
    """

    log_prob: np.ndarray
    gamma: np.ndarray | None
    start: np.ndarray
    occupancy: np.ndarray
    trans: np.ndarray
    table_mass: np.ndarray | None = None


def _subset(offsets, which):
    """Rows and offsets of the sequences ``which`` stacked together."""
    lengths = offsets[which + 1] - offsets[which]
    rows = np.concatenate([np.arange(offsets[s], offsets[s + 1]) for s in which])
    return rows, offsets_from_lengths(lengths)


class Workspace:
    """Buffers reused by successive calls (blocks, iterations).

    Holding one across Baum-Welch iterations avoids allocating (and faulting in) the frame and
    message arrays every time; what a call returns in them is overwritten by the next call.
    A large buffer is an anonymous memory map of its own rather than a NumPy allocation: NumPy
    asks the kernel for transparent huge pages for large arrays, and where the kernel then
    compacts memory to find them (its default ``defrag=madvise``), the first touch of a large
    array costs several times as long, and unpredictably so.
    """

    #: Buffers of at least this many bytes are memory maps of their own (smaller ones, a few
    #: huge pages each, came out as fast or faster from NumPy in the HMM benchmark).
    MAP_BYTES = 2**24
    #: A borrowed workspace of at most this many bytes is kept for the next borrower.
    KEEP_BYTES = 2**26

    def __init__(self):
        self._buffers = {}

    @property
    def nbytes(self):
        """Bytes held by the buffers."""
        return sum(buf.nbytes for buf in self._buffers.values())

    @classmethod
    @contextmanager
    def borrowed(cls):
        """A workspace for the duration of a ``with`` block, reused by successive blocks.

        A fit borrows one for all its iterations; when it ends, the workspace is kept for the
        next fit in the process if it holds at most ``KEEP_BYTES`` (one is kept), so that
        repeated fits of similar size (restarts, a range of state counts) do not fault in
        fresh buffers each time. Blocks running at once in several threads get different
        workspaces.
        """
        with _idle_lock:
            ws = _idle.pop() if _idle else cls()
        try:
            yield ws
        finally:
            if ws.nbytes <= cls.KEEP_BYTES:
                with _idle_lock:
                    _idle[:] = [ws]

    def get(self, name, shape):
        """An uninitialised float64 C-contiguous array of ``shape``, kept under ``name``."""
        size = int(np.prod(shape))
        buf = self._buffers.get(name)
        if buf is None or buf.size < size:
            nbytes = 8 * size
            if nbytes >= self.MAP_BYTES:
                buf = np.frombuffer(mmap.mmap(-1, nbytes), dtype=np.float64)
            else:
                buf = np.empty(size)
            self._buffers[name] = buf
        return buf[:size].reshape(shape)


_idle = []  # at most one idle workspace (see Workspace.borrowed)
_idle_lock = threading.Lock()


def _message_tasks(offsets, K):
    """``(first, stop, mode)`` pieces of the message phase, at most one per thread."""
    S = offsets.shape[0] - 1
    chunks = sequence_chunks(offsets, K)
    if len(chunks) > 1 or S > 1 or n_threads() < 2:
        return [(a, b, 0) for a, b in chunks]
    rows = int(offsets[-1] - offsets[0])
    if rows * K * K < MIN_WORK_PER_THREAD:
        return [(0, S, 0)]
    # One long sequence: its forward and backward recursions in two threads.
    return [(0, 1, 1), (0, 1, 2)]


def _row_chunks(n, K):
    count = min(n_threads(), max(1, n * K * K // MIN_WORK_PER_THREAD))
    edges = [n * i // count for i in range(count + 1)]
    return [(a, b) for a, b in itertools.pairwise(edges) if b > a]


def _phase_kernels(k, n, K):
    """The message and posterior kernels for ``n`` frames of ``K`` states."""
    messages, posteriors = k.messages, k.posteriors
    if _unrolled(k, n, K):
        messages = markov_unrolled.messages(K)
        if K <= markov_unrolled.MAX_POSTERIOR_STATES:
            posteriors = markov_unrolled.posteriors(K)
    return messages, posteriors


def _unrolled(k, n, K):
    """Whether ``n`` frames of ``K`` states use the kernels unrolled for ``K``."""
    return k is markov_numba and n >= UNROLL_MIN_ROWS and K <= markov_unrolled.MAX_STATES


def _smooth_kernel(k, n, K):
    """The fused forward-backward kernel for ``n`` frames of ``K`` states, or None."""
    return markov_unrolled.smooth(K) if _unrolled(k, n, K) else None


def forward_backward(
    frames,
    offsets,
    startprob,
    transmat,
    weights=None,
    kernels="numba",
    workspace=None,
    need_gamma=True,
):
    """Posteriors and expected counts of a batch of sequences.

    Parameters
    ----------
    frames : Frames, TableFrames or ndarray of shape (n, K)
        Emission likelihoods (an array is read as log-likelihoods).
    offsets : ndarray of shape (S + 1,), int64
        Sequence ``s`` occupies rows ``offsets[s]:offsets[s + 1]``.
    startprob : ndarray of shape (K,)
    transmat : ndarray of shape (K, K)
    weights : ndarray of shape (S,), optional
        Per-sequence weights multiplying the counts (not the posteriors).
    kernels : {'numba', 'numpy'}
    workspace : Workspace, optional
        Buffers to reuse; the returned ``gamma`` then lives in it.
    need_gamma : bool, default=True
        False when the caller needs only the expected counts and, for :class:`TableFrames`,
        the posterior mass of each table row: ``Posteriors.gamma`` may then be None (with
        ``table_mass`` set), which spares the (n, K) posterior and likelihood arrays.

    Returns
    -------
    Posteriors
    """
    k = get_kernels(kernels)
    if isinstance(frames, TableFrames):
        n, K = frames.index.shape[0], frames.table.shape[1]
        if not need_gamma and _unrolled(k, n, K):
            return _table_pass(frames, offsets, startprob, transmat, weights)
        frames = frames.frames(workspace)
    L = None if isinstance(frames, Frames) else np.ascontiguousarray(frames, dtype=np.float64)
    startprob = np.ascontiguousarray(startprob, dtype=np.float64)
    transmat = np.ascontiguousarray(transmat, dtype=np.float64)
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    n, K = frames.prob.shape if L is None else L.shape
    S = offsets.shape[0] - 1
    w = np.ones(S) if weights is None else np.ascontiguousarray(weights, dtype=np.float64)
    ws = workspace if workspace is not None else Workspace()

    tasks = _message_tasks(offsets, K)
    # One long sequence runs its two recursions in two threads (two phases, below).
    smooth = _smooth_kernel(k, n, K) if all(t[2] == 0 for t in tasks) else None
    if smooth is not None and L is not None and (offsets[0] != 0 or offsets[-1] != n):
        frames, L = Frames.from_log(L, k, ws), None
    if smooth is not None:
        # Whole sequences per thread: (the frames of its rows, from log-likelihoods), forward,
        # then backward fused with the posteriors.
        if L is None:
            prob, log_scale = frames.prob, frames.log_scale
            logs, log_scale_out = np.empty((0, K)), np.empty(0)  # frames given: none made
        else:
            prob, log_scale = ws.get("prob", (n, K)), np.empty(n)
            logs, log_scale_out = L, log_scale
        gamma = ws.get("gamma", (n, K))

        def fused(a, b, mode):
            off = offsets[a : b + 1]
            return smooth(logs, log_scale_out, prob, off, startprob, transmat, w[a:b], gamma)

        parts = _run(tasks, fused)
        if L is not None:
            frames = Frames(prob, log_scale, L)
        log_norm = np.concatenate([p[0] for p in parts])
        ok = np.concatenate([p[1] for p in parts])
        start, occ, trans = (sum(p[i] for p in parts) for i in range(2, 5))
        return _finish(
            frames, offsets, startprob, transmat, w, k, gamma, log_norm, ok, start, occ, trans
        )
    frames = as_frames(frames, k, ws)
    prob = frames.prob
    alpha, beta = ws.get("alpha", (n, K)), ws.get("beta", (n, K))
    rescale, gamma = ws.get("rescale", (n,)), ws.get("gamma", (n, K))
    log_norm = np.zeros(S)
    ok = np.ones(S, dtype=bool)
    messages_kernel, posteriors_kernel = _phase_kernels(k, n, K)

    def messages(a, b, mode):
        off = offsets[a : b + 1]
        return messages_kernel(prob, off, startprob, transmat, alpha, beta, rescale, mode)

    for (a, b, mode), (ln, good) in zip(tasks, _run(tasks, messages), strict=True):
        if mode != 2:
            log_norm[a:b] = ln
        ok[a:b] &= good

    def post(r0, r1, skip):
        return posteriors_kernel(prob, offsets, r0, r1, w, skip, alpha, beta, rescale, gamma)

    chunks = _row_chunks(n, K)
    parts = _run(chunks, lambda r0, r1: post(r0, r1, ~ok))
    failed = np.logical_or.reduce([p[3] for p in parts])
    if failed.any():
        ok &= ~failed
        parts = [post(0, n, ~ok)]
    start, occ, trans = (sum(p[i] for p in parts) for i in range(3))
    return _finish(
        frames, offsets, startprob, transmat, w, k, gamma, log_norm, ok, start, occ, trans
    )


def _in_log_space(frames, offsets, startprob, transmat, w, k, bad):
    """Forward-backward of the sequences ``bad`` in log space (exact for any dynamic range).

    Returns their rows, then ``(log_prob, gamma, start, occupancy, trans)``.
    """
    rows, sub = _subset(offsets, bad)
    g = np.empty((rows.size, transmat.shape[0]))
    log_frame = np.ascontiguousarray(frames.log_likelihood()[rows])
    lp, st, oc, tr = k.forward_backward_log(
        log_frame, sub, _log(startprob), _log(transmat), w[bad], g
    )
    return rows, (lp, g, st, oc, tr)


def _finish(frames, offsets, startprob, transmat, w, k, gamma, log_norm, ok, start, occ, trans):
    """Posteriors from the scaled pass's results, failed sequences redone in log space."""
    trans = trans * transmat
    log_prob = np.where(ok, log_norm + np.add.reduceat(frames.log_scale, offsets[:-1]), np.nan)
    if not ok.all():
        bad = np.flatnonzero(~ok)
        rows, (lp, g, st, oc, tr) = _in_log_space(frames, offsets, startprob, transmat, w, k, bad)
        gamma[rows] = g
        log_prob[bad] = lp
        start, occ, trans = start + st, occ + oc, trans + tr
    return Posteriors(log_prob, gamma, start, occ, trans)


def _in_halves(module, table, index, offsets, startprob, transmat, w):
    """The fused forward-backward of one long sequence over two threads (table likelihoods).

    The forward and the backward passes run at once, each keeping one message per block of
    frames; then each thread walks back through half of the blocks from those messages. Same
    results as the table module's ``smooth`` (to rounding).
    """
    a, b = int(offsets[0]), int(offsets[1])
    K = transmat.shape[0]
    n_blocks = -(-(b - a) // markov_unrolled.BLOCK)
    ckpt, bckpt = np.empty((n_blocks, K)), np.empty((n_blocks, K))

    def one_pass(buffer, mode):
        return module.checkpoints(table, index, a, b, startprob, transmat, buffer, mode)

    (lp, forward_ok), (_, backward_ok) = _run([(ckpt, 1), (bckpt, 2)], one_pass)
    half = n_blocks // 2
    runs = [(0, half), (half, n_blocks)] if half else [(0, n_blocks)]

    def walk(m0, m1):
        return module.smooth_blocks(
            table, index, a, b, m0, m1, startprob, transmat, ckpt, bckpt, w[0]
        )

    parts = _run(runs, walk) if forward_ok and backward_ok else []
    ok = bool(parts) and all(p[0] for p in parts)
    # (good, start, occupancy, trans, counts) per run
    totals = [sum(p[i] for p in parts) if ok else 0.0 for i in range(1, 5)]
    return (np.array([lp if ok else np.nan]), np.array([ok]), *totals)


def _table_pass(frames, offsets, startprob, transmat, weights):
    """:func:`forward_backward` of :class:`TableFrames` without ``gamma`` (unrolled kernels).

    Each thread runs the fused kernel over whole sequences, adding each frame's posteriors
    to its table row's mass: no (n, K) array is made.
    """
    table = np.ascontiguousarray(frames.table, dtype=np.float64)
    index = np.ascontiguousarray(frames.index, dtype=np.int64)
    startprob = np.ascontiguousarray(startprob, dtype=np.float64)
    transmat = np.ascontiguousarray(transmat, dtype=np.float64)
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    K = table.shape[1]
    S = offsets.shape[0] - 1
    w = np.ones(S) if weights is None else np.ascontiguousarray(weights, dtype=np.float64)
    module = markov_unrolled.table_kernels(K)
    chunks = sequence_chunks(offsets, K)
    skip = np.zeros(S, dtype=bool)

    def task(a, b):
        off = offsets[a : b + 1]
        return module.smooth(table, index, off, startprob, transmat, w[a:b], skip[a:b])

    if _message_tasks(offsets, K)[0][2] != 0:  # one long sequence: two threads
        parts = [_in_halves(module, table, index, offsets, startprob, transmat, w)]
    else:
        parts = _run(chunks, task)
    ok = np.concatenate([p[1] for p in parts])
    if not ok.all():
        # A sequence failing in its backward pass has added part of its mass: redo without.
        skip = ~ok
        parts = _run(chunks, task)
    log_prob = np.where(ok, np.concatenate([p[0] for p in parts]), np.nan)
    start, occ, trans, mass = (sum(p[i] for p in parts) for i in range(2, 6))
    trans = trans * transmat
    if not ok.all():
        bad = np.flatnonzero(~ok)
        rows, (lp, g, st, oc, tr) = _in_log_space(
            frames, offsets, startprob, transmat, w, markov_numba, bad
        )
        row_w = np.repeat(w[bad], np.diff(offsets)[bad])
        np.add.at(mass, index[rows], np.where(np.isfinite(g), g * row_w[:, None], 0.0))
        log_prob[bad] = lp
        start, occ, trans = start + st, occ + oc, trans + tr
    return Posteriors(log_prob, None, start, occ, trans, mass)


def log_likelihood(frames, offsets, startprob, transmat, kernels="numba"):
    """Log-likelihood of each sequence (forward pass only), shape (S,)."""
    k = get_kernels(kernels)
    frames = as_frames(frames, k)
    startprob = np.ascontiguousarray(startprob, dtype=np.float64)
    transmat = np.ascontiguousarray(transmat, dtype=np.float64)
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)

    def task(a, b):
        return k.forward(frames.prob, frames.log_scale, offsets[a : b + 1], startprob, transmat)

    parts = _run(sequence_chunks(offsets, transmat.shape[0]), task)
    log_prob = np.concatenate([p[0] for p in parts])
    ok = np.concatenate([p[1] for p in parts])
    if not ok.all():
        bad = np.flatnonzero(~ok)
        rows, sub = _subset(offsets, bad)
        L = np.ascontiguousarray(frames.log_likelihood()[rows])
        log_prob[bad] = k.forward_log(L, sub, _log(startprob), _log(transmat))
    return log_prob


def viterbi(frames, offsets, startprob, transmat, kernels="numba"):
    """Most probable state path of each sequence.

    Returns
    -------
    log_prob : ndarray of shape (S,)
        ``log p(x, path)`` of each sequence's path.
    path : ndarray of shape (n,), int64
    """
    k = get_kernels(kernels)
    L = frames.log_likelihood() if isinstance(frames, Frames) else frames
    L = np.ascontiguousarray(L, dtype=np.float64)
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    log_start, log_trans = _log(startprob), _log(transmat)
    path = np.empty(L.shape[0], dtype=np.int64)

    def task(a, b):
        return k.viterbi(L, offsets[a : b + 1], log_start, log_trans, path)

    parts = _run(sequence_chunks(offsets, L.shape[1]), task)
    return np.concatenate(parts), path


def path_log_prob(frames, offsets, startprob, transmat, path):
    """Joint log-probability ``log p(x, path)`` of given state paths, shape (S,)."""
    L = frames.log_likelihood() if isinstance(frames, Frames) else np.asarray(frames)
    path = np.asarray(path, dtype=np.int64)
    n = path.shape[0]
    terms = L[np.arange(n), path]
    first = offsets[:-1]
    not_first = np.ones(n, dtype=bool)
    not_first[first] = False
    log_a = _log(transmat)
    step = np.zeros(n)
    idx = np.flatnonzero(not_first)
    step[idx] = log_a[path[idx - 1], path[idx]]
    step[first] = _log(startprob)[path[first]]
    return np.add.reduceat(terms + step, first)


def map_decode(frames, offsets, startprob, transmat, kernels="numba"):
    """Posterior (MAP) decoding: the most probable state of each frame.

    Returns
    -------
    log_prob : ndarray of shape (S,)
        ``log p(x, path)`` of the decoded path (``-inf`` when it uses a forbidden transition),
        comparable with :func:`viterbi`'s, which is never lower.
    path : ndarray of shape (n,), int64
    """
    k = get_kernels(kernels)
    frames = as_frames(frames, k)
    post = forward_backward(frames, offsets, startprob, transmat, kernels=k)
    path = np.argmax(post.gamma, axis=1).astype(np.int64)
    return path_log_prob(frames, offsets, startprob, transmat, path), path


def _cdf(p):
    cdf = np.cumsum(np.asarray(p, dtype=np.float64), axis=-1)
    cdf[..., -1] = 1.0
    return np.ascontiguousarray(cdf)


def sample_states(startprob, transmat, n_samples, rng, currstate=None, kernels="numba"):
    """Draw a state path of length ``n_samples``.

    Parameters
    ----------
    startprob : ndarray of shape (K,)
    transmat : ndarray of shape (K, K)
    n_samples : int
    rng : numpy.random.RandomState
    currstate : int, optional
        First state; drawn from ``startprob`` when None.

    Returns
    -------
    ndarray of shape (n_samples,), int64
    """
    u = rng.random_sample(n_samples)
    first = -1 if currstate is None else int(currstate)
    return get_kernels(kernels).sample_states(_cdf(startprob), _cdf(transmat), u, first)


def stationary_distribution(transmat):
    """Stationary distribution of a transition matrix (left eigenvector of eigenvalue 1)."""
    vals, vecs = np.linalg.eig(np.asarray(transmat, dtype=np.float64).T)
    vec = np.real_if_close(vecs[:, np.argmin(np.abs(vals - 1.0))])
    vec = np.real(vec)
    return vec / vec.sum()
