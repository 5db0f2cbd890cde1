"""emkit's latent class and Poisson mixtures against StepMix and pomegranate.

Every library runs in this one process on the same data from the same initial parameters; runs
alternate between libraries and the table reports medians. Two measurements per problem:

* per iteration: a fixed number of EM iterations (no stopping rule), time divided by the count;
* whole fit: EM until the mean per-row log-likelihood changes by less than ``--tol`` between
  iterations (emkit's ``tol``, StepMix's ``abs_tol``, pomegranate's ``tol`` times n).

The log-likelihood column is each library's total log-likelihood at its final parameters,
relative to emkit's. StepMix has no Poisson measurement model, so the Poisson problem compares
emkit with pomegranate only. pomegranate runs in float64 (``torch.set_default_dtype``) so its
numbers are comparable to the others'. Usage::

    python benchmarks/bench_mixtures.py [--repeats 3] [--iters 10] [--scale 1.0] [--threads 1]

On a machine shared with other work, ``--threads 1`` keeps torch's and numba's thread pools
from fighting over the cores (multi-threaded torch slows down many times under contention).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import emkit
from oracles.stepmix_oracle import run_stepmix_em, stepmix_lca_model

GOAL = {"StepMix": 10.0, "pomegranate": 5.0}


# --- problems --------------------------------------------------------------------------------


def lca_problem(n, n_items=10, n_cats=4, K=6, seed=0):
    """Codes from a K-class latent class model, and a start near (not at) the truth."""
    rng = np.random.default_rng(seed)
    z = rng.choice(K, size=n, p=rng.dirichlet(np.full(K, 5.0)))
    truth = rng.dirichlet(np.full(n_cats, 0.6), size=(n_items, K))  # (J, K, M)
    cum = np.cumsum(truth, axis=2)
    u = rng.random((n, n_items))
    X = np.stack([(u[:, j, None] > cum[j, z]).sum(axis=1) for j in range(n_items)], axis=1)
    X = np.minimum(X, n_cats - 1)
    X[:n_cats] = np.arange(n_cats)[:, None]  # every code observed in every item
    # A start like a good initialiser's: the truth blended with noise, the same for everyone.
    weights0 = 0.5 * rng.dirichlet(np.full(K, 5.0)) + 0.5 / K
    noise = rng.dirichlet(np.full(n_cats, 3.0), size=(n_items, K))
    probs0 = [0.6 * truth[j] + 0.4 * noise[j] for j in range(n_items)]
    return {"X": X, "weights": weights0, "probs": probs0, "K": K}


def poisson_problem(n, d=8, K=8, seed=0):
    """Counts from a K-component Poisson mixture, and a start near (not at) the truth."""
    rng = np.random.default_rng(seed)
    z = rng.choice(K, size=n, p=rng.dirichlet(np.full(K, 5.0)))
    rates = rng.gamma(2.0, 3.0, size=(K, d))
    X = rng.poisson(rates[z]).astype(np.float64)
    weights0 = 0.5 * rng.dirichlet(np.full(K, 5.0)) + 0.5 / K
    rates0 = rates * rng.uniform(0.6, 1.4, size=(K, d))  # a good initialiser's kind of start
    return {"X": X, "weights": weights0, "rates": rates0, "K": K}


# --- runners: each returns (seconds, total log-likelihood at the final parameters, iterations)


def _fixed_or_tol(n_iter, tol):
    """emkit's (max_iter, tol): a fixed count runs with tol 0 (never met)."""
    return (n_iter, 0.0) if tol is None else (n_iter, tol)


def emkit_lca(p, n_iter, tol):
    max_iter, tol_ = _fixed_or_tol(n_iter, tol)
    model = emkit.CategoricalMixture(
        p["K"],
        max_iter=max_iter,
        tol=tol_,
        weights_init=p["weights"],
        probabilities_init=p["probs"],
    )
    t0 = time.perf_counter()
    model.fit(p["X"])
    seconds = time.perf_counter() - t0
    return seconds, model.score(p["X"]) * len(p["X"]), model.n_iter_


def stepmix_lca(p, n_iter, tol):
    model, X = stepmix_lca_model(p["X"], p["weights"], p["probs"])
    t0 = time.perf_counter()
    _, done = run_stepmix_em(model, X, n_iter, tol=tol)
    seconds = time.perf_counter() - t0
    final, _ = run_stepmix_em(model, X, 0)
    return seconds, final, done


