"""Peak memory of one fit, run in its own process by ``run.py``.

Usage: ``python benchmarks/memory_probe.py {emkit,sklearn} N D K ITERATIONS``. Prints one JSON
line: resident memory after the imports (``base``), after the data is built (``data``), the
peak during the fit (``fit_peak``; VmHWM, reset just before the fit when the kernel allows it)
and over the process's life (``life_peak``), all in bytes, plus the data size and fit time.
"""

from __future__ import annotations

import json
import resource
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from gmm_data import initial_params, make_data


def _status(field):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def _reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def main():
    lib, n, d, K, iters = sys.argv[1], *map(int, sys.argv[2:6])
    warnings.simplefilter("ignore")
    if lib == "emkit":
        from emkit import GaussianMixture

        # Load the compiled kernels (from numba's cache) before measuring.
        small = make_data(2000, d, K, seed=5)
        GaussianMixture(K, max_iter=1, **initial_params(small, K, "full")).fit(small)
        extra = {}
    else:
        from sklearn.mixture import GaussianMixture

        extra = {"init_params": "random_from_data"}
    base = _status("VmRSS")
    X = make_data(n, d, K, seed=0)
    inits = initial_params(X, K, "full")
    data = _status("VmRSS")
    reset = _reset_peak()
    start = time.perf_counter()
    GaussianMixture(K, tol=0.0, max_iter=iters, **inits, **extra).fit(X)
    seconds = time.perf_counter() - start
    out = {
        "lib": lib,
        "base": base,
        "data": data,
        "fit_peak": _status("VmHWM"),
        "life_peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "peak_reset": reset,
        "data_bytes": X.nbytes,
        "seconds": seconds,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
