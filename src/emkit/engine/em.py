"""The single EM driver: E over blocks, sum the statistics, M; monitor; restarts.

A *problem* is any object with

- ``expect_block(params, block) -> stats`` (a :class:`~emkit.engine.sources.Block`) where
  stats add with ``+`` and expose
  ``log_likelihood`` (weighted sum over the block's rows) and ``total_weight``;
- ``maximize(stats, params, iteration) -> params``.

A *source* yields blocks (see :mod:`emkit.engine.sources`). The driver never sees the whole
data or a full responsibility matrix. A *convergence rule* (``update(stats) -> bool``) decides
when to stop: scikit-learn's :class:`MeanLogLikelihoodChange` by default, mclust's
:class:`RelativeLogLikelihoodChange` for model selection, hmmlearn's monitor for hidden Markov
models (:class:`emkit.engine.markov.MonitorRule`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from emkit.engine.progress import Progress
from emkit.kernels.threads import map_ordered, one_blas_thread


@dataclass
class EMResult:
    """Outcome of one EM run.

    Attributes
    ----------
    params : object
        Parameters after the last M-step.
    lower_bound : float
        Mean per-sample log-likelihood computed in the last E-step (before the last M-step,
        as scikit-learn reports it).
    lower_bounds : list of float
        ``lower_bound`` of every iteration.
    n_iter : int
        Iterations run.
    converged : bool
        Whether the change of ``lower_bound`` fell below ``tol``.
    """

    params: object
    lower_bound: float
    lower_bounds: list = field(default_factory=list)
    n_iter: int = 0
    converged: bool = False


def expect(problem, params, source):
    """E-step over every block of ``source``; returns the summed statistics.

    A problem whose ``concurrent_blocks`` is true (its ``expect_block`` is thread-safe and
    releases the GIL) has its blocks computed concurrently on emkit's thread pool when the
    source holds several; the statistics are still added in block order, so the result does
    not depend on the number of threads.
    """
    if hasattr(source, "expect"):  # a source that computes remotely (Dask)
        return source.expect(problem, params)

    def one(block):
        return problem.expect_block(params, block)

    def add_in_order(per_block):
        total = None
        for stats in per_block:
            total = stats if total is None else total + stats
        return total

    bounds = getattr(source, "bounds", None)
    several = bounds is not None and len(bounds()) > 1
    if several and getattr(problem, "concurrent_blocks", False):
        # The pool's threads are the parallelism: BLAS stays on one thread meanwhile.
        with one_blas_thread():
            return add_in_order(map_ordered(one, source.blocks()))
    return add_in_order(map(one, source.blocks()))


class MeanLogLikelihoodChange:
    """scikit-learn's convergence rule: ``|change of the mean per-sample log-likelihood| < tol``.

    Parameters
    ----------
    tol : float
    lower_bound : float, default=-inf
        The bound the first change is measured from (a warm start's).
    """

    def __init__(self, tol, lower_bound=-math.inf):
        self.tol = tol
        self.lower_bound = lower_bound
        self.change = math.nan

    def update(self, stats):
        """Take one E-step's statistics; returns whether EM has converged."""
        previous = self.lower_bound
        self.lower_bound = stats.log_likelihood / stats.total_weight
        self.change = self.lower_bound - previous
        return abs(self.change) < self.tol


class RelativeLogLikelihoodChange:
    """mclust's convergence rule: ``|L_t - L_{t-1}| / (1 + |L_t|) < tol``.

    ``L_t`` is the total (weighted) log-likelihood of iteration ``t``'s E-step, as in
    mclust's ``emControl(tol)`` (its first tolerance); the first iteration never converges.

    Parameters
    ----------
    tol : float
    """

    def __init__(self, tol):
        self.tol = tol
        self.log_likelihood = -math.inf
        self.change = math.nan

    def update(self, stats):
        """Take one E-step's statistics; returns whether EM has converged."""
        previous, current = self.log_likelihood, float(stats.log_likelihood)
        self.log_likelihood = current
        self.change = abs(current - previous) / (1.0 + abs(current))
        return self.change < self.tol


def run_em(
    problem,
    source,
    params,
    *,
    max_iter,
    tol=None,
    lower_bound=-math.inf,
    progress=None,
    convergence=None,
    callback=None,
):
    """Iterate EM from ``params`` until the convergence rule is met or ``max_iter`` is reached.

    Parameters
    ----------
    problem, source, params
        See the module notes.
    max_iter : int
    tol : float, optional
        Tolerance of the default rule, :class:`MeanLogLikelihoodChange`.
    lower_bound : float, default=-inf
        Mean log-likelihood the default rule measures the first change from.
    progress : Progress, optional
    convergence : object, optional
        A rule with ``update(stats) -> bool`` called after each M-step with that iteration's
        E-step statistics (true stops EM); replaces the default rule.
    callback : callable, optional
        ``callback(iteration, stats, params)`` after each M-step.

    Returns
    -------
    EMResult
    """
    progress = progress or Progress()
    rule = convergence if convergence is not None else MeanLogLikelihoodChange(tol, lower_bound)
    bounds = []
    converged = False
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        previous = lower_bound
        stats = expect(problem, params, source)
        params = problem.maximize(stats, params, n_iter)
        lower_bound = stats.log_likelihood / stats.total_weight
        bounds.append(lower_bound)
        progress.iteration(n_iter, lower_bound - previous)
        converged = bool(rule.update(stats))
        if callback is not None:
            callback(n_iter, stats, params)
        if converged:
            break
    return EMResult(params, lower_bound, bounds, n_iter, converged)


def fit_restarts(
    problem,
    source,
    initialize,
    *,
    n_init,
    max_iter,
    tol,
    progress=None,
    warm=None,
    convergence=None,
):
    """Run EM from ``n_init`` initialisations and keep the one with the best bound.

    Parameters
    ----------
    initialize : callable
        ``initialize() -> params``; called once per restart.
    warm : EMResult, optional
        Continue from these parameters and bound instead (a single run).
    convergence : callable, optional
        ``convergence(lower_bound) -> rule``: a fresh convergence rule for each run (see
        :func:`run_em`), given the bound the run starts from; the default is
        :class:`MeanLogLikelihoodChange` with ``tol``.
    """
    progress = progress or Progress()
    best = None
    runs = 1 if warm is not None else n_init
    for index in range(runs):
        progress.init_begin(index, runs)
        if warm is not None:
            params, start = warm.params, warm.lower_bound
        else:
            params, start = initialize(), -math.inf
        if max_iter == 0:
            best = EMResult(params, start, [], 0, False)
            continue
        result = run_em(
            problem,
            source,
            params,
            max_iter=max_iter,
            tol=tol,
            lower_bound=start,
            progress=progress,
            convergence=None if convergence is None else convergence(start),
        )
        progress.init_end(result.lower_bound, result.converged, result.lower_bounds)
        if best is None or result.lower_bound > best.lower_bound:
            best = result
    return best
