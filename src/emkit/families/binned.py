"""Gaussian components observed through bins: exact EM for grouped data.

Each row of ``X`` is one bin ``[lower, upper]`` (either edge may be infinite: an open-ended
first or last bin) and the row weight is the bin's count. The likelihood of a bin under a
component is the component's probability mass over it, and the statistics are the posterior
counts and the *truncated moments* of each component within each bin: the mean and variance
of ``N(mu_k, sigma_k^2)`` restricted to the bin (McLachlan & Jones, 1988). Summed over bins
they are exactly :class:`~emkit.families.gaussian.GaussianStats` of one feature, so the
Gaussian family's M-step (any covariance type; in one dimension ``'tied'`` is one shared
variance and the three others one variance per component) is the grouped-data M-step.

Two options change the model:

- ``truncate``: observations exist only inside the observed range ``[A, B]`` (the span of
  the fitted bins), and the likelihood conditions on it: each component is the normal
  truncated to ``[A, B]``, so ``weights`` are shares of what was observed. EM adds, per
  component, the expected number of draws that fell outside the range (``n_k (1 - P_k) /
  P_k``) with their truncated moments (the missing draws of McLachlan & Jones, 1988).
- ``background``: one more component, uniform over ``[A, B]``, with a fitted share and no
  other parameter; it is the last column of the log-likelihoods and the last weight.

The truncated moments are computed in standardised coordinates with ``erfcx``-scaled ratios
(no 0/0 and no ``exp`` underflow in the tails), bins narrower than ``1e-5`` standard
deviations by their midpoint expansion, and the results are clipped into the bin.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import erf, erfcx
from scipy.stats import truncnorm

from emkit.exceptions import ValidationError
from emkit.families.base import FamilyBase, Stats, sum_stats
from emkit.families.covariance import STRATEGIES
from emkit.families.gaussian import GaussianFamily, GaussianParams, GaussianStats

_SQRT2 = math.sqrt(2.0)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_LOG_SQRT_PI_OVER_2 = 0.5 * math.log(math.pi / 2.0)
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
# Bins narrower than this many standard deviations use the midpoint expansion.
_NARROW = 1e-5


def bin_centres(X):
    """Midpoint of each bin ``[lower, upper]``; the finite edge of an open-ended bin.

    Parameters
    ----------
    X : ndarray of shape (n, 2)

    Returns
    -------
    ndarray of shape (n,)
    """
    lo, hi = X[:, 0], X[:, 1]
    with np.errstate(invalid="ignore"):
        mid = 0.5 * (lo + hi)
    return np.where(np.isfinite(lo), np.where(np.isfinite(hi), mid, lo), hi)


def check_bins(X, name="X"):
    """Validate bins ``[lower, upper]`` (one per row); returns them as float64.

    Raises a ValidationError naming ``name`` unless ``X`` has shape (n, 2), no NaN, and
    ``lower < upper`` in every row, with ``-inf`` only as a lower and ``inf`` only as an upper
    edge.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValidationError(
            f"{name} must hold one bin per row as [lower, upper] edges, shape (n_bins, 2), "
            f"got shape {X.shape}; build it with emkit.bins_from_edges(edges) or "
            "emkit.bins_from_centres(positions)"
        )
    lo, hi = X[:, 0], X[:, 1]
    bad = np.isnan(lo) | np.isnan(hi) | ~(lo < hi) | (lo == np.inf) | (hi == -np.inf)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValidationError(
            f"{name} row {row} is the bin [{lo[row]!r}, {hi[row]!r}]; every bin needs "
            "lower < upper (no NaN; only the lower edge may be -inf and only the upper "
            "edge inf): pass increasing bin edges"
        )
    return X


def normal_bin_moments(lo, hi, means, sigmas):
    """Log-mass, mean and variance of normal components truncated to bins.

    Parameters
    ----------
    lo, hi : ndarray of shape (n, 1) or (n,)
        Bin edges, ``lo < hi``; ``-inf``/``inf`` allowed.
    means, sigmas : ndarray of shape (K,)

    Returns
    -------
    log_mass : ndarray of shape (n, K)
        ``log(Phi((hi - mu) / sigma) - Phi((lo - mu) / sigma))``.
    mean, var : ndarray of shape (n, K)
        Mean and variance of ``N(mu_k, sigma_k^2)`` restricted to the bin.
    """
    lo = np.reshape(lo, (-1, 1))
    hi = np.reshape(hi, (-1, 1))
    means = np.asarray(means, dtype=np.float64)
    sigmas = np.asarray(sigmas, dtype=np.float64)
    a = (lo - means) / sigmas
    b = (hi - means) / sigmas
    # Upper-tail bins are mirrored into the lower tail: N(0, 1) is symmetric.
    flip = a > 0
    a, b = np.where(flip, -b, a), np.where(flip, -a, b)
    log_z, m, var = _standard_moments(a, b)
    m = np.where(flip, -m, m)
    return log_z, means + sigmas * m, sigmas**2 * var


