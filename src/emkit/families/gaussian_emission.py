"""Gaussian emissions with conjugate priors (the M-step of Gaussian hidden Markov models).

Densities, statistics and sampling are the Gaussian family's; this module adds the MAP M-step
under a Normal prior on the means (``means_prior``, ``means_weight``) and an inverse-gamma
(diag, spherical) or inverse-Wishart (full, tied) prior on the covariances (``covars_prior``,
``covars_weight``), in the parametrisation Gaussian HMM users know. The update is the exact
maximiser (maximum likelihood without priors): no floor is applied to the variances, and a
covariance that is not positive definite (a state collapsed onto too few distinct points) goes
through the Gaussian family's repair, a minimal diagonal jitter with a warning. The statistics
stay centred on the iteration's means; the scatter about the new means is obtained from them
exactly.
"""

from __future__ import annotations

import numpy as np

from emkit.families.covariance import STRATEGIES
from emkit.families.gaussian import GaussianFamily
from emkit.kernels import recentre as recentre_kernels


def _per_state(value, K):
    """A scalar or (K,) prior as shape (K, 1)."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 1 and arr.shape[0] == K:
        return arr[:, None]
    return np.broadcast_to(arr, (K, 1)) if arr.ndim == 0 else arr


def centred_about(stats, means, covariance_type):
    """Scatter about ``means`` from statistics centred on ``stats.ref``.

    Parameters
    ----------
    stats : GaussianStats
    means : ndarray of shape (K, d)
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
        The layout of ``stats.scatter``.

    Returns
    -------
    ndarray
        ``sum_t w_tk (x_t - mu_k)(x_t - mu_k)^T`` in the layout of ``stats.scatter``:
        (K, d, d) full, (d, d) tied (summed over states), (K, d) diag, (K,) spherical.
    """
    shift = recentre_kernels.SHIFTS[covariance_type]
    return shift(stats.counts, stats.sums, stats.scatter, means - stats.ref)


class GaussianEmission:
    """Gaussian emissions with a MAP M-step.

    Parameters
    ----------
    covariance_type : {'spherical', 'diag', 'full', 'tied'}
    means_prior, means_weight : float or array-like
        Mean (broadcastable to (K, d)) and precision weight (scalar or (K,)) of the Normal
        prior on the means; ``means_weight=0`` is a flat prior.
    covars_prior, covars_weight : float or array-like
        Scale (broadcastable to the covariance layout) and weight (scalar or (K,)) of the
        covariance prior. The update is ``(covars_prior + C) / (max(covars_weight - 1, 0) + n)``
        for diag and spherical (denominator at least 1e-5) and
        ``(covars_prior + C) / (max(covars_weight - d, 0) + n)`` for full and tied, where ``C``
        is the posterior scatter about the new means plus ``means_weight`` times the outer
        product of ``means - means_prior``.
    """

    param_names = ("means", "covariances")

    def __init__(
        self,
        covariance_type="diag",
        means_prior=0.0,
        means_weight=0.0,
        covars_prior=1e-2,
        covars_weight=1.0,
    ):
        self.gaussian = GaussianFamily(covariance_type, reg_covar=0.0)
        self.covariance_type = covariance_type
        self.means_prior = means_prior
        self.means_weight = means_weight
        self.covars_prior = covars_prior
        self.covars_weight = covars_weight

    def log_likelihood(self, params, X):
        """Log-densities of the rows under each state, shape (n, K)."""
        return self.gaussian.log_likelihood(params, X)

    def accumulate(self, params, X, wresp):
        """Centred statistics of the rows under posterior weights ``wresp`` (n, K)."""
        return self.gaussian.accumulate(params, X, wresp)

    def make_params(self, means, covariances):
        """Parameters from means and covariances, repairing non positive-definite ones."""
        return self.gaussian.make_params(means, covariances)

    def n_parameters(self, n_components, n_features):
        """Free parameters of the means and covariances."""
        return self.gaussian.n_parameters(n_components, n_features)

    def sample(self, params, k, n, rng):
        """Draw ``n`` rows from state ``k``."""
        return self.gaussian.sample(params, k, n, rng)

    def maximize(self, stats, params, fixed=frozenset(), empty=()):
        """MAP means and covariances.

        Parameters
        ----------
        stats : GaussianStats
        params : GaussianParams
            Current parameters: kept where fixed, and for the states in ``empty``.
        fixed : set of str
            Any of ``'means'``, ``'covariances'``.
        empty : sequence of int
            States that received no posterior mass.

        Returns
        -------
        GaussianParams
        """
        K, d = stats.ref.shape
        empty = np.asarray(empty, dtype=np.intp)
        n = stats.counts
        mw = _per_state(self.means_weight, K)
        mp = np.broadcast_to(np.asarray(self.means_prior, dtype=np.float64), (K, d))
        if "means" in fixed:
            means = params.means
        else:
            den = mw + n[:, None]
            safe = np.where(den > 0, den, 1.0)
            means = (mw * mp + n[:, None] * stats.ref + stats.sums) / safe
            means = np.where(den > 0, means, params.means)
            means[empty] = params.means[empty]
        if "covariances" in fixed:
            return type(params).from_prec_chol(
                means, params.covariances, params.prec_chol, self.covariance_type
            )
        strat = STRATEGIES[self.covariance_type]
        cov = strat.conjugate_covariance(
            centred_about(stats, means, self.covariance_type),
            means - mp,
            mw[:, 0],
            n,
            np.asarray(self.covars_prior, dtype=np.float64),
            np.asarray(self.covars_weight, dtype=np.float64),
        )
        keep = np.union1d(empty, strat.nonfinite(cov)).astype(np.intp)
        return self.make_params(means, strat.restore(cov, params.covariances, keep))
