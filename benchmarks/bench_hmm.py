"""Baum-Welch speed: emkit.hmm against hmmlearn (implementation='scaling').

Both libraries fit the same data from the same initial parameters for a fixed number of
iterations (``tol=-inf``) in this process, after one untimed fit each (kernel loading). The
time per iteration is ``(t(N + 1 iterations) - t(1 iteration)) / N``, so that the one-off
set-up of a fit counts for neither library; runs alternate between the libraries and the
median of ``REPEATS`` is kept. The table gives milliseconds per iteration, the speed-up, and
how far apart the final log-likelihoods and parameters are.

Whole fits are timed as a user times them: ``fit`` with hmmlearn's default ``n_iter=10``
from the same initial parameters, the first fit in a fresh process (one process per library and
run, kernels already in numba's cache) that reads its data from a file, so everything a first
fit pays (loading the compiled kernels, first-touch of the message arrays, thread start-up)
counts; median of ``WHOLE_REPEATS`` runs. Two figures: the fit in a process where numba is
already running (something else called a compiled function first), and the fit that is the
process's first call of any compiled function, which also pays numba's one-off start-up
(about 0.2 s, once per process).

Run ``python benchmarks/bench_hmm.py`` (``--quick`` for a smaller, faster run).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from numba import njit

from emkit import hmm as ehmm

N_ITER = 5
REPEATS = 3
#: Iterations of a whole fit (hmmlearn's default ``n_iter``) and fresh-process runs per library.
WHOLE_ITER = 10
WHOLE_REPEATS = 3


def _random_transmat(rng, K, stay=0.9):
    A = rng.dirichlet(np.ones(K), size=K) * (1 - stay)
    A[np.diag_indices(K)] += stay
    return A / A.sum(axis=1, keepdims=True)


def gaussian_case(covariance_type, T, K, d, n_seq, seed=0):
    """Data sampled from a Gaussian HMM and perturbed initial parameters."""
    rng = np.random.RandomState(seed)
    truth = ehmm.GaussianHMM(K, covariance_type="diag", init_params="")
    truth.startprob_ = np.full(K, 1.0 / K)
    truth.transmat_ = _random_transmat(rng, K)
    truth.means_ = rng.randn(K, d) * 3
    truth.covars_ = rng.uniform(0.5, 1.5, size=(K, d))
    X = np.vstack([truth.sample(T, random_state=rng)[0] for _ in range(n_seq)])
    init = {
        "startprob_": np.full(K, 1.0 / K),
        "transmat_": _random_transmat(rng, K, stay=0.5),
        "means_": truth.means_ + rng.randn(K, d) * 0.5,
    }
    cov = np.cov(X.T)
    init["covars_"] = {
        "full": np.tile(cov, (K, 1, 1)),
        "diag": np.tile(np.diag(cov), (K, 1)),
    }[covariance_type]
    return X, [T] * n_seq, init


def categorical_case(T, K, M, seed=0):
    """Symbols sampled from a categorical HMM and perturbed initial parameters."""
    rng = np.random.RandomState(seed)
    truth = ehmm.CategoricalHMM(K, n_features=M, init_params="")
    truth.startprob_ = np.full(K, 1.0 / K)
    truth.transmat_ = _random_transmat(rng, K)
    truth.emissionprob_ = rng.dirichlet(np.full(M, 0.3), size=K)
    X, _ = truth.sample(T, random_state=rng)
    init = {
        "startprob_": np.full(K, 1.0 / K),
        "transmat_": _random_transmat(rng, K, stay=0.5),
        "emissionprob_": rng.dirichlet(np.ones(M), size=K),
    }
    return X, [T], init


def _fit(model, X, lengths, init, n_iter):
    model.n_iter = n_iter
    monitor = getattr(model, "monitor_", None)
    if monitor is not None:  # hmmlearn's monitor keeps the n_iter it was built with
        monitor.n_iter = n_iter
    for name, value in init.items():
        setattr(model, name, np.array(value, copy=True))
    start = time.perf_counter()
    model.fit(X, lengths)
    return time.perf_counter() - start


def _per_iteration(model, X, lengths, init):
    one = _fit(model, X, lengths, init, 1)
    return (_fit(model, X, lengths, init, N_ITER + 1) - one) / N_ITER


def _max_rel_diff(a, b, names):
    out = 0.0
    for name in names:
        x, y = np.asarray(getattr(a, name)), np.asarray(getattr(b, name))
        out = max(out, float(np.max(np.abs(x - y)) / max(np.max(np.abs(x)), 1e-300)))
    return out


def run_case(label, make, build):
    """Fit both libraries on one case; returns the row of the table."""
    from hmmlearn import hmm as hl

    X, lengths, init = make()
    names = list(init)
    ours = build(ehmm)
    theirs = build(hl)
    theirs.implementation = "scaling"
    for model in (ours, theirs):  # untimed: kernel loading, caches
        _fit(model, X, lengths, init, 1)
    times = {"ours": [], "theirs": []}
    for _ in range(REPEATS):
        times["theirs"].append(_per_iteration(theirs, X, lengths, init))
        times["ours"].append(_per_iteration(ours, X, lengths, init))
    t_ours, t_theirs = float(np.median(times["ours"])), float(np.median(times["theirs"]))
    ll_ours, ll_theirs = ours.monitor_.history[-1], theirs.monitor_.history[-1]
    return {
        "case": label,
        "hmmlearn_ms": 1e3 * t_theirs,
        "emkit_ms": 1e3 * t_ours,
        "speedup": t_theirs / t_ours,
        "ll_rel_diff": abs(ll_ours - ll_theirs) / abs(ll_theirs),
        "param_rel_diff": _max_rel_diff(ours, theirs, names),
    }


def _library(name):
    if name == "emkit":
        return ehmm
    from hmmlearn import hmm as hl

    return hl


@njit(cache=True)
def _start_numba(x):
    """A trivial compiled function: calling it starts numba's compiler and runtime."""
    return x + 1.0


