"""What every command shares: errors, the parser class, option names and family tables.

This module is imported to build the parser, so it imports nothing but the standard library:
handlers import NumPy, the models and :mod:`emkit.cli.data` when they run.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

PROG = "emkit"
#: Covariance structures (the same as ``emkit.families.covariance.COVARIANCE_TYPES``).
COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
#: A mixture's covariance structures: mclust's 14 and scikit-learn's four names (the same as
#: ``emkit.families.covariance.MIXTURE_COVARIANCE_TYPES``; HMMs take the four only).
MIXTURE_COVARIANCE_TYPES = (
    "EII", "VII", "EEI", "VEI", "EVI", "VVI", "EEE", "VEE", "EVE", "VVE", "EEV", "VEV", "EVV",
    "VVV", *COVARIANCE_TYPES,
)  # fmt: skip
#: Initialisations (the same as ``emkit.engine.initialization.INIT_METHODS``).
INIT_METHODS = ("kmeans", "k-means++", "random", "random_from_data")
#: Exit statuses: a data or file error, a usage error.
EXIT_ERROR, EXIT_USAGE = 1, 2


class CommandError(Exception):
    """A failure reported as one line ``emkit: error: ...`` on stderr with exit status 1."""


class Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line and exit status 2.

    The line names the command's help: ``emkit: error: MESSAGE (see 'emkit fit --help')``.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.set_defaults(_usage_prog=self.prog)  # the innermost command parsed wins

    def parse_args(self, args=None, namespace=None):
        """Parse like argparse; unknown arguments are reported against their command."""
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            self._fail(f"unrecognized arguments: {' '.join(extras)}", parsed._usage_prog)
        return parsed

    def error(self, message):
        """Print one line for a usage error and exit with status 2."""
        self._fail(message, self.prog)

    @staticmethod
    def _fail(message, prog):
        print(f"{PROG}: error: {one_line(message)} (see '{prog} --help')", file=sys.stderr)
        sys.exit(EXIT_USAGE)


def one_line(message):
    """``message`` with every run of whitespace (newlines included) made one space."""
    return " ".join(str(message).split())


# ---------------------------------------------------------------------------- argument types
def _number(text, kind):
    try:
        return kind(text)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None


def positive_int(text):
    """An integer >= 1."""
    value = _number(text, int)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text}")
    return value


def non_negative_int(text):
    """An integer >= 0."""
    value = _number(text, int)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text}")
    return value


def non_negative_float(text):
    """A finite number >= 0."""
    value = _number(text, float)
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def seed(text):
    """A random seed: an integer from 0 to 2**32 - 1."""
    value = _number(text, int)
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"must be an integer from 0 to 4294967295, got {text}")
    return value


def delimiter(text):
    """One character; ``tab`` or a backslash and ``t``, as typed in a shell, mean a tab."""
    if text.lower() in ("tab", "\\t"):
        return "\t"
    if len(text) != 1:
        raise argparse.ArgumentTypeError(
            f"must be one character (or 'tab'), got {text!r}; e.g. --delimiter ';'"
        )
    if text in '\r\n".-+' or text.isalnum():
        raise argparse.ArgumentTypeError(f"{text!r} cannot separate the fields of numbers")
    return text


def column_list(text):
    """A comma-separated list of column names or 1-based numbers."""
    specs = [part.strip() for part in text.split(",")]
    if not all(specs):
        raise argparse.ArgumentTypeError(f"must be a comma-separated list of columns, got {text!r}")
    return specs


# ---------------------------------------------------------------------------- shared options
def add_components(parser, *aliases, what="components"):
    """``-k/--components`` (and ``aliases``): the number of components (required)."""
    parser.add_argument(
        "-k",
        "--components",
        *aliases,
        dest="components",
        metavar="K",
        type=positive_int,
        required=True,
        help=f"number of {what}",
    )


def add_fit_options(parser, *, tol, tol_help, max_iter=100):
    """``--max-iter``, ``--tol``, ``--random-state`` and ``-v``, named alike in every fit.

    A ``tol`` or ``max_iter`` of None leaves the estimator's own default (``tol_help`` and
    the help of ``--max-iter`` then say what it is).
    """
    parser.add_argument(
        "--max-iter",
        "--n-iter",
        dest="max_iter",
        type=non_negative_int,
        default=max_iter,
        help="maximum EM iterations (default: "
        + (f"{max_iter})" if max_iter is not None else "100; 1000 for categorical)"),
    )
    shown = f" (default: {tol:g})" if tol is not None else ""
    parser.add_argument("--tol", type=non_negative_float, default=tol, help=tol_help + shown)
    parser.add_argument(
        "--random-state",
        type=seed,
        default=None,
        help="seed for a reproducible fit (default: none, a different fit each run)",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="print EM progress")


def add_data_options(parser):
    """``--delimiter``, ``--columns`` and ``--drop``: how a data file is read."""
    parser.add_argument(
        "--delimiter",
        type=delimiter,
        default=",",
        help="CSV field separator, one character; 'tab' for tabs (default: ',')",
    )
    parser.add_argument(
        "--columns",
        type=column_list,
        metavar="COLS",
        help="use only these columns: comma-separated header names or 1-based numbers",
    )
    parser.add_argument(
        "--drop",
        type=column_list,
        metavar="COLS",
        help="leave out these columns (names or 1-based numbers)",
    )


def add_out(parser, writes="model"):
    """``-o/--out`` (``--output`` is an alias) for a saved ``model`` or a CSV ``table``."""
    if writes == "model":
        help = (
            "model file to write ('-': stdout; default: <data name>.model.npz in the current "
            "directory)"
        )
    else:
        help = "CSV file to write (default or '-': standard output)"
    parser.add_argument("-o", "--out", "--output", dest="out", metavar="FILE", help=help)


def add_family(parser, table, default, what, *aliases):
    """``--family NAME`` with the names of ``table``; per-family options default to None."""
    names = ", ".join(f"{name} ({row.help})" for name, row in table.items())
    parser.add_argument(
        "--family",
        *aliases,
        dest="family",
        choices=sorted(table),
        default=default,
        help=f"{what}: {names} (default: {default})",
    )
    options = {dest: o for row in table.values() for dest, o in row.options.items() if o.flags}
    for dest, option in options.items():  # an option several families share is added once
        defaults = {n: r.options[dest].default for n, r in table.items() if dest in r.options}
        if len(set(map(str, defaults.values()))) == 1:
            shown = str(option.default)
        else:
            shown = ", ".join(f"{value} for {name}" for name, value in defaults.items())
        parser.add_argument(
            *option.flags,
            dest=option.dest,
            default=None,
            **option.kwargs,
            help=f"{option.help} (default: {shown})",
        )


# ---------------------------------------------------------------------------- family tables
@dataclass(frozen=True)
class Option:
    """A command-line option that sets one constructor parameter of some families.

    Parameters
    ----------
    dest : str
        Attribute of the parsed arguments.
    param : str
        Constructor parameter of the estimator.
    default : object
        Value when the option is not given.
    flags : tuple of str
        Option strings; empty for options every family shares (added by the command).
    help : str
    kwargs : dict
        Further keywords of ``add_argument`` (``type``, ``choices``, ...).
    """

    dest: str
    param: str
    default: object = None
    flags: tuple = ()
    help: str = ""
    kwargs: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Family:
    """One row of a command's family table: ``--family NAME`` -> estimator.

    Parameters
    ----------
    help : str
        A few words for ``--help``.
    estimator : callable
        Returns the estimator class (it imports it: the parser never does).
    options : dict of str to Option
        The family-specific options that apply, by ``dest``.
    columns : {"real", "counts", "symbols"}
        How its data columns are read: ``real`` numbers (integer ``.npy`` arrays become
        float64), non-negative integer ``counts``, or one column of integer ``symbols``.
    """

    help: str
    estimator: Callable[[], type]
    options: dict
    columns: str = "real"


def build_estimator(table, args, shared):
    """The estimator of ``args.family``, with the shared and the family's options.

    Parameters
    ----------
    table : dict of str to Family
    args : argparse.Namespace
    shared : dict of str to str
        ``dest -> constructor parameter`` for the options every family of the table takes.

    Raises
    ------
    CommandError
        If an option of another family was given.
    """
    row = table[args.family]
    params = {param: getattr(args, dest) for dest, param in shared.items()}
    params = {param: value for param, value in params.items() if value is not None}
    for other in table.values():
        for dest, option in other.options.items():
            if dest not in row.options and getattr(args, dest, None) is not None:
                raise CommandError(
                    f"{option.flags[0]} does not apply to --family {args.family}; it is an "
                    f"option of: {', '.join(n for n, r in table.items() if dest in r.options)}"
                )
    for dest, option in row.options.items():
        value = getattr(args, dest, None)
        params[option.param] = option.default if value is None else value
    return row.estimator()(**params)


def load_model(path, table, command, other):
    """Load a model file whose kind is an estimator of ``table``.

    Raises
    ------
    CommandError
        If the file holds another kind of model (naming the command ``other`` that reads it).
    """
    from emkit import io  # a handler's import: the parser never loads the models

    kind = io.read_metadata(path)["kind"]
    kinds = sorted({row.estimator().__name__ for row in table.values()})
    if kind not in kinds:
        raise CommandError(
            f"{path} holds a {kind} model; 'emkit {command}' reads {', '.join(kinds)} models "
            f"(use 'emkit {other}' for this one)"
        )
    return io.load(path)


def default_model_path(data_path):
    """Where a fit saves by default: ``<data stem>.model.npz`` in the working directory.

    ``iris.csv`` gives ``iris.model.npz``; data from standard input gives ``model.npz``.
    """
    if data_path == "-":
        return "model.npz"
    stem = os.path.splitext(os.path.basename(os.path.normpath(data_path)))[0]
    return f"{stem or 'model'}.model.npz"
