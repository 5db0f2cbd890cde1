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


def _progress(index, total, label):
    """One line per group of kernels: ``[3/13] HMM kernels``."""
    if index < total:
        print(f"  [{index + 1}/{total}] {label}", flush=True)


def run_compile(args):
    """Handle ``emkit compile``."""
    try:
        from emkit.kernels.compile import compile_all
    except ImportError as err:
        raise CommandError(f"this emkit cannot build a kernel cache ({err})") from None
    print("emkit compile: building the kernel cache", flush=True)
    start = time.perf_counter()
    groups = compile_all(progress=_progress)
    seconds = time.perf_counter() - start
    print(f"done: {groups} groups of kernels in {seconds:.1f} s")
    return 0
