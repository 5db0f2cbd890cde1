"""Covariance strategies for the Gaussian family: full, tied, diag, spherical.

Each strategy owns the shape of its covariance, the precision-Cholesky factor, the
log-density kernel, the centred scatter kernel, the fused mixture E-step kernel, and the map
from statistics to covariances. User-facing values are covariances; precision factors and
log-determinants are derived caches.

Kernels
-------
Every kernel call picks one of three interchangeable implementations (same signatures, same
results to rounding; see :mod:`emkit.kernels`):

``'numpy'``
    :mod:`emkit.kernels.gaussian_numpy`, the reference.
``'numba'``
    :mod:`emkit.kernels.gaussian_numba`, fused tile kernels (one pass over the rows).
``'gemm'``
    :mod:`emkit.kernels.gaussian_gemm`, stacked BLAS products for full and tied covariances
    (diag and spherical use ``'numba'``).

``'auto'`` (the default) means ``'numba'``: the crossover was measured (see
:mod:`emkit.kernels.gaussian_gemm`) and the fused kernels were faster than stacked GEMMs at
every ``d`` tried, up to 512; ``'gemm'`` stays available by request. :func:`use_kernels`
and :func:`set_kernels` choose, as does the ``EMKIT_KERNELS`` environment variable.
Compiled modules are imported on first use, so importing emkit compiles nothing.
"""

from __future__ import annotations

import importlib
import os
from contextlib import contextmanager

import numpy as np
from scipy import linalg

from emkit.families import parsimonious
from emkit.kernels import cholesky_numba
from emkit.kernels.threads import one_blas_thread

KERNELS = ("auto", "numba", "gemm", "numpy")

_state = {"kernels": "auto"}


def _check_kernels(name, source="kernels"):
    if name not in KERNELS:
        raise ValueError(f"{source} must be one of {list(KERNELS)}, got {name!r}")
    return name


def get_kernels():
    """The kernel implementation in use: one of ``'auto'``, ``'numba'``, ``'gemm'``, ``'numpy'``."""
    return _state["kernels"]


def set_kernels(name):
    """Choose the kernel implementation for every later call (see the module notes)."""
    _state["kernels"] = _check_kernels(name)


@contextmanager
def use_kernels(name):
    """Context manager: use kernel implementation ``name`` inside the ``with`` block."""
    previous = _state["kernels"]
    set_kernels(name)
    try:
        yield
    finally:
        _state["kernels"] = previous


def kernel_module(kind, prefix="gaussian"):
    """The kernel module that serves covariance type ``kind``: ``emkit.kernels.<prefix>_<name>``.

    Only the full and tied E-steps have a GEMM variant; everything else runs numba's kernels
    under 'auto' and 'gemm'.
    """
    name = _state["kernels"]
    if name == "auto" or (name == "gemm" and kind not in ("full", "tied")):
        name = "numba"
    return importlib.import_module(f"emkit.kernels.{prefix}_{name}")


def _kernel(op, kind):
    """A function ``f(X, ...)`` that runs kernel ``op`` of ``kind`` from the chosen module."""
    attr = f"{op}_{kind}"

    def call(X, *args):
        return getattr(kernel_module(kind), attr)(X, *args)

    call.__name__ = call.__qualname__ = attr
    call.__doc__ = f"``{attr}`` from the kernel module chosen for this call."
    return staticmethod(call)


if "EMKIT_KERNELS" in os.environ:
    set_kernels(_check_kernels(os.environ["EMKIT_KERNELS"], "EMKIT_KERNELS"))


class NotPositiveDefiniteError(np.linalg.LinAlgError):
    """A covariance or precision matrix is not symmetric positive definite."""

    def __init__(self, index):
        super().__init__(f"matrix {index} is not positive definite")
        self.index = index


def _chol_lower(matrix, index):
    try:
        return linalg.cholesky(matrix, lower=True, check_finite=False)
    except linalg.LinAlgError:
        raise NotPositiveDefiniteError(index) from None


def _prec_chol_from_cov_matrix(cov, index):
    """Upper-triangular U with U @ U.T = inv(cov), as in the precision-Cholesky trick."""
    L = _chol_lower(cov, index)
    if not np.all(np.isfinite(L)) or np.any(np.diag(L) <= 0):
        raise NotPositiveDefiniteError(index)
    return linalg.solve_triangular(L, np.eye(cov.shape[0]), lower=True, check_finite=False).T


