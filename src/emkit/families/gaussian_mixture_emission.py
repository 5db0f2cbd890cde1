"""Gaussian-mixture emissions: each of ``K`` states emits from its own mixture of ``M`` Gaussians.

The ``K * M`` Gaussians are one Gaussian family (component ``k * M + m`` is mixture component
``m`` of state ``k``), so densities and centred statistics are the Gaussian family's. With
``'tied'`` covariances each state shares one full covariance among its mixture components.

The M-step is the MAP estimate under a Dirichlet prior on the mixture weights
(``weights_prior``), a Normal prior on the means (``means_prior``, ``means_weight``) and an
inverse-gamma (diag, spherical) or inverse-Wishart (full, tied) prior on the covariances
(``covars_prior``, ``covars_weight``), in the parametrisation Gaussian-mixture HMM users know.
The covariances are the scatter about the *new* means, which makes each iteration an exact
M-step (the exact MAP, or maximum likelihood without priors): no floor is applied, and a
covariance that is not positive definite goes through the Gaussian family's repair (a minimal
diagonal jitter, with a warning).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from emkit.exceptions import DegenerateComponentWarning
from emkit.families.covariance import STRATEGIES
from emkit.families.gaussian import GaussianFamily, GaussianParams
from emkit.families.gaussian_emission import centred_about
from emkit.kernels.logsumexp import normalize_rows


@dataclass(frozen=True)
class GaussianMixtureParams:
    """Mixture weights and Gaussians of every state.

    Attributes
    ----------
    weights : ndarray of shape (K, M)
    covariances : ndarray
        User layout: (K, M) spherical, (K, M, d) diag, (K, M, d, d) full, (K, d, d) tied.
    gaussian : GaussianParams
        The ``K * M`` Gaussians (tied covariances repeated per component, as full).
    """

    weights: np.ndarray
    covariances: np.ndarray
    gaussian: GaussianParams

    @property
    def means(self):
        """Means, shape (K, M, d)."""
        K, M = self.weights.shape
        return self.gaussian.means.reshape(K, M, -1)


class GaussianMixtureEmission:
    """Gaussian-mixture emissions with ``n_mix`` components per state.

    Parameters
    ----------
    n_mix : int
    covariance_type : {'spherical', 'diag', 'full', 'tied'}
    weights_prior : float or array-like broadcastable to (K, M)
        Dirichlet concentration of the mixture weights.
    means_prior, means_weight : float or array-like
        Broadcastable to (K, M, d) and (K, M).
    covars_prior, covars_weight : float, array-like or None
        None picks the values that make the covariance update maximum likelihood.
    """

    param_names = ("weights", "means", "covariances")

    def __init__(
        self,
        n_mix,
        covariance_type="diag",
        weights_prior=1.0,
        means_prior=0.0,
        means_weight=0.0,
        covars_prior=None,
        covars_weight=None,
    ):
        self.n_mix = int(n_mix)
        self.covariance_type = covariance_type
        self.strategy = STRATEGIES[covariance_type]
        self.gaussian = GaussianFamily(self.strategy.inner, reg_covar=0.0)
        self.weights_prior = weights_prior
        self.means_prior = means_prior
        self.means_weight = means_weight
        self.covars_prior = covars_prior
        self.covars_weight = covars_weight

    # ------------------------------------------------------------------ parameters
    def _inner_covariances(self, covariances):
        return self.strategy.mixture_to_inner(covariances, self.n_mix)

    def make_params(self, weights, means, covariances):
        """Parameters from user-layout arrays; raises ``NotPositiveDefiniteError``."""
        weights = np.asarray(weights, dtype=np.float64)
        means = np.asarray(means, dtype=np.float64)
        cov = np.asarray(covariances, dtype=np.float64)
        K, M, d = means.shape
        g = GaussianParams.from_covariances(
            means.reshape(K * M, d), self._inner_covariances(cov), self.gaussian.covariance_type
        )
        return GaussianMixtureParams(weights, cov, g)

    def _repaired(self, weights, means, cov):
        K, M, d = means.shape
        g = self.gaussian.make_params(means.reshape(K * M, d), self._inner_covariances(cov))
        user = self.strategy.inner_to_mixture(g.covariances, cov.shape, M)
        return GaussianMixtureParams(weights, user, g)

    # ------------------------------------------------------------------ E-step pieces
    def _component_posteriors(self, params, X):
        K, M = params.weights.shape
        lp = self.gaussian.log_likelihood(params.gaussian, X)
        with np.errstate(divide="ignore"):
            lp = lp + np.log(params.weights).reshape(1, K * M)
        return normalize_rows(lp.reshape(-1, M))

    def log_likelihood(self, params, X):
        """Log-density of the rows under each state's mixture, shape (n, K)."""
        return self.log_likelihood_parts(params, X)[0]

    def log_likelihood_parts(self, params, X):
        """:meth:`log_likelihood` and the within-state responsibilities (for :meth:`accumulate`).

        Returns
        -------
        log_frame : ndarray of shape (n, K)
        parts : ndarray of shape (n * K, M)
            Posterior of each mixture component given the row and its state.
        """
        log_norm, resp = self._component_posteriors(params, X)
        return log_norm.reshape(-1, params.weights.shape[0]), resp

    def accumulate(self, params, X, wresp, parts=None):
        """Centred statistics of the ``K * M`` Gaussians under state posteriors ``wresp``.

        ``parts`` are :meth:`log_likelihood_parts`' responsibilities for the same rows and
        parameters, when the caller has them (saves a pass over the rows).
        """
        K, M = params.weights.shape
        resp = self._component_posteriors(params, X)[1] if parts is None else parts
        w = resp.reshape(-1, K, M) * wresp[:, :, None]
        return self.gaussian.accumulate(params.gaussian, X, w.reshape(-1, K * M))

    # ------------------------------------------------------------------ M-step
    def maximize(self, stats, params, fixed=frozenset(), empty=()):
        """MAP weights, means and covariances.

        Parameters
        ----------
        stats : GaussianStats
            Statistics of the ``K * M`` Gaussians.
        params : GaussianMixtureParams
        fixed : set of str
            Any of ``'weights'``, ``'means'``, ``'covariances'``.
        empty : sequence of int
            States that received no posterior mass: they keep ``params``.

        Returns
        -------
        GaussianMixtureParams
        """
        K, M = params.weights.shape
        d = stats.ref.shape[1]
        n = stats.counts.reshape(K, M)
        state_mass = n.sum(axis=1)
        dead = ~(n > 1e-12 * max(state_mass.sum(), np.finfo(float).tiny))
        dead[np.asarray(empty, dtype=np.intp)] = True
        weights = params.weights if "weights" in fixed else self._weights(n, params.weights)
        lam = np.broadcast_to(np.asarray(self.means_weight, dtype=np.float64), (K, M))
        mu0 = np.broadcast_to(np.asarray(self.means_prior, dtype=np.float64), (K, M, d))
        old_means = params.means
        if "means" in fixed:
            means = old_means
        else:
            ref = stats.ref.reshape(K, M, d)
            sums = stats.sums.reshape(K, M, d)
            den = n + lam
            ok = (den > 0) & ~dead
            safe = np.where(ok, den, 1.0)[:, :, None]
            means = np.where(
                ok[:, :, None],
                (lam[:, :, None] * mu0 + n[:, :, None] * ref + sums) / safe,
                old_means,
            )
        if "covariances" in fixed:
            cov = params.covariances
        else:
            cov = self._covariances(stats, means, n, lam, mu0, d, dead, params.covariances)
        self._warn_dead(dead, empty)
        return self._repaired(weights, means, cov)

    def _weights(self, n, old):
        alpha = np.broadcast_to(np.asarray(self.weights_prior, dtype=np.float64), n.shape)
        x = np.maximum(n + alpha - 1.0, 0.0)
        total = x.sum(axis=1, keepdims=True)
        ok = total > 0
        return np.where(ok, x / np.where(ok, total, 1.0), old)

    def _covariances(self, stats, means, n, lam, mu0, d, dead, old):
        K, M = n.shape
        default_prior, default_weight = self.strategy.mixture_defaults(d, M)
        prior = default_prior if self.covars_prior is None else self.covars_prior
        weight = default_weight if self.covars_weight is None else self.covars_weight
        scatter = centred_about(stats, means.reshape(K * M, d), self.strategy.inner)
        cov = self.strategy.mixture_conjugate_covariance(
            scatter,
            means - mu0,
            lam,
            n,
            np.asarray(prior, dtype=np.float64),
            np.asarray(weight, dtype=np.float64),
        )
        keep = self.strategy.mixture_dead(dead)
        bad = ~np.all(np.isfinite(cov.reshape((*keep.shape, -1))), axis=-1) | keep
        cov[bad] = old[bad]
        return cov

    @staticmethod
    def _warn_dead(dead, empty):
        empty = set(np.asarray(empty, dtype=np.intp).tolist())
        pairs = [(k, m) for k, m in zip(*np.nonzero(dead), strict=True) if int(k) not in empty]
        if pairs:
            names = ", ".join(f"state {k} component {m}" for k, m in pairs)
            warnings.warn(
                f"mixture component(s) {names} received no posterior mass; their means and "
                "covariances are kept from the previous iteration.",
                DegenerateComponentWarning,
                stacklevel=4,
            )

    # ------------------------------------------------------------------ other
    def n_parameters(self, n_components, n_features):
        """Free parameters of weights, means and covariances."""
        K, M, d = n_components, self.n_mix, n_features
        cov = int(self.strategy.mixture_n_parameters(K, M, d))
        return K * (M - 1) + K * M * d + cov

    def sample(self, params, k, n, rng):
        """Draw ``n`` rows from state ``k``'s mixture."""
        M = self.n_mix
        comp = rng.choice(M, size=n, p=params.weights[k])
        d = params.gaussian.n_features
        out = np.empty((n, d))
        for m in range(M):
            idx = np.flatnonzero(comp == m)
            if idx.size:
                out[idx] = self.gaussian.sample(params.gaussian, k * M + m, idx.size, rng)
        return out
