"""Big-data benchmark: in memory vs Dask LocalCluster vs out-of-core, and the 4 GB file.

Each mode runs in its own subprocess so that peak memory is its own:

- time per EM iteration on a 1e7-row float64 dataset (d=8, K=8, diag), in memory, on a
  ``LocalCluster`` of 2 worker processes, and streamed from a ``.npy`` file;
- peak RSS (VmHWM) of each, plus the workers' for Dask;
- the 4 GB case (6.7e7 x 8 float64 streamed from disk): peak anonymous memory (RssAnon
  sampled from outside; the file's page cache does not count) and agreement with the in-memory
  fit from the same initial parameters.

Usage: ``python benchmarks/bench_big.py [--quick] [--skip-4gb]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).parent / "_data"
K, D = 8, 8

WORKER = r"""
import json, os, sys, time, warnings
warnings.simplefilter("ignore")
import numpy as np
from emkit import GaussianMixture

mode, path, iters = sys.argv[1], sys.argv[2], int(sys.argv[3])
K, D = 8, 8
rng = np.random.RandomState(0)
init = dict(
    weights_init=np.full(K, 1.0 / K),
    means_init=rng.randn(K, D) * 3,
    precisions_init=np.ones((K, D)),
)

def hwm_kb(pid="self"):
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])

def run(X):
    gm = GaussianMixture(K, covariance_type="diag", max_iter=1, tol=0, **init)
    gm.fit(X)  # warm-up: compile kernels, start the workers' imports
    t = time.perf_counter()
    gm = GaussianMixture(K, covariance_type="diag", max_iter=iters, tol=0, **init).fit(X)
    return gm, (time.perf_counter() - t) / iters

out = {"mode": mode}
if mode == "memory":
    X = np.load(path)
    gm, per_iter = run(X)
elif mode == "ooc":
    print("ready", flush=True)
    sys.stdin.readline()
    gm, per_iter = run(path)
elif mode == "dask":
    import dask, dask.array as da
    from distributed import Client, LocalCluster

    n = np.load(path, mmap_mode="r").shape[0]
    step = 500_000

    def load(a, b):
        return np.array(np.load(path, mmap_mode="r")[a:b])

    blocks = [
        da.from_delayed(dask.delayed(load)(a, min(a + step, n)), (min(a + step, n) - a, D), float)
        for a in range(0, n, step)
    ]
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None, silence_logs=50) as cluster, Client(cluster) as c:
        gm, per_iter = run(da.concatenate(blocks))
        out["workers_peak_mb"] = sum(c.run(hwm_kb).values()) / 1024
out.update(per_iter_s=per_iter, peak_mb=hwm_kb() / 1024, lower_bound=gm.lower_bound_,
           means=gm.means_.tolist(), covariances=gm.covariances_.tolist())
print("RESULT " + json.dumps(out), flush=True)
"""


def write_npy(path, n, seed=0):
    """Write ``n`` x D rows from a K-component mixture to ``path`` in blocks."""
    if path.exists() and np.load(path, mmap_mode="r").shape == (n, D):
        return
    DATA.mkdir(exist_ok=True)
    rng = np.random.RandomState(seed)
    centers = rng.randn(K, D) * 4
    mm = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(n, D))
    step = 2_000_000
    for a in range(0, n, step):
        b = min(a + step, n)
        z = rng.randint(K, size=b - a)
        mm[a:b] = centers[z] + rng.randn(b - a, D)
    mm.flush()
    del mm


def rss_anon_kb(pid):
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    return 0


def run_mode(mode, path, iters):
    """Run one mode in a subprocess; for out-of-core, sample its RssAnon from outside."""
    proc = subprocess.Popen(
        [sys.executable, "-c", WORKER, mode, str(path), str(iters)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    peak = {"anon": 0, "base": 0}
    if mode == "ooc":
        assert proc.stdout.readline().strip() == "ready"
        peak["base"] = rss_anon_kb(proc.pid)
        done = threading.Event()

        def watch():
            while not done.is_set():
                try:
                    peak["anon"] = max(peak["anon"], rss_anon_kb(proc.pid))
                except OSError:
                    return
                done.wait(0.01)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        proc.stdin.write("go\n")
        proc.stdin.flush()
    out, _ = proc.communicate(timeout=3600)
    if mode == "ooc":
        done.set()
    line = [x for x in out.splitlines() if x.startswith("RESULT ")]
    if proc.returncode or not line:
        raise RuntimeError(f"{mode} run failed:\n{out}")
    result = json.loads(line[0][7:])
    result["rss_anon_peak_mb"] = peak["anon"] / 1024 or None
    return result


def rel_diff(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


def main(argv=None):
    """Run the big-data benchmark and return its Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1e6 rows and no 4 GB case")
    parser.add_argument("--skip-4gb", action="store_true")
    args = parser.parse_args(argv)
    n = 1_000_000 if args.quick else 10_000_000
    iters = 3
    path = DATA / f"rows_{n}.npy"
    write_npy(path, n)
    lines = [
        f"### Big data: {n:.0e} rows x {D} float64 ({n * D * 8 / 2**20:.0f} MB), K={K} diag",
        "",
        "| mode | s / iteration | peak RSS (MB) | notes |",
        "|---|---|---|---|",
    ]
    results = {}
    for mode in ("memory", "dask", "ooc"):
        r = results[mode] = run_mode(mode, path, iters)
        note = ""
        if mode == "dask":
            note = f"workers' peak {r['workers_peak_mb']:.0f} MB"
        if mode == "ooc":
            note = f"peak RssAnon {r['rss_anon_peak_mb']:.0f} MB (file pages excluded)"
        if mode != "memory":
            d = rel_diff(r["means"], results["memory"]["means"])
            note += f"; max rel. diff of means vs in-memory {d:.1e}"
        lines.append(f"| {mode} | {r['per_iter_s']:.3f} | {r['peak_mb']:.0f} | {note} |")
        print(lines[-1], flush=True)
    if not (args.quick or args.skip_4gb):
        big = DATA / "rows_4gb.npy"
        n_big = 67_000_000
        t = time.perf_counter()
        write_npy(big, n_big, seed=1)
        print(f"wrote {big} in {time.perf_counter() - t:.0f} s", flush=True)
        ooc = run_mode("ooc", big, 2)
        mem = run_mode("memory", big, 2)
        lines += [
            "",
            f"### Out-of-core: {n_big:.1e} x {D} float64 ({n_big * D * 8 / 2**30:.1f} GiB) "
            "streamed from a .npy file",
            "",
            "| measure | value |",
            "|---|---|",
            f"| peak RssAnon while fitting (MB) | {ooc['rss_anon_peak_mb']:.0f} |",
            f"| s / iteration, streamed | {ooc['per_iter_s']:.2f} |",
            f"| s / iteration, in memory | {mem['per_iter_s']:.2f} |",
            f"| max rel. diff of means, streamed vs in memory | "
            f"{rel_diff(ooc['means'], mem['means']):.1e} |",
            f"| max rel. diff of covariances | "
            f"{rel_diff(ooc['covariances'], mem['covariances']):.1e} |",
        ]
        os.remove(big)
    table = "\n".join(lines)
    print(table)
    return table


if __name__ == "__main__":
    main()
