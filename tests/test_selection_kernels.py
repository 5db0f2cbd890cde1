"""Compiled M-step kernels (EVE and VVE, VEE, precision-Cholesky factors) against their
references (the NumPy loops, LAPACK)."""

from __future__ import annotations

import numpy as np
import pytest

from emkit.families.parsimonious import common_orientation, volumes_common_matrix, within_full


def _scatters(rng, K, d):
    counts = rng.uniform(5.0, 50.0, K)
    A = rng.normal(size=(K, d, d))
    scatter = counts[:, None, None] * (A @ A.transpose(0, 2, 1) + 0.1 * np.eye(d))
    sums = rng.normal(size=(K, d))
    return counts, within_full(
        counts, sums, scatter + sums[:, :, None] * sums[:, None, :] / counts[:, None, None], 1e-6
    )


@pytest.mark.parametrize("equal_volume", [True, False])
@pytest.mark.parametrize("K, d, seed", [(1, 2, 0), (3, 2, 1), (4, 3, 2), (6, 5, 3)])
def test_common_orientation_kernel_is_the_reference(equal_volume, K, d, seed):
    counts, W = _scatters(np.random.default_rng(seed), K, d)
    D0, delta0 = common_orientation(counts, W, equal_volume, kernels="numpy")
    D1, delta1 = common_orientation(counts, W, equal_volume)
    # Both stop once the objective changes by less than 1e-13 of itself, where the parameters
    # still move in their eighth or ninth digit: they agree to that, not to the last bit.
    np.testing.assert_allclose(delta1, delta0, rtol=1e-7)
    np.testing.assert_allclose(np.abs(D1.T @ D0), np.eye(d), atol=1e-6)
    # The covariances agree (the orientation is defined up to signs of its columns).
    S0 = np.einsum("ij,kj,lj->kil", D0, delta0, D0)
    S1 = np.einsum("ij,kj,lj->kil", D1, delta1, D1)
    np.testing.assert_allclose(S1, S0, rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize("K, d, seed", [(1, 2, 0), (3, 3, 1), (7, 4, 2)])
def test_volumes_common_matrix_kernel_is_the_reference(K, d, seed):
    counts, W = _scatters(np.random.default_rng(seed), K, d)
    v0, C0 = volumes_common_matrix(counts, W, kernels="numpy")
    v1, C1 = volumes_common_matrix(counts, W)
    np.testing.assert_allclose(v1, v0, rtol=1e-7)
    np.testing.assert_allclose(C1, C0, rtol=1e-7, atol=1e-12)
    assert np.isclose(np.linalg.det(C1), 1.0)


@pytest.mark.parametrize("d", [1, 2, 4, 7])
def test_compiled_precision_cholesky_is_lapacks(d):
    from emkit.families import covariance as cov_module

    rng = np.random.default_rng(d)
    A = rng.normal(size=(5, d, d))
    cov = A @ A.transpose(0, 2, 1) + 0.1 * np.eye(d)
    ref = np.stack([cov_module._prec_chol_from_cov_matrix(c, k) for k, c in enumerate(cov)])
    got = cov_module.STRATEGIES["full"].prec_chol(cov)
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)
    assert np.array_equal(np.triu(got), got)
    np.testing.assert_allclose(got @ got.transpose(0, 2, 1), np.linalg.inv(cov), rtol=1e-8)
    for value in (-1.0, np.nan):
        bad = cov.copy()
        bad[3] *= value
        with pytest.raises(cov_module.NotPositiveDefiniteError, match="matrix 3 is not positive"):
            cov_module.STRATEGIES["full"].prec_chol(bad)


@pytest.mark.parametrize("m", [2, 3, 4, 37])
def test_initial_merge_costs_do_not_depend_on_the_split(m):
    # The hierarchy's initial pair costs are filled in items spread over threads: any split
    # gives the matrix of one serial pass, and the merges of the serial merge().
    from emkit.kernels import hierarchical_numba as hn

    rng = np.random.default_rng(m)
    d = 3
    counts = rng.integers(1, 4, m).astype(np.float64)
    means = rng.normal(size=(m, d))
    A = rng.normal(size=(m, d, d))
    scatter = A @ A.transpose(0, 2, 1)
    trace = np.trace(scatter, axis1=1, axis2=2).copy()
    own = rng.normal(size=m)
    stats = (counts, means, scatter, trace, own, 0.5, 1.0)
    items = hn.n_cost_items(m)
    whole = np.full((m, m), np.inf)
    hn.initial_costs(*stats, whole, 0, items)
    pieces = np.full((m, m), np.inf)
    for lo, hi in [(0, items // 3), (items // 3, items - 1), (items - 1, items)]:
        hn.initial_costs(*stats, pieces, lo, hi)
    np.testing.assert_array_equal(pieces, whole)
    assert np.all(np.isfinite(whole[np.triu_indices(m, 1)]))
    assert np.all(np.isinf(whole[np.tril_indices(m)]))
    serial = hn.merge(*(a.copy() for a in stats[:5]), 0.5, 1.0)
    merges, costs = hn.merge_from(whole, *stats)
    np.testing.assert_array_equal(merges, serial[0])
    np.testing.assert_array_equal(costs, serial[1])
