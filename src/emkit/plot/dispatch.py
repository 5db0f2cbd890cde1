"""One entry point for every picture, by name, and writing a figure to a file."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from emkit.exceptions import ValidationError
from emkit.plot import diagnostics, hmm, mixture, peaks

__all__ = ["FORMATS", "KINDS", "default_kind", "figure_of", "plot", "save_figure"]

#: File extensions :func:`save_figure` writes.
FORMATS = (".png", ".svg", ".pdf")


def _is_hmm(model):
    return hasattr(model, "transmat_")


def _is_selection(model):
    return hasattr(model, "scores_") and hasattr(model, "covariance_types_")


def _is_peaks(model):
    return hasattr(model, "centers_") and hasattr(model, "mixture_")


def _is_mixture(model):
    return hasattr(model, "weights_") and not _is_hmm(model) and not _is_selection(model)


def _numeric_mixture(model):
    return _is_mixture(model) and not hasattr(model, "categories_")


def _gaussian(model):
    return _numeric_mixture(model) and hasattr(model, "covariances_")


def _histogram_model(model):
    return _numeric_mixture(model)


def _two_features(model):
    return _numeric_mixture(model) and model.n_features_in_ >= 2


def _fitted(model):
    return _is_hmm(model) or hasattr(model, "lower_bounds_")


@dataclass(frozen=True)
class Kind:
    """One named picture: how to draw it and for which models."""

    draw: Callable
    applies: Callable
    data: str  # "none", "rows" (mixtures), "sequences" (HMMs) or "signal" (X and y)
    help: str


#: ``kind`` name -> :class:`Kind` (``emkit plot --kind``).
KINDS = {
    "classification": Kind(
        mixture.plot_classification, _two_features, "rows", "rows by component, ellipses, means"
    ),
    "pairs": Kind(mixture.plot_pairs, _two_features, "rows", "every pair of features"),
    "uncertainty": Kind(
        mixture.plot_uncertainty, _two_features, "rows", "point size 1 - max posterior"
    ),
    "density": Kind(mixture.plot_density, _gaussian, "rows", "log-density contours"),
    "histogram": Kind(
        mixture.plot_histogram, _histogram_model, "rows", "one feature, each component"
    ),
    "weights": Kind(mixture.plot_weights, _is_mixture, "none", "mixing weights"),
    "convergence": Kind(
        diagnostics.plot_convergence, _fitted, "none", "log-likelihood per iteration"
    ),
    "states": Kind(hmm.plot_states, _is_hmm, "sequences", "series coloured by Viterbi state"),
    "transitions": Kind(hmm.plot_transitions, _is_hmm, "none", "transition matrix heatmap"),
    "durations": Kind(hmm.plot_durations, _is_hmm, "sequences", "how long each state lasts"),
    "selection": Kind(diagnostics.plot_selection, _is_selection, "none", "criterion against K"),
    "peaks": Kind(peaks.plot_peaks, _is_peaks, "signal", "a spectrum's peaks and their sum"),
}


def default_kind(model):
    """The picture :func:`plot` draws when no ``kind`` is given."""
    if _is_selection(model):
        return "selection"
    if _is_peaks(model):
        return "peaks"
    if _is_hmm(model):
        return "states"
    if not _numeric_mixture(model):
        return "weights"
    d = model.n_features_in_
    if d == 1:
        return "histogram"
    if not hasattr(model, "means_") and not hasattr(model, "rates_"):
        return "weights"  # binary features: a scatter would stack every row on 4 points
    return "classification" if d == 2 else "pairs"


def plot(model, X=None, kind=None, *, y=None, lengths=None, feature_names=None, **options):
    """Draw the picture ``kind`` of a fitted model (or a model selection).

    Parameters
    ----------
    model : fitted mixture, HMM, PeakFit or MixtureSelection
    X : array-like of shape (n_samples, n_features), optional
        The data, for the pictures that draw it.
    kind : str, optional
        A name of :data:`KINDS`; default :func:`default_kind`.
    y : array-like of shape (n,), optional
        The measured signal at the positions ``X`` (a PeakFit's picture).
    lengths : array-like of int, optional
        Sequence lengths (HMM pictures).
    feature_names : list of str, optional
        Axis labels when the model has no ``feature_names_in_``.
    **options
        Passed to the plotting function (e.g. ``dims``, ``feature``, ``ax``).

    Returns
    -------
    matplotlib.axes.Axes or ndarray of Axes
    """
    kind = default_kind(model) if kind is None else kind
    if kind not in KINDS:
        raise ValidationError(f"kind={kind!r} is not a plot; choose one of {', '.join(KINDS)}")
    entry = KINDS[kind]
    if not entry.applies(model):
        fits = [name for name, k in KINDS.items() if k.applies(model)]
        raise ValidationError(
            f"kind={kind!r} does not apply to a {type(model).__name__}"
            + (
                f" with {model.n_features_in_} feature(s)"
                if hasattr(model, "n_features_in_")
                else ""
            )
            + f"; choose one of {', '.join(fits)}"
        )
    if entry.data == "none":
        return entry.draw(model, **options)
    if X is None:
        raise ValidationError(f"kind={kind!r} draws the data: pass X (emkit plot: the DATA file)")
    if entry.data == "signal":
        if y is None:
            raise ValidationError(f"kind={kind!r} draws the measured signal: pass y")
        return entry.draw(model, X, y, **options)
    if entry.data == "sequences":
        if kind == "states":
            options["feature_names"] = feature_names
        return entry.draw(model, X, lengths, **options)
    return entry.draw(model, X, feature_names=feature_names, **options)


def figure_of(drawn):
    """The Figure of what a plotting function returned (Axes or an array of Axes)."""
    first = np.ravel(np.asarray(drawn, dtype=object))[0] if not hasattr(drawn, "figure") else drawn
    return first.figure


def save_figure(drawn, path, *, dpi=120):
    """Write the figure of ``drawn`` to ``path``: PNG, SVG or PDF by the extension.

    Parameters
    ----------
    drawn : Figure, Axes or ndarray of Axes
    path : str or os.PathLike
    dpi : int, default=120
        Resolution of a PNG.
    """
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext not in FORMATS:
        raise ValidationError(
            f"cannot write a figure to {os.fspath(path)!r}: name a {', '.join(FORMATS)} file"
        )
    figure = drawn if hasattr(drawn, "savefig") else figure_of(drawn)
    figure.savefig(path, dpi=dpi, bbox_inches="tight")
