"""emkit's Gaussian mixture on data with missing values: cost of the gaps, and StepMix.

Three measurements, on rows from ``K`` Gaussian clusters (``gmm_data.make_data``) with 20% of
the entries removed completely at random, every run from the same initial parameters
(``gmm_data.initial_params``), in this process, alternating libraries:

1. emkit, full covariances: the time per EM iteration with NaN against the same fit of the
   complete data (goal: at most 3x).
2. emkit against StepMix's missing-value Gaussian models (``gaussian_diag_nan`` and
   ``gaussian_spherical_nan``; StepMix has no full covariance with NaN): time per iteration
   (goal: emkit at least 10x faster) and the log-likelihood. The log-likelihood of the initial
   parameters must agree to rounding (both score the observed coordinates). The M-steps
   differ: StepMix integrates the missing coordinates out, emkit completes them by their
   conditional expectations, so the iterates differ while the fixed point is the same; both
   are therefore also run to convergence (``tol`` on the mean log-likelihood) and the final
   mean log-likelihoods compared.
3. No NaN: emkit's fused kernels with this release against the same kernels called directly
   (the E-step that data without NaN ran before missing values were supported), to show the
   NaN check costs nothing measurable.

The time per iteration is ``(t(N iterations) - t(1 iteration)) / (N - 1)`` from medians of
alternating runs, which removes the fixed costs of a fit; whole fits (to convergence) are
reported separately and say so.

Usage: ``python benchmarks/bench_missing.py [--quick] [--output PATH]`` (``make bench`` runs
it); writes ``benchmarks/results_missing.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
from emkit import GaussianMixture  # noqa: E402
from emkit.engine.em import expect  # noqa: E402
from emkit.engine.mixture import MixtureEM, MixtureStats  # noqa: E402
from emkit.engine.sources import ArraySource, default_chunk_size  # noqa: E402
from emkit.families.gaussian import GaussianFamily, GaussianStats  # noqa: E402
from gmm_data import initial_params, make_data  # noqa: E402

N, D, K, MISSING = 200_000, 8, 8, 0.2
GOAL_VS_COMPLETE = 3.0
GOAL_VS_STEPMIX = 10.0


def _with_gaps(X, fraction, seed=2):
    rng = np.random.default_rng(seed)
    Xm = X.copy()
    Xm[rng.uniform(size=X.shape) < fraction] = np.nan
    return Xm


def _emkit(X, ct, inits, n_iter, tol=0.0, reg_covar=1e-6):
    model = GaussianMixture(
        K, covariance_type=ct, max_iter=n_iter, tol=tol, reg_covar=reg_covar, **inits
    )
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", UserWarning)  # the one row with nothing observed
        model.fit(X)
    return time.perf_counter() - t0, model.lower_bound_, model.n_iter_


def _stepmix_model(ct, inits):
    from oracles.stepmix_oracle import _model

    model = _model(K, f"gaussian_{ct}_nan", None)
    prec = np.asarray(inits["precisions_init"])
    var = 1.0 / prec if ct == "diag" else np.repeat((1.0 / prec)[:, None], D, axis=1)
    model.weights_ = np.array(inits["weights_init"], dtype=float)
    model._mm.set_parameters({"means": inits["means_init"].copy(), "covariances": var})
    return model


def _stepmix(X, ct, inits, n_iter, tol=None):
    from oracles.stepmix_oracle import run_stepmix_em

    model = _stepmix_model(ct, inits)
    t0 = time.perf_counter()
    ll, done = run_stepmix_em(model, X, n_iter, tol=tol)
    return time.perf_counter() - t0, ll, done


def _per_iteration(runners, n_iter, repeats):
    """Median seconds per iteration of each runner (``runner(n_iter) -> (seconds, ...)``)."""
    times = {name: ([], []) for name in runners}
    for _ in range(repeats):
        for name, run in runners.items():
            times[name][0].append(run(1)[0])
            times[name][1].append(run(n_iter)[0])
    return {
        name: (statistics.median(long) - statistics.median(one)) / (n_iter - 1)
        for name, (one, long) in times.items()
    }


class _WithoutNanChecks(MixtureEM):
    """The mixture E-step of a block as it ran before missing values: the fused kernel only."""

    def expect_block(self, params, block):
        comps = params.components
        ll, counts, sums, scatter, score, index = self.family.strategy.mixture_estep(
            block.X, block.weights, comps.means, comps.prec_chol, comps.log_det, params.log_weights
        )
        stats = GaussianStats(counts, sums, scatter, comps.means)
        row = np.array(block.X[index], dtype=np.float64) if index >= 0 else None
        return MixtureStats(ll, float(block.X.shape[0]), stats, score, row)


def _estep_runner(X, inits, problem_class):
    """``run(n_iter)`` timing ``n_iter`` E-steps of ``problem_class`` over the blocks of ``X``."""
    params = GaussianMixture(K, max_iter=0, **inits).fit(X[:1000])._params()
    source = ArraySource(X, None, default_chunk_size(D, K))
    problem = problem_class(GaussianFamily("full"))

    def run(n_iter):
        t0 = time.perf_counter()
        for _ in range(n_iter):
            expect(problem, params, source)
        return (time.perf_counter() - t0,)

    return run


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rows and repeats")
    parser.add_argument("--output", default=str(HERE / "results_missing.md"))
    args = parser.parse_args(argv)
    n = N // 10 if args.quick else N
    repeats, n_iter = (3, 4) if args.quick else (5, 6)
    X = make_data(n, D, K, seed=0)
    Xm = _with_gaps(X, MISSING)
    lines = [
        f"# emkit with missing values ({platform.processor() or 'cpu'}, {os.cpu_count()} cores)\n",
        f"n={n}, d={D}, K={K}, {MISSING:.0%} of entries missing completely at random "
        f"({np.isnan(Xm).any(axis=1).mean():.1%} of rows incomplete). Same process, same "
        f"initial parameters; per-iteration times are medians of {repeats} alternating runs "
        f"((t({n_iter} iterations) - t(1)) / {n_iter - 1}). Timings are noisy on a shared "
        "machine.\n",
        "## 1. Full covariances: missing values against complete data (per iteration)\n",
        "| data | s / iteration | ratio | goal |",
        "|---|---|---|---|",
    ]
    full = initial_params(X, K, "full")
    emkit_complete = _emkit(X[:2000], "full", full, 2)  # compile both paths before timing
    emkit_complete = _emkit(Xm[:2000], "full", full, 2)
    del emkit_complete
    t = _per_iteration(
        {
            "complete": lambda it: _emkit(X, "full", full, it),
            "missing": lambda it: _emkit(Xm, "full", full, it),
        },
        n_iter,
        repeats,
    )
    ratio = t["missing"] / t["complete"]
    lines += [
        f"| complete | {t['complete']:.4f} | 1.00 | |",
        f"| 20% missing | {t['missing']:.4f} | {ratio:.2f} | <= {GOAL_VS_COMPLETE:g} |",
        "",
    ]
    try:
        import stepmix  # noqa: F401
    except ImportError:
        lines.append("StepMix is not installed: section 2 skipped.\n")
    else:
        lines += [
            "## 2. Against StepMix's missing-value Gaussian models\n",
            "Per iteration from the same parameters (reg_covar=0 in emkit, as StepMix's NaN "
            "models add none); total log-likelihood of the initial parameters; whole fits to "
            "convergence (tol=1e-6 on the mean log-likelihood, both libraries): seconds, "
            "iterations and the final total log-likelihood.\n",
            "| covariance | emkit s/it | StepMix s/it | speed-up | goal | initial ll emkit | "
            "initial ll StepMix | whole fit emkit (s, it, ll) | whole fit StepMix (s, it, ll) |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for ct in ("diag", "spherical"):
            inits = initial_params(X, K, ct)
            _emkit(Xm[:2000], ct, inits, 2, reg_covar=0.0)
            t = _per_iteration(
                {
                    "emkit": lambda it, ct=ct, inits=inits: _emkit(Xm, ct, inits, it, reg_covar=0),
                    "stepmix": lambda it, ct=ct, inits=inits: _stepmix(Xm, ct, inits, it),
                },
                n_iter,
                max(2, repeats - 2),
            )
            # Totals: emkit leaves the rows with no observed value out of its mean, StepMix
            # counts them (with log-likelihood 0).
            informative = int(np.count_nonzero(~np.isnan(Xm).all(axis=1)))
            ll_e = _emkit(Xm, ct, inits, 1, reg_covar=0.0)[1] * informative
            ll_s = _stepmix(Xm, ct, inits, 0)[1]
            whole_e = _emkit(Xm, ct, inits, 1000, tol=1e-6, reg_covar=0.0)
            whole_e = (whole_e[0], whole_e[1] * informative, whole_e[2])
            whole_s = _stepmix(Xm, ct, inits, 1000, tol=1e-6)
            lines.append(
                f"| {ct} | {t['emkit']:.4f} | {t['stepmix']:.4f} | "
                f"{t['stepmix'] / t['emkit']:.1f}x | >= {GOAL_VS_STEPMIX:g}x | {ll_e:.6f} | "
                f"{ll_s:.6f} | {whole_e[0]:.2f}, {whole_e[2]}, {whole_e[1]:.3f} | "
                f"{whole_s[0]:.2f}, {whole_s[2]}, {whole_s[1]:.3f} |"
            )
        lines.append("")
    lines += [
        "## 3. No NaN: the E-step with and without the missing-value checks\n",
        "| E-step over the blocks of the complete data | s / E-step | ratio |",
        "|---|---|---|",
    ]
    t = _per_iteration(
        {
            "checked": _estep_runner(X, full, MixtureEM),
            "unchecked": _estep_runner(X, full, _WithoutNanChecks),
        },
        n_iter,
        repeats,
    )
    lines += [
        f"| fused kernel alone (as before missing values) | {t['unchecked']:.4f} | 1.00 |",
        f"| with the NaN checks (this release) | {t['checked']:.4f} | "
        f"{t['checked'] / t['unchecked']:.3f} |",
        "",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    Path(args.output).write_text(text)


if __name__ == "__main__":
    main()