def _prec_chol_from_precision_matrix(prec, index):
    # U upper-triangular with U @ U.T == prec: Cholesky of the flipped matrix, flipped back.
    flipped = prec[::-1, ::-1]
    L = _chol_lower(flipped, index)
    return L[::-1, ::-1]


def _cov_from_prec_chol_matrix(prec_chol):
    inv = linalg.solve_triangular(
        prec_chol, np.eye(prec_chol.shape[0]), lower=False, check_finite=False
    )
    return inv.T @ inv


def _check_positive(values):
    """Raise ``NotPositiveDefiniteError`` for the first component with a non-positive value.

    ``values`` has shape (K,) or (K, d) (a row per component); NaN counts as non-positive.
    """
    if values.size and values.min() > 0:  # the usual case, in one reduction (NaN fails it)
        return
    positive = values > 0
    bad = np.flatnonzero(~(positive if values.ndim == 1 else np.all(positive, axis=1)))
    if bad.size:
        raise NotPositiveDefiniteError(int(bad[0]))


def _per_component(value, K):
    """A scalar or (K,)-sized prior weight as shape (K,)."""
    arr = np.asarray(value, dtype=np.float64)
    return np.broadcast_to(arr.reshape(-1) if arr.size == K else arr, (K,))


# Smallest denominator of the conjugate variance update of diag and spherical layouts.
_MIN_VARIANCE_DENOMINATOR = 1e-5


def _symmetric(cov):
    return 0.5 * (cov + np.swapaxes(cov, -1, -2))


class _HMMLayout:
    """Layout helpers shared by the strategies (dense views, validation, restoring components).

    The hidden Markov models' emissions use them so that they never branch on the
    covariance type.
    """

    @classmethod
    def full_matrices(cls, cov, K, d):
        """Every component's dense (d, d) covariance, shape (K, d, d)."""
        return np.stack([cls.component_covariance(cov, k, d) for k in range(K)])

    @staticmethod
    def user_layout(cov, K):
        """User-set covariances in this layout (spherical also takes any array of K values)."""
        return cov

    @staticmethod
    def stored_matrices(cov):
        """The square matrices stored in ``cov`` (to check symmetry); None for diagonals."""
        return None

    @staticmethod
    def restore(cov, old, components):
        """``cov`` with ``components`` set back to their values in ``old`` (a copy)."""
        out = np.array(cov, copy=True)
        out[components] = old[components]
        return out

    @staticmethod
    def nonfinite(cov):
        """Components whose covariance has a non-finite entry, as indices."""
        K = cov.shape[0]
        return np.flatnonzero(~np.all(np.isfinite(cov.reshape(K, -1)), axis=1))

    # --------------------------------------------------- mixtures of ``M`` per state
    # Each of ``K`` states holds ``M`` components; 'tied' means one full covariance per state
    # shared by its components (so the inner family is 'full' over ``K`` blocks).
    inner = None  # name of the strategy of the K * M inner components

    @classmethod
    def mixture_shape(cls, K, M, d):
        """Shape of the covariances of K states of M components each."""
        return (K, M, *cls.shape(1, d)[1:])

    @staticmethod
    def mixture_to_inner(cov, M):
        """The K * M inner components' covariances from the per-state layout."""
        return cov.reshape((-1, *cov.shape[2:]))

    @staticmethod
    def inner_to_mixture(inner, shape, M):
        """The per-state layout from the K * M inner components' covariances."""
        return inner.reshape(shape)

    @classmethod
    def mixture_spread(cls, cv, K, M):
        """One dense covariance repeated for every component of every state."""
        return cls.spread(cv, K * M).reshape(cls.mixture_shape(K, M, cv.shape[0]))

    @classmethod
    def mixture_n_parameters(cls, K, M, d):
        """Free covariance parameters of K states of M components."""
        return cls.n_parameters(K * M, d)

    @staticmethod
    def mixture_dead(dead):
        """Which per-state blocks to keep when the (K, M) components in ``dead`` got no mass."""
        return dead

    @staticmethod
    def mixture_block_name(index, M):
        """Which covariance inner component ``index`` is, for messages."""
        return f"state {index // M}, mixture component {index % M}"


