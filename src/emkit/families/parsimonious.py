"""The 14 parsimonious Gaussian covariance structures of Celeux & Govaert (1995), as in mclust.

Each covariance is written ``Sigma_k = lambda_k D_k A_k D_k^T``: volume ``lambda_k``
(a scalar), shape ``A_k`` (diagonal, determinant 1) and orientation ``D_k`` (orthogonal). A
three-letter name says, for volume, shape and orientation in that order, whether it is Equal
across components, Variable, or the Identity:

=====  ========================  ==================  =============================
name   ``Sigma_k``               E-step layout       ``covariances_`` shape
=====  ========================  ==================  =============================
EII    ``lambda I``              spherical           (K,), all equal
VII    ``lambda_k I``            spherical           (K,)  (= ``'spherical'``)
EEI    ``lambda A``              diag                (K, d), all rows equal
VEI    ``lambda_k A``            diag                (K, d)
EVI    ``lambda A_k``            diag                (K, d)
VVI    ``lambda_k A_k``          diag                (K, d)  (= ``'diag'``)
EEE    ``lambda D A D^T``        tied                (d, d)  (= ``'tied'``)
VEE    ``lambda_k D A D^T``      full                (K, d, d)
EVE    ``lambda D A_k D^T``      full                (K, d, d)
VVE    ``lambda_k D A_k D^T``    full                (K, d, d)
EEV    ``lambda D_k A D_k^T``    full                (K, d, d)
VEV    ``lambda_k D_k A D_k^T``  full                (K, d, d)
EVV    ``lambda D_k A_k D_k^T``  full                (K, d, d)
VVV    ``lambda_k D_k A_k D_k^T``  full              (K, d, d)  (= ``'full'``)
=====  ========================  ==================  =============================

Every structure reuses one of the four kernel layouts for its E-step (the fused kernels only
read precision-Cholesky factors), so only the M-step differs: :meth:`covariance` maps the
centred statistics to covariances that maximise the expected complete-data log-likelihood
under the structure. The aliases VII, VVI, EEE and VVV are the scikit-learn strategies under
their mclust names (same code, same results).

The M-step works on the within-component scatter ``W_k`` regularised as
``W_k + n_k reg_covar I``; for the four scikit-learn layouts that is exactly "add ``reg_covar``
to the diagonal". Closed forms (Celeux & Govaert 1995): EII, EEI, EVI, EEV, EVV. Iterative:
VEI, VEE, VEV (alternating volumes and the shared shape), EVE and VVE (alternating the
closed-form volumes and shapes with exact plane rotations of the common orientation, the
Jacobi-like sweeps of Flury's common principal components). Each iteration never decreases
the objective; they run until its relative change is below ``ITERATION_TOL``.
"""

from __future__ import annotations

import numpy as np

from emkit.kernels import parsimonious_numba

#: Relative change of the M-step objective below which an iterative M-step stops.
ITERATION_TOL = 1e-13
#: Most iterations of an iterative M-step.
MAX_ITERATIONS = 20000


# ------------------------------------------------------------------ within-component scatter
def within_full(counts, sums, scatter, reg_covar):
    """Regularised within-component scatter matrices ``W_k + n_k reg I``, shape (K, d, d)."""
    W = scatter - sums[:, :, None] * sums[:, None, :] / counts[:, None, None]
    W = 0.5 * (W + W.transpose(0, 2, 1))
    idx = np.arange(W.shape[1])
    W[:, idx, idx] += counts[:, None] * reg_covar
    return W


def within_diag(counts, sums, scatter, reg_covar):
    """Regularised diagonals of the within-component scatters, shape (K, d)."""
    w = scatter - sums**2 / counts[:, None]
    np.maximum(w, 0.0, out=w)
    return w + counts[:, None] * reg_covar


def within_trace(counts, sums, scatter, reg_covar, d):
    """Regularised traces of the within-component scatters, shape (K,)."""
    t = scatter - (sums**2).sum(axis=1) / counts
    np.maximum(t, 0.0, out=t)
    return t + counts * d * reg_covar


