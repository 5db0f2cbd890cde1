"""``emkit select``: choose the covariance structure and number of components (mclust-style).

Fits a grid of Gaussian mixtures (:class:`emkit.MixtureSelection`), prints the table of
scores and the best model's summary, and saves the best model like ``emkit fit`` does.
"""

from __future__ import annotations

import argparse
import sys

from emkit.cli import common, figures

#: The covariance structures ``--models`` takes (the same as emkit.families.covariance).
MODEL_NAMES = common.MIXTURE_COVARIANCE_TYPES
CRITERIA = ("bic", "icl", "aic")


def component_range(text):
    """``'1-9'``, ``'3'`` or ``'1,2,5'`` as a tuple of ints >= 1 (an argparse type)."""
    values = []
    try:
        for part in text.split(","):
            lo, sep, hi = part.strip().partition("-")
            lo = int(lo)
            hi = int(hi) if sep else lo
            if hi < lo:
                raise ValueError
            values.extend(range(lo, hi + 1))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a range like 1-9, a number or a list like 1,2,5, got {text!r}"
        ) from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"numbers of components must be >= 1, got {text!r}")
    return tuple(sorted(set(values)))


def model_list(text):
    """``'all'``, ``'sklearn'`` or comma-separated structure names (an argparse type)."""
    if text in ("all", "sklearn"):
        return text
    names = [t.strip() for t in text.split(",") if t.strip()]
    bad = [n for n in names if n not in MODEL_NAMES]
    if not names or bad:
        raise argparse.ArgumentTypeError(
            f"unknown model name(s) {', '.join(bad) or repr(text)}; use 'all', 'sklearn' or "
            f"names from {', '.join(MODEL_NAMES)}"
        )
    return names


def register(subparsers):
    """Add ``select`` to ``subparsers``."""
    p = subparsers.add_parser(
        "select",
        help="choose the number of components and covariance structure (like R's mclust)",
        description="Fit Gaussian mixtures for a grid of covariance structures (mclust's 14: "
        "EII ... VVV) and numbers of components from mclust's hierarchical initialisation, "
        "print the table of scores (BIC in mclust's sign: higher is better) and the best "
        "model, and save the best model.",
    )
    p.add_argument(
        "data", help="CSV file of numbers, one row per sample ('-': stdin), or a .npy file"
    )
    p.add_argument(
        "-k",
        "--components",
        type=component_range,
        default=tuple(range(1, 10)),
        metavar="RANGE",
        help="numbers of components to try: 1-9, 3 or 1,2,5 (default: 1-9)",
    )
    p.add_argument(
        "--models",
        type=model_list,
        default="all",
        metavar="NAMES",
        help="covariance structures: all (mclust's 14), sklearn (full, tied, diag, "
        "spherical) or a comma-separated list such as EEE,VVV (default: all)",
    )
    p.add_argument(
        "--criterion", choices=CRITERIA, default="bic", help="score of each fit (default: bic)"
    )
    p.add_argument(
        "--init",
        choices=("hc", "kmeans"),
        default="hc",
        help="start: hierarchical agglomeration (mclust's) or k-means (default: hc)",
    )
    p.add_argument(
        "--prior",
        choices=("none", "default"),
        default="none",
        help="none: maximum likelihood; default: mclust's conjugate prior (priorControl()), "
        "MAP EM for the ten structures that have one, the others skipped (default: none)",
    )
    p.add_argument(
        "--reg-covar",
        type=common.non_negative_float,
        default=1e-6,
        help="added to the covariance diagonals (default: 1e-06)",
    )
    p.add_argument(
        "--jobs",
        type=common.positive_int,
        default=None,
        help="fits run at once (default: side by side on the kernels' threads; 1: one at a time)",
    )
    common.add_fit_options(
        p,
        tol=1e-5,
        max_iter=1000,
        tol_help="convergence threshold on the relative change of the log-likelihood "
        "(mclust's; with --convergence sklearn, on the change of its mean per row)",
    )
    p.add_argument(
        "--convergence",
        choices=("mclust", "sklearn"),
        default="mclust",
        help="stopping rule of every fit: mclust's (its tables) or scikit-learn's "
        "(default: mclust)",
    )
    p.add_argument("--top", type=common.positive_int, default=3, help="models listed (default: 3)")
    common.add_out(p)
    figures.add_plot_option(p)
    common.add_data_options(p)
    p.set_defaults(handler=run_select)


def run_select(args):
    """Handle ``emkit select``: the score table, the best model's summary, the saved model."""
    from emkit import io
    from emkit.cli import data, summary
    from emkit.engine.progress import progress_bars
    from emkit.models.selection import MixtureSelection

    out = args.out or common.default_model_path(args.data)
    data.check_output(out, args.data)
    table = data.read_data(args.data, args.delimiter, data.Selection(args.columns, args.drop))
    selection = MixtureSelection(
        args.components,
        args.models,
        criterion=args.criterion,
        bic_convention="mclust",
        init=args.init,
        prior=None if args.prior == "none" else args.prior,
        tol=args.tol,
        convergence=args.convergence,
        reg_covar=args.reg_covar,
        max_iter=max(args.max_iter, 1),
        n_jobs=args.jobs,
        random_state=args.random_state,
        verbose=args.verbose,
    )
    with progress_bars(False if args.verbose else "auto"):  # bars on a terminal, unless -v
        selection.fit(table.X)
    if args.plot:
        figures.write_plot(selection, args.plot)
    report = sys.stderr if io.is_stream(out) else sys.stdout
    name = args.criterion.upper()
    print(f"{name} (mclust's sign: higher is better; NA: degenerate fit)", file=report)
    print(selection.table(), file=report)
    print("\n" + selection.summary(top=args.top), file=report)
    best = selection.best_estimator_
    print("\n" + summary.format_summary(best, table.X, table.names), file=report)
    io.save(best, out, extra={"columns": table.names})
    print(f"\nmodel saved to {out}", file=report)
    return 0
