"""emkit vs scikit-learn ``GaussianMixture``: time per EM iteration, memory, GEMM throughput.

Both libraries fit the same data from the same weights, means and precisions with ``tol=0``
and a fixed number of iterations, in this process, alternating runs. The time per iteration
is ``(t(N iterations) - t(1 iteration)) / (N - 1)`` from the medians, which removes the fixed
costs of a fit (validation, initialisation, scikit-learn's extra final E-step) from both. The
final lower bounds must agree to 1e-6 relative. gmmx (JAX on CPU; full and diagonal covariances
only, always in float32) is a second anchor on the same data and initial parameters when it is
installed (the report says so when it is not); its jitted fit is compiled before timing. Whole fits
(validation, initialisation from the given parameters, every iteration and, for
scikit-learn and emkit, the final scoring) are reported next to the per-iteration figures.
Also measured: the machine's float64 GEMM
rate, emkit's first-fit compile time, peak memory on 1e7 rows (one subprocess per library),
and the crossover between the fused kernels and the stacked-GEMM path.

Usage: ``python benchmarks/run.py [--quick] [--no-memory] [--no-crossover] [--output PATH]``
(``make bench`` runs it). Writes ``benchmarks/results.md`` and refreshes the table in the
README between its ``benchmark-results`` markers.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
import bench_big  # noqa: E402
import bench_hmm  # noqa: E402
from gmm_data import initial_params, make_data  # noqa: E402

# name, covariance_type, n, d, K, dtype, target ratio (sklearn time / emkit time)
CASES = [
    ("full d=2 K=8", "full", 1_000_000, 2, 8, "float64", 20),
    ("full d=16 K=32", "full", 200_000, 16, 32, "float64", 10),
    ("full d=64 K=16", "full", 200_000, 64, 16, "float64", 4),
    ("diag d=16 K=32", "diag", 500_000, 16, 32, "float64", 10),
    ("tied d=16 K=32", "tied", 200_000, 16, 32, "float64", None),
    ("spherical d=16 K=32", "spherical", 500_000, 16, 32, "float64", None),
    ("full d=2 K=8 f32", "full", 1_000_000, 2, 8, "float32", None),
    ("full d=16 K=32 f32", "full", 200_000, 16, 32, "float32", None),
]
GFLOP_CASE = "full d=64 K=16"
MEMORY = (10_000_000, 4, 16)  # n, d, K: 320 MB of float64
CROSSOVER_D = (16, 32, 64, 128, 256)
BOUND_RTOL = 1e-6


def _machine():
    from threadpoolctl import threadpool_info

    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(line.split(":", 1)[1].strip() for line in fh if "model name" in line)
    except (OSError, StopIteration):
        pass
    blas = [
        f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')}, "
        f"{i.get('num_threads')} threads)"
        for i in threadpool_info()
        if i.get("user_api") == "blas"
    ]
    import numba
    import sklearn

    env = {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "numba": numba.__version__,
        "numba threads": numba.get_num_threads(),
        "BLAS": "; ".join(blas),
        "env": ", ".join(f"{k}={'unset' if v is None else v}" for k, v in env.items()),
    }


def gemm_gflops(size=3000, repeats=3):
    """float64 matrix product rate of this process's BLAS, best of ``repeats``."""
    rng = np.random.default_rng(0)
    a, b = rng.random((size, size)), rng.random((size, size))
    a @ b
    best = min(_timed(lambda: a @ b)[0] for _ in range(repeats))
    return 2 * size**3 / best / 1e9


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def _fit(lib, X, cov, K, iters, inits):
    if lib == "emkit":
        from emkit import GaussianMixture

        model = GaussianMixture(K, covariance_type=cov, tol=0.0, max_iter=iters, **inits)
    else:
        from sklearn.mixture import GaussianMixture

        # All three *_init are given; 'random_from_data' skips a k-means that would be
        # overridden anyway.
        model = GaussianMixture(
            K,
            covariance_type=cov,
            tol=0.0,
            max_iter=iters,
            init_params="random_from_data",
            random_state=0,
            **inits,
        )
    return _timed(lambda: model.fit(X))


