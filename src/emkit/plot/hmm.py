"""Pictures of a fitted hidden Markov model: decoded series, transitions, state durations."""

from __future__ import annotations

import itertools

import numpy as np

from emkit.exceptions import ValidationError
from emkit.plot import _base
from emkit.plot._base import check_feature, colors, new_axes, plt, require

__all__ = ["plot_durations", "plot_states", "plot_transitions", "state_durations"]


def _sequences(X, lengths):
    X = np.asarray(X)
    if X.ndim == 1:
        X = X[:, None]
    lengths = [X.shape[0]] if lengths is None else [int(n) for n in np.atleast_1d(lengths)]
    if sum(lengths) != X.shape[0] or min(lengths) < 1:
        raise ValidationError(
            f"lengths must be positive and sum to the {X.shape[0]} rows of X, got {lengths[:10]}"
        )
    return X, lengths


def plot_states(model, X, lengths=None, *, feature=0, feature_names=None, ax=None):
    """The observed series coloured by Viterbi state, with the state posteriors as a band below.

    Parameters
    ----------
    model : fitted HMM
    X : array-like of shape (n_samples, n_features)
        Stacked sequences (their boundaries are drawn as dashed lines).
    lengths : array-like of int, optional
    feature : int, default=0
        The feature drawn.
    feature_names : list of str, optional
        The vertical axis label when the model has no ``feature_names_in_``.
    ax : matplotlib.axes.Axes, optional
        Where to draw the series; the band is added below it (a new figure by default).

    Returns
    -------
    ndarray of matplotlib.axes.Axes, shape (2,)
        The series and the posterior band.
    """
    require(model, "transmat_", what="plot_states")
    X, lengths = _sequences(X, lengths)
    feature = check_feature(feature, X.shape[1])
    _, states = model.decode(X, lengths)
    posteriors = model.predict_proba(X, lengths)
    if ax is None:
        _fig, (ax, band) = plt.subplots(
            2, 1, sharex=True, figsize=(10, 5), gridspec_kw={"height_ratios": [3, 1]}
        )
    else:
        band = ax.inset_axes([0.0, -0.45, 1.0, 0.3], sharex=ax)
    K = model.n_components
    palette = colors(K)
    t = np.arange(X.shape[0])
    ax.plot(t, X[:, feature], color="0.75", linewidth=0.8, zorder=1)
    for k in range(K):
        at = states == k
        ax.scatter(t[at], X[at, feature], s=8, color=palette[k], label=f"state {k}", zorder=2)
    band.stackplot(t, posteriors.T, colors=palette, step="mid")
    for boundary in np.cumsum(lengths)[:-1]:
        for a in (ax, band):
            a.axvline(boundary - 0.5, color="black", linestyle="--", linewidth=0.8)
    names = _base.feature_names(model, feature_names, X.shape[1])
    ax.set_ylabel(names[feature])
    ax.set_title("Viterbi states")
    ax.legend(loc="upper right", fontsize="small", ncols=min(K, 6))
    band.set_ylim(0, 1)
    band.set_ylabel("posterior")
    band.set_xlabel("time step")
    return np.array([ax, band], dtype=object)


def plot_transitions(model, *, ax=None):
    """Heatmap of the transition matrix, each cell labelled with its probability.

    Returns
    -------
    matplotlib.axes.Axes
    """
    require(model, "transmat_", what="plot_transitions")
    A = np.asarray(model.transmat_, dtype=np.float64)
    K = A.shape[0]
    ax = new_axes(ax)
    image = ax.imshow(A, cmap="Blues", vmin=0.0, vmax=1.0)
    for i in range(K):
        for j in range(K):
            ax.text(
                j,
                i,
                f"{A[i, j]:.2f}",
                ha="center",
                va="center",
                color="white" if A[i, j] > 0.6 else "black",
                fontsize="small",
            )
    ax.set_xticks(range(K))
    ax.set_yticks(range(K))
    ax.set_xlabel("to state")
    ax.set_ylabel("from state")
    ax.set_title("transition probabilities")
    ax.figure.colorbar(image, ax=ax)
    return ax


def state_durations(states, lengths=None):
    """Lengths of the runs of each state in decoded state sequences.

    Parameters
    ----------
    states : array-like of int of shape (n_samples,)
    lengths : array-like of int, optional
        Sequence lengths; a run never crosses a sequence boundary.

    Returns
    -------
    list of (state, duration)
        One pair per run, in order.
    """
    states = np.asarray(states)
    _, lengths = _sequences(states, lengths)
    runs = []
    start = 0
    for n in lengths:
        seq = states[start : start + n]
        cut = np.flatnonzero(np.diff(seq)) + 1
        edges = np.concatenate([[0], cut, [n]])
        runs += [(int(seq[a]), int(b - a)) for a, b in itertools.pairwise(edges)]
        start += n
    return runs


def plot_durations(model, X, lengths=None, *, ax=None):
    """Histogram of how long each Viterbi state lasts, one colour per state.

    Dashed: the geometric distribution of durations the transition matrix implies,
    ``(1 - a_kk) a_kk ** (d - 1)``, scaled to the number of runs of the state.

    Parameters
    ----------
    model : fitted HMM
    X : array-like of shape (n_samples, n_features)
    lengths : array-like of int, optional
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    require(model, "transmat_", what="plot_durations")
    X, lengths = _sequences(X, lengths)
    _, states = model.decode(X, lengths)
    runs = state_durations(states, lengths)
    K = model.n_components
    palette = colors(K)
    ax = new_axes(ax)
    longest = max(d for _, d in runs)
    width = max(1, int(np.ceil(longest / 30)))  # whole time steps per bin, at most ~30 bins
    steps = np.arange(0, longest + width, width)  # bin i holds durations steps[i]+1..steps[i+1]
    edges = steps + 0.5
    stay = np.diag(np.asarray(model.transmat_, dtype=np.float64))
    for k in range(K):
        durations = [d for s, d in runs if s == k]
        if not durations:
            continue
        ax.hist(
            durations,
            bins=edges,
            histtype="step",
            linewidth=1.8,
            color=palette[k],
            label=f"state {k} ({len(durations)} runs)",
        )
        # P(steps[i] < D <= steps[i+1]) for a geometric D with P(D > n) = a_kk ** n
        expected = len(durations) * (stay[k] ** steps[:-1] - stay[k] ** steps[1:])
        ax.stairs(expected, edges, linestyle="--", color=palette[k], linewidth=1.0)
    ax.set_xlabel("duration (time steps)")
    ax.set_ylabel("runs")
    ax.set_title("state durations (dashed: geometric, from the transition matrix)")
    ax.legend(loc="upper right", fontsize="small")
    return ax
