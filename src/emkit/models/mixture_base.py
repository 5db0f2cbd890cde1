"""The base mixture estimator: fit, partial_fit, predict, score, sample and criteria.

A mixture estimator is a weight vector plus a component family. This class holds everything
that does not depend on the family: validation of the common hyperparameters, data sources
(in memory, memory-mapped, Dask), restarts and warm starts, stepwise EM, inference and
information criteria. A subclass (``GaussianMixture``, ``PoissonMixture``, ...) says which
family it fits and how the family's parameters map to its public attributes, through a few
hooks:

- ``_make_family()``: the family (from the hyperparameters).
- ``_check_family_params()``: validate the subclass's own hyperparameters.
- ``_check_data(X, reset)``: validate an in-memory ``X`` and return what the family reads.
- ``_check_block(X)``: validate one block of a streamed (memory-mapped or Dask) ``X``.
- ``_check_inits(n_features)``: ``(weights, given)`` from the ``*_init`` arguments; ``given``
  is whatever ``_init_components`` needs.
- ``_init_components(given, assigned)``: component parameters from the user's inits and the
  parameters of the initial assignment (None when the inits are complete).
- ``_inits_complete(given)``: whether the inits fix every component parameter.
- ``_set_components(params, dtype)`` / ``_get_components()``: public attributes <-> family
  parameters.
- ``_n_weights()``: the length of ``weights_`` (``n_components``, plus any component without
  parameters of its own, such as a uniform background).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted

from emkit import _validation as v
from emkit import criteria
from emkit.engine.dask_source import is_dask_collection, require_dask
from emkit.engine.em import EMResult, fit_restarts
from emkit.engine.initialization import INIT_METHODS, assignment, params_from_assignment
from emkit.engine.mixture import MixtureEM, MixtureParams
from emkit.engine.online import stepwise_update
from emkit.engine.progress import Progress
from emkit.engine.sources import ArraySource, default_chunk_size
from emkit.exceptions import ValidationError
from emkit.families.base import draw_rows
from emkit.models._constructor import passed_on
from emkit.models._inputs import (
    INIT_SAMPLE_ROWS,
    check_labels,
    check_noise_covariance,
    is_out_of_core,
    open_array,
    streamed_source,
)
from emkit.models._state import unchanged_on_error
from emkit.models.summary import html_view, mime_bundle, mixture_summary

_COMMON_NAMES = (
    "n_components",
    "tol",
    "max_iter",
    "n_init",
    "init_params",
    "weights_init",
    "random_state",
    "warm_start",
    "verbose",
    "verbose_interval",
    "chunk_size",
    "learning_decay",
    "learning_offset",
)


def common_arguments(arguments):
    """The base estimator's keyword arguments out of a subclass constructor's ``locals()``."""
    return passed_on(arguments, _COMMON_NAMES)


class BaseMixture(DensityMixin, BaseEstimator):
    """Shared behaviour of emkit's mixture estimators (see the module docstring)."""

    #: Attribute that exists once the estimator is fitted (sklearn's ``check_is_fitted``).
    _fitted_marker = "weights_"

    def __init__(
        self,
        n_components,
        *,
        tol=1e-3,
        max_iter=100,
        n_init=1,
        init_params="kmeans",
        weights_init=None,
        random_state=None,
        warm_start=False,
        verbose=0,
        verbose_interval=10,
        chunk_size=None,
        learning_decay=0.6,
        learning_offset=2.0,
    ):
        self.n_components = n_components
        self.tol = tol
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.chunk_size = chunk_size
        self.learning_decay = learning_decay
        self.learning_offset = learning_offset

    # ------------------------------------------------------------------ hooks
    def _make_family(self):
        raise NotImplementedError

    def _check_family_params(self):
        """Validate the subclass's own hyperparameters (none by default)."""

    def _check_data(self, X, reset):
        X = v.check_X(self, X, reset=reset)
        return self._make_family().check_data(X)

    def _check_block(self, X):
        return self._make_family().check_data(X)

    def _check_inits(self, n_features):
        return self._check_weights_init(), None

    def _inits_complete(self, given):
        return given is not None

    def _init_components(self, given, assigned):
        return assigned if given is None else given

    def _set_components(self, components, dtype):
        raise NotImplementedError

    def _n_weights(self):
        """Length of ``weights_``: ``n_components``, plus any component without parameters."""
        return self.n_components

    def _get_components(self):
        raise NotImplementedError

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y=None, sample_weight=None, labels=None, noise_covariance=None):
        """Estimate the parameters with EM.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            In memory, a ``numpy.memmap``, a path to a ``.npy`` file, or a Dask array. NaN
            marks a missing value: EM fits the model of the observed values exactly (each
            row scored on its observed values, the missing ones completed by their
            conditional expectations in the M-step). A row with every value missing is left
            out, with one warning; the initialisation uses the rows without a missing value
            when there are at least 10 per component, otherwise every row with its gaps
            filled by the column means.
        y : ignored
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights. Integer weights fit the same model as repeated rows;
            a zero weight the same as the row removed.
        labels : array-like of int of shape (n_samples,), default=None
            Semi-supervised fit (mclust's ``MclustSSC``): the known component of each row,
            -1 where unknown (a Dask array, chunked with ``X``, for Dask ``X``). A labelled
            row keeps a one-hot responsibility on its component and contributes
            ``log(weights_[k] p_k(x))`` to the log-likelihood; the others are fitted as
            usual. A component with labelled rows starts from them alone, the others from
            ``init_params`` (its clusters renumbered to agree with the labels; the k-means
            initialisation serves this best). All -1 (or None) is the unsupervised fit. ``y``
            is not used for this, so that scikit-learn's checks, which pass class labels
            as ``y``, keep fitting the unsupervised model.
        noise_covariance : array-like of shape (n_samples, n_features, n_features) or \
(n_samples, n_features), default=None
            Extreme deconvolution (Bovy, Hogg & Roweis 2011; GaussianMixture only): each
            row's measurement-noise covariance (or variances), so that the fitted mixture
            is that of the true, noise-free points; a memory map (or ``.npy`` path) beside
            a memory-mapped ``X``, a Dask array (chunked with ``X``) beside a Dask ``X``.
            Each row is scored with ``N(x; mean_k, covariance_k + S_i)``.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        with unchanged_on_error(self):
            self._fit(X, sample_weight, labels, noise_covariance)
        return self

    def fit_predict(self, X, y=None, sample_weight=None, labels=None, noise_covariance=None):
        """Fit, then return the component of each row (the same as ``fit(X).predict(X)``).

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        self.fit(X, sample_weight=sample_weight, labels=labels, noise_covariance=noise_covariance)
        return self.predict(X, noise_covariance=noise_covariance)

    def partial_fit(self, X, y=None, sample_weight=None, labels=None, noise_covariance=None):
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
        labels : array-like of int of shape (n_samples,), default=None
            Known components of the block's rows, -1 where unknown (see :meth:`fit`).
        noise_covariance : array-like, default=None
            The rows' measurement-noise covariances (see :meth:`fit`).

        Returns
        -------
        self : object
            With ``n_steps_`` (blocks seen) and ``lower_bound_`` (mean log-likelihood of
            this block under the parameters before the step).
        """
        with unchanged_on_error(self):
            self._partial_fit(X, sample_weight, labels, noise_covariance)
        return self

    def _partial_fit(self, X, sample_weight, labels=None, noise=None):
        self._check_params()
        fitted = hasattr(self, self._fitted_marker)
        source = self._fit_source(X, sample_weight, labels, noise, reset=not fitted)
        family = self._make_family()
        self._warn_empty_rows(source, family)
        problem = MixtureEM(family)
        state = getattr(self, "_stepwise", None)
        if fitted:
            params = self._params()
        else:
            rng = v.check_random_state(self.random_state)
            params = self._initial_params(family, source, rng, self._check_inits(source.n_features))
        params, state, bound = stepwise_update(
            problem,
            params,
            state,
            source,
            decay=self.learning_decay,
            offset=self.learning_offset,
        )
        self._set_params(params, source.dtype)
        self._stepwise = state
        self.n_steps_ = state.n_steps
        self.n_iter_ = state.n_steps
        self.converged_ = False
        self.lower_bound_ = bound
        self.lower_bounds_ = [*getattr(self, "lower_bounds_", []), bound]

    def _check_params(self):
        v.check_int(self.n_components, "n_components", 1)
        v.check_real(self.tol, "tol", 0.0)
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
        self._check_family_params()

    def _chunk_for(self, n_features):
        return self.chunk_size or default_chunk_size(n_features, self.n_components)

    def _source(self, X, sample_weight, *, reset):
        """Validate ``X`` (in memory, memory-mapped, .npy path or Dask) as a block source."""
        K = self.n_components
        if is_out_of_core(X):
            source = streamed_source(
                self, X, sample_weight, self._chunk_for, reset=reset, check=self._check_block
            )
        else:
            X = self._check_data(X, reset)
            w = v.check_sample_weight(sample_weight, X.shape[0])
            if reset and w is not None and np.count_nonzero(w) < K:
                raise ValidationError(
                    f"sample_weight has {np.count_nonzero(w)} positive value(s) but "
                    f"n_components = {K}; every component needs a row of positive weight: "
                    "use fewer components or give more rows a positive weight."
                )
            source = ArraySource(X, w, self._chunk_for(X.shape[1]))
        if reset and source.n_samples < K:
            raise ValidationError(
                f"Expected n_samples >= n_components but got n_components = {K}, "
                f"n_samples = {source.n_samples}; use fewer components or more rows."
            )
        return source

    def _fit_source(self, X, sample_weight, labels, noise=None, *, reset):
        """The source of a fit: :meth:`_source` with known ``labels`` and ``noise`` covariances."""
        source = self._source(X, sample_weight, reset=reset)
        if labels is not None:
            source.attach(labels=check_labels(labels, source.n_samples, self.n_components))
        return self._with_noise(source, noise)

    #: What summaries and plots call a weight past ``n_components`` (see ``_n_weights``).
    _extra_weight_name = "background"

    def _with_noise(self, source, noise):
        """``source`` with the rows' validated noise covariances attached (if given)."""
        if noise is None:
            return source
        if not getattr(self._make_family(), "supports_noise", False):
            raise TypeError(
                f"noise_covariance is not supported by {type(self).__name__}: extreme "
                "deconvolution fits Gaussian components (use GaussianMixture)"
            )
        d = source.n_features
        source.attach(noise=check_noise_covariance(noise, source.n_samples, d, self._chunk_for(d)))
        return source

    @staticmethod
    def _warn_empty_rows(source, family):
        """One warning saying how many rows have every value missing (left out of the fit)."""
        found = getattr(source, "missingness", None)  # what a streamed source's pass found
        if found is not None:
            n_empty = found.empty_rows
        else:
            empty = family.empty_rows(source.X)
            n_empty = 0 if empty is None else int(np.count_nonzero(empty))
        v.warn_empty_rows(n_empty, source.n_samples)

    def _fit(self, X, sample_weight, labels=None, noise=None, convergence=None):
        """:meth:`fit`; ``convergence`` is ``fit_restarts``'s (None: scikit-learn's rule)."""
        self._check_params()
        fitted_features = getattr(self, "n_features_in_", None)
        source = self._fit_source(X, sample_weight, labels, noise, reset=True)
        inits = self._check_inits(source.n_features)
        family = self._make_family()
        self._warn_empty_rows(source, family)
        problem = MixtureEM(family)
        # Complete inits draw nothing: no generator to seed (a RandomState costs ~0.1 ms).
        drawn = is_out_of_core(X) or inits[0] is None or not self._inits_complete(inits[1])
        rng = v.check_random_state(self.random_state) if drawn else None
        init_source = source.sample(rng, INIT_SAMPLE_ROWS) if is_out_of_core(X) else source

        def initialize():
            return self._initial_params(family, init_source, rng, inits)

        warm = None
        if self.warm_start and hasattr(self, "converged_"):
            self._check_warm_start(fitted_features, source.n_features)
            warm = EMResult(self._params(), self.lower_bound_)
        progress = Progress(self.verbose, self.verbose_interval)
        best = fit_restarts(
            problem,
            progress.watch(source) if is_out_of_core(X) else source,
            initialize,
            n_init=self.n_init,
            max_iter=self.max_iter,
            tol=self.tol,
            progress=progress,
            warm=warm,
            convergence=convergence,
        )
        if not best.converged and self.max_iter > 0:
            warnings.warn(
                "Best performing initialization did not converge. Try different init "
                "parameters, or increase max_iter, tol, or check for degenerate data.",
                ConvergenceWarning,
                stacklevel=3,
            )
        self._set_params(best.params, source.dtype)
        self._stepwise = None
        self.converged_ = bool(best.converged)
        self.n_iter_ = best.n_iter
        self.lower_bound_ = best.lower_bound
        self.lower_bounds_ = list(best.lower_bounds)
        self.lower_bounds_per_init_ = progress.traces

    def _check_weights_init(self):
        if self.weights_init is None:
            return None
        K = self._n_weights()
        weights = v.check_array_param(
            self.weights_init, "weights_init", (K,), sklearn_name="weights"
        )
        if np.any(weights < 0) or np.any(weights > 1):
            raise ValidationError(
                "The parameter 'weights' should be in the range [0, 1], but got min value "
                f"{np.min(weights):.5f}, max value {np.max(weights):.5f}: weights_init must lie "
                "in [0, 1]"
            )
        if not math.isclose(weights.sum(), 1.0, rel_tol=0, abs_tol=1e-6):
            raise ValidationError(
                "The parameter 'weights' should be normalized, but got sum(weights) = "
                f"{weights.sum():.5f}: weights_init must sum to 1 (it sums to "
                f"{weights.sum():.6g}); normalise it"
            )
        return weights

    def _check_warm_start(self, fitted_features, n_features):
        """Raise unless the previous fit has the shapes the current settings and X need."""
        problems = self._warm_start_problems()
        if fitted_features != n_features:
            problems.append(f"{fitted_features} features (X has {n_features})")
        if problems:
            raise ValidationError(
                "warm_start=True continues the previous fit, which has "
                + " and ".join(problems)
                + "; set warm_start=False to start afresh, or restore the earlier settings."
            )

    def _warm_start_problems(self):
        """What keeps the previous fit from continuing under the current hyperparameters."""
        K = len(self.weights_)
        if K != self._n_weights():
            return [f"{K} components (n_components is now {self.n_components})"]
        return []

    def _initial_params(self, family, source, rng, inits):
        weights, given = inits
        K = self.n_components
        assigned = None
        if weights is None or not self._inits_complete(given):
            rows = source.rows()
            X0, w0 = family.init_rows(rows.X, rows.weights, K)
            if X0.shape[0] < K:
                raise ValidationError(
                    f"only {X0.shape[0]} row(s) of X have an observed value but n_components = "
                    f"{K}; use fewer components or more rows."
                )
            if X0 is not rows.X:
                source = ArraySource(X0, w0, self._chunk_for(X0.shape[1]))
            features = family.init_features(X0)
            resp_of = assignment(self.init_params, features, w0, K, rng)
            if X0 is rows.X and rows.labels is not None:
                resp_of = labelled_assignment(resp_of, rows.labels, K)
            w0, assigned = params_from_assignment(family, source, resp_of, K)
            weights = w0 if weights is None else weights
        comps = self._init_components(given, assigned)
        return MixtureParams(np.asarray(weights, dtype=np.float64), comps)

    # ------------------------------------------------------------------ parameters
    def _set_params(self, params, dtype):
        # Parameters are float32 for float32 data, float64 otherwise (also for integer codes).
        dtype = dtype if dtype == np.float32 else np.float64
        self.weights_ = params.weights.astype(dtype)
        self._set_components(params.components, dtype)

    def _params(self):
        return MixtureParams(np.asarray(self.weights_, dtype=np.float64), self._get_components())

    def _n_parameters(self):
        K = len(self.weights_)
        return int(self._make_family().n_parameters(K, self.n_features_in_) + K - 1)

    # ------------------------------------------------------------------ inference
    def _blocks(self, X, sample_weight=None, noise=None):
        """Validate ``X`` and yield ``(log_norm, resp, weights)`` for each block of rows."""
        check_is_fitted(self, self._fitted_marker)
        source = self._with_noise(self._source(X, sample_weight, reset=False), noise)
        problem = MixtureEM(self._make_family())
        params = self._params()
        for block in source.blocks():
            X, w = problem.informative_weights(block)
            log_norm, resp = problem.log_prob(params, X, block.noise)
            yield log_norm, resp, w

    def _map_dask(self, X, method, per_component, dtype=None, noise=None):
        """Apply ``method`` lazily to each row block of a Dask array (and of its ``noise``)."""
        check_is_fitted(self, self._fitted_marker)
        X = X.rechunk({1: -1})
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ValidationError(
                f"X has shape {X.shape}, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input."
            )
        dtype = dtype or (X.dtype if X.dtype in (np.float32, np.float64) else np.float64)
        if noise is not None:
            return _map_noisy(X, noise, method, self._n_weights() if per_component else None, dtype)
        if per_component:
            return X.map_blocks(method, dtype=dtype, chunks=(X.chunks[0], (self._n_weights(),)))
        return X.map_blocks(method, dtype=dtype, drop_axis=1)

    def score_samples(self, X, noise_covariance=None):
        """Log-likelihood of each row under the mixture.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        noise_covariance : array-like, default=None
            Each row's measurement-noise covariance (see :meth:`fit`): the density of the
            noisy rows.

        Returns
        -------
        ndarray of shape (n_samples,)
            A Dask array when ``X`` is one.
        """
        if is_dask_collection(X):
            return self._map_dask(X, self.score_samples, False, noise=noise_covariance)
        return np.concatenate([ln for ln, _, _ in self._blocks(X, None, noise_covariance)])

    def _totals(self, X, sample_weight, entropy=False, noise=None):
        """Weighted total log-likelihood, row weight and (if asked) the classification term.

        The classification term is ``-sum_i log t_i,c(i)``, ``c(i)`` the most probable
        component of row ``i`` (see :meth:`icl`).
        """
        total_ll = total_entropy = weight = 0.0
        for log_norm, resp, w in self._blocks(X, sample_weight, noise):
            ln = log_norm.astype(np.float64)
            row_entropy = np.zeros_like(ln)
            if entropy:
                row_entropy = -np.log(resp.astype(np.float64).max(axis=1))
            if w is None:
                total_ll += float(np.sum(ln))
                total_entropy += float(np.sum(row_entropy))
                weight += ln.shape[0]
            else:
                live = w > 0
                total_ll += float(np.dot(w[live], ln[live]))
                total_entropy += float(np.dot(w[live], row_entropy[live]))
                weight += float(np.sum(w))
        return total_ll, total_entropy, weight

    def score(self, X, y=None, sample_weight=None, noise_covariance=None):
        """Mean per-sample log-likelihood of ``X`` (weighted by ``sample_weight`` if given).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored
        sample_weight : array-like of shape (n_samples,), default=None
        noise_covariance : array-like, default=None
            Each row's measurement-noise covariance (see :meth:`fit`).

        Returns
        -------
        float
        """
        total_ll, _, weight = self._totals(X, sample_weight, noise=noise_covariance)
        return total_ll / weight

    def predict(self, X, noise_covariance=None):
        """Most probable component of each row, shape (n_samples,); lazy for Dask input.

        ``noise_covariance``: each row's measurement-noise covariance (see :meth:`fit`).
        """
        if is_dask_collection(X):
            return self._map_dask(X, self.predict, False, dtype=np.intp, noise=noise_covariance)
        return np.concatenate([r.argmax(axis=1) for r in self._posteriors(X, noise_covariance)])

    def predict_proba(self, X, noise_covariance=None):
        """Posterior probability of each component for each row, shape (n_samples, K).

        ``noise_covariance``: each row's measurement-noise covariance (see :meth:`fit`).
        """
        if is_dask_collection(X):
            return self._map_dask(X, self.predict_proba, True, noise=noise_covariance)
        return np.concatenate(list(self._posteriors(X, noise_covariance)))

    def _posteriors(self, X, noise=None):
        """Responsibilities of each block; a row no component can produce is an error."""
        start = 0
        for log_norm, resp, _ in self._blocks(X, None, noise):
            impossible = np.flatnonzero(np.isneginf(log_norm))
            if impossible.size:
                raise ValidationError(
                    f"row {start + int(impossible[0])} of X has probability zero under every "
                    "component (e.g. a positive count where every fitted rate is 0), so its "
                    "component is undefined; score_samples gives it -inf"
                )
            start += log_norm.shape[0]
            yield resp

    def sample(self, n_samples=1):
        """Draw rows from the fitted mixture.

        Parameters
        ----------
        n_samples : int, default=1

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
        y : ndarray of shape (n_samples,)
            Component of each row.
        """
        check_is_fitted(self, self._fitted_marker)
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
        family = self._make_family()
        X = np.concatenate(
            [family.sample(params.components, k, int(c), rng) for k, c in enumerate(counts)]
        )
        y = np.concatenate([np.full(int(c), k, dtype=np.int64) for k, c in enumerate(counts)])
        return self._decode_sample(X), y

    def _decode_sample(self, X):
        """Rows drawn by the family, in the user's representation (as they are by default)."""
        return X

    def impute(self, X, method="mean", random_state=None):
        """``X`` with its missing (NaN) values filled in under the fitted mixture.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows with NaN where a value is missing.
        method : {'mean', 'sample'}, default='mean'
            ``'mean'``: the conditional expectation of each missing value given the row's
            observed values (averaged over the components with their posterior
            probabilities). ``'sample'``: a draw from that conditional distribution (a
            component, then the missing values given it); repeated draws with different
            seeds give a multiple imputation.
        random_state : int, RandomState instance or None, default=None
            Seeds the draws of ``method='sample'``.

        Returns
        -------
        ndarray of shape (n_samples, n_features)
            Observed values unchanged; a row with every value missing gets the mixture's
            mean (or a draw from the mixture). Categorical answers get the most probable
            category (or a draw).
        """
        check_is_fitted(self, self._fitted_marker)
        v.check_choice(method, "method", ("mean", "sample"))
        rng = v.check_random_state(random_state) if method == "sample" else None
        if is_out_of_core(X):  # the result is in memory anyway
            X = np.asarray(open_array(X))
        source = self._source(X, None, reset=False)
        family = self._make_family()
        problem = MixtureEM(family)
        params = self._params()
        parts = []
        for block in source.blocks():
            _, resp = problem.log_prob(params, block.X)
            resp = resp.astype(np.float64)
            if rng is not None:  # one component per row, shared by all its missing values
                resp = np.eye(resp.shape[1])[draw_rows(resp, rng)]
            parts.append(family.impute(params.components, block.X, resp, rng))
        return self._decode_sample(np.concatenate(parts))

    def __sklearn_tags__(self):
        """scikit-learn's tags: NaN in ``X`` is a missing value, not an error."""
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    # ------------------------------------------------------------------ criteria
    def bic(self, X, sample_weight=None):
        """Bayesian information criterion on ``X`` (lower is better).

        With ``sample_weight`` the log-likelihood is weighted and the sample size is the
        total weight, so integer weights give the criterion of the repeated rows.
        """
        total_ll, _, weight = self._totals(X, sample_weight)
        return criteria.bic(total_ll, self._n_parameters(), weight)

    def aic(self, X, sample_weight=None):
        """Akaike information criterion on ``X`` (lower is better), optionally weighted."""
        total_ll, _, _ = self._totals(X, sample_weight)
        return criteria.aic(total_ll, self._n_parameters())

    def icl(self, X, sample_weight=None):
        """Integrated completed likelihood on ``X`` (lower is better), optionally weighted.

        BIC minus twice the log-likelihood of the MAP classification given the data,
        ``-2 sum_i log t_i,c(i)`` with ``c(i)`` the most probable component of row ``i``
        (Biernacki, Celeux & Govaert, 2000; mclust's ``icl``): it penalises overlapping
        components, so it prefers well-separated clusters where BIC prefers the best
        density. (Replacing the classification by the responsibilities gives the entropy
        form of McLachlan & Peel, 2000, which is smaller.)
        """
        total_ll, entropy, weight = self._totals(X, sample_weight, entropy=True)
        return criteria.bic(total_ll, self._n_parameters(), weight) + 2 * entropy

    # ------------------------------------------------------------------ model files
    def _check_fitted_state(self):
        """Check that the fitted attributes form a consistent model (e.g. one read from a file).

        Checks the hyperparameters, the scalar fitted attributes, ``weights_`` and then the
        component parameters (``_check_component_state``).

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
        K, d = self._n_weights(), self.n_features_in_
        if d < 1:
            raise ValueError(f"n_features_in_ must be >= 1, got {d}")
        names = state.get("feature_names_in_")
        if names is not None and (not isinstance(names, np.ndarray) or names.shape != (d,)):
            raise ValueError("feature_names_in_ must hold n_features_in_ strings")
        weights = check_state_array(state, "weights_", (K,))
        if np.any(weights < 0) or not abs(float(weights.sum()) - 1.0) <= 1e-4:
            raise ValueError("weights_ are not non-negative numbers summing to 1")
        self._check_component_state(K, d)

    def _check_component_state(self, K, d):
        raise NotImplementedError

    # ------------------------------------------------------------------ summaries
    def summary(self, X=None, sample_weight=None, feature_names=None):
        """A readable summary of the fitted model (text with ``str``, HTML in notebooks).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), optional
            Data to report the log-likelihood, BIC and AIC of (one pass); without it the
            last iteration's lower bound is shown.
        sample_weight : array-like of shape (n_samples,), optional
        feature_names : list of str, optional
            Column names when the model has no ``feature_names_in_``.

        Returns
        -------
        emkit.models.summary.Summary
            Convergence, log-likelihood, criteria and a table of the components.
        """
        check_is_fitted(self, self._fitted_marker)
        return mixture_summary(self, X, sample_weight, feature_names)

    def _repr_html_(self):
        """The summary as HTML once fitted (scikit-learn's estimator diagram before)."""
        return html_view(self, hasattr(self, self._fitted_marker), self.summary)

    def _repr_mimebundle_(self, **kwargs):
        """What a notebook displays: text and the HTML summary."""
        return mime_bundle(self, hasattr(self, self._fitted_marker), self.summary)


def _map_noisy(X, noise, method, n_columns, dtype):
    """``method(x, noise_covariance=s)`` lazily over the row blocks of ``X`` and ``noise``."""
    _, da = require_dask()
    noise = da.asarray(noise)
    noise = noise.rechunk((X.chunks[0], *((-1,) * (noise.ndim - 1))))

    def one(x, s):
        return method(x, noise_covariance=s)

    axes = "ij" if noise.ndim == 2 else "ijk"
    out = "ic" if n_columns else "i"
    kw = {"new_axes": {"c": n_columns}} if n_columns else {}
    return da.blockwise(one, out, X, "ij", noise, axes, dtype=dtype, concatenate=True, **kw)


def labelled_assignment(resp_of, labels, K):
    """The initial assignment ``resp_of`` with the labelled rows one-hot on their component.

    A component with labelled rows starts from them alone (mclust's start when every
    component has some); the others from the assignment, whose clusters are first renumbered
    to agree best with the labels (the matching of largest overlap), so that the clusters
    the labels name are not also given to another component.
    """
    known = np.flatnonzero(labels >= 0)
    named = np.unique(labels[known])
    order = np.arange(K)
    if named.size < K:
        overlap = np.zeros((K, K))
        np.add.at(overlap, labels[known], np.asarray(resp_of(0, labels.size))[known])
        _, order = linear_sum_assignment(-overlap)

    def resp(start, stop):
        lab = labels[start:stop]
        r = np.zeros((stop - start, K))
        if named.size < K:
            r[:] = np.asarray(resp_of(start, stop))[:, order]
            r[:, named] = 0.0
        rows = np.flatnonzero(lab >= 0)
        r[rows] = 0.0
        r[rows, lab[rows]] = 1.0
        return r

    return resp


def check_state_array(state, name, shape, low=None, high=None):
    """The fitted array ``state[name]``: float, of ``shape``, finite and within [low, high]."""
    arr = state.get(name)
    if arr is None:
        raise ValueError(f"attribute {name!r} is missing")
    if not isinstance(arr, np.ndarray) or arr.dtype not in v.FLOAT_DTYPES:
        dtype = getattr(arr, "dtype", type(arr).__name__)
        raise TypeError(f"{name} has dtype {dtype}; expected float64 or float32")
    if arr.shape != tuple(shape):
        raise ValueError(f"{name} has shape {arr.shape}; expected {tuple(shape)}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinity")
    if (low is not None and np.any(arr < low)) or (high is not None and np.any(arr > high)):
        raise ValueError(f"{name} has values outside [{low}, {high}]")
    return arr


def check_item_state(state, K, n_items):
    """``categories_`` and ``probabilities_`` of ``n_items`` categorical items, consistent."""
    cats, tables = state.get("categories_"), state.get("probabilities_")
    if not isinstance(cats, list) or not isinstance(tables, list):
        raise TypeError("categories_ and probabilities_ must be lists (one entry per item)")
    if len(cats) != n_items or len(tables) != n_items:
        raise ValueError(f"categories_ and probabilities_ must have {n_items} entries")
    for j, (c, t) in enumerate(zip(cats, tables, strict=True)):
        if not isinstance(c, np.ndarray) or c.ndim != 1 or c.size < 1:
            raise TypeError(f"categories_[{j}] must be a non-empty 1-D array")
        name = f"probabilities_[{j}]"
        check_state_array({name: t}, name, (K, c.size), low=0.0, high=1.0)
        if not np.allclose(t.sum(axis=1), 1.0, atol=1e-6):
            raise ValueError(f"probabilities_[{j}] rows do not sum to 1")
