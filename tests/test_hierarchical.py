"""The compiled agglomeration against its NumPy reference (the loop that reproduces mclust's
partitions on iris and diabetes, see test_selection_mclust.py)."""

from __future__ import annotations

import numpy as np
import pytest

from emkit.engine.hierarchical import agglomerate, hierarchy, svd_transform


def _same(X, **kwargs):
    a = agglomerate(X, kernels="numpy", **kwargs)
    b = agglomerate(X, kernels="numba", **kwargs)
    np.testing.assert_array_equal(a.initial, b.initial)
    np.testing.assert_array_equal(a.merges, b.merges)
    np.testing.assert_allclose(b.costs, a.costs, rtol=1e-10, atol=1e-10)
    return a, b


@pytest.mark.parametrize("n, d, seed", [(120, 1, 0), (150, 2, 1), (200, 3, 2), (160, 6, 3)])
def test_kernel_makes_the_reference_merges_on_random_data(n, d, seed):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=4.0, size=(4, d))
    X = centers[rng.integers(0, 4, n)] + rng.normal(size=(n, d)) * rng.uniform(0.3, 2.0, d)
    _same(svd_transform(X))


def test_kernel_breaks_ties_as_the_reference():
    # A regular grid: many pairs cost exactly the same, at every level of the hierarchy.
    grid = np.array([[i, j] for i in range(7) for j in range(6)], dtype=np.float64)
    a, _ = _same(grid)
    assert np.sum(a.costs[:-1] == a.costs[1:]) >= 3  # the ties are really there
    # Integer rows with exact duplicates (which start together) and ties between them.
    rng = np.random.default_rng(5)
    X = rng.integers(0, 4, size=(90, 3)).astype(np.float64)
    a, _ = _same(X)
    assert a.n_initial < X.shape[0]


def test_kernel_with_a_given_partition():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(80, 2))
    _same(X, partition=np.arange(80) // 2)


def test_hierarchy_uses_the_kernel_by_default():
    rng = np.random.default_rng(8)
    X = rng.normal(size=(60, 3))
    h = hierarchy(X)
    ref = agglomerate(svd_transform(X), kernels="numpy")
    np.testing.assert_array_equal(h.merges, ref.merges)
    with pytest.raises(ValueError, match="kernels must be one of"):
        agglomerate(X, kernels="fortran")
