"""Pictures of a fitted mixture: classification, pairs, uncertainty, density, weights, 1-D fit."""

from __future__ import annotations

import numpy as np
from scipy import stats

from emkit.exceptions import ValidationError
from emkit.plot import _base
from emkit.plot._base import (
    MAX_POINTS,
    check_dims,
    check_feature,
    colors,
    draw_ellipses,
    gaussian_covariances,
    marginal_log_density,
    new_axes,
    plt,
    require,
    sample_rows,
)

__all__ = [
    "plot_classification",
    "plot_density",
    "plot_histogram",
    "plot_pairs",
    "plot_uncertainty",
    "plot_weights",
]


def _centres(model):
    """(K, d) centres of the components: means, rates or probabilities of a one."""
    for name in ("means_", "rates_", "probabilities_"):
        value = getattr(model, name, None)
        if isinstance(value, np.ndarray):
            return np.asarray(value, dtype=np.float64)
    return None


def _classification(ax, model, values, labels, dims, names, sigmas, proba=None):
    """Draw the rows by component, each component's ellipses and its mean on ``ax``."""
    i, j = dims
    labels_ = component_labels(model)
    palette = colors(len(labels_))
    covs = gaussian_covariances(model)
    centres = _centres(model)
    sizes = None
    if proba is not None:  # mclust's uncertainty: larger points are less certain
        uncertainty = 1.0 - proba.max(axis=1)
        top = max(float(uncertainty.max()), 1e-12)
        sizes = 2.0 + 60.0 * uncertainty / top
    for k, name in enumerate(labels_):
        rows = labels == k
        ax.scatter(
            values[rows, i],
            values[rows, j],
            s=4 if sizes is None else sizes[rows],
            color=palette[k],
            alpha=0.6,
            linewidths=0,
            label=name,
        )
        if covs is not None and k < len(covs):
            sub = covs[k][np.ix_([i, j], [i, j])]
            draw_ellipses(ax, centres[k, [i, j]], sub, palette[k], sigmas)
    if centres is not None:
        ax.scatter(
            centres[:, i], centres[:, j], marker="X", s=80, color="black", label="means", zorder=3
        )
    ax.set_xlabel(names[i])
    ax.set_ylabel(names[j])


def component_labels(model):
    """``component 0``, ``component 1``, ... and the name of a weight past them (background)."""
    n = len(model.weights_)
    extra = getattr(model, "_extra_weight_name", "background")  # a noise component: "noise"
    return [f"component {k}" if k < model.n_components else extra for k in range(n)]


def _scatter_inputs(model, what, feature_names, dims, X, max_points):
    """Checked ``(names, dims, rows, values)`` of a scatter of two features of ``X``."""
    require(model, "weights_", what=what)
    names = _base.feature_names(model, feature_names)
    dims = check_dims(dims, model.n_features_in_)
    rows, values = sample_rows(X, max_points)
    return names, dims, rows, values


