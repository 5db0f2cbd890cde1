"""Writing figures from the command line: the ``--plot FILE`` option and :func:`write_plot`.

Figures are drawn with matplotlib's Agg backend (no display needed) and written as PNG, SVG or
PDF by the file's extension. :func:`write_plot` is what a command calls after fitting (a
model selection is drawn as its criterion against the number of components).
"""

from __future__ import annotations

import argparse
import os

from emkit.cli.common import CommandError

#: Extensions a figure can be written to.
FIGURE_FORMATS = (".png", ".svg", ".pdf")


def figure_path(text):
    """An argparse type: a path ending in .png, .svg or .pdf."""
    if os.path.splitext(text)[1].lower() not in FIGURE_FORMATS:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a figure file: name a {', '.join(FIGURE_FORMATS)} file"
        )
    return text


def add_plot_option(parser):
    """``--plot FILE``: also draw the fitted model (its default picture) to FILE."""
    parser.add_argument(
        "--plot",
        type=figure_path,
        metavar="FILE",
        help="also draw the fitted model to FILE (.png, .svg or .pdf; see 'emkit plot')",
    )


def write_plot(model, path, X=None, *, kind=None, lengths=None, feature_names=None, **options):
    """Draw ``model`` (a fitted model or a model selection) and write the figure to ``path``.

    Parameters
    ----------
    model : fitted mixture, HMM or MixtureSelection
    path : str
        A ``.png``, ``.svg`` or ``.pdf`` file.
    X : array-like, optional
        The data, for the pictures that draw it.
    kind : str, optional
        A picture of :data:`KIND_NAMES`; default: the model's usual one.
    lengths, feature_names, **options
        As :func:`emkit.plot.plot` takes them.

    Raises
    ------
    CommandError
        Without matplotlib (the ``plot`` extra).
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from emkit import plot
    except ImportError as err:
        raise CommandError(f"{err}; 'pip install emkit[plot]' installs matplotlib") from None
    drawn = plot.plot(model, X, kind, lengths=lengths, feature_names=feature_names, **options)
    figure = plot.dispatch.figure_of(drawn)
    try:
        plot.save_figure(figure, path)
    finally:
        plt.close(figure)
