"""EM for finite mixtures: a weight vector plus a component family.

The E-step of a block returns :class:`MixtureStats`; the M-step maps summed statistics to
:class:`MixtureParams`. Any family of the contract (:mod:`emkit.families.base`) serves as the
components. Components that receive no responsibility are re-seeded at the worst-fitted row
(tracked by the statistics as a min-reduction, so it is exact whatever the blocking) by the
family's ``reseed``, one per iteration, and a warning names them.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from emkit.engine.sources import Block
from emkit.exceptions import DegenerateComponentWarning
from emkit.latent import mixture as latent

# A component whose expected count falls below this fraction of the total weight is empty.
EMPTY_FRACTION = 1e-12


@dataclass(frozen=True)
class MixtureParams:
    """Mixture weights and component parameters."""

    weights: np.ndarray
    components: object

    @property
    def log_weights(self):
        """Log mixture weights, shape (K,)."""
        if self.weights.min() > 0.0:  # no zero weight: no warning of log(0) to silence
            return np.log(self.weights)
        return latent.log_weights(self.weights)


@dataclass
class MixtureStats:
    """Additive statistics of a mixture over some rows.

    Attributes
    ----------
    log_likelihood : float
        Weighted sum of the rows' log-likelihoods.
    total_weight : float
        Sum of the rows' weights.
    components : object
        The family's statistics (with ``counts``).
    worst_score : float
        Lowest log-likelihood of a row with positive weight.
    worst_row : ndarray of shape (d,) or None
        That row.
    """

    log_likelihood: float
    total_weight: float
    components: object
    worst_score: float = math.inf
    worst_row: np.ndarray | None = None

    def __add__(self, other):
        keep = self if self.worst_score <= other.worst_score else other
        return MixtureStats(
            self.log_likelihood + other.log_likelihood,
            self.total_weight + other.total_weight,
            self.components + other.components,
            keep.worst_score,
            keep.worst_row,
        )

    def scaled(self, factor):
        """Statistics multiplied by ``factor`` (for stepwise EM)."""
        return MixtureStats(
            self.log_likelihood * factor,
            self.total_weight * factor,
            self.components.scaled(factor),
            self.worst_score,
            self.worst_row,
        )


def _noise(noise):
    """The keyword of a family's methods for rows with measurement noise (none without)."""
    return {} if noise is None else {"noise": noise}


