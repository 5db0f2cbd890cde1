"""The ``emkit hmm`` command: fit a hidden Markov model to a CSV file, decode with a saved one.

``register(subparsers)`` is a registrar for :mod:`emkit.cli`: it adds ``emkit hmm fit`` and
``emkit hmm decode`` with a ``handler`` default each (a function of the parsed arguments
returning an exit status). Files are read and written with the command line's own
:func:`~emkit.cli.read_table` and :func:`~emkit.cli.write_table`: one row per time step, numeric
columns, optional header. With ``--lengths-column`` that column identifies the sequence of
each row (consecutive rows with the same value form one sequence) and the other columns are the
features.
"""

from __future__ import annotations

import numpy as np

from emkit import cli, criteria
from emkit.hmm import CategoricalHMM, GaussianHMM, PoissonHMM
from emkit.hmm_io import load_hmm, save_hmm

EMISSIONS = {"gaussian": GaussianHMM, "categorical": CategoricalHMM, "poisson": PoissonHMM}


def register(subparsers):
    """Add the ``hmm`` subcommand (``fit`` and ``decode``) to ``subparsers``."""
    hmm = subparsers.add_parser(
        "hmm", help="hidden Markov models: fit to a CSV file, decode with a saved model"
    )
    sub = hmm.add_subparsers(dest="hmm_command", metavar="{fit,decode}")
    sub.required = True

    fit = sub.add_parser("fit", help="fit an HMM and print a summary")
    fit.add_argument("data", help="CSV file, one row per time step")
    fit.add_argument("--states", type=int, required=True, help="number of hidden states")
    fit.add_argument("--emission", choices=sorted(EMISSIONS), default="gaussian")
    fit.add_argument(
        "--covariance-type",
        choices=["spherical", "diag", "full", "tied"],
        default="diag",
        help="Gaussian emissions only (default: diag)",
    )
    fit.add_argument(
        "--lengths-column",
        metavar="COLUMN",
        help="column (header name or 1-based number) identifying the sequence of each row",
    )
    fit.add_argument("--n-iter", type=int, default=100, help="maximum iterations (100)")
    fit.add_argument("--tol", type=float, default=1e-4, help="convergence threshold (1e-4)")
    fit.add_argument("--random-state", type=int, default=0, help="seed (0)")
    fit.add_argument("--delimiter", default=",", help="CSV field separator (default ',')")
    fit.add_argument("--out", metavar="FILE", help="save the fitted model to FILE")
    fit.set_defaults(handler=run_fit)

    decode = sub.add_parser("decode", help="write the most likely state of each row")
    decode.add_argument("model", help="model file written by 'emkit hmm fit --out'")
    decode.add_argument("data", help="CSV file with the model's feature columns")
    decode.add_argument("--lengths-column", metavar="COLUMN")
    decode.add_argument("--algorithm", choices=["viterbi", "map"], default="viterbi")
    decode.add_argument("--delimiter", default=",", help="CSV field separator (default ',')")
    decode.add_argument("--output", "-o", metavar="FILE", help="write to FILE (default stdout)")
    decode.set_defaults(handler=run_decode)
    return hmm


def _column_index(spec, names, n_columns, path):
    if names and spec in names:
        return names.index(spec)
    if spec.isdigit() and 1 <= int(spec) <= n_columns:
        return int(spec) - 1
    known = ", ".join(names) if names else f"1 to {n_columns}"
    raise cli.CommandError(f"--lengths-column {spec!r} is not a column of {path} ({known})")


