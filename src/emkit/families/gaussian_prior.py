"""mclust's conjugate prior on Gaussian mixture components (Fraley & Raftery 2007): MAP M-steps.

The prior on each component is Gaussian on the mean given the covariance, with mean ``mean``
and ``shrinkage`` pseudo-rows, and inverse-Wishart (inverse-gamma for variances) on the
covariance with ``dof`` degrees of freedom and ``scale``. The MAP M-step shrinks the means
towards the prior mean,

``mu_k = (n_k xbar_k + kappa mean) / (n_k + kappa)``,

and estimates the covariances from the augmented scatter ``W~_k = W_k + kappa n_k / (n_k +
kappa) (xbar_k - mean)(xbar_k - mean)^T`` plus the scale, with mclust's denominators:

=========================  =====================================================================
structure                  covariance
=========================  =====================================================================
VVV (``'full'``)           ``(scale + W~_k) / (dof + n_k + d + 2)``
EEE (``'tied'``)           ``(scale + sum_k W~_k) / (dof + n + d + 1 + K)``
VII (``'spherical'``)      ``(scale + tr W~_k) / (dof + n_k d + 2 + d)``
EII                        ``sum_k tr W^_k / (dof + n d + 2 + K d)``
VVI (``'diag'``)           ``(scale + diag W~_k) / (dof + n_k + 3)``
EEI                        ``(scale + sum_k diag W~_k) / (dof + n + 2)``, means unshrunk
EVI                        ``lambda A_k``: ``A_k = unit(scale + diag W~_k)``,
                           ``lambda = sum_k gm(scale + diag W~_k) / (dof + n + 2)``
VEI                        ``lambda_k A``: alternating ``lambda_k = sum_j (scale + W~_kjj) /
                           A_j / (dof + n_k d + 3)`` and ``A = unit(sum_k (scale + diag W~_k) /
                           lambda_k)``
EEV                        ``lambda D_k A D_k^T``: ``D_k`` the eigenvectors of
                           ``scale + W~_k``, ``lambda A = sum_k Omega_k / (dof + n + d + 2)``
                           from their eigenvalues ``Omega_k``
VEV                        ``lambda_k D_k A D_k^T``: VEV's maximum-likelihood M-step on the
                           matrices ``scale + W~_k`` (mclust's denominators stay ``n_k d``)
=========================  =====================================================================

(one fewer in each denominator term that comes from the mean prior when ``shrinkage`` is 0;
``W^_k`` is ``W~_k`` plus ``n_k |xbar_k - mu_k|^2``: mclust's EII takes the scatter about the
shrunk means, and no scale, and its EEI keeps the unshrunk means, when K > 1; emkit follows
mclust there).
``scale`` is a (d, d) matrix for VVV, EEE, EEV and VEV and a scalar for the others. With one
component, mclust fits EVI and VEI as VVI and EEV and VEV as VVV (its ``mvnXXI`` and
``mvnXXX``), and so does emkit. mclust has no prior for EVE, VEE, VVE and EVV, nor has emkit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emkit.families.base import TINY_COUNT
from emkit.families.gaussian import GaussianFamily
from emkit.families.parsimonious import (
    _eigen_descending,
    _geometric_mean,
    _rotate,
    volumes_common_shape,
    within_diag,
    within_full,
    within_trace,
)

#: The structures with a MAP M-step here, by name (mclust's and scikit-learn's): those mclust
#: has a prior for.
PRIOR_TYPES = (
    "EII",
    "VII",
    "spherical",
    "EEI",
    "VEI",
    "EVI",
    "VVI",
    "diag",
    "EEE",
    "tied",
    "EEV",
    "VEV",
    "VVV",
    "full",
)
_SCALAR_SCALE = ("EII", "VII", "spherical", "EEI", "VEI", "EVI", "VVI", "diag")


@dataclass(frozen=True, eq=False)
class ConjugatePrior:
    """Hyperparameters of mclust's conjugate prior (see the module notes)."""

    shrinkage: float
    mean: np.ndarray
    dof: float
    scale: np.ndarray

    @classmethod
    def from_dict(cls, value, covariance_type, d=None):
        """Validate ``{'shrinkage', 'mean', 'dof', 'scale'}`` for ``covariance_type``.

        ``d`` is the number of features (default: the length of the mean).
        """
        if not isinstance(value, dict) or set(value) != {"shrinkage", "mean", "dof", "scale"}:
            raise ValueError(
                "prior must be None or a dict with keys 'shrinkage', 'mean', 'dof' and 'scale' "
                f"(mclust's priorControl), got {value!r}"
            )
        if covariance_type not in PRIOR_TYPES:
            raise ValueError(
                f"prior is available for covariance_type in {list(PRIOR_TYPES)}, not "
                f"{covariance_type!r}"
            )
        try:
            shrinkage, dof = float(value["shrinkage"]), float(value["dof"])
            mean = np.asarray(value["mean"], dtype=np.float64)
            scale = np.asarray(value["scale"], dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"prior values must be numbers and arrays, got {value!r}") from None
        d = mean.size if d is None else d
        shape = () if covariance_type in _SCALAR_SCALE else (d, d)
        if (
            not (np.isfinite(shrinkage) and shrinkage >= 0 and np.isfinite(dof) and dof > 0)
            or mean.shape != (d,)
            or scale.shape != shape
            or not (np.all(np.isfinite(mean)) and np.all(np.isfinite(scale)))
        ):
            raise ValueError(
                f"prior needs shrinkage >= 0, dof > 0, a mean of shape ({d},) and a scale of "
                f"shape {shape} for covariance_type {covariance_type!r}, all finite"
            )
        return cls(shrinkage, mean, dof, scale)


