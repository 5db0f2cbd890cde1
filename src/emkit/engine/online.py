"""Stepwise (online) EM: blend each block's sufficient statistics into a running average.

After block ``t`` the running statistics are ``S <- (1 - rho_t) S + rho_t S_block`` with step
size ``rho_t = (t + offset) ** -decay`` (Cappé & Moulines 2009; Liang & Klein 2009), and the
M-step maps ``S`` to new parameters. Statistics are normalised to unit total weight before
blending, so blocks of different sizes weigh by the schedule alone; the M-step is invariant to
that scale. ``decay`` in (0.5, 1] guarantees convergence of the stochastic approximation.
"""

from __future__ import annotations

from dataclasses import dataclass

from emkit.engine.em import expect


@dataclass
class StepwiseState:
    """Running statistics of a stepwise EM fit.

    Attributes
    ----------
    stats : object
        Blended statistics, normalised to unit total weight.
    n_steps : int
        Blocks seen so far.
    """

    stats: object
    n_steps: int


def step_size(n_steps, decay, offset):
    """``rho_t = (t + offset) ** -decay`` for the ``t``-th block (``t = n_steps``)."""
    return float((n_steps + offset) ** (-decay))


def stepwise_update(problem, params, state, source, *, decay, offset):
    """One stepwise EM step on a block.

    Parameters
    ----------
    problem : object
        An EM problem (``expect_block``, ``maximize``, ``recentre``; statistics with
        ``scaled``).
    params : object
        Current parameters.
    state : StepwiseState or None
        None on the first block: the block's statistics start the running average.
    source : object
        The block's rows as a block source (see :mod:`emkit.engine.sources`).

    Returns
    -------
    params : object
        Parameters after the M-step on the blended statistics.
    state : StepwiseState
    block_bound : float
        Mean log-likelihood of the block under the parameters it was given.
    """
    block = expect(problem, params, source)
    bound = block.log_likelihood / block.total_weight
    block = block.scaled(1.0 / block.total_weight)
    if state is None:
        state = StepwiseState(block, 1)
    else:
        rho = step_size(state.n_steps + 1, decay, offset)
        old = problem.recentre(state.stats, block)
        state = StepwiseState(old.scaled(1.0 - rho) + block.scaled(rho), state.n_steps + 1)
    params = problem.maximize(state.stats, params, state.n_steps)
    return params, state, bound