def read_sequences(path, lengths_column=None, delimiter=","):
    """Read a data file of stacked sequences.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    lengths : ndarray of shape (n_sequences,) or None
        Runs of equal values of ``lengths_column`` (None without it).
    names : list of str
        Feature names (``x0``, ``x1``, ... without a header).
    """
    X, names = cli.read_table(path, delimiter)
    names = list(names) if names else [f"x{j}" for j in range(X.shape[1])]
    if lengths_column is None:
        return X, None, names
    idx = _column_index(lengths_column, names, X.shape[1], path)
    seq = X[:, idx]
    X = np.delete(X, idx, axis=1)
    del names[idx]
    if X.shape[1] == 0:
        raise cli.CommandError(f"{path} has no feature columns besides {lengths_column!r}")
    cuts = np.flatnonzero(seq[1:] != seq[:-1]) + 1
    return X, np.diff(np.concatenate([[0], cuts, [len(seq)]])), names


def _matrix(rows, labels, columns, fmt="{:>10.4f}"):
    width = max(len(c) for c in columns) + 2
    head = " " * 10 + "".join(f"{c:>{max(width, 10)}}" for c in columns)
    lines = [head]
    for label, row in zip(labels, np.atleast_2d(rows), strict=True):
        cells = "".join(f"{fmt.format(x):>{max(width, 10)}}" for x in row)
        lines.append(f"{label:<10}{cells}")
    return lines


def summary(model, X, lengths, names):
    """Text summary of a fitted model on ``X``: parameters, log-likelihood, BIC."""
    K = model.n_components
    states = [f"state {k}" for k in range(K)]
    n_seq = 1 if lengths is None else len(lengths)
    log_likelihood = model.score(X, lengths)  # one forward pass
    lines = [
        f"{type(model).__name__}: {K} states, {X.shape[0]} samples in {n_seq} sequence(s)",
        f"log-likelihood: {log_likelihood:.6f}",
        f"BIC: {criteria.bic(log_likelihood, model._n_parameters(), X.shape[0]):.6f}",
        f"iterations: {model.monitor_.iter} "
        f"({'converged' if model.monitor_.converged else 'not converged'})",
        "",
        "start probabilities:",
        *_matrix(model.startprob_[None, :], [""], states),
        "",
        "transition matrix (row: from, column: to):",
        *_matrix(model.transmat_, states, states),
        "",
    ]
    if isinstance(model, GaussianHMM):
        lines += ["means:", *_matrix(model.means_, states, names), ""]
        variances = np.array([np.diag(c) for c in model.covars_])
        lines += [f"variances ({model.covariance_type}):", *_matrix(variances, states, names)]
    elif isinstance(model, CategoricalHMM):
        symbols = [f"symbol {m}" for m in range(model.emissionprob_.shape[1])]
        lines += ["emission probabilities:", *_matrix(model.emissionprob_, states, symbols)]
    else:
        lines += ["rates (lambdas):", *_matrix(model.lambdas_, states, names)]
    return "\n".join(lines)


def _build(args, n_features):
    cls = EMISSIONS[args.emission]
    kw = {"n_iter": args.n_iter, "tol": args.tol, "random_state": args.random_state}
    if cls is GaussianHMM:
        kw["covariance_type"] = args.covariance_type
    elif cls is CategoricalHMM and n_features != 1:
        raise cli.CommandError(
            f"categorical emissions need exactly one symbol column, the data has {n_features}"
        )
    return cls(args.states, **kw)


def run_fit(args):
    """Handle ``emkit hmm fit``: print a summary, save the model with ``--out``."""
    X, lengths, names = read_sequences(args.data, args.lengths_column, args.delimiter)
    model = _build(args, X.shape[1])
    model.fit(X, lengths)
    print(summary(model, X, lengths, names))
    if args.out:
        save_hmm(model, args.out)
        print(f"\nmodel saved to {args.out}")
    return 0


def run_decode(args):
    """Handle ``emkit hmm decode``: one state per row, CSV with a ``state`` header."""
    model = load_hmm(args.model)
    X, lengths, _ = read_sequences(args.data, args.lengths_column, args.delimiter)
    _, states = model.decode(X, lengths, algorithm=args.algorithm)
    cli.write_table(args.output, ["state"], states[:, None], ["%d"])
    return 0
