"""The Gaussian family: parameters, additive statistics and the M-step.

Used as mixture components and as HMM emissions. Second moments are accumulated centred on a
reference point (the iteration's current means), never as ``E[xx^T] - mu mu^T``, which keeps
float32 input and data far from the origin accurate.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from emkit.exceptions import DegenerateComponentWarning, ValidationError
from emkit.families.base import TINY_COUNT, FamilyBase, Stats, has_missing, sum_stats
from emkit.families.covariance import (
    COVARIANCE_TYPES,
    STRATEGIES,
    NotPositiveDefiniteError,
    kernel_module,
)
from emkit.kernels import gaussian_missing_numpy as missing_numpy
from emkit.kernels import recentre as recentre_kernels

# Relative size of the first diagonal jitter tried on a covariance that is not positive
# definite (after reg_covar); it grows tenfold per retry.
_JITTER_START = 1e-10
_JITTER_TRIES = 12


@dataclass(frozen=True)
class GaussianParams:
    """Means and covariances of ``K`` Gaussian components, with derived caches.

    Parameters
    ----------
    means : ndarray of shape (K, d)
    covariances : ndarray
        Shape (K, d, d) full, (d, d) tied, (K, d) diag, (K,) spherical.
    covariance_type : str
    prec_chol : ndarray
        Precision-Cholesky factors, same shape as ``covariances``.
    log_det : ndarray of shape (K,)
        Log-determinant of each precision-Cholesky factor.
    """

    means: np.ndarray
    covariances: np.ndarray
    covariance_type: str
    prec_chol: np.ndarray = field(repr=False)
    log_det: np.ndarray = field(repr=False)

    @property
    def n_components(self):
        """Number of components ``K``."""
        return self.means.shape[0]

    @property
    def n_features(self):
        """Number of features ``d``."""
        return self.means.shape[1]

    @classmethod
    def from_covariances(cls, means, covariances, covariance_type):
        """Build parameters from covariances; raises ``NotPositiveDefiniteError``."""
        strat = STRATEGIES[covariance_type]
        means = np.asarray(means, dtype=np.float64)
        cov = np.asarray(covariances, dtype=np.float64)
        pc = strat.prec_chol(cov)
        return cls._build(means, cov, covariance_type, pc)

    @classmethod
    def from_precisions(cls, means, precisions, covariance_type):
        """Build parameters from precisions; raises ``NotPositiveDefiniteError``."""
        strat = STRATEGIES[covariance_type]
        means = np.asarray(means, dtype=np.float64)
        pc = strat.prec_chol_from_precisions(np.asarray(precisions, dtype=np.float64))
        return cls._build(means, strat.covariances_from_prec_chol(pc), covariance_type, pc)

    @classmethod
    def from_prec_chol(cls, means, covariances, prec_chol, covariance_type):
        """Build parameters from all three arrays (no factorisation, no checks)."""
        return cls._build(
            np.asarray(means, dtype=np.float64),
            np.asarray(covariances, dtype=np.float64),
            covariance_type,
            np.asarray(prec_chol, dtype=np.float64),
        )

    @classmethod
    def _build(cls, means, cov, covariance_type, pc):
        strat = STRATEGIES[covariance_type]
        K, d = means.shape
        log_det = np.asarray(strat.log_det(pc, d), dtype=np.float64)
        if log_det.shape != (K,):  # one value shared by every component
            log_det = np.full(K, log_det)
        return cls(means, cov, covariance_type, pc, np.ascontiguousarray(log_det))

    def precisions(self):
        """Precision matrices, in the covariance layout."""
        return STRATEGIES[self.covariance_type].precisions(self.prec_chol)

    def component_covariance(self, k):
        """Dense (d, d) covariance of component ``k``."""
        strat = STRATEGIES[self.covariance_type]
        return strat.component_covariance(self.covariances, k, self.n_features)


@dataclass
class GaussianStats(Stats):
    """Additive centred statistics of ``K`` Gaussian components.

    Parameters
    ----------
    counts : ndarray of shape (K,)
        Summed posterior weights.
    sums : ndarray of shape (K, d)
        ``sum_i w_ik (x_i - ref_k)``.
    scatter : ndarray
        Centred second moments in the covariance type's layout.
    ref : ndarray of shape (K, d)
        The reference point the moments are centred on (carried, not added).
    """

    carried = ("ref",)

    counts: np.ndarray
    sums: np.ndarray
    scatter: np.ndarray
    ref: np.ndarray


class GaussianFamily(FamilyBase):
    """Multivariate Gaussian components with one of four covariance structures.

    Parameters
    ----------
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    reg_covar : float
        Non-negative value added to the diagonal of every covariance.
    """

    param_names = ("means", "covariances")
    #: Rows may come with measurement-noise covariances (the ``noise`` keyword, XD).
    supports_noise = True

    def __init__(self, covariance_type="full", reg_covar=1e-6):
        if covariance_type not in STRATEGIES:
            raise ValueError(
                f"covariance_type must be one of {COVARIANCE_TYPES}, got {covariance_type!r}"
            )
        self.covariance_type = covariance_type
        self.reg_covar = float(reg_covar)
        self.strategy = STRATEGIES[covariance_type]

    def log_likelihood(self, params, X, noise=None):
        """Per-component log-densities, shape (n, K), in the dtype of ``X``.

        A row with missing (NaN) coordinates gets the density of its observed coordinates
        (the marginal of each component); a row with none observed gets 0. With ``noise``
        (n, d, d), each row's measurement-noise covariance: the density of the noisy row,
        ``N(x_i; m_k, V_k + S_i)`` (extreme deconvolution).
        """
        if noise is not None:
            out = _xd_kernels().log_prob(*self._xd_inputs(params, X, noise))
            return out.astype(X.dtype, copy=False)
        if has_missing(X):
            X64, order, starts = _missing_layout(X)
            cov = self.dense_covariances(params)
            out = _missing_kernels().log_prob(
                X64, order, starts, params.means, cov, not self.strategy.dense
            )
            return out.astype(X.dtype, copy=False)
        return self.strategy.log_prob(X, params.means, params.prec_chol, params.log_det)

    def dense_covariances(self, params):
        """Dense covariances, shape (K, d, d), or (1, d, d) when all components share one."""
        strat, d = self.strategy, params.n_features
        K = 1 if strat.shared else params.n_components
        return strat.full_matrices(params.covariances, K, d)

    def check_data(self, X, name="X"):
        """Real-valued rows: validated at the estimator's edge already; returned as they are."""
        return X

    def accumulate(self, params, X, wresp, noise=None):
        """Statistics of rows ``X`` under posterior weights ``wresp`` of shape (n, K).

        Centred on ``params.means`` (on the origin when ``params`` is None). With ``noise``
        (see :meth:`log_likelihood`), those of the true points' conditional distributions
        given the noisy rows (which need ``params``).
        """
        if noise is not None:
            if params is None:
                raise ValueError("statistics of noisy rows need parameters")
            X64, S, means, cov = self._xd_inputs(params, X, noise)
            wresp = np.ascontiguousarray(wresp, dtype=np.float64)
            counts, sums, dense = _xd_kernels().scatter(X64, S, wresp, means, cov)
            return GaussianStats(counts, sums, self.strategy.scatter_from_dense(dense), means)
        if has_missing(X):
            if params is None:
                raise ValueError("statistics of rows with missing values need parameters")
            X64, order, starts = _missing_layout(X)
            cov = self.dense_covariances(params)
            counts, sums, dense = _missing_kernels().scatter(
                X64, wresp, order, starts, params.means, cov, not self.strategy.dense
            )
            return GaussianStats(
                counts, sums, self.strategy.scatter_from_dense(dense), params.means
            )
        if params is None:
            return self.accumulate_at(np.zeros((wresp.shape[1], X.shape[1])), X, wresp)
        return self.accumulate_at(params.means, X, wresp)

    def accumulate_at(self, ref, X, wresp):
        """Like :meth:`accumulate`, centred on ``ref`` of shape (K, d)."""
        counts, sums, scatter = self.strategy.scatter(X, wresp, ref)
        return GaussianStats(counts, sums, scatter, ref)

    def expect_mixture(self, params, log_weights, X, w, noise=None):
        """Fused E-step of a mixture of these components over one block of rows.

        One pass over ``X`` gives what :meth:`log_likelihood`, the mixture posterior and
        :meth:`accumulate` give together, without forming the (n, K) responsibilities.

        Parameters
        ----------
        params : GaussianParams
        log_weights : ndarray of shape (K,)
            Log mixture weights.
        X : ndarray of shape (n, d)
        w : ndarray of shape (n,) or None
            Row weights (None for all ones).
        noise : ndarray of shape (n, d, d) or None
            Each row's measurement-noise covariance (extreme deconvolution, Bovy, Hogg &
            Roweis 2011): the statistics are then those of the true points given the noisy
            rows, so the M-step is the XD update of every covariance structure.

        Returns
        -------
        log_likelihood : float
            ``sum_i w_i log p(x_i)`` over the rows with ``w_i > 0``.
        stats : GaussianStats
            Centred on ``params.means``, under the weighted responsibilities.
        worst_score : float
            Lowest ``log p(x_i)`` among the rows with ``w_i > 0`` (``inf`` if none).
        worst_index : int
            Its row, the first on ties (-1 if none).
        """
        if noise is not None:
            X64, S, means, cov = self._xd_inputs(params, X, noise)
            weights = np.empty(0) if w is None else np.ascontiguousarray(w, dtype=np.float64)
            ll, counts, sums, dense, score, index = _xd_kernels().mixture_estep(
                X64, S, weights, means, cov, np.ascontiguousarray(log_weights, dtype=np.float64)
            )
            scatter = self.strategy.scatter_from_dense(dense)
            return ll, GaussianStats(counts, sums, scatter, means), score, index
        if has_missing(X):
            return self._expect_missing(params, log_weights, X, w)
        ll, counts, sums, scatter, score, index = self.strategy.mixture_estep(
            X, w, params.means, params.prec_chol, params.log_det, log_weights
        )
        return ll, GaussianStats(counts, sums, scatter, params.means), score, index

    def _xd_inputs(self, params, X, noise):
        """Contiguous float64 rows, noise covariances, means and dense covariances."""
        if has_missing(X):
            raise ValidationError(
                "X has missing values (NaN) and noise covariances; extreme deconvolution "
                "needs every value: drop or impute those rows"
            )
        return (
            np.ascontiguousarray(X, dtype=np.float64),
            np.ascontiguousarray(noise, dtype=np.float64),
            np.ascontiguousarray(params.means, dtype=np.float64),
            np.ascontiguousarray(self.dense_covariances(params), dtype=np.float64),
        )

    def _expect_missing(self, params, log_weights, X, w):
        """The E-step of a block with missing values: exact EM of the observed values.

        Each row is scored on its observed coordinates; its statistics are those of the row
        completed by the conditional expectation of the missing coordinates, plus their
        conditional covariance in the scatter (Ghahramani & Jordan, 1994), so the M-step of
        every covariance structure is the exact EM update.
        """
        X64, order, starts = _missing_layout(X)
        weights = np.empty(0) if w is None else np.ascontiguousarray(w, dtype=np.float64)
        ll, counts, sums, dense, score, index = _missing_kernels().mixture_estep(
            X64,
            weights,
            order,
            starts,
            params.means,
            self.dense_covariances(params),
            np.ascontiguousarray(log_weights, dtype=np.float64),
            not self.strategy.dense,
        )
        scatter = self.strategy.scatter_from_dense(dense)
        return ll, GaussianStats(counts, sums, scatter, params.means), score, index

    def impute(self, params, X, resp, rng=None):
        """``X`` with its missing values filled in, given each row's posterior ``resp``.

        Parameters
        ----------
        params : GaussianParams
        X : ndarray of shape (n, d)
        resp : ndarray of shape (n, K)
            Posterior probabilities of the components given each row's observed values.
        rng : numpy.random.RandomState, optional
            None: each missing value becomes ``sum_k resp_ik E[x_m | x_o, k]``. Otherwise
            ``resp`` is one-hot and the row's missing values are drawn from
            ``N(E[x_m | x_o, k], Cov[x_m | x_o, k])`` for its component ``k``.

        Returns
        -------
        ndarray of shape (n, d), float64.
        """
        X64, order, starts = _missing_layout(X)
        out = X64.copy()
        cov = self.dense_covariances(params)
        means = params.means
        K = params.n_components
        for rows, _, mis, parts in missing_numpy.pattern_parts(X64, order, starts, means, cov):
            if mis.size == 0:
                continue
            R = resp[rows]
            cond = [means[k, mis] + E[:, mis] for k, (_, E, _) in enumerate(parts)]
            if rng is None:
                out[np.ix_(rows, mis)] = sum(R[:, k : k + 1] * cond[k] for k in range(K))
                continue
            labels = R.argmax(axis=1)
            for k in np.unique(labels):
                at = np.flatnonzero(labels == k)
                noise = rng.multivariate_normal(np.zeros(mis.size), parts[k][2], at.size)
                out[np.ix_(rows[at], mis)] = cond[k][at] + noise
        mask = self.empty_rows(X64)
        empty = np.flatnonzero(mask) if mask is not None else np.empty(0, dtype=np.intp)
        if empty.size and rng is None:
            out[empty] = resp[empty] @ means
        elif empty.size:
            labels = resp[empty].argmax(axis=1)
            for k in np.unique(labels):
                at = empty[labels == k]
                out[at] = self.sample(params, int(k), at.size, rng)
        return out

    def initial_params(self, weighted_blocks, n_components):
        """Two passes: the means of the assignment, then the scatter centred on them."""
        first = sum_stats(partial(self.accumulate, None), weighted_blocks)
        means = first.ref + first.sums / (first.counts + TINY_COUNT)[:, None]
        stats = sum_stats(partial(self.accumulate_at, means), weighted_blocks)
        return self.maximize(stats), stats

    def maximize(self, stats, params=None, fixed=frozenset(), empty=()):
        """New parameters from summed statistics.

        Parameters
        ----------
        stats : GaussianStats
        params : GaussianParams, optional
            Current parameters; needed when ``fixed`` names ``'means'`` or ``'covariances'``.
        fixed : set of str
            Parameters to keep: ``'means'`` and/or ``'covariances'``.
        empty : sequence of int
            Unused: the mixture re-seeds empty components (see :meth:`reseed`).

        Returns
        -------
        GaussianParams
            Covariances that are not positive definite even after ``reg_covar`` get the
            smallest diagonal jitter that makes them so, with a
            :class:`~emkit.exceptions.DegenerateComponentWarning` naming the component.
        """
        strat = self.strategy
        counts = stats.counts + TINY_COUNT
        d = stats.ref.shape[1]
        if "means" in fixed:
            # Given fixed means, the covariance M-step is the scatter about those means (not
            # about the weighted mean): move the statistics onto them, where the sums vanish.
            means = params.means
            moved = self.moved_to(stats, means)
            sums, scatter = np.zeros_like(moved.sums), moved.scatter
        else:
            means = stats.ref + stats.sums / counts[:, None]
            sums, scatter = stats.sums, stats.scatter
        if "covariances" in fixed:
            return GaussianParams.from_prec_chol(
                means, params.covariances, params.prec_chol, self.covariance_type
            )
        cov = strat.covariance(counts, sums, scatter, self.reg_covar, d)
        return self.make_params(means, cov)

    def make_params(self, means, cov):
        """Parameters from means and covariances, repairing any non-PD covariance."""
        # One variance scale for every repair in this call, taken before any jitter (from
        # the covariances as given, on the first repair), so that equally degenerate
        # components get equal jitter whatever their order.
        scale = None
        # Each failed factorisation repairs one component, so at most one try per component.
        n_blocks = 1 if self.strategy.shared else len(cov)
        for _ in range(n_blocks + 1):
            try:
                return GaussianParams.from_covariances(means, cov, self.covariance_type)
            except NotPositiveDefiniteError as err:
                scale = self._variance_scale(cov) if scale is None else scale
                cov = self._jitter(cov, err.index, scale)
        raise np.linalg.LinAlgError("covariance could not be repaired")  # pragma: no cover

    def _variance_scale(self, cov):
        """Largest positive mean variance over the components (1.0 when there is none)."""
        strat = self.strategy
        K = 1 if strat.shared else cov.shape[0]
        scales = [strat.variance_scale(cov, j) for j in range(K)]
        return max([s for s in scales if np.isfinite(s) and s > 0], default=1.0)

    def _jitter(self, cov, k, scale):
        strat = self.strategy
        amount = _JITTER_START * scale
        for _ in range(_JITTER_TRIES):
            trial = strat.add_to_diagonal(cov, k, amount)
            try:
                strat.prec_chol(trial if strat.shared else trial[k : k + 1])
            except NotPositiveDefiniteError:
                amount *= 10.0
                continue
            break
        what = "the tied covariance is" if strat.shared else f"component {k} has a covariance"
        warnings.warn(
            f"{what} not positive definite (collapsed onto "
            f"too few distinct points, or reg_covar={self.reg_covar:g} is too small); added "
            f"{amount:.3g} to its diagonal. Increase reg_covar to avoid this.",
            DegenerateComponentWarning,
            stacklevel=4,
        )
        return strat.add_to_diagonal(cov, k, amount)

    def recentre(self, stats, like):
        """``stats`` centred on the reference point of the statistics ``like`` (exact)."""
        return self.moved_to(stats, like.ref)

    def moved_to(self, stats, ref):
        """The same statistics centred on ``ref`` of shape (K, d) instead (exact)."""
        delta = ref - stats.ref
        shift = recentre_kernels.SHIFTS[self.strategy.layout]
        return GaussianStats(
            stats.counts,
            recentre_kernels.shift_sums(stats.counts, stats.sums, delta),
            shift(stats.counts, stats.sums, stats.scatter, delta),
            ref,
        )

    def pooled_covariance(self, stats, params):
        """Dense (d, d) within-component covariance pooled over all components."""
        counts = stats.counts
        d = stats.ref.shape[1]
        dense = np.zeros((d, d))
        for k in range(params.n_components):
            dense += counts[k] * params.component_covariance(k)
        return dense / max(counts.sum(), np.finfo(np.float64).tiny)

    def reseed(self, params, k, row, stats):
        """Component ``k`` moved onto ``row`` with the covariance pooled over components."""
        means = params.means.copy()
        means[k] = row
        pooled = self.pooled_covariance(stats, params)
        cov = self.strategy.replace(params.covariances, k, pooled)
        return self.make_params(means, cov)

    def n_parameters(self, n_components, n_features):
        """Free parameters of means and covariances."""
        cov = self.strategy.n_parameters(n_components, n_features)
        return cov + n_components * n_features

    def sample(self, params, k, n, rng):
        """Draw ``n`` rows from component ``k`` with a ``numpy.random.RandomState``."""
        d = params.n_features
        if self.strategy.dense:
            return rng.multivariate_normal(params.means[k], params.component_covariance(k), n)
        scale = np.sqrt(params.component_covariance(k).diagonal())
        return params.means[k] + rng.standard_normal(size=(n, d)) * scale


def _missing_kernels():
    """The missing-value kernel module chosen by :func:`~emkit.families.covariance.use_kernels`."""
    return kernel_module("missing", "gaussian_missing")


def _xd_kernels():
    """The extreme-deconvolution kernel module chosen by ``use_kernels``."""
    return kernel_module("xd", "gaussian_xd")


def _missing_layout(X):
    """A block as contiguous float64 with its rows grouped by missingness pattern."""
    X64 = np.ascontiguousarray(X, dtype=np.float64)
    order, starts = missing_numpy.missing_patterns(np.isnan(X64))
    return X64, order, starts
