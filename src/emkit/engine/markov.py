"""EM for hidden Markov models (Baum-Welch): the HMM problem, its data source and its monitor.

An HMM is composed of an initial-state distribution, a transition matrix and an emission
family. The E-step of a block of whole sequences turns the family's per-frame likelihoods into
posteriors with :mod:`emkit.latent.markov` and returns additive :class:`MarkovStats`; the
M-step gives Dirichlet MAP start and transition probabilities (zeros stay zero, so left-right
structures are kept) and the family's MAP emission parameters, leaving the parameters named in
``fixed`` as they are. EM itself is :func:`emkit.engine.em.run_em`.

An emission family offers ``log_likelihood(params, X) -> (n, K)`` (or, when its
likelihoods are probabilities in [0, 1], ``likelihood(params, X)``, which is then preferred),
``accumulate(params, X, wresp) -> stats`` with additive stats, ``maximize(stats, params, fixed,
empty) -> params`` and ``param_names``. A family whose likelihoods take few distinct rows may
also offer ``likelihood_table(params, X) -> (table, index)`` (see
:class:`~emkit.latent.markov.TableFrames`) and ``accumulate_table(params, mass) -> stats``
from the posterior mass of each table row: the E-step of a fit then needs no (n, K) array
but the forward messages.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import warnings
from collections import Counter, deque
from dataclasses import dataclass

import numpy as np

from emkit.engine.em import run_em
from emkit.engine.mixture import EMPTY_FRACTION
from emkit.engine.sources import Block
from emkit.exceptions import DegenerateComponentWarning
from emkit.latent import markov as latent

_log = logging.getLogger(__name__)

# Rows per block of sequences (a longer sequence is a block of its own).
DEFAULT_BLOCK_ROWS = 2**17


class ConvergenceMonitor:
    """Record the log-likelihood of each Baum-Welch iteration and decide convergence.

    Parameters
    ----------
    tol : float
        Convergence threshold on the gain of the total log-likelihood between two iterations.
    n_iter : int
        Maximum number of iterations.
    verbose : bool
        Print one line per iteration to ``sys.stderr``.

    Attributes
    ----------
    history : collections.deque of float
        Log-likelihood of the data computed in each iteration's E-step.
    iter : int
        Iterations performed.
    """

    _template = "{iter:>10d} {log_prob:>16.8f} {delta:>+16.8f}"

    def __init__(self, tol, n_iter, verbose):
        self.tol = tol
        self.n_iter = n_iter
        self.verbose = verbose
        self.history = deque()
        self.iter = 0

    def __repr__(self):
        params = sorted(dict(vars(self), history=list(self.history)).items())
        body = "".join(f"    {k}={v},\n" for k, v in params)
        return f"{type(self).__name__}(\n{body})"

    def _reset(self):
        """Forget the history."""
        self.iter = 0
        self.history.clear()

    def report(self, log_prob):
        """Record the log-likelihood of one more iteration (and print it when verbose)."""
        if self.verbose:
            delta = log_prob - self.history[-1] if self.history else np.nan
            print(
                self._template.format(iter=self.iter + 1, log_prob=log_prob, delta=delta),
                file=sys.stderr,
            )
        precision = np.finfo(float).eps ** 0.5
        if self.history and (log_prob - self.history[-1]) < -precision * max(1.0, abs(log_prob)):
            _log.warning(
                "log-likelihood decreased from %r to %r at iteration %d",
                self.history[-1],
                log_prob,
                self.iter + 1,
            )
        self.history.append(log_prob)
        self.iter += 1

    @property
    def converged(self):
        """Whether the last gain of the log-likelihood fell below ``tol``.

        Reaching ``n_iter`` is not convergence.
        """
        return len(self.history) >= 2 and self.history[-1] - self.history[-2] < self.tol


@dataclass(frozen=True)
class MarkovParams:
    """Start probabilities (K,), transition matrix (K, K) and emission parameters."""

    startprob: np.ndarray
    transmat: np.ndarray
    emission: object


@dataclass
class MarkovStats:
    """Additive statistics of some sequences.

    Attributes
    ----------
    log_likelihood : float
        Weighted sum of the sequences' log-likelihoods.
    total_weight : float
        Weighted number of frames.
    start : ndarray of shape (K,)
        Weighted posterior of the first state.
    trans : ndarray of shape (K, K)
        Weighted expected transition counts.
    occupancy : ndarray of shape (K,)
        Weighted expected number of frames per state.
    emission : object or None
        The family's statistics (None when every emission parameter is fixed).
    """

    log_likelihood: float
    total_weight: float
    start: np.ndarray
    trans: np.ndarray
    occupancy: np.ndarray
    emission: object = None

    def __add__(self, other):
        em = self.emission
        if em is not None and other.emission is not None:
            em = em + other.emission
        return MarkovStats(
            self.log_likelihood + other.log_likelihood,
            self.total_weight + other.total_weight,
            self.start + other.start,
            self.trans + other.trans,
            self.occupancy + other.occupancy,
            em,
        )

    def scaled(self, factor):
        """Statistics multiplied by ``factor`` (for stepwise EM)."""
        em = None if self.emission is None else self.emission.scaled(factor)
        return MarkovStats(
            self.log_likelihood * factor,
            self.total_weight * factor,
            self.start * factor,
            self.trans * factor,
            self.occupancy * factor,
            em,
        )


class SequenceSource:
    """Blocks of whole sequences from an array of stacked sequences.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    lengths : ndarray of shape (n_sequences,), int
    weights : ndarray of shape (n_sequences,) or None
    block_rows : int
        Target rows per block; sequences are never split.
    labels : ndarray of int of shape (n_samples,) or None
        Known state of each frame, -1 where unknown.
    dtype : numpy dtype or None
        The type the blocks' rows are given in: a memory-mapped ``X`` stored in another
        type (a float32 or int32 file) is converted one block at a time.
    """

    def __init__(
        self, X, lengths, weights=None, block_rows=DEFAULT_BLOCK_ROWS, labels=None, dtype=None
    ):
        self.X = X
        self.dtype = dtype
        self.labels = labels
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.weights = weights
        self.block_rows = max(1, int(block_rows))
        self.offsets = latent.offsets_from_lengths(self.lengths)

    def bounds(self):
        """``(first_sequence, stop_sequence)`` of each block."""
        out = []
        first = 0
        S = len(self.lengths)
        while first < S:
            stop = int(
                np.searchsorted(self.offsets, self.offsets[first] + self.block_rows, "right")
            )
            stop = min(max(stop - 1, first + 1), S)
            out.append((first, stop))
            first = stop
        return out

    def blocks(self):
        """Yield a :class:`~emkit.engine.sources.Block` of whole sequences for each bound."""
        for _, block in self.row_blocks():
            yield block

    def row_blocks(self):
        """Yield ``(rows, block)`` for each bound: the slice of ``X`` a block holds, and it.

        A memory-mapped ``X`` is read block by block, and converted to ``dtype`` block by
        block.
        """
        for first, stop in self.bounds():
            a, b = int(self.offsets[first]), int(self.offsets[stop])
            w = None if self.weights is None else self.weights[first:stop]
            lab = None if self.labels is None else self.labels[a:b]
            offsets = self.offsets[first : stop + 1] - a
            rows = self.X[a:b]
            if self.dtype is not None and isinstance(rows, np.ndarray):
                rows = rows.astype(self.dtype, copy=False)
            block = Block(rows, offsets=offsets, sequence_weights=w, labels=lab)
            yield slice(a, b), block


def known_states(log_frame, labels):
    """``log_frame`` (n, K) with -inf for every state but ``labels[t]`` where it is >= 0."""
    known = np.flatnonzero(labels >= 0)
    if known.size == 0:
        return log_frame
    out = np.array(log_frame, copy=True)
    keep = out[known, labels[known]]
    out[known] = -np.inf
    out[known, labels[known]] = keep
    return out


def _dirichlet_map(counts, prior, current):
    """``max(prior - 1 + counts, 0)``, zero where ``current`` is zero (unnormalised)."""
    x = np.maximum(np.asarray(prior, dtype=np.float64) - 1.0 + counts, 0.0)
    return np.where(current == 0, 0.0, x)


class MarkovEM:
    """The Baum-Welch problem of an HMM with the given emission family.

    Parameters
    ----------
    emission : object
        An emission family (see the module notes).
    fixed : set of str
        Parameters the M-step keeps: ``'startprob'``, ``'transmat'`` and any of the family's
        ``param_names``.
    startprob_prior : float or array-like of shape (K,)
        Dirichlet concentration of the start probabilities.
    transmat_prior : float or array-like of shape (K, K)
        Dirichlet concentration of each row of the transition matrix.
    kernels : {'numba', 'numpy'}
    """

    def __init__(
        self,
        emission,
        fixed=frozenset(),
        startprob_prior=1.0,
        transmat_prior=1.0,
        kernels="numba",
    ):
        self.emission = emission
        self.fixed = frozenset(fixed)
        self.startprob_prior = startprob_prior
        self.transmat_prior = transmat_prior
        self.kernels = kernels
        self.fit_emission = not set(emission.param_names) <= self.fixed
        # Frame and message buffers reused by every block and iteration of a fit, one set per
        # thread: blocks that run at once (Dask's threaded scheduler) never share them.
        self._local = threading.local()
        # (kind, state) -> iterations in which that state was degenerate (see maximize).
        self.degenerate = Counter()

    @property
    def workspace(self):
        """The calling thread's :class:`~emkit.latent.markov.Workspace` (made on first use)."""
        ws = getattr(self._local, "workspace", None)
        if ws is None:
            ws = self._local.workspace = latent.Workspace()
        return ws

    @workspace.setter
    def workspace(self, ws):
        self._local.workspace = ws

    def __getstate__(self):
        # A copy (a Dask worker's) starts with buffers of its own.
        state = self.__dict__.copy()
        del state["_local"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._local = threading.local()

    def frames(self, params, X, workspace=None):
        """Emission likelihoods of the rows ``X`` as :class:`~emkit.latent.markov.Frames`.

        With a ``workspace`` the frames live in its buffers (until its next use).
        """
        likelihood = getattr(self.emission, "likelihood", None)
        if likelihood is not None:
            K = len(params.startprob)
            out = None if workspace is None else workspace.get("prob", (X.shape[0], K))
            return latent.Frames.from_prob(likelihood(params.emission, X, out))
        log_frame = self.emission.log_likelihood(params.emission, X)
        return latent.Frames.from_log(log_frame, self.kernels, workspace)

    def emission_input(self, params, X):
        """What the latent layer takes for the rows ``X``.

        :class:`~emkit.latent.markov.Frames` for a family whose likelihoods are
        probabilities, otherwise the (n, K) log-likelihoods: the exponentials are then made
        only by the algorithms that need them (Viterbi and MAP decoding read logs).
        """
        if getattr(self.emission, "likelihood", None) is not None:
            return self.frames(params, X)
        return self.emission.log_likelihood(params.emission, X)

    def posteriors(self, params, X, offsets, weights=None, log_frame=None, by_table=False):
        """Forward-backward over a block, in the problem's workspace.

        ``log_frame`` (n, K), when the caller already has the emission log-likelihoods.
        ``by_table``: through the emission's likelihood table, giving the posterior mass of
        each table row instead of ``gamma`` (see the module notes).
        """
        if log_frame is not None:
            frames = log_frame
        elif by_table:
            frames = latent.TableFrames(*self.emission.likelihood_table(params.emission, X))
        elif getattr(self.emission, "likelihood", None) is not None:
            frames = self.frames(params, X, self.workspace)
        else:  # forward_backward makes the frames itself (in its threads when it can)
            frames = self.emission.log_likelihood(params.emission, X)
        return latent.forward_backward(
            frames,
            offsets,
            params.startprob,
            params.transmat,
            weights,
            kernels=self.kernels,
            workspace=self.workspace,
            need_gamma=not by_table,
        )

    def expect_block(self, params, block):
        """E-step statistics of the whole sequences of one :class:`~emkit.engine.sources.Block`."""
        X, seq_weights = block.X, block.sequence_weights
        # An emission whose statistics reuse its likelihood pass (a mixture per state) hands
        # both over at once, so the rows are scored once per iteration.
        split = getattr(self.emission, "log_likelihood_parts", None)
        log_frame = parts = None
        if split is not None and self.fit_emission:
            log_frame, parts = split(params.emission, X)
        if block.labels is not None:  # a frame of known state: the other states impossible
            if log_frame is None:
                log_frame = self.emission.log_likelihood(params.emission, X)
            log_frame = known_states(log_frame, block.labels)
        # Per-row weights (not only per-sequence ones) and known states need the posteriors
        # of every row.
        by_table = (
            block.weights is None
            and log_frame is None
            and hasattr(self.emission, "likelihood_table")
        )
        post = self.posteriors(params, X, block.offsets, seq_weights, log_frame, by_table)
        if seq_weights is None:
            ll = float(np.sum(post.log_prob))
            total = float(X.shape[0])
        else:
            ll = float(np.dot(seq_weights, post.log_prob))
            total = float(np.dot(seq_weights, block.lengths))
        em = None
        if self.fit_emission and post.gamma is None:
            em = self.emission.accumulate_table(params.emission, post.table_mass)
        elif self.fit_emission:
            rw = block.row_weights()
            wresp = post.gamma if rw is None else post.gamma * rw[:, None]
            extra = {} if parts is None else {"parts": parts}
            em = self.emission.accumulate(params.emission, X, wresp, **extra)
        return MarkovStats(ll, total, post.start, post.trans, post.occupancy, em)

    def maximize(self, stats, params, iteration=0):
        """M-step: Dirichlet MAP start and transition probabilities, MAP emissions.

        A state with no posterior mass keeps its emission parameters, and a transition row
        with neither expected transitions nor prior mass keeps its previous values; both are
        counted in :attr:`degenerate` (see :meth:`warn_degenerate`). Non-finite statistics
        raise ``FloatingPointError`` before any parameter changes.
        """
        _check_finite(stats, iteration)
        threshold = EMPTY_FRACTION * stats.total_weight
        startprob = params.startprob
        if "startprob" not in self.fixed:
            x = _dirichlet_map(stats.start, self.startprob_prior, params.startprob)
            if x.sum() > 0:
                startprob = x / x.sum()
        transmat = params.transmat
        kept_rows = np.zeros(len(startprob), dtype=bool)
        if "transmat" not in self.fixed:
            x = _dirichlet_map(stats.trans, self.transmat_prior, params.transmat)
            rows = x.sum(axis=1)
            kept_rows = ~(rows > threshold)
            safe = np.where(kept_rows, 1.0, rows)
            transmat = np.where(kept_rows[:, None], params.transmat, x / safe[:, None])
        empty = np.flatnonzero(~(stats.occupancy > threshold))
        emission = params.emission
        if self.fit_emission:
            emission = self.emission.maximize(stats.emission, params.emission, self.fixed, empty)
        self.degenerate.update(("empty", int(k)) for k in empty)
        self.degenerate.update(("kept_row", int(k)) for k in np.flatnonzero(kept_rows))
        return MarkovParams(startprob, transmat, emission)

    def warn_degenerate(self, stacklevel=2):
        """One :class:`~emkit.exceptions.DegenerateComponentWarning` for the fit so far.

        Names each state that received no posterior mass, or had no expected transitions out
        of it, with the number of iterations it did; then forgets the counts.
        """
        notes = []
        for (kind, k), count in sorted(self.degenerate.items()):
            times = f"in {count} iteration{'s' if count > 1 else ''}"
            if kind == "empty":
                notes.append(
                    f"state {k} received no posterior mass {times}; it kept its emission parameters"
                )
            else:
                notes.append(
                    f"state {k} had no expected transitions out of it {times}; it kept its "
                    "transmat_ row"
                )
        self.degenerate.clear()
        if notes:
            warnings.warn(
                "; ".join(notes) + ". Consider fewer states or a different initialisation.",
                DegenerateComponentWarning,
                stacklevel=stacklevel + 1,
            )


def _check_finite(stats, iteration):
    """Refuse to turn non-finite expected counts into NaN parameters."""
    parts = (stats.log_likelihood, stats.start, stats.trans, stats.occupancy)
    if not all(np.all(np.isfinite(p)) for p in parts):
        raise FloatingPointError(
            f"Baum-Welch iteration {iteration}: the E-step gave non-finite expected counts or "
            "log-likelihood (emission likelihoods too extreme for the scaled recursions, or "
            "non-finite parameters); rescale the data or check the initial parameters. No "
            "parameter was changed."
        )


class MonitorRule:
    """hmmlearn's convergence rule, kept by a :class:`ConvergenceMonitor`.

    Each iteration's total log-likelihood is reported to the monitor (reset first); EM stops
    when the monitor says it has converged.
    """

    def __init__(self, monitor):
        self.monitor = monitor
        monitor._reset()

    def update(self, stats):
        """Report one E-step's log-likelihood; returns ``monitor.converged``."""
        self.monitor.report(stats.log_likelihood)
        return self.monitor.converged


# A decimal number in a warning (a jitter amount), ignored when grouping repeated warnings.
_DECIMAL = re.compile(r"\d+(?:\.\d+)?e[-+]?\d+|\d+\.\d+")


class _RepeatedWarnings:
    """Collect the warnings of an EM loop and give each distinct one once, with its count."""

    def __enter__(self):
        self._catch = warnings.catch_warnings(record=True)
        self.records = self._catch.__enter__()
        warnings.simplefilter("always", DegenerateComponentWarning)
        return self

    def __exit__(self, *exc):
        self._catch.__exit__(*exc)
        counts = Counter()
        first = {}
        for record in self.records:
            # The same warning of different iterations may quote different amounts.
            key = (record.category, _DECIMAL.sub("#", str(record.message)))
            counts[key] += 1
            first.setdefault(key, record)
        for key, record in first.items():
            message = str(record.message)
            if counts[key] > 1:
                message = f"{message} (in {counts[key]} iterations)"
            warnings.warn_explicit(message, record.category, record.filename, record.lineno)
        return False


def baum_welch(problem, source, params, monitor, n_iter, callback=None):
    """Iterate EM from ``params`` until ``monitor`` reports convergence or ``n_iter`` is reached.

    Runs :func:`emkit.engine.em.run_em` with hmmlearn's convergence rule
    (:class:`MonitorRule`). A warning that an iteration raises (a degenerate state or mixture
    component) is given once per fit, with the number of iterations it occurred in.

    Parameters
    ----------
    problem : MarkovEM
    source : SequenceSource
    params : MarkovParams
    monitor : ConvergenceMonitor
        Reset, then fed the log-likelihood of every E-step.
    n_iter : int
    callback : callable, optional
        ``callback(iteration, stats, params)`` after each M-step.

    Returns
    -------
    MarkovParams
        Parameters after the last M-step.
    """
    rule = MonitorRule(monitor)
    problem.degenerate.clear()
    own = problem.workspace
    with _RepeatedWarnings(), latent.Workspace.borrowed() as workspace:
        problem.workspace = workspace
        try:
            result = run_em(
                problem, source, params, max_iter=n_iter, convergence=rule, callback=callback
            )
        finally:
            problem.workspace = own
    problem.warn_degenerate(stacklevel=4)
    return result.params
