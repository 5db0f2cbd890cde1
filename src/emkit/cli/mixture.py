"""``emkit fit``, ``emkit predict`` and ``emkit demo``: mixture models.

``emkit fit --family NAME`` picks a row of :data:`FAMILIES` (estimator, the options that
apply, how the data columns are read): ``gaussian``, ``poisson``, ``bernoulli`` and
``categorical`` (latent class analysis of text answers).
"""

from __future__ import annotations

import sys
import warnings

from emkit.cli import common, figures
from emkit.cli.common import CommandError, Family, Option


def _gaussian_mixture():
    from emkit.models.gaussian_mixture import GaussianMixture

    return GaussianMixture


def _poisson_mixture():
    from emkit.models.poisson_mixture import PoissonMixture

    return PoissonMixture


def _bernoulli_mixture():
    from emkit.models.bernoulli_mixture import BernoulliMixture

    return BernoulliMixture


def _categorical_mixture():
    from emkit.models.categorical_mixture import CategoricalMixture

    return CategoricalMixture


def _init_option(default):
    return Option(
        "init",
        "init_params",
        default,
        ("--init",),
        "initialisation",
        {"choices": common.INIT_METHODS},
    )


_N_INIT = Option("n_init", "n_init", 1, ("--n-init",), "restarts", {"type": common.positive_int})


#: ``emkit fit --family`` name -> estimator, family-specific options, column reading.
FAMILIES = {
    "gaussian": Family(
        help="real-valued columns",
        estimator=_gaussian_mixture,
        options={
            "covariance": Option(
                "covariance",
                "covariance_type",
                "full",
                ("--covariance",),
                "covariance structure (scikit-learn's names or mclust's, see 'emkit select')",
                {"choices": common.MIXTURE_COVARIANCE_TYPES, "metavar": "TYPE"},
            ),
            "init": _init_option("kmeans"),
            "n_init": _N_INIT,
            "reg_covar": Option(
                "reg_covar",
                "reg_covar",
                1e-6,
                ("--reg-covar",),
                "added to the covariance diagonals",
                {"type": common.non_negative_float},
            ),
        },
    ),
    "poisson": Family(
        help="counts (non-negative whole numbers)",
        estimator=_poisson_mixture,
        options={"init": _init_option("kmeans"), "n_init": _N_INIT},
        columns="counts",
    ),
    "bernoulli": Family(
        help="binary 0/1 columns",
        estimator=_bernoulli_mixture,
        options={"init": _init_option("kmeans"), "n_init": _N_INIT},
    ),
    "categorical": Family(
        help="categorical answers, as text (latent class analysis; the CSV needs a header)",
        estimator=_categorical_mixture,
        options={"init": _init_option("random"), "n_init": _N_INIT},
        columns="text",
    ),
}
# Options every mixture family takes: dest -> constructor parameter.
_SHARED = {
    "components": "n_components",
    "max_iter": "max_iter",
    "tol": "tol",
    "random_state": "random_state",
    "verbose": "verbose",
}


