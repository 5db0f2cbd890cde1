"""A uniform noise component beside any family (mclust's ``Vinv``).

:class:`WithNoise` wraps a family of ``K`` components into one of ``K + 1``: the first ``K``
are the family's, the last is a uniform density ``Vinv`` over a region (by default the
bounding box of the data, ``Vinv = 1 / volume``) that absorbs outliers. The noise component
has no parameters of its own, only its mixture weight, which EM fits with the others: its
log-density is the constant ``log Vinv`` in every row, its statistics are its posterior mass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from emkit.exceptions import ValidationError
from emkit.families.base import FamilyBase, Stats, has_missing

#: Initial share of the noise component (the other weights are scaled down to make room).
NOISE_INIT_SHARE = 0.05


@dataclass
class NoiseStats(Stats):
    """Statistics of a family with a noise component.

    Attributes
    ----------
    counts : ndarray of shape (K + 1,)
        Posterior mass of each component, the noise last.
    inner : Stats
        The wrapped family's statistics of its ``K`` components.
    """

    counts: np.ndarray
    inner: Stats


def bounding_box(blocks):
    """``(low, high)`` of every column over the blocks of rows, each of shape (d,)."""
    low = high = None
    for block in blocks:
        X = np.asarray(block.X, dtype=np.float64)
        lo, hi = X.min(axis=0), X.max(axis=0)
        if np.isnan(lo).any() or np.isnan(hi).any():
            raise ValidationError(
                "X has missing values (NaN), which a fit with a noise component does not "
                "support; drop or impute those rows, or fit without noise"
            )
        low = lo if low is None else np.minimum(low, lo)
        high = hi if high is None else np.maximum(high, hi)
    return low, high


def check_noise(noise, low, high):
    """``log Vinv`` of the noise option: True (the box ``low``..``high``) or a positive Vinv.

    Raises
    ------
    ValidationError
        For a box of zero volume or a Vinv that is not a positive finite number.
    """
    if noise is True:
        widths = np.asarray(high, dtype=np.float64) - np.asarray(low, dtype=np.float64)
        if not np.all(widths > 0):
            j = int(np.flatnonzero(~(widths > 0))[0])
            raise ValidationError(
                f"noise=True needs the data's bounding box to have a volume, but column {j} "
                "is constant; pass noise=Vinv (the noise density, a positive number) instead"
            )
        return -float(np.sum(np.log(widths)))
    value = float(noise)
    if not (math.isfinite(value) and value > 0):
        raise ValidationError(
            f"noise must be None, True or a positive finite density Vinv, got {noise!r}"
        )
    return math.log(value)


class WithNoise(FamilyBase):
    """``family`` plus a uniform noise component of log-density ``log_vinv`` (see module).

    Parameters
    ----------
    family : emkit.families.base.Family
        The components; their parameters are the parameters of this family.
    n_components : int
        ``K``, the family's components (the noise is component ``K``).
    log_vinv : float
        Log-density of the noise component.
    low, high : ndarray of shape (d,)
        The box the noise is drawn from by :meth:`sample`.
    """

    #: Components without parameters (the noise), last in every (n, K + 1) array.
    n_extra = 1

    def __init__(self, family, n_components, log_vinv, low, high):
        self.family = family
        self.n_components = int(n_components)
        self.log_vinv = float(log_vinv)
        self.low = np.asarray(low, dtype=np.float64)
        self.high = np.asarray(high, dtype=np.float64)
        self.param_names = family.param_names
        self.supports_noise = getattr(family, "supports_noise", False)

    def check_data(self, X, name="X"):
        """The family's check, and no missing value (the noise density needs every value)."""
        X = self.family.check_data(X, name)
        if has_missing(X):
            raise ValidationError(
                f"{name} has missing values (NaN), which a fit with a noise component does not "
                "support; drop or impute those rows, or fit without noise"
            )
        return X

    def log_likelihood(self, params, X, **extra):
        """The family's (n, K) log-densities and the noise's ``log Vinv``, shape (n, K + 1).

        ``extra`` (e.g. the rows' measurement ``noise``) goes to the family.
        """
        inner = self.family.log_likelihood(params, X, **extra)
        noise = np.full((inner.shape[0], 1), self.log_vinv, dtype=inner.dtype)
        return np.concatenate([inner, noise], axis=1)

    def accumulate(self, params, X, wresp, **extra):
        """The family's statistics of the first ``K`` columns of ``wresp`` and every count."""
        counts = np.asarray(wresp.sum(axis=0), dtype=np.float64)
        return NoiseStats(counts, self.family.accumulate(params, X, wresp[:, :-1], **extra))

    def initial_params(self, weighted_blocks, n_components):
        """The family's start from the assignment; the noise starts at ``NOISE_INIT_SHARE``."""
        comps, inner = self.family.initial_params(weighted_blocks, n_components)
        counts = np.asarray(inner.counts, dtype=np.float64)
        total = counts.sum()
        counts = np.append(counts * (1 - NOISE_INIT_SHARE), NOISE_INIT_SHARE * total)
        return comps, NoiseStats(counts, inner)

    def maximize(self, stats, params=None, fixed=frozenset(), empty=()):
        """The family's M-step on its statistics (the noise has no parameters)."""
        K = len(stats.counts) - 1
        empty = [k for k in empty if k < K]
        return self.family.maximize(stats.inner, params, fixed, empty)

    def reseed(self, params, k, row, stats):
        """The family's re-seeding of its component ``k`` (never the noise)."""
        return self.family.reseed(params, k, row, stats.inner)

    def recentre(self, stats, like):
        """The family's statistics in the frame of ``like``'s."""
        return NoiseStats(stats.counts, self.family.recentre(stats.inner, like.inner))

    def n_parameters(self, n_components, n_features):
        """The family's parameters of ``n_components - 1`` components (the noise has none)."""
        return self.family.n_parameters(n_components - 1, n_features)

    def sample(self, params, k, n, rng):
        """``n`` rows of component ``k``; the noise (``k = K``) uniform over the box."""
        if k < self.n_components:
            return self.family.sample(params, k, n, rng)
        return rng.uniform(self.low, self.high, size=(n, self.low.size))

    def init_features(self, X):
        """The family's features for the initial assignment."""
        return self.family.init_features(X)

    def init_rows(self, X, sample_weight, n_components):
        """The family's rows for the initial assignment."""
        return self.family.init_rows(X, sample_weight, n_components)

    def empty_rows(self, X):
        """The family's rows without an observed value."""
        return self.family.empty_rows(X)