def _geometric_mean(values):
    """Geometric mean over the last axis (0 where any value is 0)."""
    with np.errstate(divide="ignore"):
        return np.exp(np.mean(np.log(values), axis=-1))


def _eigen_descending(W):
    """Eigenvalues (K, d), descending, and eigenvectors (K, d, d) of symmetric matrices."""
    values, vectors = np.linalg.eigh(W)
    return np.maximum(values[:, ::-1], 0.0), vectors[:, :, ::-1]


def _converged(old, new):
    return abs(old - new) <= ITERATION_TOL * (1.0 + abs(new))


# ------------------------------------------------------------------ iterative M-steps
def volumes_common_shape(counts, diagonals):
    """Volumes ``lambda_k`` and a common shape ``A`` for scatters with eigenvalues ``diagonals``.

    Minimises ``sum_k n_k d log lambda_k + sum_kj diagonals_kj / (lambda_k A_j)`` over
    ``lambda_k > 0`` and diagonal ``A`` of determinant 1 by alternating the two closed-form
    partial minimisers (VEI on the scatters' diagonals, VEV on their eigenvalues).

    Returns
    -------
    volumes : ndarray of shape (K,)
    shape : ndarray of shape (d,)
    """
    d = diagonals.shape[1]
    scale = counts * d
    volumes = diagonals.sum(axis=1) / scale
    objective = np.inf
    for _ in range(MAX_ITERATIONS):
        pooled = (1.0 / volumes) @ diagonals
        shape = pooled / np.exp(np.log(pooled).sum() / d)
        volumes = (diagonals @ (1.0 / shape)) / scale
        new = float(scale @ np.log(volumes))
        if _converged(objective, new):
            break
        objective = new
    return volumes, shape


def volumes_common_matrix(counts, W, kernels="numba"):
    """VEE: volumes ``lambda_k`` and a common ``C`` (determinant 1), ``Sigma_k = lambda_k C``.

    Alternates ``C = unit(sum_k W_k / lambda_k)`` and ``lambda_k = tr(W_k C^-1) / (n_k d)``,
    compiled (:func:`emkit.kernels.parsimonious_numba.volumes_common_matrix`) or in the NumPy
    loop below (``kernels='numpy'``, its reference).
    """
    if kernels == "numba":
        W = np.ascontiguousarray(W, dtype=np.float64)
        counts = np.ascontiguousarray(counts, dtype=np.float64)
        return parsimonious_numba.volumes_common_matrix(counts, W, ITERATION_TOL, MAX_ITERATIONS)
    d = W.shape[1]
    volumes = np.trace(W, axis1=1, axis2=2) / (counts * d)
    objective = np.inf
    for _ in range(MAX_ITERATIONS):
        C = (W / volumes[:, None, None]).sum(axis=0)
        _, logdet = np.linalg.slogdet(C)
        C = C / np.exp(logdet / d)
        volumes = np.einsum("kij,ji->k", W, np.linalg.inv(C)) / (counts * d)
        new = float(np.sum(counts * d * np.log(volumes)))
        if _converged(objective, new):
            break
        objective = new
    return volumes, 0.5 * (C + C.T)


def _deltas(counts, B, equal_volume):
    """Closed-form eigenvalues given the diagonals ``B`` (K, d) of ``D^T W_k D``."""
    if equal_volume:
        scale = np.exp(np.log(B).mean(axis=1))
        return (scale.sum() / counts.sum()) * B / scale[:, None]
    return B / counts[:, None]