def emkit_poisson(p, n_iter, tol):
    max_iter, tol_ = _fixed_or_tol(n_iter, tol)
    model = emkit.PoissonMixture(
        p["K"], max_iter=max_iter, tol=tol_, weights_init=p["weights"], rates_init=p["rates"]
    )
    t0 = time.perf_counter()
    model.fit(p["X"])
    seconds = time.perf_counter() - t0
    return seconds, model.score(p["X"]) * len(p["X"]), model.n_iter_


def _pomegranate_fit(components, weights, X, n_iter, tol):
    """pomegranate's GeneralMixtureModel.fit from the given components, in float64."""
    import torch
    from pomegranate.gmm import GeneralMixtureModel

    model = GeneralMixtureModel(
        components,
        priors=torch.tensor(weights, dtype=torch.float64),
        max_iter=n_iter,
        tol=-np.inf if tol is None else tol * len(X),
        check_data=False,
    )
    t0 = time.perf_counter()
    model.fit(X)
    seconds = time.perf_counter() - t0
    with torch.no_grad():
        final = float(model.log_probability(X).sum())
    return seconds, final, model


def pomegranate_lca(p, n_iter, tol):
    import torch
    from pomegranate.distributions import Categorical

    X = torch.as_tensor(p["X"], dtype=torch.int64)
    probs = np.stack(p["probs"], axis=1)  # (K, J, M)
    components = [
        Categorical(probs=torch.tensor(probs[k]), check_data=False) for k in range(p["K"])
    ]
    seconds, final, _ = _pomegranate_fit(components, p["weights"], X, n_iter, tol)
    return seconds, final, None


def pomegranate_poisson(p, n_iter, tol):
    import torch
    from pomegranate.distributions import Poisson

    X = torch.as_tensor(p["X"], dtype=torch.float64)
    components = [
        Poisson(lambdas=torch.tensor(p["rates"][k]), check_data=False) for k in range(p["K"])
    ]
    seconds, final, _ = _pomegranate_fit(components, p["weights"], X, n_iter, tol)
    return seconds, final, None


# --- driver ------------------------------------------------------------------------------------


def available():
    """Which of the compared libraries import here, with a note for those that do not."""
    have, notes = {}, []
    have["emkit"] = hasattr(emkit, "CategoricalMixture") and hasattr(emkit, "PoissonMixture")
    if not have["emkit"]:
        notes.append("this emkit has no CategoricalMixture/PoissonMixture: emkit rows skipped")
    try:
        import stepmix  # noqa: F401

        have["StepMix"] = True
    except ImportError:
        have["StepMix"], _ = False, notes.append("StepMix not installed: its rows skipped")
    try:
        import torch
        from pomegranate.gmm import GeneralMixtureModel  # noqa: F401

        torch.set_default_dtype(torch.float64)
        have["pomegranate"] = True
    except ImportError:
        have["pomegranate"] = False
        notes.append("pomegranate (needs torch) not installed: its rows skipped")
    return have, notes


def limit_threads(n_threads, have):
    """The same thread count for numba, the BLAS and torch."""
    import numba
    from threadpoolctl import threadpool_limits

    numba.set_num_threads(n_threads)
    threadpool_limits(limits=n_threads)
    if have["pomegranate"]:
        import torch

        torch.set_num_threads(n_threads)


def measure(runners, problem, n_iter, max_iter, tol, repeats, whole_repeats):
    """Alternating runs of every runner; median seconds, log-likelihoods, iterations."""
    for run in runners.values():  # warm-up: numba compilation, torch start-up
        run(problem, 2, None)
    rows = {name: {"per_iter": [], "whole": []} for name in runners}
    for _ in range(repeats):
        for name, run in runners.items():
            seconds, rows[name]["ll_fixed"], _ = run(problem, n_iter, None)
            rows[name]["per_iter"].append(seconds / n_iter)
    for _ in range(whole_repeats):
        for name, run in runners.items():
            seconds, rows[name]["ll_whole"], rows[name]["iters"] = run(problem, max_iter, tol)
            rows[name]["whole"].append(seconds)
    for row in rows.values():
        row["per_iter"] = statistics.median(row["per_iter"])
        row["whole"] = statistics.median(row["whole"])
    return rows