def _gmmx():
    """gmmx's ``(EMFitter, GaussianMixtureModelJax, jax.numpy)``, or None when not installed."""
    try:
        import jax.numpy as jnp
        from gmmx import EMFitter, GaussianMixtureModelJax
    except ImportError:
        return None
    return EMFitter, GaussianMixtureModelJax, jnp


GMMX_COVARIANCES = ("full", "diag")


def _gmmx_fit(X, cov, K, iters, inits):
    """Seconds of a gmmx fit (model from the initial parameters + ``iters`` EM iterations)."""
    fitter_cls, model_cls, jnp = _gmmx()
    dtype = np.float32  # gmmx computes in float32 only
    prec = inits["precisions_init"]
    covs = np.linalg.inv(prec) if cov == "full" else 1.0 / prec

    def fit():
        gmm = model_cls.from_squeezed(
            means=jnp.asarray(inits["means_init"], dtype=dtype),
            covariances=jnp.asarray(covs, dtype=dtype),
            weights=jnp.asarray(inits["weights_init"], dtype=dtype),
            covariance_type=cov,
        )
        result = fitter_cls(tol=0.0, max_iter=iters, reg_covar=1e-6).fit(x=X, gmm=gmm)
        return float(result.log_likelihood)

    return _timed(fit)


#: Seconds a gmmx child process may take for one case before its column is left empty.
GMMX_TIMEOUT = 300


def gmmx_available():
    """Whether gmmx (and so JAX) is installed; checked without importing JAX here."""
    return importlib.util.find_spec("gmmx") is not None


def _gmmx_child(case, iters, repeats):
    """In a child process: gmmx's per-iteration and whole-fit seconds and final bound."""
    _, cov, n, d, K, dtype, _ = case
    X = make_data(n, d, K, dtype=np.dtype(dtype), seed=0)
    inits = initial_params(X, K, cov)
    XJ = _gmmx()[2].asarray(X, dtype=np.float32)
    for it in (1, iters):  # jit-compile both loop lengths, untimed
        _gmmx_fit(XJ, cov, K, it, inits)
    times = {1: [], iters: []}
    for _ in range(repeats):
        for it in (1, iters):
            seconds, bound = _gmmx_fit(XJ, cov, K, it, inits)
            times[it].append(seconds)
    per_iter = (np.median(times[iters]) - np.median(times[1])) / (iters - 1)
    return {"s": float(per_iter), "fit_s": float(np.median(times[iters])), "bound": bound}


def gmmx_case(case, iters, repeats):
    """gmmx's figures for ``case`` from a child process (JAX kept out of this one), or a note."""
    if not gmmx_available() or case[1] not in GMMX_COVARIANCES:
        return None
    cmd = [sys.executable, __file__, "--gmmx-child", json.dumps(case), str(iters), str(repeats)]
    try:
        return json.loads(
            subprocess.run(
                cmd, capture_output=True, text=True, check=True, timeout=GMMX_TIMEOUT
            ).stdout.splitlines()[-1]
        )
    except subprocess.TimeoutExpired:
        return {"note": f"gmmx did not finish within {GMMX_TIMEOUT} s"}
    except (subprocess.CalledProcessError, IndexError, ValueError) as exc:
        return {"note": f"gmmx failed: {str(getattr(exc, 'stderr', exc))[-200:]}"}


