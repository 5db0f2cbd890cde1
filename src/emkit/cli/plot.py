"""``emkit plot MODEL [DATA] -o FILE``: draw a saved model (see :mod:`emkit.cli.figures`)."""

from __future__ import annotations

import argparse

from emkit.cli import common, hmm, mixture
from emkit.cli.figures import figure_path, write_plot

#: Picture names of ``emkit plot --kind`` (those of :data:`emkit.plot.KINDS`).
KIND_NAMES = (
    "classification",
    "pairs",
    "uncertainty",
    "density",
    "histogram",
    "weights",
    "convergence",
    "states",
    "transitions",
    "durations",
    "selection",
    "peaks",
)


def _dims(text):
    parts = common.column_list(text)
    if len(parts) != 2:
        raise argparse.ArgumentTypeError(f"--dims takes two feature numbers, got {text!r}")
    return [int(common.positive_int(p)) - 1 for p in parts]


def register(subparsers):
    """Add ``plot`` to ``subparsers``."""
    parser = subparsers.add_parser(
        "plot",
        help="draw a saved model (and its data) to a PNG, SVG or PDF file",
        description="Draw a model saved by 'emkit fit' or 'emkit hmm fit': the rows by "
        "component with covariance ellipses, a pairs grid, uncertainty, density, weights, "
        "1-D fits, convergence; for HMMs the series by state, transitions, durations.",
    )
    parser.add_argument("model", help="model file written by 'emkit fit' or 'emkit hmm fit'")
    parser.add_argument(
        "data",
        nargs="?",
        help="the data (CSV or .npy), for the pictures that draw it",
    )
    parser.add_argument(
        "-o",
        "--out",
        "--output",
        dest="out",
        metavar="FILE",
        required=True,
        type=figure_path,
        help="figure file to write: .png, .svg or .pdf",
    )
    parser.add_argument(
        "--kind",
        choices=KIND_NAMES,
        help="picture to draw (default: classification for 2 features, pairs for more, "
        "histogram for 1; states for an HMM)",
    )
    parser.add_argument(
        "--dims",
        type=_dims,
        metavar="I,J",
        help="the two features (1-based numbers) of a classification, uncertainty or density",
    )
    parser.add_argument(
        "--feature",
        type=common.positive_int,
        metavar="N",
        help="the feature (1-based number) of a histogram or an HMM series",
    )
    parser.add_argument(
        "--lengths-column",
        metavar="COLUMN",
        help="column holding the sequence id of each row (HMM data; see 'emkit hmm fit')",
    )
    common.add_data_options(parser)
    parser.set_defaults(handler=run_plot)


def _is_hmm(model):
    return hasattr(model, "transmat_") or hasattr(model, "startprob_prior")


def run_plot(args):
    """Handle ``emkit plot``: load the model, read the data, write the figure."""
    from emkit import io
    from emkit.cli import data

    data.check_output(args.out, args.model, *([args.data] if args.data else []))
    model = io.load(args.model)
    names = io.read_metadata(args.model)["extra"].get("columns")
    X = lengths = None
    if args.data is not None:
        if _is_hmm(model):
            kind = next(r.columns for r in hmm.EMISSIONS.values() if r.estimator() is type(model))
            X, lengths, _, _ = hmm.read_sequences(
                args.data,
                args.lengths_column,
                args.delimiter,
                args.columns,
                args.drop,
                kind,
                names,
            )
        else:
            kinds = {r.estimator(): r.columns for r in mixture.FAMILIES.values()}
            selection = data.Selection(args.columns, args.drop, prefer=names)
            X = data.read_data(
                args.data, args.delimiter, selection, kinds.get(type(model), "real")
            ).X
    options = {}
    if args.dims is not None:
        options["dims"] = args.dims
    if args.feature is not None:
        options["feature"] = args.feature - 1
    write_plot(model, args.out, X, kind=args.kind, lengths=lengths, feature_names=names, **options)
    print(f"figure written to {args.out}")
    return 0