def register(subparsers):
    """Add ``fit``, ``predict`` and ``demo`` to ``subparsers``."""
    fit = subparsers.add_parser(
        "fit",
        help="fit a mixture model (Gaussian, Poisson, Bernoulli, categorical) and save it",
        description="Fit a mixture model to the numeric columns of a CSV file (header row "
        "optional) or a .npy array, print a summary, and save the model.",
    )
    fit.add_argument(
        "data",
        help="CSV file of numbers, one row per sample ('-': stdin), or a .npy array file "
        "(memory-mapped and streamed, never loaded whole)",
    )
    common.add_components(fit)
    common.add_family(fit, FAMILIES, "gaussian", "component distribution")
    common.add_fit_options(
        fit,
        tol=None,
        max_iter=None,
        tol_help="convergence threshold on the mean per-sample log-likelihood (default: "
        "1e-3; 1e-6 for categorical)",
    )
    common.add_out(fit)
    figures.add_plot_option(fit)
    common.add_data_options(fit)
    fit.set_defaults(handler=run_fit)

    predict = subparsers.add_parser(
        "predict",
        help="label the rows of a data file with a saved mixture model",
        description="Write the most probable component of each row and the probabilities "
        "of all components as CSV (header: label,p0,p1,...). With a header, the columns the "
        "model was fitted on are picked by name.",
    )
    predict.add_argument("model", help="model file written by 'emkit fit'")
    predict.add_argument(
        "data", help="CSV file with the model's columns ('-': stdin), or a .npy array file"
    )
    common.add_out(predict, "table")
    common.add_data_options(predict)
    predict.set_defaults(handler=run_predict)

    demo = subparsers.add_parser(
        "demo",
        help="fit the iris data shipped with scikit-learn and print the result",
        description="Fit a 3-component Gaussian mixture to the iris data and compare the "
        "components with the species.",
    )
    demo.add_argument(
        "--covariance",
        choices=common.COVARIANCE_TYPES,
        default="full",
        help="covariance structure (default: full)",
    )
    demo.add_argument("--random-state", type=common.seed, default=0, help="(default: 0)")
    demo.set_defaults(handler=run_demo)


def run_fit(args):
    """Handle ``emkit fit``: print a summary and save the model."""
    from emkit import io
    from emkit.cli import data, summary
    from emkit.engine.progress import progress_bars

    out = args.out or common.default_model_path(args.data)
    data.check_output(out, args.data)
    if args.plot:
        data.check_output(args.plot, args.data)
    row = FAMILIES[args.family]
    model = common.build_estimator(FAMILIES, args, _SHARED)
    selection = data.Selection(args.columns, args.drop)
    table = data.read_data(args.data, args.delimiter, selection, row.columns)
    with progress_bars(False if args.verbose else "auto"):  # bars on a terminal, unless -v
        model.fit(table.X)
    report = sys.stderr if io.is_stream(out) else sys.stdout  # keep a streamed file clean
    print(summary.format_summary(model, table.X, table.names), file=report)
    io.save(model, out, extra={"columns": table.names})
    print(f"\nmodel saved to {out}", file=report)
    if args.plot:
        figures.write_plot(model, args.plot, table.X, feature_names=table.names)
        print(f"figure written to {args.plot}", file=report)
    return 0


def run_predict(args):
    """Handle ``emkit predict``: labels and probabilities as CSV."""
    import numpy as np

    from emkit import io
    from emkit.cli import data

    data.check_output(args.out, args.model, args.data)
    model = common.load_model(args.model, FAMILIES, "predict", "hmm decode")
    columns = io.read_metadata(args.model)["extra"].get("columns")
    selection = data.Selection(args.columns, args.drop, prefer=columns)
    row = next(r for r in FAMILIES.values() if isinstance(model, r.estimator()))
    table = data.read_data(args.data, args.delimiter, selection, row.columns)
    X, names, d = table.X, table.names, model.n_features_in_
    source = data.source_name(args.data)
    if X.shape[1] != d:
        raise CommandError(
            f"{source} has {X.shape[1]} columns but the model in {args.model} was fitted on "
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
    rows = np.column_stack([proba.argmax(axis=1), proba])
    header = ["label", *[f"p{k}" for k in range(K)]]
    data.write_table(args.out, header, rows, ["%d"] + ["%.6g"] * K)
    if args.out is not None and not io.is_stream(args.out):
        print(f"{X.shape[0]} labels written to {args.out}")
    return 0


def run_demo(args):
    """Handle ``emkit demo``: the iris data, 3 components, agreement with the species."""
    import numpy as np
    from sklearn.datasets import load_iris
    from sklearn.metrics import adjusted_rand_score

    from emkit.cli.summary import format_summary

    iris = load_iris()
    X, species = iris.data, iris.target
    names = [name.replace(" (cm)", "").replace(" ", "_") for name in iris.feature_names]
    model = _gaussian_mixture()(3, covariance_type=args.covariance, random_state=args.random_state)
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
