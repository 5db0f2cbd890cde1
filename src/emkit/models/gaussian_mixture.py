"""GaussianMixture: a drop-in for ``sklearn.mixture.GaussianMixture`` on emkit's engine."""

from __future__ import annotations

import math
import warnings

import numpy as np
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted

from emkit import _validation as v
from emkit import criteria
from emkit.engine.dask_source import is_dask_collection
from emkit.engine.em import EMResult, fit_restarts
from emkit.engine.initialization import INIT_METHODS, assignment, params_from_assignment
from emkit.engine.mixture import MixtureEM, MixtureParams
from emkit.engine.online import stepwise_update
from emkit.engine.progress import Progress
from emkit.engine.sources import ArraySource, default_chunk_size
from emkit.exceptions import ValidationError
from emkit.families.covariance import COVARIANCE_TYPES, NotPositiveDefiniteError
from emkit.families.gaussian import GaussianFamily, GaussianParams
from emkit.models._inputs import init_sample, is_out_of_core, streamed_source
from emkit.models._state import unchanged_on_error


class GaussianMixture(DensityMixin, BaseEstimator):
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
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
        Covariance structure of the components.
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

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
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
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.chunk_size = chunk_size
        self.learning_decay = learning_decay
        self.learning_offset = learning_offset

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y=None, sample_weight=None):
        """Estimate the parameters with EM.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights. Integer weights fit the same model as repeated rows;
            a zero weight the same as the row removed.

        Returns
        -------
        self : GaussianMixture
        """
        with unchanged_on_error(self):
            self._fit(X, sample_weight)
        return self

    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit, then return the component of each row (the same as ``fit(X).predict(X)``).

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        return self.fit(X, sample_weight=sample_weight).predict(X)

    def partial_fit(self, X, y=None, sample_weight=None):
        """One stepwise EM step on a block of rows (online EM for streams and huge data).

        The first call initialises from the block (``init_params`` and the ``*_init``
        arguments, or the parameters of an earlier :meth:`fit`). Every call runs an E-step
        on the block, blends its sufficient statistics into the running average with step
        size ``(t + learning_offset) ** -learning_decay`` (Cappé & Moulines, 2009), and runs
        the M-step on the blend.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            One block of rows.
        y : ignored
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : GaussianMixture
            With ``n_steps_`` (blocks seen) and ``lower_bound_`` (mean log-likelihood of
            this block under the parameters before the step).
        """
        with unchanged_on_error(self):
            self._partial_fit(X, sample_weight)
        return self

    def _partial_fit(self, X, sample_weight):
        self._check_params()
        fitted = hasattr(self, "means_")
        source = self._source(X, sample_weight, reset=not fitted)
        family = GaussianFamily(self.covariance_type, self.reg_covar)
        problem = MixtureEM(family)
        state = getattr(self, "_stepwise", None)
        if fitted:
            params = self._params()
        else:
            inits = self._check_inits(self.n_features_in_)
            rng = v.check_random_state(self.random_state)
            params = self._initial_params(family, source, rng, inits)
        params, state, bound = stepwise_update(
            problem,
            params,
            state,
            source,
            decay=self.learning_decay,
            offset=self.learning_offset,
        )
        self._set_params(params, source.X.dtype)
        self._stepwise = state
        self.n_steps_ = state.n_steps
        self.n_iter_ = state.n_steps
        self.converged_ = False
        self.lower_bound_ = bound
        self.lower_bounds_ = [*getattr(self, "lower_bounds_", []), bound]

    def _check_params(self):
        v.check_int(self.n_components, "n_components", 1)
        v.check_choice(self.covariance_type, "covariance_type", COVARIANCE_TYPES)
        v.check_real(self.tol, "tol", 0.0)
        v.check_real(self.reg_covar, "reg_covar", 0.0)
        v.check_int(self.max_iter, "max_iter", 0)
        v.check_int(self.n_init, "n_init", 1)
        v.check_choice(self.init_params, "init_params", INIT_METHODS)
        v.check_int(self.verbose, "verbose", 0)
        v.check_int(self.verbose_interval, "verbose_interval", 1)
        v.check_int(self.chunk_size, "chunk_size", 1, allow_none=True)
        decay = v.check_real(self.learning_decay, "learning_decay", 0.5, strict=True)
        if decay > 1:
            raise ValidationError(f"learning_decay must lie in (0.5, 1], got {decay!r}")
        v.check_real(self.learning_offset, "learning_offset", 0.0)

    def _source(self, X, sample_weight, *, reset):
        """Validate ``X`` (in memory, memory-mapped, .npy path or Dask) as a block source."""
        K = self.n_components

        def chunk_for(d):
            return self.chunk_size or default_chunk_size(d, K)

        if is_out_of_core(X):
            source = streamed_source(self, X, sample_weight, chunk_for, reset=reset)
        else:
            X = v.check_X(self, X, reset=reset)
            w = v.check_sample_weight(sample_weight, X.shape[0])
            if reset and w is not None and np.count_nonzero(w) < K:
                raise ValidationError(
                    f"sample_weight has {np.count_nonzero(w)} positive value(s) but "
                    f"n_components = {K}; every component needs a row of positive weight: "
                    "use fewer components or give more rows a positive weight."
                )
            source = ArraySource(X, w, chunk_for(X.shape[1]))
        if reset and source.n_samples < K:
            raise ValidationError(
                f"Expected n_samples >= n_components but got n_components = {K}, "
                f"n_samples = {source.n_samples}; use fewer components or more rows."
            )
        return source

    def _fit(self, X, sample_weight):
        self._check_params()
        source = self._source(X, sample_weight, reset=True)
        inits = self._check_inits(self.n_features_in_)
        family = GaussianFamily(self.covariance_type, self.reg_covar)
        problem = MixtureEM(family)
        rng = v.check_random_state(self.random_state)
        init_source = init_sample(source, rng) if is_out_of_core(X) else source

        def initialize():
            return self._initial_params(family, init_source, rng, inits)

        warm = None
        if self.warm_start and hasattr(self, "converged_"):
            self._check_warm_start(source.X.shape[1])
            warm = EMResult(self._params(), self.lower_bound_)
        best = fit_restarts(
            problem,
            source,
            initialize,
            n_init=self.n_init,
            max_iter=self.max_iter,
            tol=self.tol,
            progress=Progress(self.verbose, self.verbose_interval),
            warm=warm,
        )
        if not best.converged and self.max_iter > 0:
            warnings.warn(
                "Best performing initialization did not converge. Try different init "
                "parameters, or increase max_iter, tol, or check for degenerate data.",
                ConvergenceWarning,
                stacklevel=3,
            )
        self._set_params(best.params, source.X.dtype)
        self._stepwise = None
        self.converged_ = bool(best.converged)
        self.n_iter_ = best.n_iter
        self.lower_bound_ = best.lower_bound
        self.lower_bounds_ = list(best.lower_bounds)

    def _check_inits(self, d):
        K, ct = self.n_components, self.covariance_type
        weights = means = precisions = None
        if self.weights_init is not None:
            weights = v.check_array_param(self.weights_init, "weights_init", (K,))
            if np.any(weights < 0) or np.any(weights > 1):
                raise ValidationError("weights_init must lie in [0, 1]")
            if not math.isclose(weights.sum(), 1.0, rel_tol=0, abs_tol=1e-6):
                raise ValidationError(
                    f"weights_init must sum to 1 (it sums to {weights.sum():.6g}); normalise it"
                )
        if self.means_init is not None:
            means = v.check_array_param(self.means_init, "means_init", (K, d))
        if self.precisions_init is not None:
            shape = GaussianFamily(ct).strategy.shape(K, d)
            precisions = v.check_array_param(self.precisions_init, "precisions_init", shape)
            if ct in ("full", "tied"):
                precisions = _symmetric(precisions, ct)
            try:
                GaussianParams.from_precisions(np.zeros((K, d)), precisions, ct)
            except NotPositiveDefiniteError as err:
                what = "matrix" if ct in ("full", "tied") else "values"
                raise ValidationError(
                    f"precisions_init {what} {err.index} is not positive definite "
                    f"('{ct}' covariance_type); pass positive-definite precisions"
                ) from None
        return weights, means, precisions

    def _check_warm_start(self, n_features):
        """Raise unless the previous fit has the shapes the current settings and X need."""
        K, d = self.means_.shape
        expected = GaussianFamily(self.covariance_type).strategy.shape(K, d)
        problems = []
        if K != self.n_components:
            problems.append(f"{K} components (n_components is now {self.n_components})")
        if d != n_features:
            problems.append(f"{d} features (X has {n_features})")
        if self.covariances_.shape != expected:
            problems.append(
                f"covariances_ of shape {self.covariances_.shape} (covariance_type="
                f"{self.covariance_type!r} needs {expected})"
            )
        if problems:
            raise ValidationError(
                "warm_start=True continues the previous fit, which has "
                + " and ".join(problems)
                + "; set warm_start=False to start afresh, or restore the earlier settings."
            )

    def _initial_params(self, family, source, rng, inits):
        weights, means, precisions = inits
        K = self.n_components
        if weights is None or means is None or precisions is None:
            resp_of = assignment(self.init_params, source.X, source.sample_weight, K, rng)
            w0, comps = params_from_assignment(family, source, resp_of, K)
            weights = w0 if weights is None else weights
            if means is not None and precisions is None:
                comps = GaussianParams.from_prec_chol(
                    means, comps.covariances, comps.prec_chol, self.covariance_type
                )
        if precisions is not None:
            m = means if means is not None else comps.means
            comps = GaussianParams.from_precisions(m, precisions, self.covariance_type)
        return MixtureParams(np.asarray(weights, dtype=np.float64), comps)

    # ------------------------------------------------------------------ parameters
    def _set_params(self, params, dtype):
        c = params.components
        self.weights_ = params.weights.astype(dtype)
        self.means_ = c.means.astype(dtype)
        self.covariances_ = c.covariances.astype(dtype)
        self.precisions_cholesky_ = c.prec_chol.astype(dtype)
        self.precisions_ = c.precisions().astype(dtype)

    def _params(self):
        comps = GaussianParams.from_prec_chol(
            self.means_, self.covariances_, self.precisions_cholesky_, self.covariance_type
        )
        return MixtureParams(np.asarray(self.weights_, dtype=np.float64), comps)

    def _n_parameters(self):
        K, d = self.means_.shape
        family = GaussianFamily(self.covariance_type)
        return int(family.n_parameters(K, d) + K - 1)

    # ------------------------------------------------------------------ inference
    def _blocks(self, X):
        """Validate ``X`` and yield ``(log_norm, resp)`` for each block of rows."""
        check_is_fitted(self)
        source = self._source(X, None, reset=False)
        problem = MixtureEM(GaussianFamily(self.covariance_type, self.reg_covar))
        params = self._params()
        for X_block, _ in source.blocks():
            yield problem.log_prob(params, X_block)

    def _map_dask(self, X, method, per_component, dtype=None):
        """Apply ``method`` lazily to each row block of a Dask array."""
        check_is_fitted(self)
        X = X.rechunk({1: -1})
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ValidationError(
                f"X has shape {X.shape}, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input."
            )
        dtype = dtype or (X.dtype if X.dtype in (np.float32, np.float64) else np.float64)
        if per_component:
            return X.map_blocks(method, dtype=dtype, chunks=(X.chunks[0], (self.n_components,)))
        return X.map_blocks(method, dtype=dtype, drop_axis=1)

    def score_samples(self, X):
        """Log-likelihood of each row under the mixture.

        Returns
        -------
        ndarray of shape (n_samples,)
            A Dask array when ``X`` is one.
        """
        if is_dask_collection(X):
            return self._map_dask(X, self.score_samples, per_component=False)
        return np.concatenate([ln for ln, _ in self._blocks(X)])

    def score(self, X, y=None):
        """Mean per-sample log-likelihood of ``X``."""
        return float(self.score_samples(X).mean())

    def predict(self, X):
        """Most probable component of each row, shape (n_samples,); lazy for Dask input."""
        if is_dask_collection(X):
            return self._map_dask(X, self.predict, per_component=False, dtype=np.intp)
        return np.concatenate([r.argmax(axis=1) for _, r in self._blocks(X)])

    def predict_proba(self, X):
        """Posterior probability of each component for each row, shape (n_samples, K)."""
        if is_dask_collection(X):
            return self._map_dask(X, self.predict_proba, per_component=True)
        return np.concatenate([r for _, r in self._blocks(X)])

    def sample(self, n_samples=1):
        """Draw rows from the fitted mixture.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
        y : ndarray of shape (n_samples,)
            Component of each row.
        """
        check_is_fitted(self)
        if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)):
            raise ValidationError(f"n_samples must be an integer >= 1, got {n_samples!r}")
        if n_samples < 1:
            raise ValidationError(
                f"Invalid value for 'n_samples': {n_samples}. The sampling requires at least "
                "one sample."
            )
        rng = v.check_random_state(self.random_state)
        params = self._params()
        counts = rng.multinomial(n_samples, params.weights)
        family = GaussianFamily(self.covariance_type)
        X = np.vstack(
            [family.sample(params.components, k, int(c), rng) for k, c in enumerate(counts)]
        )
        y = np.concatenate([np.full(int(c), k, dtype=np.int64) for k, c in enumerate(counts)])
        return X, y

    # ------------------------------------------------------------------ criteria
    def bic(self, X):
        """Bayesian information criterion on ``X`` (lower is better)."""
        log_prob = self.score_samples(X)
        total = np.sum(log_prob, dtype=np.float64)
        return criteria.bic(total, self._n_parameters(), log_prob.shape[0])

    def aic(self, X):
        """Akaike information criterion on ``X`` (lower is better)."""
        log_prob = self.score_samples(X)
        return criteria.aic(np.sum(log_prob, dtype=np.float64), self._n_parameters())

    def icl(self, X):
        """Integrated completed likelihood on ``X`` (lower is better).

        BIC plus twice the entropy of the responsibilities, ``-2 sum_ik t_ik log t_ik``
        (Biernacki, Celeux & Govaert, 2000): it penalises overlapping components, so it
        prefers well-separated clusters where BIC prefers the best density.
        """
        total_ll = 0.0
        entropy = 0.0
        n = 0
        for log_norm, resp in self._blocks(X):
            total_ll += float(np.sum(log_norm, dtype=np.float64))
            r = resp.astype(np.float64)
            entropy -= float(np.sum(r * np.log(np.where(r > 0, r, 1.0))))
            n += log_norm.shape[0]
        return criteria.bic(total_ll, self._n_parameters(), n) + 2 * entropy

    # ------------------------------------------------------------------ model files
    # Largest disagreement, relative to the largest entry of the component, between a stored
    # array and the one derived from covariances_ that is taken for rounding.
    _STATE_RTOL = ((np.dtype(np.float64), 1e-6), (np.dtype(np.float32), 1e-2))

    def _check_fitted_state(self):
        """Check that the fitted attributes form a consistent model (e.g. one read from a file).

        Checks the parameters, the types of the scalar attributes, the shape, dtype and
        finiteness of the five parameter arrays, that ``weights_`` sum to 1, that
        ``covariances_`` are symmetric positive definite, and that ``precisions_cholesky_`` and
        ``precisions_`` are the ones they imply (scoring reads the former, sampling the
        latter).

        Raises
        ------
        ValueError or TypeError
            Naming the first inconsistent attribute.
        """
        self._check_params()
        state = vars(self)
        scalars = {
            "n_features_in_": int,
            "converged_": bool,
            "n_iter_": int,
            "lower_bound_": (int, float),
            "lower_bounds_": list,
        }
        for name, types in scalars.items():
            if name not in state:
                raise ValueError(f"attribute {name!r} is missing")
            value = state[name]
            if not isinstance(value, types) or (isinstance(value, bool) and types is not bool):
                kind = types.__name__ if isinstance(types, type) else "a number"
                raise TypeError(f"{name} must be {kind}, got {value!r}")
        if not all(isinstance(b, (int, float)) for b in self.lower_bounds_):
            raise TypeError("lower_bounds_ must be a list of numbers")
        K, d = self.n_components, self.n_features_in_
        if d < 1:
            raise ValueError(f"n_features_in_ must be >= 1, got {d}")
        names = state.get("feature_names_in_")
        if names is not None and (not isinstance(names, np.ndarray) or names.shape != (d,)):
            raise ValueError("feature_names_in_ must hold n_features_in_ strings")
        cov_shape = GaussianFamily(self.covariance_type).strategy.shape(K, d)
        shapes = {
            "weights_": (K,),
            "means_": (K, d),
            "covariances_": cov_shape,
            "precisions_cholesky_": cov_shape,
            "precisions_": cov_shape,
        }
        for name, shape in shapes.items():
            arr = state.get(name)
            if arr is None:
                raise ValueError(f"attribute {name!r} is missing")
            if not isinstance(arr, np.ndarray) or arr.dtype not in v.FLOAT_DTYPES:
                dtype = getattr(arr, "dtype", type(arr).__name__)
                raise TypeError(f"{name} has dtype {dtype}; expected float64 or float32")
            if arr.shape != shape:
                raise ValueError(f"{name} has shape {arr.shape}; expected {shape}")
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"{name} contains NaN or infinity")
        if len({state[name].dtype for name in shapes}) != 1:
            raise TypeError("the parameter arrays have mixed dtypes")
        weights = self.weights_
        if np.any(weights < 0) or not abs(float(weights.sum()) - 1.0) <= 1e-4:
            raise ValueError("weights_ are not non-negative numbers summing to 1")
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
            f"precisions_init matrix {int(bad[0])} is not symmetric ('{covariance_type}' "
            "covariance_type); pass symmetric positive-definite precisions"
        )
    return 0.5 * (precisions + np.swapaxes(precisions, -1, -2))
