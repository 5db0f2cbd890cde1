"""GMMHMM: hidden Markov model with Gaussian-mixture emissions (a drop-in for hmmlearn's)."""

from __future__ import annotations

import numpy as np

from emkit import _validation as v
from emkit.exceptions import ValidationError
from emkit.families.covariance import COVARIANCE_TYPES, STRATEGIES, NotPositiveDefiniteError
from emkit.families.gaussian_mixture_emission import GaussianMixtureEmission
from emkit.models.hmm_base import BaseHMM, check_distribution, shared_hyperparameters
from emkit.models.hmm_gaussian import (
    check_covariances,
    initial_covariance,
    kmeans_centres,
    rows_for_init,
    validate_real_X,
)


def gmm_covariance_shape(covariance_type, K, M, d):
    """Shape of a GMMHMM's ``covars_`` for K states of M components in d features."""
    return STRATEGIES[covariance_type].mixture_shape(K, M, d)


class GMMHMM(BaseHMM):
    """Hidden Markov model whose states emit from Gaussian mixtures of ``n_mix`` components.

    Same parameters, attributes and methods as ``hmmlearn.hmm.GMMHMM``. The covariance update
    is taken about the new means (an exact M-step), so the log-likelihood never decreases; the
    default spherical ``covars_prior`` is ``-(n_features + 2) / 2``, which makes that update
    maximum likelihood.

    Parameters
    ----------
    n_components : int, default=1
        Number of states.
    n_mix : int, default=1
        Mixture components per state.
    min_covar : float, default=1e-3
        Added to the diagonal of the initial covariance (as in hmmlearn, it is not a floor
        in the M-step, which is the exact maximiser).
    startprob_prior, transmat_prior : float or array-like, default=1.0
    weights_prior : float or array-like of shape (n_components, n_mix), default=1.0
        Dirichlet concentration of the mixture weights.
    means_prior, means_weight : float or array-like, default=0.0
        Normal prior on the means (broadcastable to (n_components, n_mix, n_features) and
        (n_components, n_mix)).
    covars_prior, covars_weight : float, array-like or None, default=None
        Inverse-gamma (diag, spherical: shape and scale) or inverse-Wishart (full, tied: scale
        matrix and degrees of freedom) prior; None is maximum likelihood.
    algorithm : {'viterbi', 'map'}, default='viterbi'
    covariance_type : {'spherical', 'diag', 'full', 'tied'}, default='diag'
        'tied': the components of each state share one full covariance.
    random_state, n_iter, tol, verbose, implementation
        As for :class:`~emkit.hmm.GaussianHMM`.
    params, init_params : str, default='stmcw'
        's' startprob, 't' transmat, 'm' means, 'c' covars, 'w' mixture weights.

    Attributes
    ----------
    n_features : int
    startprob_ : ndarray of shape (n_components,)
    transmat_ : ndarray of shape (n_components, n_components)
    weights_ : ndarray of shape (n_components, n_mix)
    means_ : ndarray of shape (n_components, n_mix, n_features)
    covars_ : ndarray
        (n_components, n_mix) spherical, (n_components, n_mix, n_features) diag,
        (n_components, n_mix, n_features, n_features) full, (n_components, n_features,
        n_features) tied.
    monitor_ : ConvergenceMonitor
    """

    _emission_letters = (("m", "means"), ("c", "covariances"), ("w", "weights"))
    _emission_attributes = ("weights_", "means_", "covars_")

    def __init__(
        self,
        n_components=1,
        n_mix=1,
        min_covar=1e-3,
        startprob_prior=1.0,
        transmat_prior=1.0,
        weights_prior=1.0,
        means_prior=0.0,
        means_weight=0.0,
        covars_prior=None,
        covars_weight=None,
        algorithm="viterbi",
        covariance_type="diag",
        random_state=None,
        n_iter=10,
        tol=1e-2,
        verbose=False,
        params="stmcw",
        init_params="stmcw",
        implementation="log",
    ):
        super().__init__(**shared_hyperparameters(locals()))
        self.n_mix = n_mix
        self.min_covar = min_covar
        self.weights_prior = weights_prior
        self.means_prior = means_prior
        self.means_weight = means_weight
        self.covars_prior = covars_prior
        self.covars_weight = covars_weight
        self.covariance_type = covariance_type

    # ------------------------------------------------------------------ hooks
    def _check_hyperparams(self):
        super()._check_hyperparams()
        v.check_int(self.n_mix, "n_mix", 1)
        v.check_choice(self.covariance_type, "covariance_type", COVARIANCE_TYPES)
        v.check_real(self.min_covar, "min_covar", 0.0)

    def _emission(self):
        return GaussianMixtureEmission(
            self.n_mix,
            self.covariance_type,
            weights_prior=self.weights_prior,
            means_prior=self.means_prior,
            means_weight=self.means_weight,
            covars_prior=self.covars_prior,
            covars_weight=self.covars_weight,
        )

    def _emission_fit_scalars(self, n_features):
        K, M, d = self.n_components, self.n_mix, n_features
        n_cov = int(STRATEGIES[self.covariance_type].mixture_n_parameters(K, M, d))
        return {"m": K * M * d, "c": n_cov, "w": K * (M - 1)}

    def _n_emission_features(self):
        return np.shape(self.means_)[2]

    def _emission_params(self):
        K, M, ct = self.n_components, self.n_mix, self.covariance_type
        weights = check_distribution(self.weights_, "weights_", (K, M))
        means = np.asarray(self.means_)
        if means.ndim != 3 or means.shape[:2] != (K, M):
            raise ValidationError(
                f"means_ has shape {means.shape}; expected (n_components={K}, n_mix={M}, "
                "n_features)"
            )
        means = v.check_array_param(means, "means_", means.shape)
        shape = gmm_covariance_shape(ct, K, M, means.shape[2])
        cov = check_covariances(self.covars_, "covars_", ct, shape)
        try:
            return self._emission().make_params(weights, means, cov)
        except NotPositiveDefiniteError as err:
            where = STRATEGIES[ct].mixture_block_name(err.index, M)
            raise ValidationError(
                f"covars_ of {where} is not positive definite ('{ct}' covariance_type)"
            ) from None

    def _set_emission_params(self, params):
        self.weights_ = params.weights
        self.means_ = params.means
        self.covars_ = params.covariances

    def _validate_X(self, X, fitting):
        return validate_real_X(self, X, fitting)

    def _init_emission(self, X, lengths):
        n, d = X.shape
        K, M = self.n_components, self.n_mix
        self.n_features = d
        X = rows_for_init(X, K * M)
        cv = None
        if self._needs_init("m", "means_"):
            if n < K:
                raise ValidationError(
                    f"n_samples={n} is smaller than n_components={K}; the means cannot be "
                    "initialised: pass more rows or fewer states"
                )
            centres, labels = kmeans_centres(X, K, self.random_state)
            centroid = centres.mean(axis=0)
            means = []
            for k in range(K):
                cluster = X[labels == k]
                if cluster.shape[0] >= M:
                    means.append(kmeans_centres(cluster, M, self.random_state)[0])
                else:
                    if cv is None:
                        cv = initial_covariance(X, self.min_covar)
                    rng = v.check_random_state(self.random_state)
                    means.append(rng.multivariate_normal(centroid, cv, size=M))
            self.means_ = np.stack(means)
        if self._needs_init("w", "weights_"):
            self.weights_ = np.full((K, M), 1.0 / M)
        if self._needs_init("c", "covars_"):
            if cv is None:
                cv = initial_covariance(X, self.min_covar)
            self.covars_ = STRATEGIES[self.covariance_type].mixture_spread(cv, K, M)
