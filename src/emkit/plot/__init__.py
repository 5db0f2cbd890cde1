"""Pictures of fitted models (needs matplotlib: ``pip install 'emkit[plot]'``).

Every function draws on ``ax=`` (or a new figure), returns its Axes, labels the axes with
the model's feature names when it has them, and works headless (the Agg backend).

Mixtures: :func:`plot_classification` (rows by component, covariance ellipses at 1, 2 and 3
sigma, means), :func:`plot_pairs` (every pair of features), :func:`plot_uncertainty`,
:func:`plot_density`, :func:`plot_weights`, :func:`plot_histogram` (one feature with each
component and their sum; Gaussian or Poisson). Fits: :func:`plot_convergence` (one line per
restart), :func:`plot_selection` (a criterion against the number of components, one line per
covariance structure). Hidden Markov models: :func:`plot_states` (the series coloured by
Viterbi state over the posterior probabilities), :func:`plot_transitions`,
:func:`plot_durations`. Spectra: :func:`plot_peaks` (a :class:`~emkit.PeakFit`'s peaks under
the measured signal). :func:`plot` picks one by name (what ``emkit plot --kind`` does)
and :func:`save_figure` writes PNG, SVG or PDF by the file's extension.
"""

from emkit.plot.diagnostics import plot_convergence, plot_selection
from emkit.plot.dispatch import KINDS, default_kind, plot, save_figure
from emkit.plot.hmm import plot_durations, plot_states, plot_transitions, state_durations
from emkit.plot.mixture import (
    plot_classification,
    plot_density,
    plot_histogram,
    plot_pairs,
    plot_uncertainty,
    plot_weights,
)
from emkit.plot.peaks import plot_peaks

__all__ = [
    "KINDS",
    "default_kind",
    "plot",
    "plot_classification",
    "plot_convergence",
    "plot_density",
    "plot_durations",
    "plot_histogram",
    "plot_pairs",
    "plot_peaks",
    "plot_selection",
    "plot_states",
    "plot_transitions",
    "plot_uncertainty",
    "plot_weights",
    "save_figure",
    "state_durations",
]
