"""What every plot shares: axes, colours, feature names, rows to draw, Gaussian marginals."""

from __future__ import annotations

import numpy as np

try:
    import matplotlib.pyplot as plt
    from matplotlib.patches import Ellipse
except ImportError as err:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "emkit.plot needs matplotlib; install it with: pip install 'emkit[plot]'"
    ) from err

from emkit.exceptions import ValidationError
from emkit.families.covariance import STRATEGIES
from emkit.models._inputs import open_array

#: Rows drawn at most in a scatter (a uniform sample of larger data).
MAX_POINTS = 20_000


def new_axes(ax, **subplots):
    """``ax`` if given, else the axes of a new figure."""
    if ax is not None:
        return ax
    return plt.subplots(**subplots)[1]


def colors(n):
    """``n`` distinct colours (tab10, then tab20, then evenly spaced hues)."""
    if n <= 10:
        return [plt.get_cmap("tab10")(i) for i in range(n)]
    if n <= 20:
        return [plt.get_cmap("tab20")(i) for i in range(n)]
    return [plt.get_cmap("hsv")(i / n) for i in range(n)]


def feature_names(model, given=None, n_features=None):
    """The model's ``feature_names_in_``, else ``given``, else ``x0, x1, ...``."""
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        names = given
    d = n_features if n_features is not None else getattr(model, "n_features_in_", None)
    if names is None:
        return [f"x{j}" for j in range(d or 0)]
    names = [str(n) for n in names]
    if d is not None and len(names) != d:
        raise ValidationError(
            f"feature_names has {len(names)} names but the model has {d} features; give one "
            "name per feature"
        )
    return names


def check_dims(dims, d, name="dims"):
    """Two distinct feature indices in ``range(d)``."""
    try:
        i, j = (int(x) for x in dims)
    except (TypeError, ValueError):
        raise ValidationError(f"{name} must be two feature indices, got {dims!r}") from None
    if not (0 <= i < d and 0 <= j < d) or i == j:
        raise ValidationError(
            f"{name}={tuple(dims)!r} must be two different feature indices in 0..{d - 1}"
        )
    return i, j


def check_feature(feature, d):
    """One feature index in ``range(d)``."""
    if isinstance(feature, bool) or not isinstance(feature, (int, np.integer)):
        raise ValidationError(f"feature must be a feature index, got {feature!r}")
    if not 0 <= feature < d:
        raise ValidationError(f"feature={feature} must lie in 0..{d - 1}")
    return int(feature)


def sample_rows(X, max_points, random_state=0):
    """``X`` (or a uniform sample of ``max_points`` of its rows, in order) for drawing.

    ``X`` may be an array-like, a pandas DataFrame (kept one, so that the model sees its
    column names), a ``numpy.memmap`` or a path to a ``.npy`` file (only the sampled rows are
    read).

    Returns
    -------
    rows : array-like
        What to pass to the model.
    values : ndarray of shape (n_rows, n_features)
        The same rows as numbers, to draw.
    """
    X = open_array(X)
    if not hasattr(X, "shape"):
        X = np.asarray(X)
    n = X.shape[0]
    if max_points is not None and n > max_points:
        rng = np.random.default_rng(random_state)
        index = np.sort(rng.choice(n, size=max_points, replace=False))
        X = X.iloc[index] if hasattr(X, "iloc") else np.asarray(X[index])
    values = np.asarray(X)
    if values.ndim == 1:
        values = values[:, None]
    if values.dtype.kind not in "biuf":
        raise ValidationError(
            "this plot draws numeric features; X holds "
            f"{values.dtype} values (plot a categorical model with plot_weights)"
        )
    return X, values.astype(np.float64)


def gaussian_covariances(model):
    """Every component's dense covariance, shape (K, d, d), or None for a non-Gaussian model."""
    kind = getattr(model, "covariance_type", None)
    if kind not in STRATEGIES or not hasattr(model, "covariances_"):
        return None
    K, d = np.shape(model.means_)
    return STRATEGIES[kind].full_matrices(np.asarray(model.covariances_), K, d)


def draw_ellipses(ax, mean, cov, color, sigmas=(1, 2, 3), label=None):
    """Ellipses of constant density at ``sigmas`` Mahalanobis radii of a 2-D Gaussian."""
    values, vectors = np.linalg.eigh(cov)
    values = np.clip(values, 0.0, None)
    angle = np.degrees(np.arctan2(vectors[1, 1], vectors[0, 1]))
    patches = []
    for i, s in enumerate(sigmas):
        patch = Ellipse(
            mean,
            width=2 * s * np.sqrt(values[1]),
            height=2 * s * np.sqrt(values[0]),
            angle=angle,
            facecolor="none",
            edgecolor=color,
            linewidth=1.5 if i == 0 else 1.0,
            alpha=max(0.3, 1.0 - 0.25 * i),
            label=label if i == 0 else None,
        )
        ax.add_patch(patch)
        patches.append(patch)
    return patches


def marginal_log_density(model, grid, dims):
    """Log-density of a Gaussian mixture's marginal on the features ``dims`` at ``grid`` rows.

    Parameters
    ----------
    grid : ndarray of shape (n_points, len(dims))
    dims : sequence of int

    Returns
    -------
    ndarray of shape (n_points,)
    """
    covs = gaussian_covariances(model)
    dims = list(dims)
    means = np.asarray(model.means_, dtype=np.float64)[:, dims]
    covs = covs[:, dims][:, :, dims].astype(np.float64)
    weights = np.asarray(model.weights_, dtype=np.float64)[: len(means)]  # Gaussians only
    logs = []
    for k in range(len(weights)):
        chol = np.linalg.cholesky(covs[k])
        z = np.linalg.solve(chol, (grid - means[k]).T)
        log_det = 2.0 * np.sum(np.log(np.diag(chol)))
        logs.append(
            np.log(weights[k])
            - 0.5 * (np.sum(z**2, axis=0) + log_det + len(dims) * np.log(2 * np.pi))
        )
    logs = np.array(logs)
    top = logs.max(axis=0)
    return top + np.log(np.sum(np.exp(logs - top), axis=0))


def require(model, *names, what):
    """Raise a clear error unless ``model`` has the fitted attributes ``names``."""
    missing = [n for n in names if not hasattr(model, n)]
    if not missing:
        return
    kind = type(model).__name__
    if hasattr(model, "weights_") or hasattr(model, "transmat_"):  # fitted, another kind
        raise ValidationError(
            f"{what} needs {', '.join(missing)}, which a {kind} does not have; choose "
            "another plot (emkit.plot.KINDS lists them)"
        )
    raise ValidationError(f"{what} needs a fitted model: this {kind} is not fitted; fit it first")
