"""Model selection over a grid: emkit's MixtureSelection against a plain scikit-learn loop and
R's mclust (``Rscript``, when installed), one process each, the same grid.

Two problems:

* ``small``: the full 14-structure x 9-component grid on a few thousand rows (d = 4);
  scikit-learn can only run its 4 types, so the 4-type x 9 grid is timed for all three too.
* ``large``: the 4-type x 9 grid (scikit-learn's names; mclust's VII, VVI, EEE, VVV) at
  n = 100 000, d = 8.

Every library uses its own defaults for initialisation (emkit and mclust: the hierarchical
start; scikit-learn: k-means) and its own stopping rule (emkit's MixtureSelection: mclust's,
a relative change of the total log-likelihood below 1e-5), except that emkit is also timed
with scikit-learn's rule and ``tol=1e-3, max_iter=100`` (``emkit (sklearn tol)``). mclust is
timed inside R (``system.time`` around ``mclustBIC``, so R's start-up and the CSV read are
excluded). Times are medians of ``--repeats`` runs; on a machine shared with other work they
are noisy. scikit-learn is timed as installed and with BLAS limited to one thread
(``threadpoolctl``), which on a busy machine and small data is several times faster. Usage::

    python benchmarks/bench_selection.py [--repeats 3] [--scale 1.0] [--skip-large]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
from sklearn.mixture import GaussianMixture as SkGaussianMixture
from threadpoolctl import threadpool_limits

from emkit import MixtureSelection
from emkit.engine.hierarchical import hierarchy
from emkit.families.parsimonious import MCLUST_TYPES

SKLEARN_TYPES = ("spherical", "diag", "tied", "full")
MCLUST_OF = {"spherical": "VII", "diag": "VVI", "tied": "EEE", "full": "VVV"}
GOAL = 10.0


def blobs(n, d, K, seed):
    """Rows from K correlated Gaussian clusters of unequal sizes and shapes."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(K, size=n, p=rng.dirichlet(np.full(K, 4.0)))
    centers = rng.normal(scale=3.0, size=(K, d))
    mix = rng.normal(scale=0.5, size=(K, d, d)) + np.eye(d)
    return centers[labels] + np.einsum("nij,nj->ni", mix[labels], rng.normal(size=(n, d)))


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run_emkit(X, types, sizes, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return MixtureSelection(sizes, types, random_state=0, **kwargs).fit(X)


def run_sklearn(X, types, sizes, blas_threads=None):
    best = None
    with warnings.catch_warnings(), threadpool_limits(limits=blas_threads, user_api="blas"):
        warnings.simplefilter("ignore")
        for ct in types:
            for K in sizes:
                gm = SkGaussianMixture(K, covariance_type=ct, random_state=0).fit(X)
                bic = gm.bic(X)
                if best is None or bic < best[0]:
                    best = (bic, ct, K)
    return best


R_SCRIPT = """
suppressMessages(library(mclust))
args <- commandArgs(trailingOnly = TRUE)
X <- as.matrix(read.csv(args[1], header = FALSE))
models <- strsplit(args[2], ",")[[1]]
G <- as.integer(strsplit(args[3], ",")[[1]])
reps <- as.integer(args[4])
times <- numeric(reps)
for (r in 1:reps) times[r] <- system.time(b <- mclustBIC(X, G = G, modelNames = models))[3]
s <- summary(b, X)
cat(median(times), s$modelName, s$G, "\\n")
"""


def run_mclust(X, types, sizes, repeats):
    """Median seconds of ``mclustBIC`` in R, and its choice; None when R or mclust is absent."""
    if shutil.which("Rscript") is None:
        return None
    models = ",".join(MCLUST_OF.get(t, t) for t in types)
    with tempfile.TemporaryDirectory() as tmp:
        data, script = os.path.join(tmp, "x.csv"), os.path.join(tmp, "run.R")
        np.savetxt(data, X, delimiter=",")
        with open(script, "w") as f:
            f.write(R_SCRIPT)
        done = subprocess.run(
            ["Rscript", script, data, models, ",".join(map(str, sizes)), str(repeats)],
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode != 0:
        print(f"  (mclust not run: {done.stderr.strip().splitlines()[-1:]})")
        return None
    seconds, model, G = done.stdout.split()
    return float(seconds), model, int(G)


def report(title, X, types, sizes, repeats, with_sklearn):
    n, d = X.shape
    print(f"\n## {title}: {len(types)} structures x {len(sizes)} K, n = {n}, d = {d}\n")
    t_hc = median_time(lambda: hierarchy(X, random_state=np.random.RandomState(0)), repeats)
    print(f"(emkit's hierarchical start alone: {t_hc:.2f} s of each emkit run)\n")
    print("| library | seconds | chosen | emkit's speed-up |")
    print("| --- | ---: | --- | ---: |")
    sel = run_emkit(X, types, sizes)
    t_emkit = median_time(lambda: run_emkit(X, types, sizes), repeats)
    print(f"| emkit | {t_emkit:.2f} | {sel.best_covariance_type_},{sel.best_n_components_} | |")
    sk_rule = {"convergence": "sklearn", "tol": 1e-3, "max_iter": 100}
    fast = run_emkit(X, types, sizes, **sk_rule)
    t_fast = median_time(lambda: run_emkit(X, types, sizes, **sk_rule), repeats)
    print(
        f"| emkit (sklearn tol) | {t_fast:.2f} | "
        f"{fast.best_covariance_type_},{fast.best_n_components_} | |"
    )
    if with_sklearn:
        # scikit-learn as installed, and with BLAS on one thread (often faster on small data,
        # where waking BLAS's threads for d x d matrices costs more than it saves).
        for label, limit in (("", None), (" (1 BLAS thread)", 1)):
            best = run_sklearn(X, types, sizes, limit)
            t_sk = median_time(lambda limit=limit: run_sklearn(X, types, sizes, limit), repeats)
            print(
                f"| scikit-learn loop{label} | {t_sk:.2f} | {best[1]},{best[2]} | "
                f"{t_sk / t_fast:.1f}x |"
            )
    mclust = run_mclust(X, types, sizes, repeats)
    if mclust is not None:
        t_r, model, G = mclust
        print(f"| mclust (R) | {t_r:.2f} | {model},{G} | {t_r / t_emkit:.1f}x |")
    print(
        "\n(speed-up: scikit-learn against emkit with the same tol/max_iter; mclust against "
        f"emkit's defaults; goal {GOAL:g}x)"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies the row counts")
    parser.add_argument("--skip-large", action="store_true")
    args = parser.parse_args(argv)
    print("# Model selection over a grid (medians of", args.repeats, "runs)")
    print(f"\npython {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    sizes = tuple(range(1, 10))
    X = blobs(int(3000 * args.scale), 4, 4, seed=0)
    report("small, all of mclust's structures", X, MCLUST_TYPES, sizes, args.repeats, False)
    report("small, scikit-learn's four", X, SKLEARN_TYPES, sizes, args.repeats, True)
    if not args.skip_large:
        X = blobs(int(100_000 * args.scale), 8, 5, seed=1)
        report("large", X, SKLEARN_TYPES, sizes, max(1, args.repeats // 3), True)


if __name__ == "__main__":
    main()