def default_prior(X, sample_weight, n_components, covariance_type):
    """The prior of mclust's ``priorControl()`` (``defaultPrior``), as a JSON-ready dict.

    Shrinkage 0.01, the column means, ``d + 2`` degrees of freedom, and the scale
    ``(1 / K)^(2 / d)`` times the sample covariance (VVV, EEE) or its mean variance (the
    spherical and diagonal structures).
    """
    w = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, float)
    total = w.sum()
    mean = (w @ X) / total
    centred = X - mean
    cov = (centred * w[:, None]).T @ centred / (total - 1.0)
    d = X.shape[1]
    factor = (1.0 / n_components) ** (2.0 / d)
    if covariance_type in _SCALAR_SCALE:
        scale = factor * float(np.trace(cov)) / d
    else:
        scale = (factor * cov).tolist()
    return {"shrinkage": 0.01, "mean": mean.tolist(), "dof": d + 2.0, "scale": scale}


class PriorGaussianFamily(GaussianFamily):
    """Gaussian components fitted by MAP under a :class:`ConjugatePrior`.

    Parameters
    ----------
    covariance_type : one of :data:`PRIOR_TYPES`
    reg_covar : float
    prior : ConjugatePrior
    """

    def __init__(self, covariance_type, reg_covar, prior):
        super().__init__(covariance_type, reg_covar)
        self.prior = prior

    def maximize(self, stats, params=None, fixed=frozenset(), empty=()):
        """MAP means and covariances from summed statistics (see the module notes).

        ``fixed`` parameters are kept as :meth:`GaussianFamily.maximize` keeps them.
        """
        if fixed:
            return super().maximize(stats, params, fixed, empty)
        prior, strat = self.prior, self.strategy
        counts = stats.counts + TINY_COUNT
        d = stats.ref.shape[1]
        K = counts.shape[0]
        xbar = stats.ref + stats.sums / counts[:, None]
        kappa = prior.shrinkage
        means = (counts[:, None] * xbar + kappa * prior.mean) / (counts + kappa)[:, None]
        gap = xbar - prior.mean
        pull = kappa * counts / (counts + kappa)
        extra = 1.0 if kappa > 0 else 0.0
        layout = strat.layout
        n = counts.sum()
        if layout in ("full", "tied"):
            W = within_full(counts, stats.sums, self._full_scatter(stats), 0.0)
            W = W + pull[:, None, None] * gap[:, :, None] * gap[:, None, :]
            if strat.name in ("EEV", "VEV") and K > 1:
                # Eigen-decompositions of the scale plus each augmented scatter.
                values, vectors = _eigen_descending(prior.scale + W)
                if strat.name == "EEV":
                    den = prior.dof + n + d + 1.0 + extra
                    shapes = np.broadcast_to(values.sum(axis=0) / den, values.shape)
                else:
                    volumes, shape = volumes_common_shape(counts, values)
                    shapes = volumes[:, None] * shape
                cov = _rotate(vectors, shapes)
            elif layout == "full":
                den = prior.dof + counts + d + 1.0 + extra
                cov = (prior.scale + W) / den[:, None, None]
            else:
                den = prior.dof + counts.sum() + d + 1.0 + extra * K
                cov = (prior.scale + W.sum(axis=0)) / den
            idx = np.arange(d)
            cov[..., idx, idx] += self.reg_covar
        elif layout == "diag":
            w = within_diag(counts, stats.sums, stats.scatter, 0.0) + pull[:, None] * gap**2
            if strat.name == "EVI" and K > 1:
                w = prior.scale + w
                volume = _geometric_mean(w)
                cov = (volume.sum() / (prior.dof + n + 1.0 + extra)) * w / volume[:, None]
            elif strat.name == "VEI" and K > 1:
                # volumes_common_shape divides volume k by d times its count argument.
                den = prior.dof + counts * d + 2.0 + extra
                volumes, shape = volumes_common_shape(den / d, prior.scale + w)
                cov = volumes[:, None] * shape
            elif strat.name == "EEI" and K > 1:
                # mclust's EEI (its EM loop, meeeip) leaves the means unshrunk (its
                # one-component fit, mvnXXI, is VVI's update).
                means = xbar
                den = prior.dof + n + 1.0 + extra
                cov = np.tile((prior.scale + w.sum(axis=0)) / den, (K, 1))
            else:
                cov = (prior.scale + w) / (prior.dof + counts + 2.0 + extra)[:, None]
            cov = cov + self.reg_covar
        else:
            t = within_trace(counts, stats.sums, stats.scatter, 0.0, d)
            t = t + pull * (gap**2).sum(axis=1)
            if strat.name == "EII" and K > 1:
                # mclust's EII update takes the scatter about the shrunk means and leaves out
                # the scale (its one-component fit, mvnXII, is VII's update).
                t = t + counts * (kappa / (counts + kappa)) ** 2 * (gap**2).sum(axis=1)
                den = prior.dof + counts.sum() * d + 2.0 + extra * K * d
                cov = np.full(K, t.sum() / den)
            else:
                cov = (prior.scale + t) / (prior.dof + counts * d + 2.0 + extra * d)
            cov = cov + self.reg_covar
        return self.make_params(means, cov)

    def _full_scatter(self, stats):
        """Per-component (K, d, d) scatter: the tied layout carries only their sum."""
        if self.strategy.layout == "full":
            return stats.scatter
        # Tied statistics hold sum_k S_k; the tied update uses only the sum over components of
        # the within scatters, so the whole sum sits in the first slot.
        K, d = stats.sums.shape
        out = np.zeros((K, d, d))
        out[0] = stats.scatter
        return out