def _standard_moments(a, b):
    """Log-mass, mean and variance of N(0, 1) on ``[a, b]`` with ``a <= 0`` or ``b <= 0``."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        width = b - a
        narrow = width < _NARROW
        tail = b <= 0
        # Lower tail: Phi(x) = phi(x) * erfcx(-x / sqrt 2) * sqrt(pi / 2), so with
        # g = phi(a) / phi(b) the mass is phi(b) sqrt(pi/2) (E(b) - g E(a)).
        e_b = erfcx(-np.minimum(b, 0.0) / _SQRT2)
        e_a = erfcx(-np.minimum(a, 0.0) / _SQRT2)
        g = np.exp(0.5 * width * (a + b))
        g = np.where(np.isneginf(a), 0.0, g)
        diff = e_b - g * np.where(np.isneginf(a), 0.0, e_a)
        log_phi_b = -0.5 * b * b - _LOG_SQRT_2PI
        tail_log_z = log_phi_b + _LOG_SQRT_PI_OVER_2 + np.log(diff)
        tail_rb = _SQRT_2_OVER_PI / diff
        tail_ra = g * tail_rb
        # Straddling zero: Z = (erf(b / sqrt 2) - erf(a / sqrt 2)) / 2 adds two positives.
        z = 0.5 * (erf(b / _SQRT2) - erf(a / _SQRT2))
        phi_a = np.exp(-0.5 * a * a - _LOG_SQRT_2PI)
        phi_b = np.exp(-0.5 * b * b - _LOG_SQRT_2PI)
        log_z = np.where(tail, tail_log_z, np.log(z))
        ra = np.where(tail, tail_ra, phi_a / z)
        rb = np.where(tail, tail_rb, phi_b / z)
        a_ra = np.where(ra == 0, 0.0, a * ra)
        b_rb = np.where(rb == 0, 0.0, b * rb)
        mean = ra - rb
        var = 1.0 + a_ra - b_rb - mean * mean
        # Narrow bins: midpoint expansion (exact to O(width^4)).
        c = 0.5 * (a + b)
        w2 = width * width
        narrow_log_z = (
            -0.5 * c * c - _LOG_SQRT_2PI + np.log(width) + np.log1p((c * c - 1) * w2 / 24)
        )
        log_z = np.where(narrow, narrow_log_z, log_z)
        mean = np.where(narrow, c - c * w2 / 12.0, mean)
        var = np.where(narrow, w2 / 12.0, var)
        finite_a = np.isfinite(a)
        mean = np.clip(mean, np.where(finite_a, a, -np.inf), b)
        cap = np.where(np.isfinite(width), np.minimum(1.0, 0.25 * w2), 1.0)
        var = np.clip(np.nan_to_num(var, nan=0.0), 0.0, cap)
    return log_z, mean, var


@dataclass(frozen=True)
class BinnedParams:
    """Parameters of ``K`` binned Gaussian components: the Gaussian ones, in one dimension."""

    gaussian: GaussianParams

    @property
    def means(self):
        """Component means, shape (K,)."""
        return self.gaussian.means[:, 0]

    @property
    def sigmas(self):
        """Component standard deviations, shape (K,)."""
        K = self.gaussian.n_components
        return np.sqrt(np.broadcast_to(self.gaussian.covariances.reshape(-1), (K,)))


@dataclass
class BinnedStats(Stats):
    """Additive statistics of binned components.

    Parameters
    ----------
    counts : ndarray of shape (K_total,)
        Posterior counts of the observed bins per component (and the background last).
    moments : GaussianStats
        Truncated-moment statistics of the ``K`` Gaussian components (with a truncated
        range, including the expected draws outside it).
    """

    counts: np.ndarray
    moments: GaussianStats


class BinnedGaussianFamily(FamilyBase):
    """Normal components observed through bins (rows ``[lower, upper]``, weights = counts).

    Parameters
    ----------
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
        In one dimension ``'tied'`` is one variance shared by all components; the others are
        one variance per component (the layout of the covariances follows the name).
    reg_covar : float, default=1e-6
    observed_range : tuple of two floats or None
        ``(A, B)``, the span of the fitted bins; needed by ``truncate`` and ``background``.
    truncate : bool, default=False
        Condition the likelihood on observations lying in ``observed_range``.
    background : bool, default=False
        Add a uniform component over ``observed_range`` (the last column and weight).
    """

    param_names = ("means", "covariances")

    def __init__(
        self,
        covariance_type="full",
        reg_covar=1e-6,
        observed_range=None,
        truncate=False,
        background=False,
    ):
        self.gaussian = GaussianFamily(covariance_type, reg_covar)
        self.covariance_type = covariance_type
        self.observed_range = None if observed_range is None else tuple(map(float, observed_range))
        self.truncate = bool(truncate)
        self.background = bool(background)
        if (self.truncate or self.background) and self.observed_range is None:
            raise ValueError("truncate and background need the observed range of the bins")
        if self.background and not np.all(np.isfinite(self.observed_range)):
            raise ValidationError(
                f"background=True needs finite bin edges (a uniform component over the observed "
                f"range), but the bins span {self.observed_range}: close the open-ended bins or "
                "set background=False"
            )

    # ------------------------------------------------------------------ data
    def check_data(self, X, name="X"):
        """Bins: shape (n, 2), no NaN, ``lower < upper``, open ends only outward."""
        return check_bins(X, name)

    def init_features(self, X):
        """Bin centres, shape (n, 1), for the k-means style initialisers."""
        return bin_centres(np.asarray(X, dtype=np.float64))[:, None]

    @property
    def n_extra(self):
        """Components that are not Gaussian: 1 with a background, else 0."""
        return int(self.background)

    # ------------------------------------------------------------------ likelihood
    def range_log_mass(self, params):
        """``log P_k([A, B])`` of each Gaussian component, shape (K,); zeros if untruncated."""
        if not self.truncate:
            return np.zeros(params.gaussian.n_components)
        A, B = self.observed_range
        log_z, _, _ = normal_bin_moments(np.array([A]), np.array([B]), params.means, params.sigmas)
        return log_z[0]

    def _background_log_mass(self, X):
        A, B = self.observed_range
        overlap = np.minimum(X[:, 1], B) - np.maximum(X[:, 0], A)
        with np.errstate(divide="ignore"):
            return np.log(np.maximum(overlap, 0.0) / (B - A))

    def bin_moments(self, params, X):
        """``(log_mass, mean, var)`` of every component in every bin, each (n, K)."""
        return normal_bin_moments(X[:, 0], X[:, 1], params.means, params.sigmas)

    def log_likelihood(self, params, X, moments=None):
        """Log probability mass of each bin under each component, shape (n, K_total).

        ``moments`` are those of :meth:`bin_moments` if already computed.
        """
        log_z, _, _ = self.bin_moments(params, X) if moments is None else moments
        out = log_z - self.range_log_mass(params)
        if self.background:
            out = np.column_stack([out, self._background_log_mass(X)])
        return out

    # ------------------------------------------------------------------ statistics
    def expect_mixture(self, params, log_weights, X, w):
        """The generic one-pass E-step, with the bin moments computed once for both parts."""
        return FamilyBase.expect_mixture(
            _KnownMoments(self, self.bin_moments(params, X)), params, log_weights, X, w
        )

    def accumulate(self, params, X, wresp, moments=None):
        """Counts and truncated-moment statistics of the bins under ``wresp`` (n, K_total).

        Centred on the current means. Without ``params`` (initialisation) every bin is its
        centre with the variance of a uniform over it (``width^2 / 12``; 0 if open-ended),
        centred on the origin. ``moments`` are those of :meth:`bin_moments` if already
        computed.
        """
        X = np.asarray(X, dtype=np.float64)
        counts = wresp.sum(axis=0)
        r = wresp[:, : wresp.shape[1] - self.n_extra]
        K = r.shape[1]
        if params is None:
            width = X[:, 1] - X[:, 0]
            var = np.where(np.isfinite(width), width * width / 12.0, 0.0)[:, None]
            mean = bin_centres(X)[:, None]
            return BinnedStats(counts, self._moments(r, mean, var, np.zeros(K)))
        _, mean, var = self.bin_moments(params, X) if moments is None else moments
        stats = self._moments(r, mean, var, params.means)
        if self.truncate:
            stats = stats + self._outside(params, r.sum(axis=0))
        return BinnedStats(counts, stats)

    def _moments(self, r, mean, var, ref):
        """GaussianStats of weights ``r`` (n, K) at bin moments ``mean``/``var`` (n, K)."""
        delta = mean - ref
        n_k = r.sum(axis=0)
        sums = (r * delta).sum(axis=0)
        scatter = (r * (var + delta * delta)).sum(axis=0)
        return GaussianStats(n_k, sums[:, None], self._layout(scatter), ref[:, None])

    def _layout(self, scatter):
        """Per-component 1-D scatter (K,) in the covariance type's layout."""
        shape = STRATEGIES[self.covariance_type].shape(scatter.shape[0], 1)
        if self.covariance_type == "tied":
            return np.full(shape, scatter.sum())
        return scatter.reshape(shape)

    def _outside(self, params, n_k):
        """Expected draws outside the observed range given ``n_k`` inside, as statistics."""
        A, B = self.observed_range
        mu, sigma = params.means, params.sigmas
        edges = [(lo, hi) for lo, hi in ((-np.inf, A), (B, np.inf)) if lo < hi]
        lo = np.array([e[0] for e in edges])
        hi = np.array([e[1] for e in edges])
        log_z, mean, var = normal_bin_moments(lo, hi, mu, sigma)
        # n_k P_k(outside piece) / P_k(range): the expected draws in that piece.
        r = n_k * np.exp(log_z - self.range_log_mass(params))
        return self._moments(r, mean, var, mu)

    def initial_params(self, weighted_blocks, n_components):
        """Parameters from an assignment over the Gaussian components.

        A background starts with the share ``1 / (n_components + 1)``.
        """
        stats = sum_stats(self._initial_accumulate, weighted_blocks)
        if self.background:
            peaks = stats.counts[:-1]
            share = 1.0 / (n_components + 1)
            stats.counts = np.append(peaks * (1 - share), share * peaks.sum())
        return self.maximize(stats, None), stats

    def _initial_accumulate(self, X, wresp):
        if self.background:
            wresp = np.column_stack([wresp, np.zeros(wresp.shape[0])])
        return self.accumulate(None, X, wresp)

    def maximize(self, stats, params=None, fixed=frozenset(), empty=()):
        """The Gaussian M-step on the truncated-moment statistics."""
        old = None if params is None else params.gaussian
        return BinnedParams(self.gaussian.maximize(stats.moments, old, fixed, empty))

    def recentre(self, stats, like):
        """``stats`` with their moments centred like those of ``like``."""
        return BinnedStats(stats.counts, self.gaussian.recentre(stats.moments, like.moments))

    def reseed(self, params, k, row, stats):
        """Component ``k`` moved onto the centre of bin ``row``; the background stays."""
        if k >= params.gaussian.n_components:
            return params
        centre = bin_centres(np.asarray(row, dtype=np.float64)[None, :])
        return BinnedParams(self.gaussian.reseed(params.gaussian, k, centre, stats.moments))

    def n_parameters(self, n_components, n_features):
        """Means and variances of the Gaussian components (the background has none)."""
        K = n_components - self.n_extra
        return self.gaussian.n_parameters(K, 1)

    def sample(self, params, k, n, rng):
        """``n`` values (shape (n, 1)) from component ``k``: within the range if truncated."""
        if k >= params.gaussian.n_components:
            A, B = self.observed_range
            return rng.uniform(A, B, size=(n, 1))
        mu, sigma = params.means[k], params.sigmas[k]
        if not self.truncate:
            return (mu + sigma * rng.standard_normal(n))[:, None]
        A, B = self.observed_range
        a, b = (A - mu) / sigma, (B - mu) / sigma
        return truncnorm.rvs(a, b, loc=mu, scale=sigma, size=n, random_state=rng)[:, None]


class _KnownMoments:
    """The family's log-likelihood and statistics of one block whose bin moments are known."""

    def __init__(self, family, moments):
        self.family = family
        self.moments = moments

    def log_likelihood(self, params, X):
        return self.family.log_likelihood(params, X, self.moments)

    def accumulate(self, params, X, wresp):
        return self.family.accumulate(params, X, wresp, self.moments)