class Full(_HMMLayout):
    """One full covariance matrix per component: shape (K, d, d)."""

    name = "full"
    #: The kernel layout (and recentring rule) the strategy uses.
    layout = "full"
    mclust = False
    #: Covariances are matrices (not variances); one matrix shared by all components.
    dense = True
    shared = False

    @staticmethod
    def shape(K, d):
        """Shape of the covariance (and precision) array."""
        return (K, d, d)

    @staticmethod
    def prec_chol(cov):
        """Precision-Cholesky factors from covariances (compiled for a float64 stack)."""
        if isinstance(cov, np.ndarray) and cov.dtype == np.float64 and cov.ndim == 3:
            out = np.empty_like(cov, order="C")
            bad = cholesky_numba.prec_chol(np.ascontiguousarray(cov), out)
            if bad >= 0:
                raise NotPositiveDefiniteError(bad)
            return out
        with one_blas_thread():
            return np.stack([_prec_chol_from_cov_matrix(c, k) for k, c in enumerate(cov)])

    @staticmethod
    def prec_chol_from_precisions(prec):
        """Precision-Cholesky factors from precisions."""
        with one_blas_thread():
            return np.stack([_prec_chol_from_precision_matrix(p, k) for k, p in enumerate(prec)])

    @staticmethod
    def covariances_from_prec_chol(prec_chol):
        """Covariances from precision-Cholesky factors."""
        with one_blas_thread():
            return np.stack([_cov_from_prec_chol_matrix(u) for u in prec_chol])

    @staticmethod
    def precisions(prec_chol):
        """Precisions from precision-Cholesky factors."""
        with one_blas_thread():
            return prec_chol @ prec_chol.transpose(0, 2, 1)

    @staticmethod
    def log_det(prec_chol, d):
        """``log det`` of each precision-Cholesky factor, shape (K,)."""
        return np.log(np.diagonal(prec_chol, axis1=1, axis2=2)).sum(axis=1)

    log_prob = _kernel("log_prob", "full")
    scatter = _kernel("scatter", "full")
    mixture_estep = _kernel("mixture_estep", "full")

    @staticmethod
    def covariance(counts, sums, scatter, reg_covar, d):
        """M-step: covariances from centred statistics."""
        n = counts[:, None, None]
        delta = sums / counts[:, None]
        cov = scatter / n - delta[:, :, None] * delta[:, None, :]
        cov = 0.5 * (cov + cov.transpose(0, 2, 1))
        cov.reshape(len(cov), -1)[:, :: cov.shape[1] + 1] += reg_covar  # the diagonals
        return cov

    @staticmethod
    def add_to_diagonal(cov, k, amount):
        """Return a copy of ``cov`` with ``amount`` added to component ``k``'s diagonal."""
        out = cov.copy()
        idx = np.arange(cov.shape[1])
        out[k, idx, idx] += amount
        return out

    @staticmethod
    def n_parameters(K, d):
        """Free covariance parameters."""
        return K * d * (d + 1) / 2.0

    @staticmethod
    def component_covariance(cov, k, d):
        """Dense (d, d) covariance of component ``k``."""
        return cov[k]

    @staticmethod
    def variance_scale(cov, k):
        """Mean variance of component ``k`` (for jitter sizes)."""
        return float(np.trace(cov[k]) / cov.shape[1])

    @staticmethod
    def replace(cov, k, pooled):
        """Set component ``k``'s covariance to the dense matrix ``pooled``."""
        out = cov.copy()
        out[k] = pooled
        return out

    @staticmethod
    def scatter_from_dense(dense):
        """The scatter in this layout from dense per-component scatter matrices (K, d, d)."""
        return dense

    inner = "full"

    @staticmethod
    def spread(cv, K):
        """One dense covariance ``cv`` (d, d) repeated for K components."""
        return np.tile(cv, (K, 1, 1))

    @staticmethod
    def stored_matrices(cov):
        """The (K, d, d) matrices."""
        return cov

    @staticmethod
    def conjugate_covariance(scatter, diff, mean_weight, counts, prior, weight):
        """MAP covariances under an inverse-Wishart prior (hmmlearn's GaussianHMM form).

        ``(prior + mean_weight * diff diff^T + scatter) / (max(weight - d, 0) + counts)``.
        """
        K, d = diff.shape
        w = _per_component(mean_weight, K)
        outer = w[:, None, None] * diff[:, :, None] * diff[:, None, :]
        dof = np.maximum(_per_component(weight, K) - d, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            return _symmetric((prior + outer + scatter) / (dof + counts)[:, None, None])

    @staticmethod
    def mixture_conjugate_covariance(scatter, diff, mean_weight, counts, prior, weight):
        """MAP covariances of (K, M) components (hmmlearn's GMMHMM form, full).

        ``scatter`` (K*M, d, d), ``diff`` (K, M, d), ``mean_weight`` and ``counts`` (K, M),
        ``prior`` broadcastable to (K, M, d, d), ``weight`` to (K, M).
        """
        K, M, d = diff.shape
        psi = np.broadcast_to(prior, (K, M, d, d))
        nu = np.broadcast_to(weight, (K, M))
        outer = mean_weight[:, :, None, None] * diff[..., :, None] * diff[..., None, :]
        num = np.swapaxes(psi, -1, -2) + outer + scatter.reshape(K, M, d, d)
        with np.errstate(divide="ignore", invalid="ignore"):
            return _symmetric(num / (counts + 1.0 + nu + d + 1.0)[:, :, None, None])

    @staticmethod
    def mixture_defaults(d, M):
        """``(covars_prior, covars_weight)`` that make the mixture update maximum likelihood."""
        return 0.0, -(d + 2.0)


class Tied(_HMMLayout):
    """One covariance shared by all components: shape (d, d)."""

    name = "tied"
    #: The kernel layout (and recentring rule) the strategy uses.
    layout = "tied"
    mclust = False
    #: Covariances are matrices (not variances); one matrix shared by all components.
    dense = True
    shared = True

    @staticmethod
    def shape(K, d):
        """Shape of the covariance (and precision) array."""
        return (d, d)

    @staticmethod
    def prec_chol(cov):
        """Precision-Cholesky factor from the covariance."""
        with one_blas_thread():
            return _prec_chol_from_cov_matrix(cov, 0)

    @staticmethod
    def prec_chol_from_precisions(prec):
        """Precision-Cholesky factor from the precision."""
        with one_blas_thread():
            return _prec_chol_from_precision_matrix(prec, 0)

    @staticmethod
    def covariances_from_prec_chol(prec_chol):
        """Covariance from the precision-Cholesky factor."""
        with one_blas_thread():
            return _cov_from_prec_chol_matrix(prec_chol)

    @staticmethod
    def precisions(prec_chol):
        """Precision from the precision-Cholesky factor."""
        with one_blas_thread():
            return prec_chol @ prec_chol.T

    @staticmethod
    def log_det(prec_chol, d):
        """``log det`` of the precision-Cholesky factor (a scalar)."""
        return float(np.log(np.diag(prec_chol)).sum())

    log_prob = _kernel("log_prob", "tied")
    scatter = _kernel("scatter", "tied")
    mixture_estep = _kernel("mixture_estep", "tied")

    @staticmethod
    def covariance(counts, sums, scatter, reg_covar, d):
        """M-step: the pooled within-component covariance."""
        delta = sums / counts[:, None]
        between = (counts[:, None, None] * delta[:, :, None] * delta[:, None, :]).sum(axis=0)
        cov = (scatter - between) / counts.sum()
        cov = 0.5 * (cov + cov.T)
        cov.flat[:: d + 1] += reg_covar  # the diagonal
        return cov

    @staticmethod
    def add_to_diagonal(cov, k, amount):
        """Return a copy of ``cov`` with ``amount`` added to its diagonal."""
        out = cov.copy()
        out[np.diag_indices_from(out)] += amount
        return out

    @staticmethod
    def n_parameters(K, d):
        """Free covariance parameters."""
        return d * (d + 1) / 2.0

    @staticmethod
    def component_covariance(cov, k, d):
        """Dense (d, d) covariance of component ``k``."""
        return cov

    @staticmethod
    def variance_scale(cov, k):
        """Mean variance (for jitter sizes)."""
        return float(np.trace(cov) / cov.shape[0])

    @staticmethod
    def replace(cov, k, pooled):
        """The shared covariance is left as it is."""
        return cov

    @staticmethod
    def scatter_from_dense(dense):
        """The scatter in this layout from dense per-component scatter matrices (K, d, d)."""
        return dense.sum(axis=0)

    inner = "full"

    @classmethod
    def full_matrices(cls, cov, K, d):
        """The shared covariance repeated, shape (K, d, d)."""
        return np.tile(cov, (K, 1, 1))

    @staticmethod
    def spread(cv, K):
        """The shared covariance: a copy of ``cv``."""
        return np.array(cv, copy=True)

    @staticmethod
    def stored_matrices(cov):
        """The one (d, d) matrix, as shape (1, d, d)."""
        return cov[None]

    @staticmethod
    def restore(cov, old, components):
        """The shared covariance stays (it is estimated from every component)."""
        return cov

    @staticmethod
    def nonfinite(cov):
        """Components with a non-finite covariance: none or all, as the one matrix is."""
        return np.array([], dtype=np.intp)

    @staticmethod
    def conjugate_covariance(scatter, diff, mean_weight, counts, prior, weight):
        """MAP tied covariance under an inverse-Wishart prior (hmmlearn's GaussianHMM form).

        ``(prior + sum_k mean_weight_k diff_k diff_k^T + scatter) / (max(weight - d, 0) + n)``.
        """
        K, d = diff.shape
        w = _per_component(mean_weight, K)
        outer = np.einsum("k,ki,kj->ij", w, diff, diff)
        dof = np.maximum(np.asarray(weight, dtype=np.float64) - d, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            return _symmetric((prior + outer + scatter) / (dof + counts.sum()))

    @staticmethod
    def mixture_shape(K, M, d):
        """One (d, d) covariance per state: shape (K, d, d)."""
        return (K, d, d)

    @staticmethod
    def mixture_to_inner(cov, M):
        """Each state's covariance repeated for its M components, (K * M, d, d)."""
        return np.repeat(cov, M, axis=0)

    @staticmethod
    def inner_to_mixture(inner, shape, M):
        """One covariance per state (the first of its M equal copies)."""
        return inner[::M]

    @classmethod
    def mixture_spread(cls, cv, K, M):
        """One dense covariance for each state."""
        return np.tile(cv, (K, 1, 1))

    @staticmethod
    def mixture_n_parameters(K, M, d):
        """One symmetric matrix per state."""
        return K * d * (d + 1) / 2.0

    @staticmethod
    def mixture_dead(dead):
        """A state's shared covariance is kept only when all its components got no mass."""
        return dead.all(axis=1)

    @staticmethod
    def mixture_block_name(index, M):
        """The state whose shared covariance inner component ``index`` is."""
        return f"state {index // M}"

    @staticmethod
    def mixture_conjugate_covariance(scatter, diff, mean_weight, counts, prior, weight):
        """MAP per-state covariances shared by M components (hmmlearn's GMMHMM form, tied)."""
        K, M, d = diff.shape
        psi = np.broadcast_to(prior, (K, d, d))
        nu = np.broadcast_to(weight, (K,))
        outer = np.einsum("km,kmi,kmj->kij", mean_weight, diff, diff)
        num = np.swapaxes(psi, -1, -2) + outer + scatter.reshape(K, M, d, d).sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return _symmetric(num / (counts.sum(axis=1) + M + nu + d + 1.0)[:, None, None])

    @staticmethod
    def mixture_defaults(d, M):
        """``(covars_prior, covars_weight)`` that make the mixture update maximum likelihood."""
        return 0.0, -(M + d + 1.0)


class Diag(_HMMLayout):
    """One diagonal covariance per component: shape (K, d)."""

    name = "diag"
    #: The kernel layout (and recentring rule) the strategy uses.
    layout = "diag"
    mclust = False
    #: Covariances are matrices (not variances); one matrix shared by all components.
    dense = False
    shared = False

    @staticmethod
    def shape(K, d):
        """Shape of the covariance (and precision) array."""
        return (K, d)

    @staticmethod
    def prec_chol(cov):
        """Precision-Cholesky factors (inverse standard deviations)."""
        _check_positive(cov)
        return 1.0 / np.sqrt(cov)

    @staticmethod
    def prec_chol_from_precisions(prec):
        """Precision-Cholesky factors from precisions."""
        _check_positive(prec)
        return np.sqrt(prec)

    @staticmethod
    def covariances_from_prec_chol(prec_chol):
        """Covariances from precision-Cholesky factors."""
        return 1.0 / prec_chol**2

    @staticmethod
    def precisions(prec_chol):
        """Precisions from precision-Cholesky factors."""
        return prec_chol**2

    @staticmethod
    def log_det(prec_chol, d):
        """``log det`` of each precision-Cholesky factor, shape (K,)."""
        return np.log(prec_chol).sum(axis=1)

    log_prob = _kernel("log_prob", "diag")
    scatter = _kernel("scatter", "diag")
    mixture_estep = _kernel("mixture_estep", "diag")

    @staticmethod
    def covariance(counts, sums, scatter, reg_covar, d):
        """M-step: per-feature variances from centred statistics."""
        delta = sums / counts[:, None]
        cov = scatter / counts[:, None] - delta**2
        np.maximum(cov, 0.0, out=cov)
        return cov + reg_covar

    @staticmethod
    def add_to_diagonal(cov, k, amount):
        """Return a copy of ``cov`` with ``amount`` added to component ``k``."""
        out = cov.copy()
        out[k] += amount
        return out

    @staticmethod
    def n_parameters(K, d):
        """Free covariance parameters."""
        return float(K * d)

    @staticmethod
    def component_covariance(cov, k, d):
        """Dense (d, d) covariance of component ``k``."""
        return np.diag(cov[k])

    @staticmethod
    def variance_scale(cov, k):
        """Mean variance of component ``k``."""
        return float(np.mean(cov[k]))

    @staticmethod
    def replace(cov, k, pooled):
        """Set component ``k`` to the diagonal of ``pooled``."""
        out = cov.copy()
        out[k] = np.diag(pooled)
        return out

    @staticmethod
    def scatter_from_dense(dense):
        """The scatter in this layout from dense per-component scatter matrices (K, d, d)."""
        return np.ascontiguousarray(np.diagonal(dense, axis1=1, axis2=2))

    inner = "diag"

    @staticmethod
    def spread(cv, K):
        """The diagonal of ``cv`` for K components."""
        return np.tile(np.diag(cv), (K, 1))

    @staticmethod
    def conjugate_covariance(scatter, diff, mean_weight, counts, prior, weight):
        """MAP variances under inverse-gamma priors (hmmlearn's GaussianHMM form).

        ``(prior + mean_weight * diff**2 + scatter) / max(max(weight - 1, 0) + counts, 1e-5)``.
        """
        K = diff.shape[0]
        w = _per_component(mean_weight, K)[:, None]
        den = np.maximum(_per_component(weight, K) - 1.0, 0.0) + counts
        num = prior + w * diff**2 + scatter
        return num / np.maximum(den, _MIN_VARIANCE_DENOMINATOR)[:, None]

    @staticmethod
    def mixture_conjugate_covariance(scatter, diff, mean_weight, counts, prior, weight):
        """MAP variances of (K, M) components (hmmlearn's GMMHMM form, diag)."""
        K, M, d = diff.shape
        a = np.broadcast_to(prior, (K, M, d))
        b = np.broadcast_to(weight, (K, M, d))
        num = mean_weight[:, :, None] * diff**2 + 2.0 * b + scatter.reshape(K, M, d)
        with np.errstate(divide="ignore", invalid="ignore"):
            return num / (counts[:, :, None] + 1.0 + 2.0 * (a + 1.0))

    @staticmethod
    def mixture_defaults(d, M):
        """``(covars_prior, covars_weight)`` that make the mixture update maximum likelihood."""
        return -1.5, 0.0


class Spherical(_HMMLayout):
    """One variance per component: shape (K,)."""

    name = "spherical"
    #: The kernel layout (and recentring rule) the strategy uses.
    layout = "spherical"
    mclust = False
    #: Covariances are matrices (not variances); one matrix shared by all components.
    dense = False
    shared = False

    @staticmethod
    def shape(K, d):
        """Shape of the covariance (and precision) array."""
        return (K,)

    @staticmethod
    def prec_chol(cov):
        """Precision-Cholesky factors (inverse standard deviations)."""
        _check_positive(cov)
        return 1.0 / np.sqrt(cov)

    @staticmethod
    def prec_chol_from_precisions(prec):
        """Precision-Cholesky factors from precisions."""
        _check_positive(prec)
        return np.sqrt(prec)

    covariances_from_prec_chol = Diag.covariances_from_prec_chol
    precisions = Diag.precisions

    @staticmethod
    def log_det(prec_chol, d):
        """``d * log(prec_chol)``, shape (K,)."""
        return d * np.log(prec_chol)

    log_prob = _kernel("log_prob", "spherical")
    scatter = _kernel("scatter", "spherical")
    mixture_estep = _kernel("mixture_estep", "spherical")

    @staticmethod
    def covariance(counts, sums, scatter, reg_covar, d):
        """M-step: the mean per-feature variance of each component."""
        delta = sums / counts[:, None]
        var = (scatter / counts - (delta**2).sum(axis=1)) / d
        np.maximum(var, 0.0, out=var)
        return var + reg_covar

    add_to_diagonal = Diag.add_to_diagonal

    @staticmethod
    def n_parameters(K, d):
        """Free covariance parameters."""
        return float(K)

    @staticmethod
    def component_covariance(cov, k, d):
        """Dense (d, d) covariance of component ``k``."""
        return np.eye(d) * cov[k]

    @staticmethod
    def variance_scale(cov, k):
        """Variance of component ``k``."""
        return float(cov[k])

    @staticmethod
    def replace(cov, k, pooled):
        """Set component ``k`` to the mean diagonal of ``pooled``."""
        out = cov.copy()
        out[k] = float(np.mean(np.diag(pooled)))
        return out

    @staticmethod
    def scatter_from_dense(dense):
        """The scatter in this layout from dense per-component scatter matrices (K, d, d)."""
        return np.trace(dense, axis1=1, axis2=2)

    inner = "spherical"

    @staticmethod
    def spread(cv, K):
        """The mean variance of ``cv`` for K components."""
        return np.full(K, float(np.mean(np.diag(cv))))

    @staticmethod
    def user_layout(cov, K):
        """Any array of K variances (hmmlearn accepts (K, 1), (K, 1, 1, 1), ...) as (K,)."""
        return np.reshape(cov, (K,)) if np.size(cov) == K else cov

    @staticmethod
    def conjugate_covariance(scatter, diff, mean_weight, counts, prior, weight):
        """MAP variances under inverse-gamma priors (hmmlearn's GaussianHMM form, spherical).

        The mean over features of the diagonal update.
        """
        K, d = diff.shape
        w = _per_component(mean_weight, K)
        cp = np.asarray(prior, dtype=np.float64)
        prior_mean = np.broadcast_to(cp if cp.ndim != 1 else cp[:, None], (K, d)).mean(axis=1)
        num = prior_mean + (w * (diff**2).sum(axis=1) + scatter) / d
        den = np.maximum(_per_component(weight, K) - 1.0, 0.0) + counts
        return num / np.maximum(den, _MIN_VARIANCE_DENOMINATOR)

    @staticmethod
    def mixture_conjugate_covariance(scatter, diff, mean_weight, counts, prior, weight):
        """MAP variances of (K, M) components (hmmlearn's GMMHMM form, spherical)."""
        K, M, d = diff.shape
        a = np.broadcast_to(prior, (K, M))
        b = np.broadcast_to(weight, (K, M))
        num = mean_weight * (diff**2).sum(axis=2) + 2.0 * b + scatter.reshape(K, M)
        with np.errstate(divide="ignore", invalid="ignore"):
            return num / (d * (counts + 1.0) + 2.0 * (a + 1.0))

    @staticmethod
    def mixture_defaults(d, M):
        """``(covars_prior, covars_weight)`` that make the mixture update maximum likelihood."""
        return -(d + 2.0) / 2.0, 0.0


_LAYOUTS = {s.name: s for s in (Full, Tied, Diag, Spherical)}
#: scikit-learn's four covariance types (the only ones the hidden Markov models take).
COVARIANCE_TYPES = tuple(_LAYOUTS)
#: The 14 mclust structures: each M-step of :mod:`emkit.families.parsimonious` on its layout.
MCLUST_STRATEGIES = tuple(
    type(m.name, (m, _LAYOUTS[m.layout]), {"__doc__": m.__doc__, "__module__": __name__})
    for m in parsimonious.MCLUST_MSTEPS
)
STRATEGIES = {s.name: s for s in (*_LAYOUTS.values(), *MCLUST_STRATEGIES)}
#: Every covariance type a Gaussian mixture takes: scikit-learn's four and mclust's 14.
MIXTURE_COVARIANCE_TYPES = tuple(STRATEGIES)