def time_case(case, iters, repeats):
    """Per-iteration and whole-fit seconds of each library and their lower bounds."""
    name, cov, n, d, K, dtype, target = case
    X = make_data(n, d, K, dtype=np.dtype(dtype), seed=0)
    inits = initial_params(X, K, cov)
    libs = ["emkit", "sklearn"]
    times = {(lib, it): [] for lib in libs for it in (1, iters)}
    bounds = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _fit("emkit", X[:5000], cov, K, 1, inits)  # compile / load the kernels
        for r in range(repeats):
            order = libs if r % 2 == 0 else libs[::-1]
            for it in (1, iters):
                for lib in order:
                    seconds, model = _fit(lib, X, cov, K, it, inits)
                    times[lib, it].append(seconds)
                    if it == iters:
                        bounds[lib] = model.lower_bound_
    per_iter = {
        lib: (np.median(times[lib, iters]) - np.median(times[lib, 1])) / (iters - 1) for lib in libs
    }
    rel = abs(bounds["emkit"] - bounds["sklearn"]) / abs(bounds["sklearn"])
    extra = {}
    g = gmmx_case(case, iters, repeats)
    if g is not None and "note" in g:
        extra = {"gmmx_note": g["note"]}
    elif g is not None:
        extra = {
            "gmmx_s": g["s"],
            "gmmx_fit_s": g["fit_s"],
            "gmmx_ratio": float(g["s"] / per_iter["emkit"]),
            "gmmx_rel_diff": float(abs(g["bound"] - bounds["sklearn"]) / abs(bounds["sklearn"])),
        }
    return {
        **extra,
        "name": name,
        "n": n,
        "d": d,
        "K": K,
        "dtype": dtype,
        "cov": cov,
        "target": target,
        "emkit_s": float(per_iter["emkit"]),
        "sklearn_s": float(per_iter["sklearn"]),
        "emkit_fit_s": float(np.median(times["emkit", iters])),
        "sklearn_fit_s": float(np.median(times["sklearn", iters])),
        "ratio": float(per_iter["sklearn"] / per_iter["emkit"]),
        "bound_rel_diff": float(rel),
    }


_FIRST = r"""
import json, sys, time, warnings
warnings.simplefilter("ignore")
sys.path.insert(0, {here!r})
what = {what!r}
t0 = time.perf_counter()
import emkit
out = {{"import": time.perf_counter() - t0}}
import numpy as np
from gmm_data import initial_params, make_data

def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t

if what == "compile_all":
    from emkit.kernels.compile import compile_all
    out["first"] = timed(compile_all)
elif what.startswith("gmm"):
    X = make_data(20000, 2, 8, dtype=what[3:], seed=3)
    inits = initial_params(X, 8, "full")
    t0 = time.perf_counter()
    from emkit import GaussianMixture
    out["load"] = time.perf_counter() - t0
    fit = lambda: GaussianMixture(8, tol=0.0, max_iter=5, **inits).fit(X)
    out["first"], out["second"] = timed(fit), timed(fit)
else:
    X = make_data(20000, 2, 4, seed=3)
    inits = initial_params(X, 4, "diag")
    t0 = time.perf_counter()
    from emkit.hmm import GaussianHMM
    out["load"] = time.perf_counter() - t0

    def fit():
        model = GaussianHMM(4, n_iter=5, tol=-np.inf, init_params="")
        model.startprob_ = np.full(4, 0.25)
        model.transmat_ = np.full((4, 4), 0.1) + 0.6 * np.eye(4)
        model.means_ = inits["means_init"]
        model.covars_ = 1.0 / inits["precisions_init"]
        model.fit(X)

    out["first"], out["second"] = timed(fit), timed(fit)
print(json.dumps(out))
"""

#: What :func:`first_run` times, with an empty then a warm numba cache.
FIRST_RUN = {
    "gmmfloat64": "first GaussianMixture fit (float64, full, 20,000 x 2, K=8, 5 it)",
    "gmmfloat32": "first GaussianMixture fit (float32, same)",
    "hmm": "first GaussianHMM fit (diag, T=20,000, d=2, K=4, 5 it, given initial parameters)",
    "compile_all": "`emkit.kernels.compile.compile_all()` (every default kernel)",
}


