"""PeakFit: decompose a 1-D signal (spectrum, chromatogram, histogram) into Gaussian peaks.

The signal is fitted as a binned Gaussian mixture
(:class:`~emkit.models.binned_mixture.BinnedGaussianMixture`, exact EM for grouped data),
the number of peaks chosen by BIC when not given, and each peak reported as centre, width
(sigma and FWHM), area and share with standard errors from the observed information (a
central-difference Hessian of the grouped log-likelihood, inverted, and the delta method).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from emkit import _validation as v
from emkit.engine.mixture import MixtureEM, MixtureParams
from emkit.exceptions import DegenerateComponentWarning, ValidationError
from emkit.families.binned import BinnedParams
from emkit.families.covariance import COVARIANCE_TYPES, STRATEGIES
from emkit.families.gaussian import GaussianParams
from emkit.models._state import unchanged_on_error
from emkit.models.binned_mixture import BinnedGaussianMixture, bins_from_centres
from emkit.models.summary import html_view, peaks_summary

#: FWHM of a normal peak over its standard deviation, ``2 sqrt(2 ln 2)``.
FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))
# Central-difference steps, relative to each parameter's scale.
_STEP = 1e-3
# Restarts run to this tolerance; the best one then continues to ``tol``.
_SEARCH_TOL = 1e-5
# Below this total weight, fit weights are unlikely to be counts (see PeakFit's notes).
_FEW_COUNTS = 100.0

#: Columns of :meth:`PeakFit.table`, in order.
TABLE_COLUMNS = (
    "center",
    "center_se",
    "sigma",
    "sigma_se",
    "fwhm",
    "fwhm_se",
    "area",
    "area_se",
    "share",
    "share_se",
)


def signal_bins(X, y, name="X"):
    """Bins, fit weights and the per-bin scale of a signal given as ``X`` and ``y``.

    Parameters
    ----------
    X : array-like of shape (n,), (n, 1) or (n, 2)
        Sample positions (strictly increasing; each gets the cell between the midpoints to
        its neighbours) or bins ``[lower, upper]``.
    y : array-like of shape (n,) or None
        Intensities at the positions, or counts of the bins; non-negative. None: not checked.

    Returns
    -------
    bins : ndarray of shape (n, 2)
    weights : ndarray of shape (n,) or None
        ``y`` times each cell's width over the mean width for positions (the signal
        integrated over its cell, in the units of ``y``: ``y`` itself for even spacing);
        ``y`` for bins.
    unit : float
        Area of one unit of weight: the mean cell width for positions, 1 for bins.
    """
    try:
        arr = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an array of numbers (positions or bins)") from None
    if arr.ndim == 2 and arr.shape[1] == 2:
        bins, scale = arr, None
    elif arr.ndim == 1 or (arr.ndim == 2 and arr.shape[1] == 1):
        bins = bins_from_centres(arr.reshape(-1))
        width = bins[:, 1] - bins[:, 0]
        scale = width / width.mean()
    else:
        raise ValidationError(
            f"{name} must be positions, shape (n,), or bins [lower, upper], shape (n, 2); got "
            f"shape {arr.shape}"
        )
    unit = 1.0 if scale is None else float((bins[:, 1] - bins[:, 0]).mean())
    if y is None:
        return bins, None, unit
    try:
        y = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError("y must be an array of numbers (intensities or counts)") from None
    if y.shape != (bins.shape[0],):
        raise ValidationError(
            f"y has shape {y.shape} but {name} holds {bins.shape[0]} positions or bins; pass "
            f"one intensity per position, shape ({bins.shape[0]},)"
        )
    bad = np.flatnonzero(~(np.isfinite(y) & (y >= 0)))
    if bad.size:
        i = int(bad[0])
        raise ValidationError(
            f"y must hold finite, non-negative intensities; y[{i}] = {y[i].item()!r}: subtract a "
            "baseline that keeps the signal >= 0, or clip it at 0"
        )
    if not y.sum() > 0:
        raise ValidationError("y is zero everywhere; there is no signal to decompose")
    return bins, (y if scale is None else y * scale), unit


def _free_parameters(mixture):
    """The free parameters of a fitted binned mixture as a vector, and how to read it back.

    Order: the first ``len(weights_) - 1`` weights, the means, the sigmas (one if tied).
    """
    weights = np.asarray(mixture.weights_, dtype=np.float64)
    comps = mixture._get_components()
    sigmas = comps.sigmas[:1] if mixture.covariance_type == "tied" else comps.sigmas
    theta = np.concatenate([weights[:-1], comps.means, sigmas])
    return theta, len(weights), comps.gaussian.n_components


def _params_of(theta, n_weights, K, covariance_type):
    w = theta[: n_weights - 1]
    weights = np.append(w, 1.0 - w.sum())
    means = theta[n_weights - 1 : n_weights - 1 + K]
    sigmas = theta[n_weights - 1 + K :]
    shape = STRATEGIES[covariance_type].shape(K, 1)
    cov = np.reshape(sigmas**2, shape)
    gauss = GaussianParams.from_covariances(means[:, None], cov, covariance_type)
    return MixtureParams(weights, BinnedParams(gauss))


def grouped_log_likelihood(mixture, theta, bins, weights):
    """Count-weighted log-likelihood of the bins at free parameters ``theta``."""
    problem = MixtureEM(mixture._make_family())
    n_weights, K = len(mixture.weights_), mixture.n_components
    params = _params_of(theta, n_weights, K, mixture.covariance_type)
    log_norm, _ = problem.log_prob(params, bins)
    live = weights > 0
    return float(np.dot(weights[live], log_norm[live]))


def _steps(theta, n_weights, K):
    """Central-difference step of each free parameter: a thousandth of its scale.

    A weight's scale is the smaller of it and the dependent last weight; a mean's and a
    sigma's is the component's sigma.
    """
    w = theta[: n_weights - 1]
    sigmas = theta[n_weights - 1 + K :]
    weight_steps = _STEP * np.maximum(np.minimum(w, 1.0 - w.sum()), 1e-8)
    mean_steps = _STEP * np.broadcast_to(sigmas, (K,))
    return np.concatenate([weight_steps, mean_steps, _STEP * sigmas])


def observed_information(mixture, bins, weights):
    """Negative central-difference Hessian of the grouped log-likelihood at the fit.

    Returns
    -------
    info : ndarray of shape (p, p)
    theta : ndarray of shape (p,)
        The free parameters (see :func:`_free_parameters`).
    """
    theta, n_weights, K = _free_parameters(mixture)
    h = _steps(theta, n_weights, K)
    p = theta.size

    def f(di, dj=None, si=1.0, sj=1.0):
        t = theta.copy()
        t[di] += si * h[di]
        if dj is not None:
            t[dj] += sj * h[dj]
        return grouped_log_likelihood(mixture, t, bins, weights)

    f0 = grouped_log_likelihood(mixture, theta, bins, weights)
    H = np.empty((p, p))
    for i in range(p):
        H[i, i] = (f(i, si=1.0) - 2.0 * f0 + f(i, si=-1.0)) / h[i] ** 2
        for j in range(i):
            H[i, j] = H[j, i] = (
                f(i, j, 1, 1) - f(i, j, 1, -1) - f(i, j, -1, 1) + f(i, j, -1, -1)
            ) / (4 * h[i] * h[j])
    return -H, theta


def _jacobian(fun, theta, h):
    """Central-difference Jacobian of the vector function ``fun`` at ``theta``."""
    cols = []
    for i in range(theta.size):
        up, down = theta.copy(), theta.copy()
        up[i] += h[i]
        down[i] -= h[i]
        cols.append((fun(up) - fun(down)) / (2 * h[i]))
    return np.column_stack(cols)


class PeakFit(BaseEstimator):
    """Decompose a 1-D signal into Gaussian peaks by EM for binned data.

    Parameters
    ----------
    n_peaks : int or 'auto', default='auto'
        Number of peaks; ``'auto'`` picks the one of 1..``max_peaks`` with the lowest BIC.
    max_peaks : int, default=6
        Largest number of peaks tried by ``'auto'``.
    background : bool, default=False
        Add a flat (uniform) background over the observed range with a fitted share.
    truncate : bool, default=True
        Condition on the observed range (peaks may extend beyond the window; their areas
        are those of the whole peaks). See :class:`~emkit.BinnedGaussianMixture`.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
        ``'tied'``: all peaks share one width; the others: a width per peak.
    n_init : int, default=5
        EM restarts per number of peaks, each run to a tolerance of 1e-5; the best
        continues to ``tol``.
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data'}, default='k-means++'
        Initialiser of each restart, on the bin centres weighted by the signal.
    tol : float, default=1e-8
        Convergence threshold on the mean log-likelihood per count.
    max_iter : int, default=2000
    reg_covar : float, default=1e-6
        Added to every variance (in squared position units).
    random_state : int, RandomState instance or None, default=None
    verbose : int, default=0
        EM progress of each fit (as in :class:`~emkit.GaussianMixture`).

    Attributes
    ----------
    n_peaks_ : int
    mixture_ : BinnedGaussianMixture
        The fitted mixture (its components in EM's order; the peak arrays are sorted).
    centers_, sigmas_, fwhm_, areas_, shares_ : ndarray of shape (n_peaks_,)
        The peaks, sorted by centre. ``fwhm_ = 2 sqrt(2 ln 2) sigmas_``; ``areas_`` are
        whole-peak integrals (position x intensity units for positions, counts for bins);
        ``shares_`` the fractions of the observed signal.
    centers_se_, sigmas_se_, fwhm_se_, areas_se_, shares_se_ : ndarray of shape (n_peaks_,)
        Standard errors (NaN where the observed information is singular).
    background_share_, background_share_se_ : float
        Share of the signal in the background (0 without one).
    covariance_ : ndarray of shape (p, p)
        Inverse observed information of the free parameters: the first weights (all but
        the last entry of ``mixture_.weights_``), the means, the sigmas (one if tied).
    bic_ : ndarray of shape (max_peaks,) or (1,)
        BIC of each number of peaks tried (``bic_[k - 1]`` for ``k`` peaks with ``'auto'``).
    log_likelihood_ : float
        Grouped log-likelihood of the chosen fit.
    unit_ : float
        Area per unit of fit weight (the mean spacing for positions, 1 for bins).
    total_weight_ : float
        Sum of the fit weights (the signal's total in units of ``y``).

    Notes
    -----
    ``fit(X, y)`` takes sample positions (shape (n,)) and intensities, or bins ``[lower,
    upper]`` (shape (n, 2)) and counts. Positions become the cells between midpoints (see
    :func:`~emkit.bins_from_centres`), and each intensity is weighted by its cell's width
    over the mean width. Standard errors and BIC treat those weights as counts (Poisson
    statistics, e.g. counts per detector channel); for intensities in arbitrary units,
    scale them to counts first or read the errors as relative ones.
    """

    def __init__(
        self,
        n_peaks="auto",
        *,
        max_peaks=6,
        background=False,
        truncate=True,
        covariance_type="full",
        n_init=5,
        init_params="k-means++",
        tol=1e-8,
        max_iter=2000,
        reg_covar=1e-6,
        random_state=None,
        verbose=0,
    ):
        self.n_peaks = n_peaks
        self.max_peaks = max_peaks
        self.background = background
        self.truncate = truncate
        self.covariance_type = covariance_type
        self.n_init = n_init
        self.init_params = init_params
        self.tol = tol
        self.max_iter = max_iter
        self.reg_covar = reg_covar
        self.random_state = random_state
        self.verbose = verbose

    def _check_params(self):
        if self.n_peaks != "auto":
            v.check_int(self.n_peaks, "n_peaks", 1)
        v.check_int(self.max_peaks, "max_peaks", 1)
        v.check_real(self.tol, "tol", 0.0)
        v.check_choice(self.covariance_type, "covariance_type", COVARIANCE_TYPES)

    def _mixture(self, K):
        return BinnedGaussianMixture(
            K,
            covariance_type=self.covariance_type,
            truncate=self.truncate,
            background=self.background,
            tol=max(self.tol, _SEARCH_TOL),
            reg_covar=self.reg_covar,
            max_iter=self.max_iter,
            n_init=self.n_init,
            init_params=self.init_params,
            random_state=self.random_state,
            verbose=self.verbose,
        )

    def fit(self, X, y):
        """Fit the peaks.

        Parameters
        ----------
        X : array-like of shape (n,) or (n, 2)
            Sample positions (strictly increasing) or bins ``[lower, upper]``.
        y : array-like of shape (n,)
            Intensities at the positions, or counts of the bins (non-negative).

        Returns
        -------
        self : object
        """
        with unchanged_on_error(self):
            self._fit(X, y)
        return self

    def _fit(self, X, y):
        self._check_params()
        bins, weights, unit = signal_bins(X, y)
        positive = int(np.count_nonzero(weights))
        if self.n_peaks == "auto":
            tried = range(1, min(self.max_peaks, positive) + 1)
        elif self.n_peaks > positive:
            raise ValidationError(
                f"n_peaks = {self.n_peaks} but y has only {positive} positive value(s); ask "
                "for fewer peaks"
            )
        else:
            tried = [self.n_peaks]
        total = float(weights.sum())
        if total < _FEW_COUNTS:
            warnings.warn(
                f"y sums to {total:.3g}: the standard errors and the BIC that chooses the "
                "number of peaks treat y as counts, so with so few they are large and BIC "
                "barely penalises extra peaks; scale y to counts (e.g. detector counts per "
                "channel) for meaningful ones",
                UserWarning,
                stacklevel=3,
            )
        fits, bics = [], []
        with warnings.catch_warnings():
            # Restarts and peak counts that empty a component are expected while searching.
            warnings.filterwarnings("ignore", message="Best performing initialization")
            warnings.filterwarnings("ignore", category=DegenerateComponentWarning)
            for K in tried:
                mixture = self._mixture(K).fit(bins, sample_weight=weights)
                if self.tol < _SEARCH_TOL:  # polish the best restart
                    mixture.set_params(warm_start=True, tol=self.tol).fit(
                        bins, sample_weight=weights
                    )
                    mixture.set_params(warm_start=False)
                fits.append(mixture)
                bics.append(mixture.bic(bins, sample_weight=weights))
        best = int(np.argmin(bics))
        self._describe(fits[best], bins, weights, unit)
        self.bic_ = np.asarray(bics, dtype=np.float64)

    def _describe(self, mixture, bins, weights, unit):
        """Set the peak arrays and their standard errors from a fitted mixture."""
        info, theta = observed_information(mixture, bins, weights)
        n_weights, K = len(mixture.weights_), mixture.n_components
        info = 0.5 * (info + info.T)
        if np.all(np.linalg.eigvalsh(info) > 0):
            cov = np.linalg.inv(info)
        else:
            warnings.warn(
                "the observed information is not positive definite (a peak or the background "
                "is not identified by the data, e.g. a share near 0 or a peak narrower than "
                "a bin); its standard errors are NaN",
                UserWarning,
                stacklevel=3,
            )
            cov = np.full_like(info, np.nan)
        family = mixture._make_family()
        total = float(weights.sum())

        def values(t):
            """Shares of every component, and the peak areas per unit of total weight."""
            params = _params_of(t, n_weights, K, mixture.covariance_type)
            log_range = family.range_log_mass(params.components)
            return np.concatenate([params.weights, params.weights[:K] * np.exp(-log_range)])

        J = _jacobian(values, theta, _steps(theta, n_weights, K))
        point = values(theta)
        var = np.einsum("ij,jk,ik->i", J, cov, J)
        with np.errstate(invalid="ignore"):
            se = np.sqrt(var)
        sigma_var = np.diag(cov)[n_weights - 1 + K :]
        comps = mixture._get_components()
        order = np.argsort(comps.means, kind="stable")
        shares, share_se = point[:n_weights], se[:n_weights]
        per_area = point[n_weights:]
        # area = unit * total * g: the total is Poisson (variance = total), independent of
        # the multinomial estimate of g.
        area_var = (unit**2) * (per_area**2 * total + total**2 * var[n_weights:])
        sigma_se = np.sqrt(np.broadcast_to(sigma_var, (K,)))
        self.mixture_ = mixture
        self.n_peaks_ = K
        self.centers_ = comps.means[order]
        self.centers_se_ = np.sqrt(np.diag(cov)[n_weights - 1 : n_weights - 1 + K])[order]
        self.sigmas_ = comps.sigmas[order]
        self.sigmas_se_ = sigma_se[order]
        self.fwhm_ = FWHM_PER_SIGMA * self.sigmas_
        self.fwhm_se_ = FWHM_PER_SIGMA * self.sigmas_se_
        self.areas_ = unit * total * per_area[order]
        self.areas_se_ = np.sqrt(area_var)[order]
        self.shares_ = shares[:K][order]
        self.shares_se_ = share_se[:K][order]
        self.background_share_ = float(shares[K]) if self.background else 0.0
        self.background_share_se_ = float(share_se[K]) if self.background else 0.0
        self.covariance_ = cov
        self.log_likelihood_ = grouped_log_likelihood(mixture, theta, bins, weights)
        self.unit_ = unit
        self.total_weight_ = total

    def predict(self, X):
        """Fitted intensities at positions (or fitted counts of bins), shape (n,).

        Parameters
        ----------
        X : array-like of shape (n,) or (n, 2)
            Positions or bins, as in :meth:`fit`.
        """
        check_is_fitted(self, "mixture_")
        bins, _, _ = signal_bins(X, None)
        mass = np.exp(self.mixture_.score_samples(bins))
        width = bins[:, 1] - bins[:, 0]
        if np.asarray(X).ndim == 2 and np.asarray(X).shape[1] == 2:
            return self.total_weight_ * mass
        return self.total_weight_ * mass * self.unit_ / width

    def table(self):
        """The peaks as a dict of columns (see :data:`TABLE_COLUMNS`), sorted by centre."""
        check_is_fitted(self, "mixture_")
        return {name: getattr(self, _ATTRIBUTE[name]).copy() for name in TABLE_COLUMNS}

    def format_table(self, digits=4):
        """The peak table as aligned text, one peak per line (and the background share)."""
        cols = self.table()
        head = ["peak", *TABLE_COLUMNS]
        rows = [
            [str(k + 1), *(f"{cols[c][k]:.{digits}g}" for c in TABLE_COLUMNS)]
            for k in range(self.n_peaks_)
        ]
        widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
        lines = [
            "  ".join(x.rjust(w) for x, w in zip(r, widths, strict=True)) for r in [head, *rows]
        ]
        if self.background:
            lines.append(
                f"background share {self.background_share_:.{digits}g} "
                f"(se {self.background_share_se_:.{digits}g})"
            )
        return "\n".join(lines)

    def summary(self, digits=4):
        """A readable summary of the fit (text with ``str``, HTML in notebooks).

        Parameters
        ----------
        digits : int, default=4
            Significant digits of the numbers in the peak table.

        Returns
        -------
        Summary
        """
        check_is_fitted(self, "mixture_")
        return peaks_summary(self, digits)

    def _repr_html_(self):
        """The summary as HTML once fitted (scikit-learn's estimator diagram before)."""
        return html_view(self, hasattr(self, "mixture_"), self.summary)


#: Table column -> attribute.
_ATTRIBUTE = {
    "center": "centers_",
    "center_se": "centers_se_",
    "sigma": "sigmas_",
    "sigma_se": "sigmas_se_",
    "fwhm": "fwhm_",
    "fwhm_se": "fwhm_se_",
    "area": "areas_",
    "area_se": "areas_se_",
    "share": "shares_",
    "share_se": "shares_se_",
}