class MixtureEM:
    """The EM problem of a finite mixture of ``family`` components.

    Parameters
    ----------
    family : emkit.families.base.Family
        The component family.
    fixed : set of str
        Parameters the M-step keeps: ``'weights'`` and any of the family's ``param_names``.
    """

    #: ``expect_block`` is thread-safe and releases the GIL in its kernels (see ``expect``).
    concurrent_blocks = True

    def __init__(self, family, fixed=frozenset()):
        self.family = family
        self.fixed = frozenset(fixed)

    def log_prob(self, params, X, noise=None):
        """Per-row log-likelihood and responsibilities of a block (of noisy rows)."""
        log_prob = self.family.log_likelihood(params.components, X, **_noise(noise))
        return latent.posterior(log_prob, params.log_weights)

    def expect_block(self, params, block):
        """E-step statistics of one :class:`~emkit.engine.sources.Block` of rows.

        Rows with a known component (``block.labels >= 0``) keep a one-hot responsibility
        and contribute ``log(pi_k f_k(x))`` of their component to the log-likelihood
        (mclust's semi-supervised EM); the other rows are those of the ordinary E-step.
        """
        labels = block.labels
        if labels is not None and np.any(labels >= 0):
            return self._expect_labelled(params, block, labels)
        X, w = self.informative_weights(block)
        # The family's one-pass kernel: no (n, K) responsibility matrix.
        ll, stats, score, index = self.family.expect_mixture(
            params.components, params.log_weights, X, w, **_noise(block.noise)
        )
        total = float(X.shape[0]) if w is None else float(np.sum(w, dtype=np.float64))
        row = np.array(X[index], dtype=np.float64) if index >= 0 else None
        return MixtureStats(ll, total, stats, score, row)

    def _expect_labelled(self, params, block, labels):
        """E-step of a block some of whose rows have a known component."""
        X, w = self.informative_weights(block)
        known = np.flatnonzero(labels >= 0)
        free = np.flatnonzero(labels < 0)
        k = labels[known]
        Xk = X[known]
        S = block.noise
        noise = _noise(None if S is None else S[known])
        wk = np.ones(known.size) if w is None else np.asarray(w, dtype=np.float64)[known]
        log_prob = self.family.log_likelihood(params.components, Xk, **noise)
        row_ll = log_prob[np.arange(known.size), k].astype(np.float64) + params.log_weights[k]
        wresp = np.zeros(log_prob.shape, dtype=np.float64)
        wresp[np.arange(known.size), k] = wk
        live = wk > 0
        stats = MixtureStats(
            float(np.dot(wk[live], row_ll[live])),
            float(np.sum(wk)),
            self.family.accumulate(params.components, Xk, wresp, **noise),
        )
        if live.any():
            worst = int(np.flatnonzero(live)[np.argmin(row_ll[live])])
            stats.worst_score = float(row_ll[worst])
            stats.worst_row = np.array(Xk[worst], dtype=np.float64)
        if free.size:
            wf = None if w is None else w[free]
            Sf = None if S is None else S[free]
            stats = stats + self.expect_block(params, Block(X[free], wf, noise=Sf))
        return stats

    def informative_weights(self, block):
        """The block's rows and weights, with weight 0 on rows that have every value missing.

        Such rows carry no information: a zero weight leaves them out of the likelihood, the
        statistics and the total weight.
        """
        X, w = block.X, block.weights
        empty = self.family.empty_rows(X)
        if empty is None or not empty.any():
            return X, w
        w = np.ones(X.shape[0]) if w is None else np.array(w, dtype=np.float64)
        w[empty] = 0.0
        return X, w

    def recentre(self, stats, like):
        """``stats`` moved onto the reference point of ``like`` (for stepwise EM)."""
        comps = self.family.recentre(stats.components, like.components)
        return MixtureStats(
            stats.log_likelihood, stats.total_weight, comps, stats.worst_score, stats.worst_row
        )

    def maximize(self, stats, params, iteration=0):
        """M-step: weights from expected counts, components from the family."""
        counts = stats.components.counts
        comps = self.family.maximize(stats.components, params.components, self.fixed)
        if "weights" in self.fixed:
            weights = params.weights
        else:
            weights = latent.weights_from_counts(counts)
        floor = EMPTY_FRACTION * stats.total_weight
        if counts.min() >= floor:  # the usual case: no component is empty (nor NaN)
            return MixtureParams(weights, comps)
        empty = np.flatnonzero(~(counts >= floor))
        # Components without parameters (a noise or background, last) may fit no mass at all.
        empty = empty[empty < len(counts) - getattr(self.family, "n_extra", 0)]
        movable = not self.fixed.intersection(self.family.param_names)
        if empty.size and stats.worst_row is not None and movable:
            weights, comps = self._reseed(stats, params, weights, comps, empty, iteration)
        return MixtureParams(weights, comps)

    def _reseed(self, stats, params, weights, comps, empty, iteration):
        # The statistics carry a single worst-fitted row, so one empty component is re-seeded
        # per M-step; re-seeding several at that one row would make them identical for good.
        # The next E-step finds another worst-fitted row for the next empty component.
        k = int(empty[0])
        comps = self.family.reseed(comps, k, stats.worst_row, stats.components)
        weights = weights.copy()
        weights[k] = 1.0 / len(weights)
        weights /= weights.sum()
        later = ""
        if empty.size > 1:
            rest = ", ".join(str(j) for j in empty[1:])
            later = f" Empty component(s) {rest} will be re-seeded in the next iterations."
        warnings.warn(
            f"component {k} received no responsibility at iteration {iteration} "
            f"(expected count below {EMPTY_FRACTION:g} of the total weight); re-seeded at the "
            f"worst-fitted sample.{later}",
            DegenerateComponentWarning,
            stacklevel=3,
        )
        return weights, comps