def _wall(cmd, env):
    start = time.perf_counter()
    _run_child(cmd, env, json_out=False)
    return time.perf_counter() - start


def first_run(repeats=3):
    """Seconds of first runs with an empty numba cache (cold) and a filled one (warm).

    Each figure comes from its own fresh process: ``import emkit`` and ``emkit --help`` (wall
    time of the whole process, interpreter included), each first fit and ``compile_all``;
    cold runs start from an empty ``NUMBA_CACHE_DIR``. Warm figures are medians of
    ``repeats`` runs.
    """
    out = {}
    py = sys.executable
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        for name, cmd in (
            ("import emkit", [py, "-c", "import emkit"]),
            ("emkit --help", [py, "-m", "emkit.cli", "--help"]),
        ):
            runs = [_wall(cmd, env) for _ in range(repeats + 1)]
            out[name] = {"cold": runs[0], "warm": float(np.median(runs[1:]))}
    for what in FIRST_RUN:
        code = _FIRST.format(here=str(HERE), what=what)
        with tempfile.TemporaryDirectory() as cache:
            env = {**os.environ, "NUMBA_CACHE_DIR": cache}
            runs = [json.loads(_run_child([py, "-c", code], env)) for _ in range(repeats + 1)]
        first = [r["first"] for r in runs]
        out[what] = {
            "cold": first[0],
            "warm": float(np.median(first[1:])),
            "import": float(np.median([r["import"] for r in runs[1:]])),
        }
        if "load" in runs[0]:
            out[what]["load"] = float(np.median([r["load"] for r in runs[1:]]))
        if "second" in runs[0]:
            out[what]["later"] = float(np.median([r["second"] for r in runs[1:]]))
    return out


def _run_child(cmd, env=None, json_out=True):
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} failed:\n{done.stderr[-2000:]}")
    return done.stdout.strip().splitlines()[-1] if json_out else done.stdout


def memory(n, d, K, iters):
    """Peak RSS of a fit in a fresh process, for each library."""
    out = {}
    for lib in ("emkit", "sklearn"):
        cmd = [sys.executable, str(HERE / "memory_probe.py"), lib, str(n), str(d), str(K)]
        out[lib] = json.loads(_run_child([*cmd, str(iters)]))
    return out


def crossover(ds, K=16, work=2e5 * 64 * 64, repeats=3):
    """Seconds per E-step row of the fused and stacked-GEMM kernels (full covariances)."""
    from emkit.families.gaussian import GaussianParams
    from emkit.kernels import gaussian_gemm, gaussian_numba

    rows = []
    for d in ds:
        n = int(min(200_000, max(4000, work / (d * d))))
        X = make_data(n, d, K, seed=2)
        inits = initial_params(X, K, "full")
        cov = np.linalg.inv(inits["precisions_init"])
        params = GaussianParams.from_covariances(inits["means_init"], cov, "full")
        args = (X, None, params.means, params.prec_chol, params.log_det, np.log(np.full(K, 1 / K)))
        row = {"d": d, "n": n}
        for name, mod in (("numba", gaussian_numba), ("gemm", gaussian_gemm)):
            mod.mixture_estep_full(X[:1000], *args[1:])
            seconds = [
                _timed(lambda m=mod, a=args: m.mixture_estep_full(*a))[0] for _ in range(repeats)
            ]
            row[name] = min(seconds) / n
        rows.append(row)
    return rows


# ----------------------------------------------------------------------------- report
def _ms(seconds):
    return f"{seconds * 1e3:,.1f}"