def _plane_rotation(W, D, B, inverse, p, q):
    """Rotate columns ``p``, ``q`` of ``D`` to minimise ``sum_k tr(W_k D M_k D^T)`` exactly.

    ``M_k = diag(inverse[k])`` and ``B`` holds the diagonals of ``D^T W_k D`` (both updated
    in place). In the plane of the two columns the objective is ``const + P cos(2 theta) +
    Q sin(2 theta)``, minimised at ``(cos, sin)(2 theta) = -(P, Q) / hypot(P, Q)``.
    """
    dp, dq = D[:, p].copy(), D[:, q].copy()
    Wp = W @ dp  # (K, d)
    a, b, e = B[:, p], B[:, q], Wp @ dq
    gap = inverse[:, p] - inverse[:, q]
    P = 0.5 * float(gap @ (a - b))
    Q = float(gap @ e)
    R = np.hypot(P, Q)
    if not R > 0:
        return
    cos2, sin2 = -P / R, -Q / R
    c = np.sqrt(max(0.5 * (1.0 + cos2), 0.0))
    s = np.copysign(np.sqrt(max(0.5 * (1.0 - cos2), 0.0)), sin2)
    D[:, p] = c * dp + s * dq
    D[:, q] = -s * dp + c * dq
    cross = 2.0 * c * s * e
    B[:, p], B[:, q] = c * c * a + s * s * b + cross, s * s * a + c * c * b - cross


def common_orientation(counts, W, equal_volume, kernels="numba"):
    """EVE (``equal_volume``) or VVE: ``Sigma_k = D diag(delta_k) D^T`` with a common ``D``.

    VVE: ``delta_k`` free, ``delta_k = diag(D^T W_k D) / n_k``. EVE: ``delta_k = lambda A_k``
    with ``A_k = unit(diag(D^T W_k D))`` and ``lambda = sum_k gm(diag(D^T W_k D)) / n`` (``gm``
    the geometric mean). Block coordinate descent: sweeps of exact plane rotations of the
    columns of ``D`` (Jacobi-like, as in Flury's common principal components), each followed
    by the closed-form ``delta_k``; every step lowers the objective.

    ``kernels='numba'`` runs the sweeps compiled
    (:func:`emkit.kernels.parsimonious_numba.common_orientation`), ``'numpy'`` in the NumPy
    loop below (its reference).

    Returns
    -------
    D : ndarray of shape (d, d)
    deltas : ndarray of shape (K, d)
        The eigenvalues of each ``Sigma_k`` along the columns of ``D``.
    """
    d = W.shape[1]
    _, vectors = np.linalg.eigh(W.sum(axis=0))
    D = np.ascontiguousarray(vectors[:, ::-1])
    if kernels == "numba":
        W = np.ascontiguousarray(W, dtype=np.float64)
        counts = np.ascontiguousarray(counts, dtype=np.float64)
        args = (ITERATION_TOL, MAX_ITERATIONS)
        return D, parsimonious_numba.common_orientation(counts, W, D, equal_volume, *args)
    tiny = np.finfo(np.float64).tiny

    def diagonals(D):
        return np.maximum(np.einsum("ji,kjl,li->ki", D, W, D), tiny)

    objective = np.inf
    B = diagonals(D)
    deltas = _deltas(counts, B, equal_volume)
    for _ in range(MAX_ITERATIONS):
        for p in range(d - 1):
            for q in range(p + 1, d):
                _plane_rotation(W, D, B, 1.0 / deltas, p, q)
                np.maximum(B, tiny, out=B)
                deltas = _deltas(counts, B, equal_volume)
        # Recompute the diagonals once per sweep so that rounding does not accumulate.
        B = diagonals(D)
        deltas = _deltas(counts, B, equal_volume)
        new = float(np.sum(counts[:, None] * np.log(deltas)) + np.sum(B / deltas))
        if _converged(objective, new):
            break
        objective = new
    return D, deltas


def _rotate(D, deltas):
    """``D_k diag(deltas_k) D_k^T`` for (d, d) or (K, d, d) ``D``, shape (K, d, d)."""
    if D.ndim == 2:
        D = np.broadcast_to(D, (deltas.shape[0], *D.shape))
    out = np.einsum("kij,kj,klj->kil", D, deltas, D)
    return 0.5 * (out + out.transpose(0, 2, 1))


# ------------------------------------------------------------------ the strategies
class _Mclust:
    """The M-step of an mclust structure.

    :mod:`emkit.families.covariance` makes the strategy from it and the strategy of its kernel
    layout (``layout``), which gives everything but the M-step and the parameter count.
    """

    #: A name of mclust's table (not one of scikit-learn's four).
    mclust = True
    name = ""
    layout = ""