def first_fit(index, lib, data, numba_started, quick=False):
    """Seconds of the first whole fit of case ``index`` by ``lib`` in this (fresh) process.

    The data and initial parameters are read from ``data`` (an ``.npz`` file written by
    :func:`whole_fits`), so nothing compiled has run in the process before, unless
    ``numba_started``.
    """
    _, _, build = cases(quick)[index]
    with np.load(data) as f:
        X, lengths = f["X"], f["lengths"].tolist()
        init = {name[5:]: f[name] for name in f.files if name.startswith("init_")}
    if numba_started:
        _start_numba(1.0)
    model = build(_library(lib))
    if lib == "hmmlearn":
        model.implementation = "scaling"
    return _fit(model, X, lengths, init, WHOLE_ITER)


def whole_fits(index, quick=False, repeats=WHOLE_REPEATS):
    """Median first-fit seconds per library and start, each run in a fresh process, alternating.

    Keys ``(lib, numba_started)``.
    """
    _, make, _ = cases(quick)[index]
    X, lengths, init = make()
    times = {}
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "case.npz")
        arrays = {f"init_{name}": np.asarray(value) for name, value in init.items()}
        np.savez(data, X=X, lengths=np.asarray(lengths), **arrays)
        for r in range(repeats):
            for started in (True, False):
                libs = ("emkit", "hmmlearn") if r % 2 == 0 else ("hmmlearn", "emkit")
                for lib in libs:
                    cmd = [sys.executable, __file__, "--first-fit", str(index), lib, data]
                    cmd += ["--numba-started"] * started + ["--quick"] * quick
                    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
                    value = json.loads(done.stdout.strip().splitlines()[-1])
                    times.setdefault((lib, started), []).append(value)
    return {key: float(np.median(t)) for key, t in times.items()}