def render(info, gemm, results, compile_s, mem, cross, iters, repeats):
    """Markdown report."""
    lines = [
        "# emkit vs scikit-learn GaussianMixture",
        "",
        f"Generated by `benchmarks/run.py` on {time.strftime('%Y-%m-%d %H:%M')}. "
        f"{iters} EM iterations from the same initial parameters, `tol=0`; time per iteration "
        f"= (t({iters} it) - t(1 it)) / {iters - 1}, medians of {repeats} alternated runs.",
        "",
        "| machine | |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in info.items()],
        f"| float64 GEMM (3000x3000, this process) | {gemm:.1f} GFLOP/s |",
        "",
        "## Time per EM iteration",
        "",
        "| case | n | dtype | scikit-learn ms/it | gmmx ms/it | emkit ms/it | speed-up | "
        "vs gmmx | target | whole fit s (sklearn / gmmx / emkit) | lower bound rel. diff |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        target = f">= {r['target']}x" if r["target"] else ""
        ok = "" if r["bound_rel_diff"] <= BOUND_RTOL else " (MISMATCH)"
        has_gmmx = "gmmx_s" in r
        gmmx_ms = _ms(r["gmmx_s"]) if has_gmmx else "-"
        vs_gmmx = f"{r['gmmx_ratio']:.1f}x" if has_gmmx else "-"
        gmmx_fit = f"{r['gmmx_fit_s']:.2f}" if has_gmmx else "-"
        lines.append(
            f"| {r['name']} | {r['n']:,} | {r['dtype']} | {_ms(r['sklearn_s'])} | {gmmx_ms} | "
            f"{_ms(r['emkit_s'])} | {r['ratio']:.1f}x | {vs_gmmx} | {target} | "
            f"{r['sklearn_fit_s']:.2f} / {gmmx_fit} / {r['emkit_fit_s']:.2f} | "
            f"{r['bound_rel_diff']:.1e}{ok} |"
        )
    lines += [
        "",
        "Whole fit: `fit` with the given initial parameters and "
        f"`max_iter={iters}`, median of {repeats} (scikit-learn and emkit: validation, "
        "initialisation, the iterations and the final E-step; gmmx: building the model and "
        "its jitted EM loop, compiled beforehand)."
        + (
            ""
            if gmmx_available()
            else " gmmx is not installed (`pip install gmmx jax`): its columns are empty."
        )
        + " gmmx computes in float32 and has full and diagonal covariances only; it runs in "
        "its own process.",
        *[f"- {r['name']}: {r['gmmx_note']}" for r in results if "gmmx_note" in r],
    ]
    g = next((r for r in results if r["name"] == GFLOP_CASE), None)
    if g:
        flops = 4 * g["n"] * g["K"] * g["d"] ** 2
        rate = flops / g["emkit_s"] / 1e9
        lines += [
            "",
            f"{GFLOP_CASE}: emkit reaches {rate:.1f} GFLOP/s counted as 4 n K d^2 per "
            f"iteration ({100 * rate / gemm:.0f}% of the measured GEMM rate). The fused kernels "
            "skip the zero triangle of each precision factor and accumulate only the upper "
            f"triangle of each scatter, so they execute about half of that count "
            f"({rate / 2:.1f} GFLOP/s executed).",
        ]
    if compile_s:
        lines += [
            "",
            "## First run",
            "",
            "Each in a fresh process; cold: empty numba cache (`NUMBA_CACHE_DIR`), warm: the "
            "cache filled by an earlier run (median of 3).",
            "",
            "| what | cold s | warm s | importing its modules s (warm) | "
            "a second fit in the process s |",
            "|---|---:|---:|---:|---:|",
        ]
        for name in ("import emkit", "emkit --help"):
            c = compile_s[name]
            lines.append(f"| `{name}` (whole process) | {c['cold']:.2f} | {c['warm']:.2f} | | |")
        for what, label in FIRST_RUN.items():
            c = compile_s[what]
            load = f"{c['load']:.2f}" if "load" in c else ""
            later = f"{c['later']:.2f}" if "later" in c else ""
            lines.append(f"| {label} | {c['cold']:.2f} | {c['warm']:.2f} | {load} | {later} |")
    if mem:
        n, d, K = mem["shape"]
        lines += [
            "",
            f"## Memory: fit on n={n:,}, d={d}, K={K}, float64 "
            f"({mem['emkit']['data_bytes'] / 1e6:,.0f} MB of data), one process each",
            "",
            "| library | after imports MiB | peak during fit MiB | peak / data | "
            "(peak - after imports) / data | fit s |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for lib in ("sklearn", "emkit"):
            m = mem[lib]
            size = m["data_bytes"]
            lines.append(
                f"| {lib} | {m['base'] / 2**20:,.0f} | {m['fit_peak'] / 2**20:,.0f} | "
                f"{m['fit_peak'] / size:.2f}x | {(m['fit_peak'] - m['base']) / size:.2f}x | "
                f"{m['seconds']:.1f} |"
            )
        lines += [
            "",
            "'after imports' is the process before the data exists: the interpreter, NumPy, "
            "SciPy, scikit-learn and (emkit) numba with the compiled kernels loaded; it does "
            "not grow with the data.",
        ]
    if cross:
        lines += [
            "",
            "## Fused kernels vs stacked GEMM (full, K=16, float64, per E-step row)",
            "",
            "| d | rows | fused numba us/row | stacked GEMM us/row | GEMM / fused |",
            "|---:|---:|---:|---:|---:|",
        ]
        for c in cross:
            lines.append(
                f"| {c['d']} | {c['n']:,} | {c['numba'] * 1e6:.2f} | {c['gemm'] * 1e6:.2f} | "
                f"{c['gemm'] / c['numba']:.2f} |"
            )
    return "\n".join(lines) + "\n"


def _update_readme(table):
    readme = HERE.parent / "README.md"
    start, end = "<!-- benchmark-results:start -->", "<!-- benchmark-results:end -->"
    try:
        text = readme.read_text()
    except OSError:
        return
    if start in text and end in text:
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        readme.write_text(f"{head}{start}\n{table}{end}{tail}")


def hmm_table(rows):
    """Markdown table of the HMM benchmark rows."""
    whole = all("fit_speedup" in r for r in rows)
    lines = [
        "## Baum-Welch: emkit vs hmmlearn (implementation='scaling')",
        "",
        "Per iteration: ms, (t(6 it) - t(1 it)) / 5 in one process. Whole fit: seconds of "
        f"`fit` with `n_iter={bench_hmm.WHOLE_ITER}` (hmmlearn's default), the first fit in a "
        "fresh process that reads its data from a file, kernels cached, median of "
        f"{bench_hmm.WHOLE_REPEATS} runs per library: in a process where numba is already "
        "running, and as the process's first compiled call (numba's one-off start-up, about "
        "0.2 s, included).",
        "",
        "| case | hmmlearn ms/it | emkit ms/it | speed-up | whole fit hmmlearn s | "
        "whole fit emkit s | whole-fit speed-up | emkit s / speed-up, numba start-up included "
        "| log-likelihood rel. diff |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        fit = (
            f"{r['hmmlearn_fit_s']:.2f} | {r['emkit_fit_s']:.2f} | {r['fit_speedup']:.1f}x | "
            f"{r['emkit_cold_fit_s']:.2f} / {r['cold_fit_speedup']:.1f}x"
            if whole
            else "- | - | - | -"
        )
        lines.append(
            f"| {r['case']} | {r['hmmlearn_ms']:.1f} | {r['emkit_ms']:.1f} | "
            f"{r['speedup']:.1f}x | {fit} | {r['ll_rel_diff']:.1e} |"
        )
    lines += ["", bench_hmm.load_note(rows)]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller data, fewer runs")
    parser.add_argument("--no-memory", action="store_true", help="skip the 1e7-row case")
    parser.add_argument("--no-crossover", action="store_true", help="skip fused vs GEMM")
    parser.add_argument("--no-hmm", action="store_true", help="skip the HMM cases")
    parser.add_argument("--no-big", action="store_true", help="skip the big-data cases")
    parser.add_argument("--skip-4gb", action="store_true", help="skip the 4 GB out-of-core case")
    parser.add_argument(
        "--output", default=None, help="report path (default results.md; --quick: none)"
    )
    parser.add_argument("--no-readme", action="store_true", help="leave README.md as it is")
    parser.add_argument("--no-first-run", action="store_true", help="skip the first-run table")
    parser.add_argument("--gmmx-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.gmmx_child:
        case, iters, repeats = args.gmmx_child
        print(json.dumps(_gmmx_child(tuple(json.loads(case)), int(iters), int(repeats))))
        return 0

    scale = 10 if args.quick else 1
    iters, repeats = (3, 2) if args.quick else (5, 3)
    info = _machine()
    for key, value in info.items():
        print(f"{key}: {value}")
    gemm = gemm_gflops()
    print(f"float64 GEMM: {gemm:.1f} GFLOP/s")

    compile_s = {} if args.no_first_run else first_run(repeats=1 if args.quick else 3)
    for what, c in compile_s.items():
        print(f"first run, {what}: {c['cold']:.2f} s cold cache, {c['warm']:.2f} s warm")

    results = []
    header = f"{'case':22s} {'n':>10s} {'sklearn ms/it':>14s} {'emkit ms/it':>12s} {'ratio':>7s}"
    print(header + "  lower-bound rel diff")
    for name, cov, n, d, K, dtype, target in CASES:
        case = (name, cov, max(2000, n // scale), d, K, dtype, target)
        r = time_case(case, iters, repeats)
        results.append(r)
        print(
            f"{name:22s} {r['n']:>10,d} {_ms(r['sklearn_s']):>14s} {_ms(r['emkit_s']):>12s} "
            f"{r['ratio']:>6.1f}x  {r['bound_rel_diff']:.1e}",
            flush=True,
        )

    mem = None
    if not args.no_memory:
        n, d, K = MEMORY
        n //= scale
        mem = memory(n, d, K, iters=2)
        mem["shape"] = (n, d, K)
        for lib in ("sklearn", "emkit"):
            m = mem[lib]
            print(
                f"memory {lib}: peak during fit {m['fit_peak'] / 2**20:,.0f} MiB = "
                f"{m['fit_peak'] / m['data_bytes']:.2f}x data "
                f"({(m['fit_peak'] - m['base']) / m['data_bytes']:.2f}x over the imports)"
            )

    cross = None
    if not args.no_crossover:
        ds = CROSSOVER_D[1::2] if args.quick else CROSSOVER_D
        cross = crossover(ds, work=2e5 * 64 * 64 / scale)
        for c in cross:
            print(
                f"crossover d={c['d']}: fused {c['numba'] * 1e6:.2f} us/row, "
                f"GEMM {c['gemm'] * 1e6:.2f} us/row"
            )

    report = render(info, gemm, results, compile_s, mem, cross, iters, repeats)
    if not args.no_hmm:
        report += "\n" + hmm_table(bench_hmm.main(args.quick))
    if not args.no_big:
        big_args = ["--quick"] if args.quick else (["--skip-4gb"] if args.skip_4gb else [])
        report += "\n## Big data (benchmarks/bench_big.py)\n\n" + bench_big.main(big_args) + "\n"
    output = args.output or (None if args.quick else str(HERE / "results.md"))
    if output:
        Path(output).write_text(report)
        print(f"wrote {output}")
    if not args.quick and not args.no_readme:
        table = report.split("\n## Time per EM iteration\n", 1)[-1].split("\n## ", 1)[0]
        _update_readme(table)
    bad = [r["name"] for r in results if r["bound_rel_diff"] > BOUND_RTOL]
    if bad:
        print(f"lower bounds disagree beyond {BOUND_RTOL:g}: {bad}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
