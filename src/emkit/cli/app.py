"""The ``emkit`` entry point: the parser built from the command modules, and :func:`main`."""

from __future__ import annotations

import os
import sys
import warnings

from emkit._version import __version__
from emkit.cli import common, compile, hmm, mixture, peaks, plot, select
from emkit.cli.common import EXIT_ERROR, EXIT_USAGE, PROG, CommandError, one_line

#: The command modules, each with ``register(subparsers)``; their order is the help's order.
COMMAND_MODULES = [mixture, select, hmm, peaks, plot, compile]

DESCRIPTION = (
    "Expectation-Maximization from the command line: mixture models (fit, predict, demo; "
    "Gaussian components) and hidden Markov models (hmm fit, hmm decode; Gaussian, "
    "categorical and Poisson emissions), 'peaks' (Gaussian peaks of a spectrum or histogram), "
    "'plot' to draw a saved model to a PNG, SVG or PDF file, and 'compile' to build the "
    "kernel cache."
)
EPILOG = (
    "Errors are one line 'emkit: error: ...' on stderr: exit status 2 for a usage error, "
    "1 for a data or file error."
)


def build_parser():
    """The top-level argument parser with every registered command."""
    parser = common.Parser(prog=PROG, description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"emkit {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"{PROG}: warning: {one_line(message)}", file=sys.stderr)


def _describe(err):
    if isinstance(err, OSError) and err.strerror and err.filename:
        return f"{err.filename}: {err.strerror}"
    if isinstance(err, MemoryError):
        return f"out of memory ({err})" if str(err) else "out of memory"
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
        0 on success, 1 on a data or file error, 2 on a usage error; each error is one line
        ``emkit: error: ...`` on stderr.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version, or a usage error already reported
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    if not hasattr(args, "handler"):
        print(f"{PROG}: error: no command given (see '{PROG} --help')", file=sys.stderr)
        return EXIT_USAGE
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            return args.handler(args)
    except BrokenPipeError:
        # the reader of stdout went away (``emkit predict ... | head``): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except (CommandError, ValueError, TypeError, OSError, MemoryError) as err:
        print(f"{PROG}: error: {one_line(_describe(err))}", file=sys.stderr)
        return EXIT_ERROR