def cases(quick=False):
    """The benchmark cases: (label, data maker, model builder)."""
    f = 10 if quick else 1
    kw = {"n_iter": N_ITER, "tol": -np.inf, "init_params": ""}
    return [
        (
            f"GaussianHMM full T={100_000 // f} K=8 d=4",
            lambda: gaussian_case("full", 100_000 // f, 8, 4, 1),
            lambda m: m.GaussianHMM(8, covariance_type="full", **kw),
        ),
        (
            f"GaussianHMM diag T={100_000 // f} K=32 d=4",
            lambda: gaussian_case("diag", 100_000 // f, 32, 4, 1, seed=1),
            lambda m: m.GaussianHMM(32, covariance_type="diag", **kw),
        ),
        (
            f"GaussianHMM diag {100 // f}x1000 K=8 d=4",
            lambda: gaussian_case("diag", 1000, 8, 4, 100 // f, seed=2),
            lambda m: m.GaussianHMM(8, covariance_type="diag", **kw),
        ),
        (
            f"CategoricalHMM T={1_000_000 // f} K=8 M=20",
            lambda: categorical_case(1_000_000 // f, 8, 20, seed=3),
            lambda m: m.CategoricalHMM(8, n_features=20, **kw),
        ),
    ]


def _load():
    """The 1-minute load average (NaN where the system does not report one)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return float("nan")


def main(quick=False, whole=True):
    """Print the HMM benchmark table."""
    rows = []
    for case in cases(quick):
        load = _load()
        rows.append({**run_case(*case), "load": max(load, _load())})
    for index, row in enumerate(rows):
        if whole:
            w = whole_fits(index, quick, repeats=1 if quick else WHOLE_REPEATS)
            row.update(
                hmmlearn_fit_s=w["hmmlearn", True],
                emkit_fit_s=w["emkit", True],
                fit_speedup=w["hmmlearn", True] / w["emkit", True],
                hmmlearn_cold_fit_s=w["hmmlearn", False],
                emkit_cold_fit_s=w["emkit", False],
                cold_fit_speedup=w["hmmlearn", False] / w["emkit", False],
                load=max(row["load"], _load()),
            )
    head = (
        f"{'case':<40} {'hmmlearn':>10} {'emkit':>10} {'speedup':>8} "
        f"{'LL rel diff':>12} {'param diff':>11}"
    )
    print(
        f"Baum-Welch, ms per iteration ((t({N_ITER + 1} it) - t(1 it)) / {N_ITER}, median of "
        f"{REPEATS} alternated runs, same data and initial parameters)"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r['case']:<40} {r['hmmlearn_ms']:>10.1f} {r['emkit_ms']:>10.1f} "
            f"{r['speedup']:>7.1f}x {r['ll_rel_diff']:>12.1e} {r['param_rel_diff']:>11.1e}"
        )
    if whole:
        print(
            f"\nWhole fit, n_iter={WHOLE_ITER}: seconds of the first fit in a fresh process that "
            f"reads its data from a file (kernels cached), median of {WHOLE_REPEATS} runs per "
            "library; numba running / the process's first compiled call (numba's start-up "
            "included)"
        )
        for r in rows:
            print(
                f"{r['case']:<40} {r['hmmlearn_fit_s']:>10.2f} {r['emkit_fit_s']:>10.2f} "
                f"{r['fit_speedup']:>7.1f}x / {r['hmmlearn_cold_fit_s']:>6.2f} "
                f"{r['emkit_cold_fit_s']:>6.2f} {r['cold_fit_speedup']:>6.1f}x"
            )
    print(f"\n{load_note(rows)}")
    return rows


def load_note(rows):
    """One sentence on the machine's load while the rows were measured."""
    loads = [r["load"] for r in rows]
    return (
        f"Load average (1 min) during the runs: {min(loads):.1f} to {max(loads):.1f} on "
        f"{os.cpu_count()} cores; emkit runs several threads, hmmlearn one, so a loaded machine "
        "understates emkit's speed-up."
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="ten times smaller cases")
    parser.add_argument("--no-whole", action="store_true", help="skip the whole-fit timing")
    parser.add_argument(
        "--first-fit", nargs=3, metavar=("CASE", "LIB", "DATA"), help=argparse.SUPPRESS
    )
    parser.add_argument("--numba-started", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.first_fit:
        case, lib, data = args.first_fit
        print(json.dumps(first_fit(int(case), lib, data, args.numba_started, args.quick)))
    else:
        main(args.quick, whole=not args.no_whole)