class EII(_Mclust):
    """``lambda I``: one variance shared by every component and feature; layout (K,)."""

    name = "EII"
    layout = "spherical"

    @staticmethod
    def covariance(counts, sums, scatter, reg_covar, d):
        """M-step: the pooled mean within-component variance, repeated for each component."""
        t = within_trace(counts, sums, scatter, reg_covar, d)
        return np.full(len(counts), t.sum() / (counts.sum() * d))

    @staticmethod
    def n_parameters(K, d):
        """One variance."""
        return 1.0


class VII(_Mclust):
    """``lambda_k I``: scikit-learn's ``'spherical'`` under its mclust name; layout (K,)."""

    name = "VII"
    layout = "spherical"


class EEI(_Mclust):
    """``lambda A``: one diagonal covariance shared by every component; layout (K, d)."""

    name = "EEI"
    layout = "diag"

    @staticmethod
    def covariance(counts, sums, scatter, reg_covar, d):
        """M-step: the pooled within-component variances, repeated for each component."""
        w = within_diag(counts, sums, scatter, reg_covar)
        return np.tile(w.sum(axis=0) / counts.sum(), (len(counts), 1))

    @staticmethod
    def n_parameters(K, d):
        """``d`` variances."""
        return float(d)


class VEI(_Mclust):
    """``lambda_k A``: a common diagonal shape, variable volumes; layout (K, d)."""

    name = "VEI"
    layout = "diag"

    @staticmethod
    def covariance(counts, sums, scatter, reg_covar, d):
        """M-step: alternating volumes and the common shape (see :func:`volumes_common_shape`)."""
        volumes, shape = volumes_common_shape(counts, within_diag(counts, sums, scatter, reg_covar))
        return volumes[:, None] * shape

    @staticmethod
    def n_parameters(K, d):
        """``K`` volumes and ``d - 1`` shape values."""
        return float(K + d - 1)


class EVI(_Mclust):
    """``lambda A_k``: a common volume, variable diagonal shapes; layout (K, d)."""

    name = "EVI"
    layout = "diag"

    @staticmethod
    def covariance(counts, sums, scatter, reg_covar, d):
        """M-step (closed form): ``A_k = unit(diag W_k)``, ``lambda = sum_k gm(diag W_k) / n``."""
        w = within_diag(counts, sums, scatter, reg_covar)
        scale = _geometric_mean(w)
        return (scale.sum() / counts.sum()) * w / scale[:, None]

    @staticmethod
    def n_parameters(K, d):
        """One volume and ``K (d - 1)`` shape values."""
        return float(1 + K * (d - 1))


class VVI(_Mclust):
    """``lambda_k A_k``: scikit-learn's ``'diag'`` under its mclust name; layout (K, d)."""

    name = "VVI"
    layout = "diag"


class EEE(_Mclust):
    """``lambda D A D^T``: scikit-learn's ``'tied'`` under its mclust name; layout (d, d)."""

    name = "EEE"
    layout = "tied"


class VEE(_Mclust):
    """``lambda_k C``: a common shape and orientation, variable volumes; layout (K, d, d)."""

    name = "VEE"
    layout = "full"

    @staticmethod
    def covariance(counts, sums, scatter, reg_covar, d):
        """M-step: alternating volumes and the common matrix (:func:`volumes_common_matrix`)."""
        volumes, C = volumes_common_matrix(counts, within_full(counts, sums, scatter, reg_covar))
        return volumes[:, None, None] * C

    @staticmethod
    def n_parameters(K, d):
        """``K`` volumes and one matrix of determinant 1."""
        return K + d * (d + 1) / 2.0 - 1


class EVE(_Mclust):
    """``lambda D A_k D^T``: common volume and orientation; layout (K, d, d)."""

    name = "EVE"
    layout = "full"

    @staticmethod
    def covariance(counts, sums, scatter, reg_covar, d):
        """M-step: closed-form volume and shapes alternating with the orientation."""
        W = within_full(counts, sums, scatter, reg_covar)
        D, deltas = common_orientation(counts, W, equal_volume=True)
        return _rotate(D, deltas)

    @staticmethod
    def n_parameters(K, d):
        """One volume, ``K (d - 1)`` shape values and one orientation."""
        return 1 + K * (d - 1) + d * (d - 1) / 2.0


