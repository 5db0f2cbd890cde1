"""Kernel plumbing: vectorised exp, lazy compilation, threads, and whole fits per kernel."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import numba
import numpy as np
import pytest
from numba import njit

from conftest import COV_TYPES, assert_same_fit, blobs, initial_params
from emkit import GaussianMixture
from emkit.families.covariance import use_kernels
from emkit.kernels import threads
from emkit.kernels.vecmath import exp_nonpos


@njit(cache=True)
def _exp_all(x):
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = exp_nonpos(x[i])
    return out


@pytest.mark.parametrize(("dtype", "ulps"), [(np.float64, 2), (np.float32, 2)], ids=["f64", "f32"])
def test_exp_nonpos_matches_numpy_to_a_few_ulps(dtype, ulps):
    rng = np.random.default_rng(0)
    lowest = np.log(np.finfo(dtype).smallest_subnormal)
    x = np.concatenate(
        [
            -rng.exponential(3.0, 5000),
            rng.uniform(lowest, 0.0, 5000),
            np.linspace(np.log(np.finfo(dtype).tiny), 0.0, 1001),  # normal results
            [0.0, -0.0, -1e-300, -np.inf, lowest - 1.0],
        ]
    ).astype(dtype)
    got = _exp_all(x)
    want = np.exp(x)
    normal = want >= np.finfo(dtype).tiny
    err = np.abs(got[normal] - want[normal]) / np.spacing(want[normal])
    assert err.max() <= ulps
    # Subnormal results are rounded once, like the C library's.
    sub = ~normal
    assert np.all(np.abs(got[sub] - want[sub]) <= np.finfo(dtype).smallest_subnormal)
    assert np.isnan(_exp_all(np.array([np.nan], dtype=dtype))[0])


def test_import_compiles_nothing():
    code = (
        "import sys, emkit\n"
        "from numba.core.registry import CPUDispatcher\n"
        "compiled = [f'{m}.{a}' for m, mod in list(sys.modules.items()) if m.startswith('emkit')"
        " for a, v in vars(mod).items() if isinstance(v, CPUDispatcher) and v.signatures]\n"
        "print(compiled, 'emkit.kernels.gaussian_numba' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[] False"


def test_run_ranges_covers_every_item_once_and_reraises():
    seen = []
    lock = threading.Lock()

    def work(lo, hi):
        with lock:
            seen.extend(range(lo, hi))

    threads.run_ranges(work, 11)
    assert sorted(seen) == list(range(11))

    def boom(lo, hi):
        raise RuntimeError("kernel failed")

    with pytest.raises(RuntimeError, match="kernel failed"):
        threads.run_ranges(boom, 4)


def test_nested_run_ranges_runs_inline_instead_of_waiting_on_the_pool():
    seen = []
    lock = threading.Lock()

    def inner(lo, hi):
        with lock:
            seen.extend(range(lo, hi))

    def outer(lo, hi):
        for _ in range(lo, hi):
            threads.run_ranges(inner, 4)

    runner = threading.Thread(target=threads.run_ranges, args=(outer, 2), daemon=True)
    runner.start()
    runner.join(timeout=60)
    assert not runner.is_alive(), "nested run_ranges deadlocked"
    assert sorted(seen) == sorted(list(range(4)) * 2)


def test_one_blas_thread_is_shared_and_restored_by_the_last_user():
    from threadpoolctl import threadpool_info

    def blas_threads():
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

    before = blas_threads()
    entered, leave = threading.Event(), threading.Event()

    def other_user():
        with threads.one_blas_thread():
            entered.set()
            leave.wait(30)

    with threads.one_blas_thread():
        assert set(blas_threads()) == {1}
        user = threading.Thread(target=other_user)
        user.start()
        entered.wait(30)
        leave.set()
        user.join(30)
        assert set(blas_threads()) == {1}  # the other user's exit did not restore it
    assert blas_threads() == before


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("cov", COV_TYPES)
def test_fits_agree_across_kernels(cov, dtype):
    X = blobs(1500, 3, 3, seed=4).astype(dtype)
    inits = initial_params(X.astype(np.float64), 3, cov, seed=5)
    w = np.random.default_rng(6).uniform(0.0, 2.0, size=len(X))
    fits = {}
    for kernels in ("numpy", "numba", "gemm"):
        with use_kernels(kernels):
            gm = GaussianMixture(3, covariance_type=cov, tol=0, max_iter=8, **inits)
            fits[kernels] = gm.fit(X, sample_weight=w)
            proba = gm.predict_proba(X)
            assert proba.dtype == dtype
            fits[kernels].proba_ = proba
    rtol = 1e-10 if dtype == np.float64 else 2e-5
    for kernels in ("numba", "gemm"):
        assert_same_fit(fits[kernels], fits["numpy"], rtol)
        np.testing.assert_allclose(fits[kernels].proba_, fits["numpy"].proba_, rtol=0, atol=rtol)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_fit_is_bitwise_the_same_for_any_thread_count():
    # Many blocks (computed concurrently) and several parts per block, summed in order.
    X = blobs(6000, 5, 4, seed=8)
    inits = initial_params(X, 4, "full", seed=9)
    before = numba.get_num_threads()
    fits = []
    try:
        for count in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
            numba.set_num_threads(count)
            gm = GaussianMixture(4, tol=0, max_iter=5, chunk_size=700, **inits)
            fits.append(gm.fit(X))
    finally:
        numba.set_num_threads(before)
    assert_same_fit(fits[0], fits[1], 0.0)


def test_thread_count_follows_numba_without_starting_its_pool():
    # numba's own thread pool (which emkit's kernels never use) is started only by
    # numba.set_num_threads; until then the count is NUMBA_NUM_THREADS.
    code = (
        "import numba\n"
        "from numba.np.ufunc import parallel\n"
        "from emkit.kernels import threads\n"
        "assert threads.n_threads() == numba.config.NUMBA_NUM_THREADS == 3\n"
        "assert not parallel._is_initialized\n"
        "numba.set_num_threads(2)\n"
        "assert threads.n_threads() == numba.get_num_threads() == 2\n"
    )
    env = {**os.environ, "NUMBA_NUM_THREADS": "3"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