def table(title, rows, n_iter):
    """Markdown table of one problem, ratios against emkit."""
    lines = [
        f"### {title}",
        "",
        f"| library | per iteration (ms, {n_iter} its) | whole fit (s) | iterations | "
        "loglik rel. diff (fixed its) | loglik rel. diff (whole fit) | emkit speed-up per "
        "iteration | emkit speed-up whole fit |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    ref = rows.get("emkit")
    for name, r in rows.items():
        if ref is None or name == "emkit":
            d_fixed = d_whole = up_iter = up_whole = "-"
        else:
            d_fixed = f"{abs(r['ll_fixed'] - ref['ll_fixed']) / abs(ref['ll_fixed']):.1e}"
            d_whole = f"{abs(r['ll_whole'] - ref['ll_whole']) / abs(ref['ll_whole']):.1e}"
            goal = GOAL.get(name)
            up_iter = f"{r['per_iter'] / ref['per_iter']:.1f}x" + (
                f" (goal {goal:g}x)" if goal else ""
            )
            up_whole = f"{r['whole'] / ref['whole']:.1f}x"
        iters = "n/a" if r["iters"] is None else str(r["iters"])
        lines.append(
            f"| {name} | {1e3 * r['per_iter']:.2f} | {r['whole']:.3f} | {iters} | "
            f"{d_fixed} | {d_whole} | {up_iter} | {up_whole} |"
        )
    return "\n".join(lines)


def main(argv=None):
    """Run both problems and print the tables."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3, help="alternating runs per library")
    ap.add_argument("--whole-repeats", type=int, default=1, help="whole-fit runs per library")
    ap.add_argument("--iters", type=int, default=10, help="iterations of the fixed-count runs")
    ap.add_argument("--max-iter", type=int, default=200, help="iteration cap of the whole fits")
    ap.add_argument("--tol", type=float, default=1e-6, help="whole-fit tolerance (mean ll)")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply the row counts")
    ap.add_argument("--only", choices=["lca", "poisson"], help="run one problem")
    ap.add_argument(
        "--threads",
        type=int,
        help="threads for every library (numba, BLAS, torch); default: each library's own",
    )
    args = ap.parse_args(argv)
    have, notes = available()
    if args.threads is not None:
        limit_threads(args.threads, have)
        notes.append(f"every library limited to {args.threads} thread(s)")
    print(f"# emkit mixtures vs StepMix and pomegranate ({platform.processor() or 'cpu'})\n")
    print(
        "Same process, same data, same initial parameters; per-iteration times are medians "
        f"of {args.repeats} alternating runs, whole fits medians of {args.whole_repeats}, "
        f"tolerance {args.tol:g} on the mean log-likelihood, at most {args.max_iter} "
        "iterations. Timings on a shared machine are noisy.\n"
    )
    problems = []
    if args.only in (None, "lca"):
        n = int(1e5 * args.scale)
        runners = {
            "emkit": emkit_lca,
            "StepMix": stepmix_lca,
            "pomegranate": pomegranate_lca,
        }
        problems.append((f"Latent class: n={n}, 10 items x 4 categories, K=6", runners, n, "lca"))
    if args.only in (None, "poisson"):
        n = int(1e6 * args.scale)
        runners = {"emkit": emkit_poisson, "pomegranate": pomegranate_poisson}
        problems.append((f"Poisson mixture: n={n}, d=8, K=8", runners, n, "poisson"))
    for title, runners, n, kind in problems:
        runners = {k: v for k, v in runners.items() if have[k]}
        problem = lca_problem(n) if kind == "lca" else poisson_problem(n)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # fixed-count runs stop before convergence
            rows = measure(
                runners,
                problem,
                args.iters,
                args.max_iter,
                args.tol,
                args.repeats,
                args.whole_repeats,
            )
        print(table(title, rows, args.iters) + "\n", flush=True)
    notes.append("StepMix has no Poisson measurement model (no StepMix row for Poisson).")
    notes.append("pomegranate does not report its iteration count (n/a).")
    notes.append("pomegranate runs with check_data=False, its fastest setting.")
    for note in notes:
        print(f"- {note}")


if __name__ == "__main__":
    main()
