"""``emkit peaks``: decompose a spectrum or a histogram into Gaussian peaks.

The data file holds two columns (position, intensity) or three (lower edge, upper edge,
count); :class:`emkit.PeakFit` fits them and the peak table is printed (or written as CSV
with ``-o``).
"""

from __future__ import annotations

import sys

from emkit.cli import common, figures
from emkit.cli.common import CommandError


def _peak_fit():
    from emkit.models.peaks import PeakFit

    return PeakFit


def peak_count(text):
    """``auto`` or an integer >= 1."""
    if text.lower() == "auto":
        return "auto"
    return common.positive_int(text)


def register(subparsers):
    """Add ``peaks`` to ``subparsers``."""
    peaks = subparsers.add_parser(
        "peaks",
        help="decompose a spectrum or histogram into Gaussian peaks and print the peak table",
        description="Fit Gaussian peaks to a 1-D signal by EM for binned data and print each "
        "peak's centre, width (sigma and FWHM), area and share with standard errors. The "
        "file holds two columns, position and intensity (positions increasing; each gets the "
        "cell between the midpoints to its neighbours), or three, lower edge, upper edge and "
        "count of each bin. Standard errors and BIC treat the intensities as counts.",
    )
    peaks.add_argument("data", help="CSV file ('-': stdin) or .npy array with 2 or 3 columns")
    peaks.add_argument(
        "--peaks",
        type=peak_count,
        default="auto",
        metavar="N|auto",
        help="number of peaks, or 'auto' to choose 1..--max-peaks by BIC (default: auto)",
    )
    peaks.add_argument(
        "--max-peaks",
        type=common.positive_int,
        default=6,
        help="largest number of peaks tried by --peaks auto (default: 6)",
    )
    peaks.add_argument(
        "--background", action="store_true", help="add a flat background with a fitted share"
    )
    peaks.add_argument(
        "--no-truncate",
        dest="truncate",
        action="store_false",
        help="treat the signal outside the observed range as observed and zero (default: "
        "condition on the observed range)",
    )
    peaks.add_argument(
        "--covariance",
        choices=("full", "tied"),
        default="full",
        help="'tied': all peaks share one width (default: full, a width per peak)",
    )
    peaks.add_argument(
        "--n-init", type=common.positive_int, default=5, help="restarts per peak count (default: 5)"
    )
    common.add_fit_options(
        peaks,
        tol=1e-8,
        tol_help="convergence threshold on the mean log-likelihood per count",
        max_iter=2000,
    )
    common.add_out(peaks, "table")
    figures.add_plot_option(peaks)
    common.add_data_options(peaks)
    peaks.set_defaults(handler=run_peaks)


def run_peaks(args):
    """Handle ``emkit peaks``: fit, then print the table (or write it as CSV)."""
    import numpy as np

    from emkit import io
    from emkit.cli import data
    from emkit.models.peaks import TABLE_COLUMNS

    data.check_output(args.out, args.data)
    table = data.read_data(args.data, args.delimiter, data.Selection(args.columns, args.drop))
    X = np.asarray(table.X, dtype=np.float64)
    source = data.source_name(args.data)
    if X.shape[1] not in (2, 3):
        raise CommandError(
            f"{source} has {X.shape[1]} columns; 'emkit peaks' reads position,intensity or "
            "lower,upper,count (choose them with --columns)"
        )
    positions, y = (X[:, 0], X[:, 1]) if X.shape[1] == 2 else (X[:, :2], X[:, 2])
    model = _peak_fit()(
        args.peaks,
        max_peaks=args.max_peaks,
        background=args.background,
        truncate=args.truncate,
        covariance_type=args.covariance,
        n_init=args.n_init,
        tol=args.tol,
        max_iter=args.max_iter,
        random_state=args.random_state,
        verbose=args.verbose,
    )
    model.fit(positions, y)
    if args.plot:
        figures.write_plot(model, args.plot, positions, y=y)
    if args.out is None:
        print(_heading(model, source, X.shape[0]))
        print(model.format_table())
        return 0
    report = sys.stderr if io.is_stream(args.out) else sys.stdout  # keep a streamed table clean
    cols = model.table()
    rows = np.column_stack([np.arange(1, model.n_peaks_ + 1), *(cols[c] for c in TABLE_COLUMNS)])
    data.write_table(args.out, ["peak", *TABLE_COLUMNS], rows, ["%d"] + ["%.8g"] * len(cols))
    print(_heading(model, source, X.shape[0]), file=report)
    if not io.is_stream(args.out):
        print(f"{model.n_peaks_} peaks written to {args.out}", file=report)
    return 0


def _heading(model, source, n):
    chosen = "chosen by BIC" if model.n_peaks == "auto" else "given"
    return (
        f"{source}: {n} points, {model.n_peaks_} peak(s) ({chosen}), log-likelihood "
        f"{model.log_likelihood_:.6g}"
    )
