"""BinnedGaussianMixture: a one-dimensional Gaussian mixture fitted to binned data.

Histograms (bin edges + counts) and sampled spectra (positions + intensities) are fitted by
exact EM for grouped data (McLachlan & Jones, 1988; the family is
:class:`emkit.families.binned.BinnedGaussianFamily`), not by repeating each bin centre
``count`` times, which overstates the variances of wide bins. Rows of ``X`` are bins
``[lower, upper]``, ``sample_weight`` holds their counts; :func:`bins_from_edges` and
:func:`bins_from_centres` build ``X``.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import validate_data

from emkit import _validation as v
from emkit.exceptions import ValidationError
from emkit.families.binned import BinnedGaussianFamily, BinnedParams, check_bins
from emkit.families.noise import bounding_box
from emkit.models.gaussian_mixture import GaussianMixture
from emkit.models.mixture_base import common_arguments


def bins_from_edges(edges):
    """Bins ``[edges[i], edges[i + 1]]`` as the rows of an ``X`` for binned mixtures.

    Parameters
    ----------
    edges : array-like of shape (n_bins + 1,)
        Strictly increasing; the first may be ``-inf`` and the last ``inf`` (open-ended
        bins, as R's mixdist writes grouped data).

    Returns
    -------
    X : ndarray of shape (n_bins, 2)
        Lower and upper edge of each bin.
    """
    edges = _check_positions(edges, "edges", "bin edges")
    return np.column_stack([edges[:-1], edges[1:]])


def bins_from_centres(positions):
    """Bins around sampled positions (a spectrum's abscissa), as the rows of an ``X``.

    Each position gets the cell between the midpoints to its neighbours; the first and last
    cells extend by half the spacing to their one neighbour, so that evenly spaced positions
    get equal bins centred on them, and the bins tile the sampled range without gaps.

    Parameters
    ----------
    positions : array-like of shape (n_points,)
        Strictly increasing, finite, at least two.

    Returns
    -------
    X : ndarray of shape (n_points, 2)
    """
    x = _check_positions(positions, "positions", "sample positions")
    if not np.all(np.isfinite(x)):
        raise ValidationError("positions must be finite; drop the non-finite positions")
    mid = 0.5 * (x[1:] + x[:-1])
    edges = np.concatenate([[x[0] - (mid[0] - x[0])], mid, [x[-1] + (x[-1] - mid[-1])]])
    return np.column_stack([edges[:-1], edges[1:]])


def _check_positions(values, name, what):
    try:
        x = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a 1-D array of numbers ({what})") from None
    if x.ndim != 1 or x.size < 2:
        raise ValidationError(
            f"{name} must be a 1-D array of at least 2 {what}, got shape {x.shape}"
        )
    step = np.diff(x)
    bad = np.flatnonzero(~(step > 0))
    if bad.size:
        i = int(bad[0])
        raise ValidationError(
            f"{name} must be strictly increasing ({what}); {name}[{i}] = {x[i].item()!r} is "
            f"followed by {x[i + 1].item()!r}: sort them and remove duplicates or NaN"
        )
    return x


class BinnedGaussianMixture(GaussianMixture):
    """Gaussian mixture of one variable observed as binned counts, fitted by exact EM.

    The likelihood of a bin is each component's probability mass over it, and the M-step
    uses each component's truncated moments within each bin (McLachlan & Jones, 1988), so
    coarse bins give unbiased means and variances. The R package mixdist fits the same
    model (its ``mix(..., "norm")``; ``covariance_type='tied'`` is its ``consigma="SEQ"``).

    Parameters
    ----------
    n_components : int, default=1
        Number of Gaussian components (a background is one more weight, see ``background``).
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
        ``'tied'``: one variance shared by all components; the others (equivalent in one
        dimension): one variance per component, in that type's array layout.
    truncate : bool, default=False
        Condition the likelihood on the observed range (the span of the bins given to
        ``fit``): the components are normals truncated to it and ``weights_`` are shares of
        what was observed. Without it, the mass outside the bins is taken to be observed and
        empty (a histogram that covers all the data).
    background : bool, default=False
        Add a uniform component over the observed range (finite edges needed), whose share
        is fitted; it is the last entry of ``weights_`` and the last column of
        :meth:`predict_proba`.
    tol, reg_covar, max_iter, n_init, init_params, random_state, warm_start, verbose, \
    verbose_interval, chunk_size, learning_decay, learning_offset
        As in :class:`~emkit.GaussianMixture`; initialisers see the bin centres weighted by
        the counts.
    weights_init : array-like of shape (n_components,), default=None
        With ``background``, shape (n_components + 1,), the background share last.
    means_init : array-like of shape (n_components, 1), default=None
    precisions_init : array-like, default=None
        In ``covariance_type``'s layout for one feature.

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,) or (n_components + 1,)
    means_ : ndarray of shape (n_components, 1)
    covariances_, precisions_, precisions_cholesky_ : ndarray
        As in :class:`~emkit.GaussianMixture` for one feature.
    observed_range_ : ndarray of shape (2,)
        Lowest lower edge and highest upper edge of the fitted bins.
    converged_, n_iter_, lower_bound_, lower_bounds_
        As in :class:`~emkit.GaussianMixture`; the bound is the count-weighted mean log
        probability of the bins.
    n_features_in_ : int
        2 (the two edges of a bin).

    Notes
    -----
    ``X`` holds one bin ``[lower, upper]`` per row and ``sample_weight`` the bin counts
    (intensities of a spectrum work the same way; see :func:`bins_from_edges` and
    :func:`bins_from_centres`). :meth:`score_samples` gives the log probability of each bin,
    :meth:`predict_proba` the share of each bin's count owed to each component, and
    :meth:`sample` draws values (shape (n, 1)), not bins. With ``partial_fit`` the observed
    range is that of the first block.
    """

    def __init__(
        self,
        n_components=1,
        *,
        covariance_type="full",
        truncate=False,
        background=False,
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
        args = locals()
        super().__init__(
            **common_arguments(args),
            covariance_type=covariance_type,
            reg_covar=reg_covar,
            means_init=means_init,
            precisions_init=precisions_init,
        )
        self.truncate = truncate
        self.background = background

    # ------------------------------------------------------------------ family hooks
    def fit(self, X, y=None, sample_weight=None, **options):
        """Fit the bins ``X`` (one ``[lower, upper]`` per row); their counts are ``sample_weight``.

        Otherwise as :meth:`GaussianMixture.fit` (``labels`` are not taken: a row is a bin).
        """
        return super().fit(X, _no_counts_in_y(y), sample_weight, **options)

    def fit_predict(self, X, y=None, sample_weight=None, **options):
        """:meth:`fit`, then the most probable component of each bin."""
        return super().fit_predict(X, _no_counts_in_y(y), sample_weight, **options)

    def partial_fit(self, X, y=None, sample_weight=None, **options):
        """One stepwise-EM update from a block of bins and their counts (``sample_weight``)."""
        return super().partial_fit(X, _no_counts_in_y(y), sample_weight, **options)

    def _make_family(self):
        observed = getattr(self, "observed_range_", None)
        return BinnedGaussianFamily(
            self.covariance_type,
            self.reg_covar,
            None if observed is None else tuple(observed),
            truncate=self.truncate,
            background=self.background,
        )

    def _check_family_params(self):
        super()._check_family_params()
        for name in ("truncate", "background"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise TypeError(f"{name} must be True or False, got {getattr(self, name)!r}")

    def _n_weights(self):
        return self.n_components + int(bool(self.background))

    def _check_data(self, X, reset):
        if X is None:
            raise ValidationError("X is None; pass bins of shape (n_bins, 2) [lower, upper]")
        try:
            X = validate_data(self, X, reset=reset, dtype=np.float64, ensure_all_finite=False)
        except ValueError as err:
            raise v._explain_bad_X(err, X, type(self).__name__, 1) from None
        return self._check_block(X)

    def _check_block(self, X):
        return check_bins(X)

    def _source(self, X, sample_weight, *, reset):
        source = super()._source(X, sample_weight, reset=reset)
        if reset:
            low, high = bounding_box(source.blocks())
            self.observed_range_ = np.array([low[0], high[1]])
        return source

    def _check_inits(self, d):
        return super()._check_inits(1)

    def _init_components(self, given, assigned):
        comps = super()._init_components(given, None if assigned is None else assigned.gaussian)
        return BinnedParams(comps)

    def _set_components(self, c, dtype):
        super()._set_components(c.gaussian, dtype)

    def _get_components(self):
        return BinnedParams(super()._get_components())

    def _check_component_state(self, K, d):
        if d != 2:
            raise ValueError(f"n_features_in_ must be 2 (bin edges), got {d}")
        super()._check_component_state(self.n_components, 1)
        observed = getattr(self, "observed_range_", None)
        if not isinstance(observed, np.ndarray) or observed.shape != (2,):
            raise ValueError("observed_range_ must be an array [lower, upper]")
        if not observed[0] < observed[1]:
            raise ValueError(f"observed_range_ must have lower < upper, got {observed.tolist()}")

    # ------------------------------------------------------------------ derived values
    @property
    def sigmas_(self):
        """Standard deviation of each component, shape (n_components,)."""
        return self._get_components().sigmas


def _no_counts_in_y(y):
    """None, or an error: the counts of the bins are ``sample_weight``, never ``y``."""
    if y is not None:
        raise ValidationError(
            "BinnedGaussianMixture takes the counts of the bins as sample_weight=, not as y: "
            "call fit(X, sample_weight=counts)"
        )
    return None
