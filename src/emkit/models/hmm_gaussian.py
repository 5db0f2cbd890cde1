"""GaussianHMM: hidden Markov model with Gaussian emissions (a drop-in for hmmlearn's)."""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans
from threadpoolctl import threadpool_limits

from emkit import _validation as v
from emkit.exceptions import ValidationError
from emkit.families.covariance import COVARIANCE_TYPES, STRATEGIES, NotPositiveDefiniteError
from emkit.families.gaussian import GaussianFamily, GaussianParams
from emkit.families.gaussian_emission import GaussianEmission
from emkit.models.hmm_base import BaseHMM, shared_hyperparameters


def full_covariances(cov, covariance_type, n_components, n_features):
    """Covariances of any layout as full matrices, shape (n_components, d, d)."""
    strat = STRATEGIES[covariance_type]
    return strat.full_matrices(strat.user_layout(cov, n_components), n_components, n_features)


def spread_covariance(cv, covariance_type, n_components):
    """One dense covariance repeated in the layout of ``covariance_type``."""
    return STRATEGIES[covariance_type].spread(cv, n_components)


# Below this many rows the initial k-means runs on one thread: its OpenMP threads cost more to
# wake (and spin for much longer on a busy machine) than the clustering itself.
_SERIAL_KMEANS_ROWS = 50_000


def kmeans_centres(X, n_clusters, random_state):
    """Centres of scikit-learn's k-means (10 restarts) of the rows ``X``, as hmmlearn's init.

    Returns
    -------
    centres : ndarray of shape (n_clusters, n_features)
    labels : ndarray of shape (n_samples,)
    """
    km = KMeans(n_clusters=n_clusters, random_state=random_state, n_init=10)
    if X.shape[0] < _SERIAL_KMEANS_ROWS:
        with threadpool_limits(1):
            labels = km.fit_predict(X)
    else:
        labels = km.fit_predict(X)
    return km.cluster_centers_, labels


def initial_covariance(X, min_covar):
    """Sample covariance of ``X`` plus ``min_covar`` on the diagonal, shape (d, d)."""
    if X.shape[0] < 2:
        raise ValidationError(
            "at least 2 samples are needed to initialise the covariances; pass more rows or "
            "set covars_ and leave 'c' out of init_params"
        )
    cv = np.atleast_2d(np.cov(X.T))
    return cv + min_covar * np.eye(X.shape[1])


def rows_for_init(X, n_clusters):
    """The frames the initial means and covariances come from, when values are missing.

    Frames without a missing value when there are enough of them (10 per state), otherwise
    every frame with an observed value, its gaps filled with the column means; ``X`` itself
    when nothing is missing (see :meth:`~emkit.families.base.FamilyBase.init_rows`).
    """
    return GaussianFamily().init_rows(X, None, n_clusters)[0]


def validate_real_X(model, X, fitting):
    """Real-valued ``X`` of a Gaussian HMM as float64, its features matching ``means_``.

    A memory-mapped ``X`` keeps its floating type (float32 stays): its blocks are converted
    as they are read (:meth:`~emkit.engine.markov.SequenceSource.row_blocks`).
    """
    mapped = isinstance(X, np.memmap)
    try:
        X = v.check_X(model, X, reset=fitting)
        X = X if mapped else np.asarray(X, dtype=np.float64)
    except TypeError:
        raise TypeError(
            f"X must be an array-like of numbers of shape (n_samples, n_features), a "
            f"numpy.memmap or the path of a .npy file; got {type(X).__name__}"
        ) from None
    keeps_means = hasattr(model, "means_") and not (fitting and "m" in model.init_params)
    if keeps_means and np.shape(model.means_)[-1] != X.shape[1]:
        raise ValidationError(
            f"X has {X.shape[1]} features but means_ has {np.shape(model.means_)[-1]}; pass "
            "data with the model's number of features"
        )
    return X


def check_covariances(value, name, covariance_type, shape):
    """Validate user covariances of one layout; returns them as float64."""
    cov = v.check_array_param(value, name, shape)
    mats = STRATEGIES[covariance_type].stored_matrices(cov)
    if mats is not None:
        mats = mats.reshape((-1, *mats.shape[-2:]))
        bad = np.flatnonzero(~np.all(np.isclose(mats, np.swapaxes(mats, 1, 2)), axis=(1, 2)))
        if bad.size:
            raise ValidationError(f"{name} matrix {int(bad[0])} is not symmetric")
    return cov


