"""``emkit compile``: build the compiled-kernel cache once, visibly, instead of on first use."""

from __future__ import annotations

import time

from emkit.cli.common import CommandError


def register(subparsers):
    """Add ``compile`` to ``subparsers``."""
    compile_ = subparsers.add_parser(
        "compile",
        help="compile emkit's numba kernels now (otherwise the first fit compiles them)",
        description="Build the cache of emkit's compiled kernels for every kernel and dtype "
        "emkit uses by default, print what was built and how long it took.",
    )
    compile_.set_defaults(handler=run_compile)


def _progress(*args, **kwargs):
    print("  " + " ".join(str(a) for a in args), flush=True)


def run_compile(args):
    """Handle ``emkit compile``."""
    try:
        from emkit.kernels.compile import compile_all
    except ImportError as err:
        raise CommandError(f"this emkit cannot build a kernel cache ({err})") from None
    print("emkit compile: building the kernel cache", flush=True)
    start = time.perf_counter()
    built = compile_all(progress=_progress)
    seconds = time.perf_counter() - start
    try:
        count = f"{len(built)} kernels, " if built is not None else ""
    except TypeError:
        count = ""
    print(f"done: {count}{seconds:.1f} s")
    return 0
