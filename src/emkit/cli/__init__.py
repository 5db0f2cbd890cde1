"""emkit's command line: ``fit``, ``predict``, ``demo``, ``hmm fit``/``decode``, ``compile``.

Each command module (:mod:`emkit.cli.mixture`, :mod:`emkit.cli.hmm`,
:mod:`emkit.cli.compile`) exposes ``register(subparsers)``, which adds its parsers with a
``handler`` default (a function of the parsed arguments returning an exit status);
:data:`emkit.cli.app.COMMAND_MODULES` lists them once. Building the parser imports only the
standard library: handlers import NumPy, the models and :mod:`emkit.cli.data` when they run,
so ``emkit --help`` is fast.

Errors a user can cause end as one line ``emkit: error: ...`` on stderr: exit status 2 for a
usage error (with the command whose ``--help`` to read), 1 for a data or file error (missing,
unreadable or non-numeric files, corrupt models, a feature count that does not match...);
warnings print as ``emkit: warning: ...``.
"""

from emkit.cli.app import COMMAND_MODULES, build_parser, main
from emkit.cli.common import CommandError

__all__ = ["COMMAND_MODULES", "CommandError", "build_parser", "main"]