class VVE(_Mclust):
    """``lambda_k D A_k D^T``: a common orientation (common principal components)."""

    name = "VVE"
    layout = "full"

    @staticmethod
    def covariance(counts, sums, scatter, reg_covar, d):
        """M-step: closed-form eigenvalues alternating with the common orientation."""
        W = within_full(counts, sums, scatter, reg_covar)
        D, deltas = common_orientation(counts, W, equal_volume=False)
        return _rotate(D, deltas)

    @staticmethod
    def n_parameters(K, d):
        """``K d`` eigenvalues and one orientation."""
        return K * d + d * (d - 1) / 2.0


class EEV(_Mclust):
    """``lambda D_k A D_k^T``: common volume and shape, variable orientations."""

    name = "EEV"
    layout = "full"

    @staticmethod
    def covariance(counts, sums, scatter, reg_covar, d):
        """M-step (closed form): ``D_k`` the eigenvectors of ``W_k``, ``lambda A`` theirs.

        ``A = unit(sum_k Omega_k)`` and ``lambda = gm(sum_k Omega_k) / n`` from the summed
        eigenvalues ``Omega_k`` of the ``W_k``.
        """
        values, vectors = _eigen_descending(within_full(counts, sums, scatter, reg_covar))
        common = values.sum(axis=0) / counts.sum()
        return _rotate(vectors, np.broadcast_to(common, values.shape))

    @staticmethod
    def n_parameters(K, d):
        """One volume, ``d - 1`` shape values and ``K`` orientations."""
        return 1 + (d - 1) + K * d * (d - 1) / 2.0


class VEV(_Mclust):
    """``lambda_k D_k A D_k^T``: a common shape, variable volumes and orientations."""

    name = "VEV"
    layout = "full"

    @staticmethod
    def covariance(counts, sums, scatter, reg_covar, d):
        """M-step: ``D_k`` the eigenvectors of ``W_k``, then volumes and the common shape.

        Those alternate on the eigenvalues of the ``W_k`` (:func:`volumes_common_shape`).
        """
        values, vectors = _eigen_descending(within_full(counts, sums, scatter, reg_covar))
        volumes, shape = volumes_common_shape(counts, values)
        return _rotate(vectors, volumes[:, None] * shape)

    @staticmethod
    def n_parameters(K, d):
        """``K`` volumes, ``d - 1`` shape values and ``K`` orientations."""
        return K + (d - 1) + K * d * (d - 1) / 2.0


class EVV(_Mclust):
    """``lambda C_k``: a common volume, variable shapes and orientations."""

    name = "EVV"
    layout = "full"

    @staticmethod
    def covariance(counts, sums, scatter, reg_covar, d):
        """M-step (closed form): ``C_k = W_k / det(W_k)^(1/d)``.

        ``lambda = sum_k det(W_k)^(1/d) / n``.
        """
        W = within_full(counts, sums, scatter, reg_covar)
        _, logdet = np.linalg.slogdet(W)
        scale = np.exp(logdet / d)
        return (scale.sum() / counts.sum()) * W / scale[:, None, None]

    @staticmethod
    def n_parameters(K, d):
        """One volume and ``K`` matrices of determinant 1."""
        return 1 + K * (d * (d + 1) / 2.0 - 1)


class VVV(_Mclust):
    """``lambda_k D_k A_k D_k^T``: scikit-learn's ``'full'`` under its mclust name."""

    name = "VVV"
    layout = "full"


#: The M-steps of the 14 structures, in mclust's order.
MCLUST_MSTEPS = (EII, VII, EEI, VEI, EVI, VVI, EEE, VEE, EVE, VVE, EEV, VEV, EVV, VVV)
MCLUST_TYPES = tuple(s.name for s in MCLUST_MSTEPS)
#: mclust's name of each of scikit-learn's four covariance types.
MCLUST_NAME = {"spherical": "VII", "diag": "VVI", "tied": "EEE", "full": "VVV"}
