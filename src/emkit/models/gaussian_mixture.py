"""GaussianMixture: a drop-in for ``sklearn.mixture.GaussianMixture`` on emkit's engine."""

from __future__ import annotations

import numpy as np

from emkit import _validation as v
from emkit.exceptions import ValidationError
from emkit.families.covariance import (
    MIXTURE_COVARIANCE_TYPES,
    STRATEGIES,
    NotPositiveDefiniteError,
)
from emkit.families.gaussian import GaussianFamily, GaussianParams
from emkit.families.gaussian_prior import ConjugatePrior, PriorGaussianFamily
from emkit.families.noise import WithNoise, bounding_box, check_noise
from emkit.models.mixture_base import BaseMixture, check_state_array, common_arguments


class GaussianMixture(BaseMixture):
    """Gaussian mixture model fitted by Expectation-Maximization.

    Same parameters, attributes and methods as ``sklearn.mixture.GaussianMixture``, plus
    per-row ``sample_weight``, float32 computation, blocked E-steps (``chunk_size``), and
    :meth:`icl`. Degenerate data never ends in a Cholesky error: empty components are
    re-seeded and collapsed ones regularised, each with a
    :class:`~emkit.exceptions.DegenerateComponentWarning`.

    Parameters
    ----------
    n_components : int, default=1
        Number of mixture components.
    covariance_type : str, default='full'
        Covariance structure of the components: scikit-learn's 'full', 'tied', 'diag',
        'spherical', or one of mclust's 14 parsimonious structures 'EII', 'VII', 'EEI',
        'VEI', 'EVI', 'VVI', 'EEE', 'VEE', 'EVE', 'VVE', 'EEV', 'VEV', 'EVV', 'VVV' (volume,
        shape, orientation Equal, Variable or Identity; see
        :mod:`emkit.families.parsimonious`). 'VII', 'VVI', 'EEE' and 'VVV' are 'spherical',
        'diag', 'tied' and 'full'. ``covariances_`` has the layout of the E-step kernel the
        structure uses: (K,) for EII/VII, (K, d) for EEI/VEI/EVI/VVI, (d, d) for EEE and
        (K, d, d) for the other six.
    tol : float, default=1e-3
        Convergence threshold on the change of the mean per-sample log-likelihood.
    reg_covar : float, default=1e-6
        Non-negative value added to the diagonal of every covariance.
    max_iter : int, default=100
        Maximum EM iterations per initialisation.
    n_init : int, default=1
        Number of initialisations; the best (highest lower bound) is kept.
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data'}, default='kmeans'
        How the first responsibilities are chosen.
    weights_init : array-like of shape (n_components,), default=None
        With ``noise``, shape (n_components + 1,), the noise share last.
    means_init : array-like of shape (n_components, n_features), default=None
    precisions_init : array-like, default=None
        Shape (K, d, d) full, (d, d) tied, (K, d) diag, (K,) spherical.
    random_state : int, RandomState instance or None, default=None
    warm_start : bool, default=False
        Continue from the last fit's parameters (one initialisation).
    verbose : int, default=0
    verbose_interval : int, default=10
    chunk_size : int, default=None
        Rows per E-step block. None picks a size that keeps working memory near 16 MB.
    learning_decay : float, default=0.6
        Stepwise EM (:meth:`partial_fit`): the step size of block ``t`` is
        ``(t + learning_offset) ** -learning_decay``; must lie in (0.5, 1].
    learning_offset : float, default=2.0
        Stepwise EM: non-negative offset that damps the first steps.
    prior : dict or None, default=None
        mclust's conjugate prior (Fraley & Raftery 2007) for MAP estimation: a dict with
        'shrinkage', 'mean' (d,), 'dof' and 'scale' ((d, d) for VVV/EEE/full/tied, a number
        for EII/VII/EEI/VVI/spherical/diag;
        :func:`emkit.families.gaussian_prior.default_prior` gives mclust's default). Only
        those structures take a prior. The log-likelihood, ``bic`` and ``aic`` stay those of
        the data at the MAP parameters, as mclust reports them.
    noise : None, True or float, default=None
        A uniform noise component beside the Gaussians (mclust's ``Vinv``) that absorbs
        outliers: True spreads it over the bounding box of the fitted data (density one over
        its volume), a positive float is its density ``Vinv``. Its share is fitted (starting
        at 5%) and stored last in ``weights_`` (then of length ``n_components + 1``);
        ``predict_proba`` has a last column for it, ``predict`` labels its rows
        ``n_components``, and the criteria count its weight. Rows with missing values are
        not supported with it.

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
        With ``noise``, shape (n_components + 1,), the noise share last.
    noise_vinv_ : float
        With ``noise``: the density of the noise component.
    noise_bounds_ : ndarray of shape (2, n_features)
        With ``noise``: the bounding box of the fitted data (``sample`` draws the noise in it).
    means_ : ndarray of shape (n_components, n_features)
    covariances_ : ndarray
    precisions_ : ndarray
    precisions_cholesky_ : ndarray
    converged_ : bool
    n_iter_ : int
    lower_bound_ : float
        Mean per-sample log-likelihood of the best run's last E-step.
    lower_bounds_ : list of float
        ``lower_bound`` of each iteration of the best run.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined when X has string column names.
    """

    def __init__(
        self,
        n_components=1,
        *,
        covariance_type="full",
        tol=1e-3,
        reg_covar=1e-6,
        max_iter=100,
        n_init=1,
        init_params="kmeans",
        weights_init=None,
        means_init=None,
        precisions_init=None,
        random_state=None,
        warm_start=False,
        verbose=0,
        verbose_interval=10,
        chunk_size=None,
        learning_decay=0.6,
        learning_offset=2.0,
        prior=None,
        noise=None,
    ):
        super().__init__(**common_arguments(locals()))
        self.prior = prior
        self.covariance_type = covariance_type
        self.reg_covar = reg_covar
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.noise = noise

    @property
    def _extra_weight_name(self):
        """What summaries and plots call the weight past ``n_components``."""
        return "noise" if self._has_noise() else "background"

    # ------------------------------------------------------------------ family hooks
    def _make_family(self):
        if self.prior is None:
            family = GaussianFamily(self.covariance_type, self.reg_covar)
        else:
            prior = ConjugatePrior.from_dict(self.prior, self.covariance_type)
            family = PriorGaussianFamily(self.covariance_type, self.reg_covar, prior)
        if not self._has_noise():
            return family
        low, high = self.noise_bounds_
        return WithNoise(family, self.n_components, np.log(self.noise_vinv_), low, high)

    def _has_noise(self):
        noise = getattr(self, "noise", None)  # subclasses may not have the option
        return noise is not None and noise is not False

    def _n_weights(self):
        return self.n_components + int(self._has_noise())

    def _source(self, X, sample_weight, *, reset):
        source = super()._source(X, sample_weight, reset=reset)
        if reset and self._has_noise():
            low, high = bounding_box(source.blocks())
            self.noise_vinv_ = float(np.exp(check_noise(self.noise, low, high)))
            self.noise_bounds_ = np.stack([low, high])
        return source

    def _check_family_params(self):
        v.check_choice(self.covariance_type, "covariance_type", MIXTURE_COVARIANCE_TYPES)
        v.check_real(self.reg_covar, "reg_covar", 0.0)
        if self.prior is not None:
            try:
                ConjugatePrior.from_dict(self.prior, self.covariance_type)
            except ValueError as err:
                raise ValidationError(str(err)) from None
        if self._has_noise() and self.noise is not True:
            v.check_real(self.noise, "noise", 0.0, strict=True)

    def _check_data(self, X, reset):
        X = v.check_X(self, X, reset=reset)
        if self.prior is not None and np.size(self.prior["mean"]) != X.shape[1]:
            raise ValidationError(
                f"prior['mean'] has {np.size(self.prior['mean'])} values but X has "
                f"{X.shape[1]} features; give the prior one value per feature"
            )
        return X

    #: Streamed blocks need no check beyond the finiteness every source applies.
    _check_block = None

    def _check_inits(self, d):
        K, ct = self.n_components, self.covariance_type
        means = precisions = None
        weights = self._check_weights_init()
        if self.means_init is not None:
            means = v.check_array_param(self.means_init, "means_init", (K, d), sklearn_name="means")
        if self.precisions_init is not None:
            shape = STRATEGIES[ct].shape(K, d)
            precisions = v.check_array_param(
                self.precisions_init, "precisions_init", shape, sklearn_name=f"{ct} precision"
            )
            dense = STRATEGIES[ct].dense
            if dense:
                precisions = _symmetric(precisions, ct)
            try:
                GaussianParams.from_precisions(np.zeros((K, d)), precisions, ct)
            except NotPositiveDefiniteError as err:
                what = "matrix" if dense else "values"
                should = "symmetric, positive-definite" if what == "matrix" else "positive"
                raise ValidationError(
                    f"'{ct} precision' should be {should}: "
                    f"precisions_init {what} {err.index} is not positive definite "
                    f"('{ct}' covariance_type); pass positive-definite precisions"
                ) from None
        return weights, (means, precisions)

    def _inits_complete(self, given):
        means, precisions = given
        return means is not None and precisions is not None

    def _init_components(self, given, assigned):
        means, precisions = given
        ct = self.covariance_type
        if precisions is not None:
            m = means if means is not None else assigned.means
            return GaussianParams.from_precisions(m, precisions, ct)
        if means is not None:
            return GaussianParams.from_prec_chol(
                means, assigned.covariances, assigned.prec_chol, ct
            )
        return assigned

    def _warm_start_problems(self):
        problems = super()._warm_start_problems()
        K, d = self.means_.shape
        expected = STRATEGIES[self.covariance_type].shape(K, d)
        if self.covariances_.shape != expected:
            problems.append(
                f"covariances_ of shape {self.covariances_.shape} (covariance_type="
                f"{self.covariance_type!r} needs {expected})"
            )
        return problems

    def _set_components(self, c, dtype):
        self.means_ = c.means.astype(dtype)
        self.covariances_ = c.covariances.astype(dtype)
        self.precisions_cholesky_ = c.prec_chol.astype(dtype)
        self.precisions_ = c.precisions().astype(dtype)

    def _get_components(self):
        return GaussianParams.from_prec_chol(
            self.means_, self.covariances_, self.precisions_cholesky_, self.covariance_type
        )

    # ------------------------------------------------------------------ model files
    # Largest disagreement, relative to the largest entry of the component, between a stored
    # array and the one derived from covariances_ that is taken for rounding.
    _STATE_RTOL = ((np.dtype(np.float64), 1e-6), (np.dtype(np.float32), 1e-2))

    def _check_component_state(self, K, d):
        """The four component arrays: shapes, one dtype, finite, and describing one model.

        ``covariances_`` must be symmetric positive definite, and ``precisions_cholesky_`` and
        ``precisions_`` the ones they imply (scoring reads the former, sampling the latter).
        """
        state = vars(self)
        K = self.n_components  # weights_ also holds the noise share with noise
        if self._has_noise():
            check_state_array(state, "noise_bounds_", (2, d))
            if not (isinstance(state.get("noise_vinv_"), float) and self.noise_vinv_ > 0):
                raise ValueError("noise_vinv_ must be a positive float (the noise density)")
        cov_shape = STRATEGIES[self.covariance_type].shape(K, d)
        shapes = {
            "means_": (K, d),
            "covariances_": cov_shape,
            "precisions_cholesky_": cov_shape,
            "precisions_": cov_shape,
        }
        for name, shape in shapes.items():
            check_state_array(state, name, shape)
        if len({state[name].dtype for name in ("weights_", *shapes)}) != 1:
            raise TypeError("the parameter arrays have mixed dtypes")
        weights = self.weights_
        rtol = dict(self._STATE_RTOL)[weights.dtype]
        try:
            derived = GaussianParams.from_covariances(
                self.means_, self.covariances_, self.covariance_type
            )
        except NotPositiveDefiniteError as err:
            raise ValueError(
                f"covariances_ of component {err.index} is not positive definite"
            ) from None
        for k in range(K):
            cov = derived.component_covariance(k)
            if not np.allclose(cov, cov.T, rtol=0, atol=rtol * np.abs(cov).max()):
                raise ValueError(f"covariances_ of component {k} is not symmetric")
        for name, ours, theirs in (
            ("precisions_cholesky_", self.precisions_cholesky_, derived.prec_chol),
            ("precisions_", self.precisions_, derived.precisions()),
        ):
            scale = np.abs(theirs).reshape(len(theirs), -1).max(axis=1)
            gap = np.abs(ours - theirs) - rtol * scale.reshape((-1,) + (1,) * (theirs.ndim - 1))
            if np.any(gap > 0):
                where = np.unravel_index(int(np.argmax(gap)), gap.shape)
                raise ValueError(
                    f"{name} does not match covariances_ (entry {tuple(map(int, where))}); "
                    "the arrays of a model must describe the same components"
                )


# Largest asymmetry of a precisions_init matrix, relative to its largest entry, that is taken
# for rounding (e.g. of a numerically inverted covariance) rather than a mistake.
_SYMMETRY_RTOL = 1e-5


def _symmetric(precisions, covariance_type):
    """Symmetrise full/tied ``precisions_init`` after checking it is symmetric to rounding."""
    d = precisions.shape[-1]
    mats = precisions.reshape(-1, d, d)
    gap = np.abs(mats - mats.transpose(0, 2, 1)).max(axis=(1, 2))
    scale = np.abs(mats).max(axis=(1, 2))
    bad = np.flatnonzero(~(gap <= _SYMMETRY_RTOL * scale))
    if bad.size:
        raise ValidationError(
            f"'{covariance_type} precision' should be symmetric, positive-definite: "
            f"precisions_init matrix {int(bad[0])} is not symmetric ('{covariance_type}' "
            "covariance_type); pass symmetric positive-definite precisions"
        )
    return 0.5 * (precisions + np.swapaxes(precisions, -1, -2))
