"""Compiled Gaussian kernels (numba tiles, stacked GEMM) against the NumPy reference."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from conftest import COV_TYPES, assert_close
from emkit.families.covariance import STRATEGIES, get_kernels, use_kernels
from emkit.families.gaussian import GaussianParams
from emkit.kernels import gaussian_gemm, gaussian_numba
from emkit.kernels import gaussian_numpy as reference

DTYPES = (np.float64, np.float32)
# numba == NumPy to 1e-10 in float64; float32 results carry float32 rounding of the
# log-densities (|log p| * 1.2e-7, a few times) into the responsibilities.
RTOL = {np.float64: 1e-10, np.float32: 2e-5}
# (K, d, n): d <= 4 runs the plain loops, d = 7 the 4 x 4 blocks with padding; n spans
# several parts (2048 rows) and ends with a partial tile.
SHAPES = [(4, 3, 5000), (3, 7, 4500)]


def _modules(cov):
    mods = [gaussian_numba]
    if cov in ("full", "tied"):
        mods.append(gaussian_gemm)
    return mods


def _case(cov, K, d, n, dtype, seed):
    rng = np.random.default_rng(seed)
    means = rng.normal(scale=3.0, size=(K, d))
    if cov == "full":
        A = rng.normal(size=(K, d, d))
        covs = A @ A.transpose(0, 2, 1) / d + 0.3 * np.eye(d)
    elif cov == "tied":
        A = rng.normal(size=(d, d))
        covs = A @ A.T / d + 0.3 * np.eye(d)
    elif cov == "diag":
        covs = rng.uniform(0.3, 2.0, size=(K, d))
    else:
        covs = rng.uniform(0.3, 2.0, size=K)
    params = GaussianParams.from_covariances(means, covs, cov)
    X = (means[rng.integers(0, K, n)] + rng.normal(size=(n, d))).astype(dtype)
    w = rng.uniform(0.0, 3.0, size=n)
    w[::5] = 0.0
    log_w = np.log(rng.dirichlet(np.full(K, 3.0)))
    return params, X, w, log_w


def _estep_args(params, X, w, log_w):
    return X, w, params.means, params.prec_chol, params.log_det, log_w


def _assert_estep(got, want, rtol):
    ll, counts, sums, scat, score, index = got
    assert_close(ll, want[0], rtol, "log_likelihood")
    assert_close(counts, want[1], rtol, "counts")
    # Sums are centred on the means, so they nearly cancel: compare on the data's scale.
    scale = np.max(np.abs(want[1]))
    np.testing.assert_allclose(sums, want[2], rtol=0, atol=rtol * scale)
    assert_close(scat, want[3], rtol, "scatter")
    assert index == want[5]
    assert_close(score, want[4], rtol, "worst_score")


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("cov", COV_TYPES)
def test_log_prob_matches_reference(cov, dtype):
    for K, d, n in SHAPES:
        params, X, _, _ = _case(cov, K, d, n, dtype, seed=1)
        want = getattr(reference, f"log_prob_{cov}")(
            X, params.means, params.prec_chol, params.log_det
        )
        for mod in _modules(cov):
            got = getattr(mod, f"log_prob_{cov}")(X, params.means, params.prec_chol, params.log_det)
            assert got.dtype == dtype and got.shape == (n, K)
            assert_close(got, want, RTOL[dtype], f"{mod.__name__} d={d}")


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("cov", COV_TYPES)
def test_fused_estep_matches_reference(cov, dtype):
    for K, d, n in SHAPES:
        params, X, w, log_w = _case(cov, K, d, n, dtype, seed=2)
        for weights in (w, None):
            args = _estep_args(params, X, weights, log_w)
            want = getattr(reference, f"mixture_estep_{cov}")(*args)
            for mod in _modules(cov):
                got = getattr(mod, f"mixture_estep_{cov}")(*args)
                _assert_estep(got, want, RTOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("cov", COV_TYPES)
def test_scatter_matches_reference(cov, dtype):
    K, d, n = SHAPES[1]
    params, X, w, _ = _case(cov, K, d, n, dtype, seed=3)
    wresp = np.random.default_rng(3).dirichlet(np.ones(K), size=n) * w[:, None]
    wresp[:, 1] = 0.0  # an empty component
    want = getattr(reference, f"scatter_{cov}")(X, wresp, params.means)
    for mod in _modules(cov):
        got = getattr(mod, f"scatter_{cov}")(X, wresp, params.means)
        for name, a, b in zip(("counts", "sums", "scatter"), got, want, strict=True):
            # Given weights, every kernel accumulates float64 residuals: float64 accuracy.
            assert_close(a, b, 1e-12, f"{mod.__name__} {name}")


def test_results_do_not_depend_on_threads_or_rounds(monkeypatch):
    # Parts (2048 rows) are summed in a fixed order: bitwise the same for any thread count;
    # the round size (set by K and d) changes rounding only.
    params, X, w, log_w = _case("full", 3, 7, 9000, np.float64, seed=4)
    args = _estep_args(params, X, w, log_w)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = gaussian_numba.mixture_estep_full(*args)
        gemm_one = gaussian_gemm.mixture_estep_full(*args)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two = gaussian_numba.mixture_estep_full(*args)
        gemm_two = gaussian_gemm.mixture_estep_full(*args)
        monkeypatch.setattr(gaussian_numba, "ROUND_BYTES", 1)
        monkeypatch.setattr(gaussian_numba, "MIN_ROUND_PARTS", 1)
        rounds = gaussian_numba.mixture_estep_full(*args)
    finally:
        numba.set_num_threads(before)
    for a, b, c, g1, g2 in zip(one, two, rounds, gemm_one, gemm_two, strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(g1, g2)
        assert_close(c, a, 1e-13, "one part per round")


@pytest.mark.parametrize("cov", COV_TYPES)
def test_statistics_add_across_blocks(cov):
    params, X, w, log_w = _case(cov, 3, 5, 6000, np.float64, seed=5)
    whole = gaussian_numba.mixture_estep(cov, *_estep_args(params, X, w, log_w))
    head = gaussian_numba.mixture_estep(cov, *_estep_args(params, X[:2500], w[:2500], log_w))
    tail = gaussian_numba.mixture_estep(cov, *_estep_args(params, X[2500:], w[2500:], log_w))
    for i, name in enumerate(("log_likelihood", "counts", "sums", "scatter")):
        assert_close(head[i] + tail[i], whole[i], 1e-12, name)


def test_worst_row_is_first_lowest_positive_weight():
    params, X, w, log_w = _case("diag", 2, 3, 300, np.float64, seed=6)
    X[[40, 90, 200]] = 50.0  # three equally far rows; the first has weight zero
    w[:] = 1.0
    w[40] = 0.0
    for mod in (gaussian_numba, reference):
        *_, score, index = mod.mixture_estep_diag(*_estep_args(params, X, w, log_w))
        assert index == 90
        assert np.isfinite(score)
        *_, score, index = mod.mixture_estep_diag(*_estep_args(params, X, np.zeros(300), log_w))
        assert (score, index) == (np.inf, -1)


def test_component_with_zero_weight_gets_nothing():
    params, X, w, log_w = _case("full", 3, 4, 500, np.float64, seed=7)
    log_w = np.array([np.log(0.5), -np.inf, np.log(0.5)])
    want = reference.mixture_estep_full(*_estep_args(params, X, w, log_w))
    got = gaussian_numba.mixture_estep_full(*_estep_args(params, X, w, log_w))
    assert got[1][1] == 0.0 and np.all(got[2][1] == 0.0) and np.all(got[3][1] == 0.0)
    _assert_estep(got, want, 1e-10)


@pytest.mark.parametrize("mod", [gaussian_numba, gaussian_gemm], ids=["numba", "gemm"])
def test_float32_residuals_are_formed_in_float64(mod):
    # At 1e6 from the origin float32(mu) is off by up to 0.03 (the NumPy reference's float32
    # error); the compiled kernels subtract in float64 and round the residual once, so they
    # match float64 log-densities of the same float32 data to float32 accuracy.
    params, X, _, _ = _case("full", 2, 3, 400, np.float64, seed=8)
    X32 = (X + 1e6).astype(np.float32)
    far = GaussianParams.from_covariances(params.means + 1e6, params.covariances, "full")
    args = (far.means, far.prec_chol, far.log_det)
    want = reference.log_prob_full(X32.astype(np.float64), *args)
    assert_close(mod.log_prob_full(X32, *args), want, 1e-5, mod.__name__)


def test_kernel_choice_routes_every_strategy():
    params, X, _, _ = _case("diag", 2, 3, 100, np.float64, seed=9)
    assert get_kernels() == "auto"
    with use_kernels("numpy"):
        got = STRATEGIES["diag"].log_prob(X, params.means, params.prec_chol, params.log_det)
    np.testing.assert_array_equal(
        got, reference.log_prob_diag(X, params.means, params.prec_chol, params.log_det)
    )
    assert get_kernels() == "auto"
    with pytest.raises(ValueError, match="kernels must be one of"):
        with use_kernels("fortran"):
            pass