class GaussianHMM(BaseHMM):
    """Hidden Markov model with Gaussian emissions, fitted by Baum-Welch.

    Same parameters, attributes and methods as ``hmmlearn.hmm.GaussianHMM``; forward-backward
    and Viterbi run in compiled kernels over all sequences in parallel, without underflow.
    Differences where hmmlearn is wrong: ``monitor_.converged`` is true only when ``tol`` was
    met, ``decode(algorithm='map')`` returns a log-probability, a state with no posterior mass
    keeps valid parameters (with a warning), and spherical ``covars_`` has the documented shape.

    Parameters
    ----------
    n_components : int, default=1
        Number of states.
    covariance_type : {'spherical', 'diag', 'full', 'tied'}, default='diag'
    min_covar : float, default=1e-3
        Added to the diagonal of the initial covariance (as in hmmlearn, it is not a floor
        in the M-step, which is the exact maximiser).
    startprob_prior : float or array-like of shape (n_components,), default=1.0
        Dirichlet concentration of ``startprob_``.
    transmat_prior : float or array-like of shape (n_components, n_components), default=1.0
        Dirichlet concentration of each row of ``transmat_``.
    means_prior, means_weight : float or array-like, default=0
        Mean and weight of the Normal prior on ``means_``.
    covars_prior, covars_weight : float or array-like, default=1e-2 and 1
        Scale and weight of the inverse-gamma (diag, spherical) or inverse-Wishart (full, tied)
        prior on the covariances.
    algorithm : {'viterbi', 'map'}, default='viterbi'
        Decoder used by :meth:`predict`.
    random_state : int, RandomState instance or None, default=None
    n_iter : int, default=10
        Maximum number of iterations.
    tol : float, default=1e-2
        Stop when the gain of the total log-likelihood falls below ``tol``.
    verbose : bool, default=False
        Print the log-likelihood of each iteration to stderr.
    params, init_params : str, default='stmc'
        Parameters updated by fit / initialised before it: 's' startprob, 't' transmat,
        'm' means, 'c' covars.
    implementation : {'log', 'scaling'}, default='log'
        Accepted for compatibility; emkit's kernels are exact in both cases.

    Attributes
    ----------
    n_features : int
    startprob_ : ndarray of shape (n_components,)
    transmat_ : ndarray of shape (n_components, n_components)
    means_ : ndarray of shape (n_components, n_features)
    covars_ : ndarray of shape (n_components, n_features, n_features)
        Full covariance matrices whatever the ``covariance_type``; assign the layout of the
        type: (n_components,) spherical, (n_components, n_features) diag, (n_components,
        n_features, n_features) full, (n_features, n_features) tied.
    monitor_ : ConvergenceMonitor
    """

    _emission_letters = (("m", "means"), ("c", "covariances"))
    _emission_attributes = ("means_", "covars_")

    def __init__(
        self,
        n_components=1,
        covariance_type="diag",
        min_covar=1e-3,
        startprob_prior=1.0,
        transmat_prior=1.0,
        means_prior=0,
        means_weight=0,
        covars_prior=1e-2,
        covars_weight=1,
        algorithm="viterbi",
        random_state=None,
        n_iter=10,
        tol=1e-2,
        verbose=False,
        params="stmc",
        init_params="stmc",
        implementation="log",
    ):
        super().__init__(**shared_hyperparameters(locals()))
        self.covariance_type = covariance_type
        self.min_covar = min_covar
        self.means_prior = means_prior
        self.means_weight = means_weight
        self.covars_prior = covars_prior
        self.covars_weight = covars_weight

    @property
    def covars_(self):
        """Covariances as full matrices, shape (n_components, n_features, n_features)."""
        cov = self._covars_
        v.check_choice(self.covariance_type, "covariance_type", COVARIANCE_TYPES)
        d = np.shape(self.means_)[1] if hasattr(self, "means_") else self.n_features
        return full_covariances(cov, self.covariance_type, self.n_components, d)

    @covars_.setter
    def covars_(self, covars):
        self._covars_ = np.array(covars, dtype=np.float64, copy=True)

    # ------------------------------------------------------------------ hooks
    def _check_hyperparams(self):
        super()._check_hyperparams()
        v.check_choice(self.covariance_type, "covariance_type", COVARIANCE_TYPES)
        v.check_real(self.min_covar, "min_covar", 0.0)

    def _emission(self):
        return GaussianEmission(
            self.covariance_type,
            means_prior=self.means_prior,
            means_weight=self.means_weight,
            covars_prior=self.covars_prior,
            covars_weight=self.covars_weight,
        )

    def _emission_fit_scalars(self, n_features):
        K, d = self.n_components, n_features
        return {"m": K * d, "c": int(STRATEGIES[self.covariance_type].n_parameters(K, d))}

    def _n_emission_features(self):
        return np.shape(self.means_)[1]

    def _emission_params(self):
        K, ct = self.n_components, self.covariance_type
        means = np.asarray(self.means_)
        if means.ndim != 2 or means.shape[0] != K:
            raise ValidationError(
                f"means_ has shape {means.shape}; expected (n_components={K}, n_features)"
            )
        means = v.check_array_param(means, "means_", means.shape)
        shape = STRATEGIES[ct].shape(K, means.shape[1])
        cov = STRATEGIES[ct].user_layout(self._covars_, K)
        cov = check_covariances(cov, "covars_", ct, shape)
        try:
            return GaussianParams.from_covariances(means, cov, ct)
        except NotPositiveDefiniteError as err:
            raise ValidationError(
                f"covars_ of state {err.index} is not positive definite ('{ct}' "
                "covariance_type); pass positive-definite covariances"
            ) from None

    def _set_emission_params(self, params):
        self.means_ = params.means
        self._covars_ = params.covariances

    def _validate_X(self, X, fitting):
        return validate_real_X(self, X, fitting)

    def _init_emission(self, X, lengths):
        n, d = X.shape
        K = self.n_components
        self.n_features = d
        X = rows_for_init(X, K)
        if self._needs_init("m", "means_"):
            if n < K:
                raise ValidationError(
                    f"n_samples={n} is smaller than n_components={K}; the means cannot be "
                    "initialised: pass more rows or fewer states"
                )
            self.means_ = kmeans_centres(X, K, self.random_state)[0]
        if self._needs_init("c", "covars_"):
            cv = initial_covariance(X, self.min_covar)
            self._covars_ = spread_covariance(cv, self.covariance_type, K)

    # ------------------------------------------------------------------ model files
    #: Private fitted state that model files store: the covariances in their compact layout
    #: (``covars_`` is a property that expands them to full matrices).
    _saved_private = ("_covars_",)
