"""emkit's command line: ``emkit fit``, ``emkit predict`` and ``emkit demo``.

Data files are CSV (numeric columns, optional header row) or ``.npy`` arrays, which are
memory-mapped and streamed by the model. Models are saved with :mod:`emkit.io`.

Subcommands are added by *registrars*, functions ``register(subparsers)`` that add parsers to
the top-level subparsers and set a ``handler`` default (a function of the parsed arguments
returning an exit status). :data:`REGISTRARS` lists them; another model family adds its
commands (``emkit hmm fit ...``) by appending its registrar there, reusing :func:`read_table`,
:func:`write_table` and :class:`CommandError`.

Errors a user can cause (missing, unreadable or non-numeric files, corrupt models, a feature
count that does not match) end as one line ``emkit: error: ...`` on stderr and exit status 1;
warnings print as ``emkit: warning: ...``.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import sys
import warnings

import numpy as np

from emkit import criteria
from emkit import io as model_io
from emkit.engine.initialization import INIT_METHODS
from emkit.families.covariance import COVARIANCE_TYPES
from emkit.models.gaussian_mixture import GaussianMixture

PROG = "emkit"
# Means of at most this many features are shown in a summary.
_SHOWN_FEATURES = 8


class CommandError(Exception):
    """A failure reported as one line on stderr with exit status 1."""


# ---------------------------------------------------------------------------- data files
def read_table(path, delimiter=","):
    """Read a numeric CSV file with an optional header row.

    The first non-blank row is a header when one of its fields is not a number; every other
    row must hold the same number of numeric fields. Blank lines are skipped.

    Parameters
    ----------
    path : str
        File path, or ``"-"`` for standard input.
    delimiter : str, default=","

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), float64
    names : list of str or None
        Column names from the header, None without a header.

    Raises
    ------
    CommandError
        With the file, line and column of the first bad field.
    """
    source = "<stdin>" if path == "-" else path
    try:
        if path == "-":
            return _parse_table(sys.stdin, source, delimiter)
        with open(path, encoding="utf-8-sig", newline="") as f:
            return _parse_table(f, source, delimiter)
    except FileNotFoundError:
        raise CommandError(f"data file {source} does not exist") from None
    except IsADirectoryError:
        raise CommandError(f"data file {source} is a directory, not a file") from None
    except UnicodeDecodeError:
        raise CommandError(f"{source} is not a UTF-8 text (CSV) file") from None
    except csv.Error as err:
        raise CommandError(f"{source} is not a readable CSV file ({err})") from None
    except OSError as err:
        raise CommandError(f"cannot read {source}: {err.strerror or err}") from None


def read_data(path, delimiter=","):
    """Read a data file: a ``.npy`` array is memory-mapped, anything else is CSV.

    A memory-mapped array is not loaded into memory: emkit's models stream it in blocks.

    Parameters
    ----------
    path : str
        File path, or ``"-"`` for CSV on standard input.
    delimiter : str, default=","
        CSV field separator.

    Returns
    -------
    X : ndarray or numpy.memmap of shape (n_samples, n_features)
    names : list of str or None
        Column names from a CSV header.
    """
    if not path.lower().endswith(".npy"):
        return read_table(path, delimiter)
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False), None
    except FileNotFoundError:
        raise CommandError(f"data file {path} does not exist") from None
    except (ValueError, OSError) as err:
        raise CommandError(f"{path} is not a readable .npy array file ({err})") from None


def _parse_table(f, source, delimiter):
    reader = csv.reader(f, delimiter=delimiter)
    names, rows, width = None, [], None
    for fields in reader:
        if not any(field.strip() for field in fields):
            continue
        try:
            values = [float(field) for field in fields]
        except ValueError:
            if names is None and not rows:
                names = [field.strip() for field in fields]
                width = len(names)
                continue
            _raise_bad_field(fields, names, source, reader.line_num)
        if width is None:
            width = len(values)
        elif len(values) != width:
            raise CommandError(
                f"{source}, line {reader.line_num}: {len(values)} fields where the "
                f"{'header' if names else 'first row'} has {width}"
            )
        rows.append(values)
    if not rows:
        raise CommandError(f"{source} has no data rows")
    return np.array(rows, dtype=np.float64), names


def _raise_bad_field(fields, names, source, line):
    for j, field in enumerate(fields):
        try:
            float(field)
        except ValueError:
            column = f"column {j + 1}"
            if names and j < len(names):
                column += f" ({names[j]})"
            if not field.strip():
                raise CommandError(
                    f"{source}, line {line}, {column}: empty field; emkit does not model "
                    "missing values yet, drop or impute the row"
                ) from None
            raise CommandError(
                f"{source}, line {line}, {column}: {field.strip()!r} is not a number"
            ) from None


def write_table(path, header, columns, formats):
    """Write columns as CSV to ``path`` (atomically) or to standard output.

    Parameters
    ----------
    path : str or None
        Output file; None writes to standard output.
    header : list of str
    columns : ndarray of shape (n_rows, n_columns)
    formats : list of str
        One printf-style format per column.
    """
    options = {"fmt": formats, "delimiter": ",", "header": ",".join(header), "comments": ""}
    if path is None:
        np.savetxt(sys.stdout, columns, **options)
        return
    with model_io.atomic_write(path, "w", encoding="utf-8", newline="") as f:
        np.savetxt(f, columns, **options)


# ---------------------------------------------------------------------------- summaries
def format_summary(model, X, feature_names=None):
    """A readable summary of a fitted GaussianMixture and its fit to ``X``.

    Parameters
    ----------
    model : GaussianMixture
        Fitted.
    X : ndarray of shape (n_samples, n_features)
        The data it was fitted on (for the log-likelihood, BIC and AIC).
    feature_names : list of str, optional

    Returns
    -------
    str
        Several lines: model, convergence, log-likelihood, BIC/AIC, then one row per
        component with its weight and mean.
    """
    n, d = X.shape
    K = model.n_components
    total_ll = float(np.sum(model.score_samples(X), dtype=np.float64))  # one pass over X
    n_params = model._n_parameters()
    if model.converged_:
        status = f"yes, after {model.n_iter_} iterations"
    else:
        status = f"NO, stopped after {model.n_iter_} iterations (max_iter={model.max_iter})"
    lines = [
        f"Gaussian mixture: {K} components, '{model.covariance_type}' covariance, "
        f"{n} samples x {d} features",
        f"converged:        {status}",
        f"log-likelihood:   {total_ll:.6g} ({total_ll / n:.6g} per sample)",
        f"BIC:              {criteria.bic(total_ll, n_params, n):.6g}",
        f"AIC:              {criteria.aic(total_ll, n_params):.6g}",
        "",
    ]
    names = list(feature_names) if feature_names else [f"x{j}" for j in range(d)]
    shown = min(d, _SHOWN_FEATURES)
    widths = [max(10, len(name)) for name in names[:shown]]
    head = "component  weight  " + "  ".join(
        f"{name:>{w}}" for name, w in zip(names, widths, strict=False)
    )
    if shown < d:
        head += f"  ... ({d - shown} more features)"
    lines += ["means:", head]
    for k in range(K):
        cells = "  ".join(f"{model.means_[k, j]:>{w}.5g}" for j, w in enumerate(widths))
        lines.append(f"{k:>9}  {model.weights_[k]:.4f}  {cells}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------- argument types
def _positive_int(text):
    value = _number(text, int)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text}")
    return value


def _non_negative_int(text):
    value = _number(text, int)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text}")
    return value


def _non_negative_float(text):
    value = _number(text, float)
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def _number(text, kind):
    try:
        return kind(text)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None


# ---------------------------------------------------------------------------- mixtures
def default_model_path(data_path):
    """Where ``emkit fit`` saves by default: ``<data stem>.model.npz`` in the working directory.

    ``emkit fit iris.csv`` writes ``iris.model.npz``; data from standard input gives
    ``model.npz``.
    """
    if data_path == "-":
        return "model.npz"
    stem = os.path.splitext(os.path.basename(os.path.normpath(data_path)))[0]
    return f"{stem or 'model'}.model.npz"


def _fit(args):
    out = args.out or default_model_path(args.data)
    model_io.check_destination(out)
    X, names = read_data(args.data, args.delimiter)
    model = GaussianMixture(
        args.components,
        covariance_type=args.covariance,
        tol=args.tol,
        reg_covar=args.reg_covar,
        max_iter=args.max_iter,
        n_init=args.n_init,
        init_params=args.init,
        random_state=args.random_state,
        verbose=args.verbose,
    )
    model.fit(X)
    print(format_summary(model, X, names))
    model_io.save(model, out, extra={"columns": names})
    print(f"\nmodel saved to {out}")
    return 0


def _predict(args):
    if args.out is not None:
        model_io.check_destination(args.out)
    model = model_io.load(args.model)
    columns = model_io.read_metadata(args.model)["extra"].get("columns")
    X, names = read_data(args.data, args.delimiter)
    d = model.n_features_in_
    source = "<stdin>" if args.data == "-" else args.data
    if X.ndim != 2 or X.shape[1] != d:
        raise CommandError(
            f"{source} has {X.shape[-1]} columns but the model in {args.model} was fitted on "
            f"{d} features" + (f" ({', '.join(columns)})" if columns else "")
        )
    if names and columns and names != columns:
        warnings.warn(
            f"the columns of {source} ({', '.join(names)}) are not named like those the "
            f"model was fitted on ({', '.join(columns)}); predicting by position",
            UserWarning,
            stacklevel=1,
        )
    proba = model.predict_proba(X)
    K = proba.shape[1]
    table = np.column_stack([proba.argmax(axis=1), proba])
    header = ["label", *[f"p{k}" for k in range(K)]]
    write_table(args.out, header, table, ["%d"] + ["%.6g"] * K)
    if args.out is not None:
        print(f"{X.shape[0]} labels written to {args.out}")
    return 0


def _demo(args):
    from sklearn.datasets import load_iris
    from sklearn.metrics import adjusted_rand_score

    iris = load_iris()
    X, species = iris.data, iris.target
    names = [name.replace(" (cm)", "").replace(" ", "_") for name in iris.feature_names]
    model = GaussianMixture(3, covariance_type=args.covariance, random_state=args.random_state)
    labels = model.fit(X).predict(X)
    print("emkit demo: a 3-component Gaussian mixture fitted to the iris data")
    print("(150 flowers, 4 measurements in cm; shipped with scikit-learn)\n")
    print(format_summary(model, X, names))
    print("\nflowers per species and component:")
    print("species     " + "".join(f"{k:>6}" for k in range(3)))
    for s, species_name in enumerate(iris.target_names):
        counts = np.bincount(labels[species == s], minlength=3)
        print(f"{species_name:<12}" + "".join(f"{c:>6}" for c in counts))
    ari = adjusted_rand_score(species, labels)
    print(f"\nagreement with the species (adjusted Rand index): {ari:.3f}")
    return 0


def _add_data_arguments(parser):
    parser.add_argument("--delimiter", default=",", help="field separator (default: ',')")


def register_mixture_commands(subparsers):
    """Add ``fit``, ``predict`` and ``demo`` (Gaussian mixtures) to ``subparsers``."""
    fit = subparsers.add_parser(
        "fit",
        help="fit a Gaussian mixture to a CSV file and save it",
        description="Fit a Gaussian mixture to the numeric columns of a CSV file (header "
        "row optional), print a summary, and save the model.",
    )
    fit.add_argument(
        "data",
        help="CSV file of numbers, one row per sample ('-': stdin), or a .npy array file "
        "(memory-mapped and streamed, never loaded whole)",
    )
    fit.add_argument(
        "-k", "--components", type=_positive_int, required=True, help="number of components"
    )
    fit.add_argument(
        "--covariance", choices=COVARIANCE_TYPES, default="full", help="(default: full)"
    )
    fit.add_argument(
        "-o",
        "--out",
        help="model file to write (default: <data name>.model.npz in the current directory)",
    )
    fit.add_argument("--max-iter", type=_non_negative_int, default=100, help="(default: 100)")
    fit.add_argument(
        "--tol",
        type=_non_negative_float,
        default=1e-3,
        help="convergence threshold on the change of the mean per-sample log-likelihood "
        "(default: 1e-3)",
    )
    fit.add_argument("--n-init", type=_positive_int, default=1, help="restarts (default: 1)")
    fit.add_argument(
        "--init", choices=INIT_METHODS, default="kmeans", help="initialisation (default: kmeans)"
    )
    fit.add_argument(
        "--reg-covar",
        type=_non_negative_float,
        default=1e-6,
        help="added to the covariance diagonals (default: 1e-6)",
    )
    fit.add_argument("--random-state", type=int, default=None, help="seed for reproducible fits")
    fit.add_argument("-v", "--verbose", action="count", default=0, help="print EM progress")
    _add_data_arguments(fit)
    fit.set_defaults(handler=_fit)

    predict = subparsers.add_parser(
        "predict",
        help="label the rows of a CSV file with a saved model",
        description="Write the most probable component of each row and the probabilities "
        "of all components as CSV (header: label,p0,p1,...).",
    )
    predict.add_argument("model", help="model file written by 'emkit fit'")
    predict.add_argument(
        "data", help="CSV file with the model's columns ('-': stdin), or a .npy array file"
    )
    predict.add_argument("-o", "--out", help="CSV file to write (default: standard output)")
    _add_data_arguments(predict)
    predict.set_defaults(handler=_predict)

    demo = subparsers.add_parser(
        "demo",
        help="fit the iris data shipped with scikit-learn and print the result",
        description="Fit a 3-component Gaussian mixture to the iris data and compare the "
        "components with the species.",
    )
    demo.add_argument(
        "--covariance", choices=COVARIANCE_TYPES, default="full", help="(default: full)"
    )
    demo.add_argument("--random-state", type=int, default=0, help="(default: 0)")
    demo.set_defaults(handler=_demo)


def register_hmm_commands(subparsers):
    """Add ``emkit hmm fit`` and ``emkit hmm decode`` (defined in :mod:`emkit.cli_hmm`)."""
    from emkit.cli_hmm import register

    register(subparsers)


#: Functions that add subcommands to the top-level parser's subparsers.
REGISTRARS = [register_mixture_commands, register_hmm_commands]


# ---------------------------------------------------------------------------- entry point
def build_parser():
    """The top-level argument parser with every registered subcommand."""
    import emkit

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Expectation-Maximization for Gaussian mixtures.",
    )
    parser.add_argument("--version", action="version", version=f"emkit {emkit.__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for register in REGISTRARS:
        register(subparsers)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"{PROG}: warning: {_one_line(message)}", file=sys.stderr)


def _one_line(message):
    return " ".join(str(message).split())


def _describe(err):
    if isinstance(err, OSError) and err.strerror and err.filename:
        return f"{err.filename}: {err.strerror}"
    return str(err)


def main(argv=None):
    """Run the command line; returns the exit status.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name; default ``sys.argv[1:]``.

    Returns
    -------
    int
        0 on success, 1 on an error (reported on stderr), 2 on a usage error.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help(sys.stderr)
        return 2
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            return args.handler(args)
    except BrokenPipeError:
        # the reader of stdout went away (``emkit predict ... | head``): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except (CommandError, ValueError, OSError) as err:
        print(f"{PROG}: error: {_one_line(_describe(err))}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
