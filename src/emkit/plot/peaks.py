"""The picture of a decomposed spectrum: the measured signal, each fitted peak and their sum."""

from __future__ import annotations

import numpy as np

from emkit.exceptions import ValidationError
from emkit.plot._base import colors, new_axes, require

__all__ = ["plot_peaks"]


def _bins(X):
    """Bins ``[lower, upper]`` of positions (cells between midpoints) or of given bins."""
    arr = np.asarray(X, dtype=np.float64)
    if arr.ndim == 2 and arr.shape[1] == 2:
        return arr, False
    x = arr.reshape(-1)
    if x.size < 2:
        raise ValidationError("X must hold at least two positions (or bins [lower, upper])")
    mid = 0.5 * (x[1:] + x[:-1])
    edges = np.concatenate([[x[0] - (mid[0] - x[0])], mid, [x[-1] + (x[-1] - mid[-1])]])
    return np.column_stack([edges[:-1], edges[1:]]), True


def plot_peaks(fit, X, y, *, ax=None):
    """The measured signal with each fitted peak (filled), the background and their sum.

    Each peak's curve is its share of the fitted signal in every cell (the mixture's
    posterior probability of that peak times :meth:`PeakFit.predict`), so the peaks and the
    background add up to the fitted curve exactly.

    Parameters
    ----------
    fit : fitted PeakFit
    X : array-like of shape (n,) or (n, 2)
        The positions (or bins) it was fitted on.
    y : array-like of shape (n,)
        The measured intensities (or counts).
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    require(fit, "mixture_", "centers_", what="plot_peaks")
    bins, positions = _bins(X)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if y.shape != (bins.shape[0],):
        raise ValidationError(
            f"y has shape {y.shape}; pass one intensity per position of X ({bins.shape[0]})"
        )
    x = bins.mean(axis=1)
    total = np.asarray(fit.predict(X), dtype=np.float64)
    shares = fit.mixture_.predict_proba(bins)
    K = fit.n_peaks_
    order = np.argsort(np.asarray(fit.mixture_.means_)[:K, 0])  # the peaks sorted by centre
    ax = new_axes(ax)
    ax.plot(x, y, color="0.45", marker=".", markersize=3, linewidth=0.8, label="signal")
    for k, (component, color) in enumerate(zip(order, colors(K), strict=True)):
        peak = total * shares[:, component]
        ax.fill_between(x, peak, color=color, alpha=0.35, linewidth=0)
        ax.plot(x, peak, color=color, linewidth=1.2, label=f"peak {k + 1}: {fit.centers_[k]:.4g}")
        ax.axvline(fit.centers_[k], color=color, linestyle=":", linewidth=0.8)
    if shares.shape[1] > K:  # the flat background, the mixture's last weight
        ax.plot(x, total * shares[:, K], color="0.3", linestyle="--", label="background")
    ax.plot(x, total, color="black", linewidth=2, label="fit")
    ax.set_xlabel("position" if positions else "bin centre")
    ax.set_ylabel("intensity" if positions else "counts")
    ax.set_title(f"{K} peak(s)")
    ax.legend(loc="best", fontsize="small")
    return ax