def plot_classification(
    model,
    X,
    *,
    dims=(0, 1),
    sigmas=(1, 2, 3),
    feature_names=None,
    max_points=MAX_POINTS,
    ax=None,
):
    """Scatter of the rows coloured by component, with covariance ellipses and means.

    Parameters
    ----------
    model : fitted mixture
        Ellipses are drawn for a Gaussian mixture (any covariance type); other families show
        their centres (rates, probabilities of a one).
    X : array-like of shape (n_samples, n_features)
        An array, a DataFrame, a ``numpy.memmap`` or a ``.npy`` path.
    dims : (int, int), default=(0, 1)
        Features on the horizontal and vertical axes.
    sigmas : sequence of float, default=(1, 2, 3)
        Mahalanobis radii of the ellipses of each component.
    feature_names : list of str, optional
        Axis labels when the model has no ``feature_names_in_``.
    max_points : int or None, default=20000
        Draw a uniform sample of this many rows of larger data (None: all).
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    names, dims, rows, values = _scatter_inputs(
        model, "plot_classification", feature_names, dims, X, max_points
    )
    ax = new_axes(ax)
    _classification(ax, model, values, model.predict(rows), dims, names, sigmas)
    ax.set_title("classification")
    ax.legend(loc="best", fontsize="small", markerscale=2)
    return ax


def plot_uncertainty(model, X, *, dims=(0, 1), feature_names=None, max_points=MAX_POINTS, ax=None):
    """The classification with each point's size proportional to ``1 - max posterior``.

    As mclust's uncertainty plot: the rows whose component is least certain stand out.
    Parameters are those of :func:`plot_classification`.

    Returns
    -------
    matplotlib.axes.Axes
    """
    names, dims, rows, values = _scatter_inputs(
        model, "plot_uncertainty", feature_names, dims, X, max_points
    )
    proba = model.predict_proba(rows)
    ax = new_axes(ax)
    _classification(ax, model, values, proba.argmax(axis=1), dims, names, (1,), proba)
    ax.set_title("uncertainty (point size: 1 - max posterior)")
    return ax


def plot_density(
    model,
    X=None,
    *,
    dims=(0, 1),
    levels=12,
    resolution=120,
    feature_names=None,
    max_points=MAX_POINTS,
    ax=None,
):
    """Contours of a Gaussian mixture's log-density on two features (its marginal there).

    Parameters
    ----------
    model : fitted GaussianMixture
    X : array-like of shape (n_samples, n_features), optional
        Drawn as grey points under the contours and used for the extent of the grid.
    dims : (int, int), default=(0, 1)
    levels : int, default=12
        Number of contour levels, evenly spaced in log-density.
    resolution : int, default=120
        Grid points per axis.
    feature_names, max_points, ax
        As in :func:`plot_classification`.

    Returns
    -------
    matplotlib.axes.Axes
    """
    require(model, "means_", "covariances_", what="plot_density")
    names = _base.feature_names(model, feature_names)
    i, j = check_dims(dims, model.n_features_in_)
    covs = gaussian_covariances(model)
    means = np.asarray(model.means_, dtype=np.float64)
    spread = np.sqrt(np.array([[c[i, i], c[j, j]] for c in covs]))
    low = (means[:, [i, j]] - 3 * spread).min(axis=0)
    high = (means[:, [i, j]] + 3 * spread).max(axis=0)
    ax = new_axes(ax)
    if X is not None:
        _, values = sample_rows(X, max_points)
        low = np.minimum(low, values[:, [i, j]].min(axis=0))
        high = np.maximum(high, values[:, [i, j]].max(axis=0))
        ax.scatter(values[:, i], values[:, j], s=3, color="0.6", alpha=0.5, linewidths=0)
    gx, gy = (np.linspace(lo, hi, resolution) for lo, hi in zip(low, high, strict=True))
    xx, yy = np.meshgrid(gx, gy)
    log_density = marginal_log_density(model, np.column_stack([xx.ravel(), yy.ravel()]), [i, j])
    top = float(log_density.max())
    contours = ax.contour(
        xx,
        yy,
        log_density.reshape(xx.shape),
        levels=np.linspace(top - 10.0, top, levels),
        cmap="viridis",
    )
    ax.figure.colorbar(contours, ax=ax, label="log-density")
    ax.set_xlabel(names[i])
    ax.set_ylabel(names[j])
    ax.set_title("density")
    return ax


def plot_weights(model, *, ax=None):
    """Bar chart of the mixing weights, one bar (and colour) per component.

    Returns
    -------
    matplotlib.axes.Axes
    """
    require(model, "weights_", what="plot_weights")
    weights = np.asarray(model.weights_, dtype=np.float64)
    K = len(weights)
    ax = new_axes(ax)
    ax.bar(np.arange(K), weights, color=colors(K))
    ax.set_xticks(
        np.arange(K), [name.removeprefix("component ") for name in component_labels(model)]
    )
    ax.set_xlabel("component")
    ax.set_ylabel("weight")
    ax.set_title("component weights")
    return ax


def _discrete_pmf(model, feature):
    """``pmf(grid) -> (K, len(grid))`` of a count or binary family on one feature, or None."""
    if hasattr(model, "means_") or hasattr(model, "categories_"):
        return None
    if hasattr(model, "rates_"):
        rates = np.asarray(model.rates_, dtype=np.float64)[:, feature, None]
        return lambda grid: stats.poisson.pmf(grid[None, :], rates)
    probabilities = np.asarray(model.probabilities_, dtype=np.float64)[:, feature, None]
    return lambda grid: stats.bernoulli.pmf(grid[None, :], probabilities)


def _component_curves(model, feature, grid):
    """(K, len(grid)) weighted density (or probability) of each component on one feature."""
    weights = np.asarray(model.weights_, dtype=np.float64)[: model.n_components, None]
    pmf = _discrete_pmf(model, feature)
    if pmf is not None:
        return weights * pmf(grid)
    require(model, "means_", "covariances_", what="plot_histogram")
    covs = gaussian_covariances(model)
    means = np.asarray(model.means_, dtype=np.float64)[:, feature]
    sd = np.sqrt(covs[:, feature, feature])
    return weights * stats.norm.pdf(grid[None, :], means[:, None], sd[:, None])


def _histogram(ax, model, values, feature, name, bins):
    """Histogram of one feature with each component's curve and their sum."""
    x = values[:, feature]
    counts = _discrete_pmf(model, feature) is not None
    K = model.n_components
    palette = colors(K)
    if counts:  # one bar per whole number, probabilities against probabilities
        top = max(int(np.ceil(x.max())), 1 if hasattr(model, "probabilities_") else 0)
        grid = np.arange(0, top + 1, dtype=np.float64)
        ax.hist(x, bins=np.arange(-0.5, top + 1.5), density=True, color="0.8", label="data")
    else:
        ax.hist(x, bins=bins, density=True, color="0.8", label="data")
        pad = 0.05 * (x.max() - x.min() + 1e-12)
        grid = np.linspace(x.min() - pad, x.max() + pad, 400)
    curves = _component_curves(model, feature, grid)
    style = {"marker": "o", "markersize": 3} if counts else {}
    for k in range(K):
        ax.plot(grid, curves[k], color=palette[k], label=f"component {k}", **style)
    ax.plot(grid, curves.sum(axis=0), color="black", linewidth=2, label="mixture", **style)
    ax.set_xlabel(name)
    ax.set_ylabel("probability" if counts else "density")


