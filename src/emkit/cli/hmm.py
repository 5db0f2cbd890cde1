"""``emkit hmm fit`` and ``emkit hmm decode``: hidden Markov models.

One row per time step; ``--lengths-column`` names the column that identifies the sequence of
each row (see :mod:`emkit.cli.data` for how rows are grouped by id). ``--family`` picks the
emission distribution from :data:`EMISSIONS` (estimator, options that apply, how the columns
are read).
"""

from __future__ import annotations

import sys

from emkit.cli import common, figures
from emkit.cli.common import Family, Option


def _gaussian_hmm():
    from emkit.models.hmm_gaussian import GaussianHMM

    return GaussianHMM


def _categorical_hmm():
    from emkit.models.hmm_discrete import CategoricalHMM

    return CategoricalHMM


def _poisson_hmm():
    from emkit.models.hmm_discrete import PoissonHMM

    return PoissonHMM


#: ``emkit hmm fit --family`` name -> estimator, family-specific options, column reading.
EMISSIONS = {
    "gaussian": Family(
        help="real-valued columns",
        estimator=_gaussian_hmm,
        options={
            "covariance": Option(
                "covariance",
                "covariance_type",
                "diag",
                ("--covariance", "--covariance-type"),
                "covariance structure",
                {"choices": common.COVARIANCE_TYPES},
            )
        },
    ),
    "categorical": Family(
        help="one column of integer symbols 0, 1, ...",
        estimator=_categorical_hmm,
        options={},
        columns="symbols",
    ),
    "poisson": Family(
        help="columns of non-negative integer counts",
        estimator=_poisson_hmm,
        options={},
        columns="counts",
    ),
}
# Options every emission family takes: dest -> constructor parameter.
_SHARED = {
    "components": "n_components",
    "max_iter": "n_iter",
    "tol": "tol",
    "random_state": "random_state",
    "verbose": "verbose",
}


def _add_lengths_column(parser):
    parser.add_argument(
        "--lengths-column",
        metavar="COLUMN",
        help="column (header name or 1-based number) holding the sequence id of each row; "
        "rows with the same id form one sequence (ids compared as text, interleaved rows "
        "grouped in order); without it the file is one sequence",
    )


def register(subparsers):
    """Add ``hmm`` with its subcommands ``fit`` and ``decode`` to ``subparsers``."""
    hmm = subparsers.add_parser(
        "hmm",
        help="hidden Markov models (Gaussian, categorical, Poisson): fit, decode",
        description="Hidden Markov models fitted by Baum-Welch; decoding by Viterbi.",
    )
    sub = hmm.add_subparsers(dest="hmm_command", metavar="{fit,decode}", title="commands")
    sub.required = True

    fit = sub.add_parser(
        "fit",
        help="fit an HMM, print a summary and save it",
        description="Fit a hidden Markov model to a data file (one row per time step), "
        "print a summary and save the model.",
    )
    fit.add_argument(
        "data", help="CSV file, one row per time step ('-': stdin), or a .npy array file"
    )
    common.add_components(fit, "--states", what="hidden states")
    common.add_family(fit, EMISSIONS, "gaussian", "emission distribution", "--emission")
    _add_lengths_column(fit)
    common.add_fit_options(
        fit, tol=1e-4, tol_help="convergence threshold on the gain of the total log-likelihood"
    )
    common.add_out(fit)
    figures.add_plot_option(fit)
    common.add_data_options(fit)
    fit.set_defaults(handler=run_fit)

    decode = sub.add_parser(
        "decode",
        help="write the most likely state of each row",
        description="Write the most likely hidden state of each row as CSV (header: "
        "state), in the rows' file order.",
    )
    decode.add_argument("model", help="model file written by 'emkit hmm fit'")
    decode.add_argument("data", help="CSV file with the model's feature columns, or .npy")
    _add_lengths_column(decode)
    decode.add_argument(
        "--algorithm",
        choices=["viterbi", "map"],
        default="viterbi",
        help="most likely path (viterbi) or most likely state of each row (map)",
    )
    common.add_out(decode, "table")
    common.add_data_options(decode)
    decode.set_defaults(handler=run_decode)


def read_sequences(
    path, lengths_column=None, delimiter=",", columns=None, drop=None, kind="real", prefer=None
):
    """Read stacked sequences, grouped by the ``--lengths-column`` id.

    Parameters
    ----------
    path : str
        Data file (CSV, ``-`` for stdin, or ``.npy``).
    lengths_column : str, optional
        Name or 1-based number of the sequence-id column.
    delimiter : str, default=","
    columns, drop : list of str, optional
        ``--columns`` / ``--drop``.
    kind : {"real", "counts", "symbols"}, default="real"
        How the columns are read (the family's ``columns``).
    prefer : list of str, optional
        The model's column names, picked by name when the header has them.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        Rows grouped by sequence.
    lengths : ndarray of int or None
        None without ``--lengths-column`` (one sequence).
    order : ndarray of int or None
        Row indices of the file in the order of ``X`` (None when it is the file's order).
    names : list of str or None
        Feature names from the header.
    """
    from emkit.cli import data

    selection = data.Selection(columns, drop, lengths_column, prefer)
    table = data.read_data(path, delimiter, selection, kind)
    if table.ids is None:
        return table.X, None, None, table.names
    order, lengths = data.group_sequences(table.ids)
    if (order == range(len(order))).all():
        return table.X, lengths, None, table.names
    return table.X[order], lengths, order, table.names


def run_fit(args):
    """Handle ``emkit hmm fit``: print a summary and save the model."""
    from emkit import io
    from emkit.cli import data, summary
    from emkit.engine.progress import progress_bars

    out = args.out or common.default_model_path(args.data)
    data.check_output(out, args.data)
    if args.plot:
        data.check_output(args.plot, args.data)
    row = EMISSIONS[args.family]
    model = common.build_estimator(EMISSIONS, args, _SHARED)
    X, lengths, _, names = read_sequences(
        args.data, args.lengths_column, args.delimiter, args.columns, args.drop, row.columns
    )
    with progress_bars(False if args.verbose else "auto"):  # bars on a terminal, unless -v
        model.fit(X, lengths)
    report = sys.stderr if io.is_stream(out) else sys.stdout  # keep a streamed file clean
    shown = names or [f"x{j}" for j in range(X.shape[1])]
    print(summary.hmm_summary(model, X, lengths, shown), file=report)
    io.save(model, out, extra={"columns": names})
    print(f"\nmodel saved to {out}", file=report)
    if args.plot:
        figures.write_plot(model, args.plot, X, lengths=lengths, feature_names=names)
        print(f"figure written to {args.plot}", file=report)
    return 0


def run_decode(args):
    """Handle ``emkit hmm decode``: one state per row, CSV with a ``state`` header."""
    import numpy as np

    from emkit import io
    from emkit.cli import data

    data.check_output(args.out, args.model, args.data)
    model = common.load_model(args.model, EMISSIONS, "hmm decode", "predict")
    kind = next(r.columns for r in EMISSIONS.values() if r.estimator() is type(model))
    prefer = io.read_metadata(args.model)["extra"].get("columns")
    X, lengths, order, _ = read_sequences(
        args.data, args.lengths_column, args.delimiter, args.columns, args.drop, kind, prefer
    )
    _, states = model.decode(X, lengths, algorithm=args.algorithm)
    if order is not None:
        in_file_order = np.empty_like(states)
        in_file_order[order] = states
        states = in_file_order
    data.write_table(args.out, ["state"], states[:, None], ["%d"])
    return 0
