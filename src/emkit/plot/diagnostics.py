"""Pictures of how a fit went: convergence traces and model-selection curves."""

from __future__ import annotations

import numpy as np
from matplotlib.ticker import MaxNLocator

from emkit.exceptions import ValidationError
from emkit.plot._base import colors, new_axes

__all__ = ["plot_convergence", "plot_selection"]


def _traces(model):
    """(traces, index of the kept one, y label) of a fitted mixture or HMM."""
    monitor = getattr(model, "monitor_", None)
    if monitor is not None and hasattr(model, "transmat_"):
        return [list(monitor.history)], 0, "log-likelihood"
    bounds = getattr(model, "lower_bounds_", None)
    if bounds is None:
        raise ValidationError(
            f"plot_convergence needs a fitted model (lower_bounds_ or monitor_); this "
            f"{type(model).__name__} is not fitted"
        )
    runs = [list(t) for t in getattr(model, "lower_bounds_per_init_", None) or []]
    kept = next((r for r, trace in enumerate(runs) if trace == list(bounds)), None)
    if kept is None:  # no record of the restarts (or partial_fit continued the kept one)
        runs, kept = [*runs, list(bounds)], len(runs)
    return runs, kept, "lower bound (mean log-likelihood per sample)"


def plot_convergence(model, *, ax=None):
    """The log-likelihood of each iteration, one line per restart (the kept one bold).

    The vertical axis spans the bounds from the second iteration on, so that a very poor
    first iteration does not flatten the curves.

    Parameters
    ----------
    model : fitted mixture or HMM
        A mixture's ``lower_bounds_per_init_`` (every restart of ``n_init``) and
        ``lower_bounds_``; an HMM's ``monitor_.history``.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    runs, kept, label = _traces(model)
    ax = new_axes(ax)
    palette = colors(len(runs))
    for r, trace in enumerate(runs):
        best = r == kept
        ax.plot(
            np.arange(1, len(trace) + 1),
            trace,
            color="black" if best else palette[r],
            linewidth=2.2 if best else 1.0,
            alpha=1.0 if best else 0.7,
            marker="." if len(trace) < 50 else None,
            label=f"restart {r}" + (" (kept)" if best else ""),
            zorder=3 if best else 2,
        )
    _zoom_past_the_start(ax, runs)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.ticklabel_format(axis="y", useOffset=False)
    ax.set_xlabel("iteration")
    ax.set_ylabel(label)
    ax.set_title("convergence")
    ax.legend(loc="lower right", fontsize="small")
    return ax


def _zoom_past_the_start(ax, runs):
    """Vertical limits from the second iteration on: a poor start would flatten the curves."""
    later = [v for trace in runs for v in trace[1:] if np.isfinite(v)]
    if not later:
        return
    low, high = min(later), max(max(t) for t in runs if t)
    pad = 0.05 * (high - low) or 0.05 * max(abs(high), 1.0)
    ax.set_ylim(low - pad, high + pad)


_SELECTION_ATTRIBUTES = (
    "covariance_types_",
    "n_components_range_",
    "scores_",
    "criterion_",
    "greater_is_better_",
    "best_covariance_type_",
    "best_n_components_",
)


def plot_selection(selection, *, ax=None):
    """A criterion (BIC, ICL, ...) against the number of components, one line per structure.

    mclust's picture: each covariance structure is a line over ``n_components``; skipped
    fits (NaN scores) leave gaps; the selected model is marked.

    Parameters
    ----------
    selection : fitted MixtureSelection
        Read through ``covariance_types_`` (row names), ``n_components_range_`` (columns),
        ``scores_`` (shape (rows, columns), NaN where skipped), ``criterion_``,
        ``greater_is_better_``, ``best_covariance_type_`` and ``best_n_components_``.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    missing = [a for a in _SELECTION_ATTRIBUTES if not hasattr(selection, a)]
    if missing:
        raise ValidationError(
            f"plot_selection needs a fitted model selection; {type(selection).__name__} has "
            f"no {', '.join(missing)}"
        )
    rows = [str(r) for r in selection.covariance_types_]
    ks = np.asarray(selection.n_components_range_)
    scores = np.asarray(selection.scores_, dtype=np.float64)
    if scores.shape != (len(rows), len(ks)):
        raise ValidationError(
            f"scores_ has shape {scores.shape}; expected ({len(rows)}, {len(ks)}) "
            "(covariance_types_ x n_components_range_)"
        )
    ax = new_axes(ax)
    markers = "osD^v<>ph*"
    for r, (name, color) in enumerate(zip(rows, colors(len(rows)), strict=True)):
        ax.plot(ks, scores[r], color=color, marker=markers[r % len(markers)], label=name)
    r = rows.index(str(selection.best_covariance_type_))
    c = int(np.flatnonzero(ks == selection.best_n_components_)[0])
    ax.scatter(
        [ks[c]],
        [scores[r, c]],
        s=250,
        facecolors="none",
        edgecolors="black",
        linewidths=2,
        zorder=4,
        label=f"best: {rows[r]}, K={ks[c]}",
    )
    better = "higher" if selection.greater_is_better_ else "lower"
    ax.set_xticks(ks)
    ax.set_xlabel("number of components")
    ax.set_ylabel(f"{selection.criterion_.upper()} ({better} is better)")
    ax.set_title(f"model selection by {selection.criterion_.upper()}")
    ax.legend(loc="best", fontsize="small")
    return ax