def plot_histogram(
    model, X, *, feature=0, bins="auto", feature_names=None, max_points=None, ax=None
):
    """Histogram of one feature with each fitted component and their sum.

    For a Gaussian mixture the curves are the weighted component densities of that feature
    (its marginal); for a Poisson or Bernoulli mixture the weighted probabilities of each
    value.

    Parameters
    ----------
    model : fitted GaussianMixture, PoissonMixture or BernoulliMixture
    X : array-like of shape (n_samples, n_features)
    feature : int, default=0
    bins : int or str, default="auto"
        Histogram bins (real-valued data; counts get one bar per value).
    feature_names, ax
        As in :func:`plot_classification`.
    max_points : int or None, default=None
        Histogram of a uniform sample of this many rows (None: all).

    Returns
    -------
    matplotlib.axes.Axes
    """
    require(model, "weights_", what="plot_histogram")
    names = _base.feature_names(model, feature_names)
    feature = check_feature(feature, model.n_features_in_)
    _, values = sample_rows(X, max_points)
    ax = new_axes(ax)
    _histogram(ax, model, values, feature, names[feature], bins)
    ax.set_title("fitted components")
    ax.legend(loc="best", fontsize="small")
    return ax


def plot_pairs(
    model,
    X,
    *,
    features=None,
    sigmas=(1, 2),
    feature_names=None,
    max_points=MAX_POINTS,
    axes=None,
):
    """A grid of every pair of features: classification below the diagonal, 1-D fits on it.

    Parameters
    ----------
    model : fitted mixture
    X : array-like of shape (n_samples, n_features)
    features : list of int, optional
        The features to show (default: all, at most 6).
    sigmas : sequence of float, default=(1, 2)
        Radii of the ellipses.
    feature_names, max_points
        As in :func:`plot_classification`.
    axes : ndarray of matplotlib.axes.Axes of shape (n_shown, n_shown), optional
        Where to draw (a new figure by default).

    Returns
    -------
    ndarray of matplotlib.axes.Axes, shape (n_shown, n_shown)
        The panels above the diagonal are hidden.
    """
    require(model, "weights_", what="plot_pairs")
    names = _base.feature_names(model, feature_names)
    d = model.n_features_in_
    features = (
        list(range(min(d, 6))) if features is None else [check_feature(f, d) for f in features]
    )
    if len(features) < 2:
        raise ValidationError(f"plot_pairs needs at least two features, got {features!r}")
    rows, values = sample_rows(X, max_points)
    labels = model.predict(rows)
    m = len(features)
    if axes is None:
        axes = plt.subplots(m, m, figsize=(2.6 * m, 2.6 * m), squeeze=False)[1]
    axes = np.asarray(axes, dtype=object)
    if axes.shape != (m, m):
        raise ValidationError(f"axes must be a ({m}, {m}) array of Axes, got shape {axes.shape}")
    fig = axes[0, 0].figure
    for r, fr in enumerate(features):
        for c, fc in enumerate(features):
            ax = axes[r, c]
            if r == c:
                _histogram(ax, model, values, fr, names[fr], "auto")
            elif r > c:
                _classification(ax, model, values, labels, (fc, fr), names, sigmas)
            else:
                ax.set_visible(False)
                continue
            if c > 0 and r != c:
                ax.set_ylabel("")
            if r < m - 1:
                ax.set_xlabel("")
    handles, labels_ = axes[1, 0].get_legend_handles_labels()
    fig.legend(handles, labels_, loc="upper right", fontsize="small", markerscale=2)
    fig.suptitle("pairs")
    fig.tight_layout()
    return axes
