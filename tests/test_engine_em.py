"""The EM driver (convergence, restarts, warm start), data sources and initialisation."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
from sklearn.cluster import KMeans

from conftest import COV_TYPES, assert_close, blobs
from emkit.engine.em import EMResult, fit_restarts, run_em
from emkit.engine.initialization import assignment, params_from_assignment
from emkit.engine.sources import ArraySource, default_chunk_size
from emkit.families.gaussian import GaussianFamily


# ----------------------------------------------------------------------------- driver
@dataclass
class _Stats:
    log_likelihood: float
    total_weight: float

    def __add__(self, other):
        return _Stats(
            self.log_likelihood + other.log_likelihood, self.total_weight + other.total_weight
        )


class _ScriptedProblem:
    """Parameters are (restart, step); the E-step reports a scripted mean log-likelihood."""

    def __init__(self, scripts):
        self.scripts = scripts

    def expect_block(self, params, block):
        restart, step = params
        bound = self.scripts[restart][min(step, len(self.scripts[restart]) - 1)]
        return _Stats(bound * block.X.shape[0], float(block.X.shape[0]))

    def maximize(self, stats, params, iteration):
        restart, step = params
        return (restart, step + 1)


SOURCE = ArraySource(np.zeros((6, 1)), None, 4)  # two blocks


def test_run_em_stops_when_the_change_is_below_tol():
    problem = _ScriptedProblem([[-10.0, -5.0, -4.0, -3.99, -3.985]])
    result = run_em(problem, SOURCE, (0, 0), max_iter=100, tol=0.02)
    # Changes: inf, 5, 1, 0.01 < 0.02 -> converged at iteration 4.
    assert result.converged
    assert result.n_iter == 4
    assert result.lower_bounds == [-10.0, -5.0, -4.0, -3.99]
    # The bound of the last E-step, taken before the last M-step.
    assert result.lower_bound == -3.99
    assert result.params == (0, 4)


def test_run_em_reports_no_convergence_at_max_iter():
    problem = _ScriptedProblem([[-10.0, -5.0, -4.0, -3.0]])
    result = run_em(problem, SOURCE, (0, 0), max_iter=3, tol=0.5)
    assert not result.converged
    assert result.n_iter == 3
    assert result.lower_bound == -4.0


def test_run_em_measures_the_first_change_from_a_warm_bound():
    problem = _ScriptedProblem([[-4.0, -3.0]])
    result = run_em(problem, SOURCE, (0, 0), max_iter=5, tol=0.1, lower_bound=-4.05)
    assert result.converged and result.n_iter == 1


def test_fit_restarts_keeps_the_best_and_the_first_of_ties():
    scripts = [[-5.0, -5.0], [-2.0, -2.0], [-3.0, -3.0], [-2.0, -2.0]]
    problem = _ScriptedProblem(scripts)
    starts = iter(range(4))
    best = fit_restarts(problem, SOURCE, lambda: (next(starts), 0), n_init=4, max_iter=10, tol=1e-3)
    assert best.lower_bound == -2.0
    assert best.params == (1, 2)


def test_fit_restarts_warm_start_runs_once_from_the_given_parameters():
    problem = _ScriptedProblem([[-9.0], [-1.0, -0.5, -0.5]])

    def initialize():
        raise AssertionError("a warm start must not initialise")

    warm = EMResult((1, 1), -2.0)
    best = fit_restarts(problem, SOURCE, initialize, n_init=5, max_iter=10, tol=1e-3, warm=warm)
    assert best.lower_bounds == [-0.5, -0.5]
    assert best.params == (1, 3)


def test_fit_restarts_with_no_iterations_returns_the_initial_parameters():
    problem = _ScriptedProblem([[-1.0]])
    best = fit_restarts(problem, SOURCE, lambda: (0, 0), n_init=2, max_iter=0, tol=1e-3)
    assert best.params == (0, 0)
    assert best.lower_bound == -math.inf
    assert best.n_iter == 0 and not best.converged


# ----------------------------------------------------------------------------- sources
@pytest.mark.parametrize("chunk_size", [1, 3, 7, 10, 100])
def test_array_source_blocks_cover_every_row_once_in_order(chunk_size):
    X = np.arange(20.0).reshape(10, 2)
    w = np.arange(10.0)
    source = ArraySource(X, w, chunk_size)
    blocks = list(source.blocks())
    assert all(len(b.X) <= chunk_size for b in blocks)
    np.testing.assert_array_equal(np.vstack([b.X for b in blocks]), X)
    np.testing.assert_array_equal(np.concatenate([b.weights for b in blocks]), w)
    assert source.total_weight() == 45.0
    assert ArraySource(X, None, chunk_size).total_weight() == 10.0


def test_default_chunk_size_bounds_working_memory():
    small = default_chunk_size(2, 2)
    large = default_chunk_size(200, 50)
    assert small > large >= 256
    per_row_bytes = 8 * (3 * 50 + 2 * 200 + 4)  # (n, K) arrays and (n, d) residuals
    assert large * per_row_bytes <= 32 * 2**20


# ----------------------------------------------------------------------------- initialisation
def test_random_assignment_replays_one_draw_for_any_blocking():
    n, K = 23, 3
    rng = np.random.RandomState(7)
    resp_of = assignment("random", np.zeros((n, 2)), None, K, rng)
    expected = np.random.RandomState(7).uniform(size=(n, K))
    expected /= expected.sum(axis=1, keepdims=True)
    for bounds in ([(0, n)], [(0, 5), (5, 6), (6, 23)], [(i, i + 1) for i in range(n)]):
        got = np.vstack([resp_of(a, b) for a, b in bounds])
        np.testing.assert_array_equal(got, expected)
    # The generator is left where one (n, K) draw leaves it.
    reference = np.random.RandomState(7)
    reference.uniform(size=(n, K))
    assert rng.randint(1 << 30) == reference.randint(1 << 30)


def test_kmeans_assignment_is_sklearn_kmeans_labels():
    X = blobs(60, 2, 3, seed=1)
    resp_of = assignment("kmeans", X, None, 3, np.random.RandomState(4))
    labels = KMeans(3, n_init=1, random_state=np.random.RandomState(4)).fit(X).labels_
    resp = resp_of(0, 60)
    np.testing.assert_array_equal(resp.argmax(axis=1), labels)
    np.testing.assert_array_equal(resp.sum(axis=1), 1.0)


@pytest.mark.parametrize("method", ["k-means++", "random_from_data"])
def test_one_point_assignments_mark_one_row_per_component(method):
    X = blobs(40, 2, 3, seed=2)
    resp = assignment(method, X, None, 3, np.random.RandomState(0))(0, 40)
    np.testing.assert_array_equal(resp.sum(axis=0), 1.0)
    assert resp.sum() == 3.0


def test_unknown_method_is_rejected():
    with pytest.raises(ValueError, match="init_params must be one of"):
        assignment("spectral", np.zeros((3, 1)), None, 1, np.random.RandomState(0))


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_params_from_assignment_are_weighted_moments(covariance_type):
    X = blobs(50, 2, 2, seed=3) + 1e3
    rng = np.random.RandomState(5)
    resp = rng.dirichlet(np.ones(2), size=50)
    w = rng.uniform(0.5, 2.0, size=50)
    family = GaussianFamily(covariance_type, reg_covar=1e-6)
    weights, comps = params_from_assignment(family, ArraySource(X, w, 7), lambda a, b: resp[a:b], 2)
    wr = resp * w[:, None]
    counts = wr.sum(axis=0)
    means = wr.T @ X / counts[:, None]
    assert_close(weights, counts / counts.sum(), 1e-12, "weights")
    assert_close(comps.means, means, 1e-12, "means")
    full = np.stack([(wr[:, k, None] * (X - means[k])).T @ (X - means[k]) for k in range(2)])
    full /= counts[:, None, None]
    expected = {
        "full": full + 1e-6 * np.eye(2),
        "tied": (counts[:, None, None] * full).sum(axis=0) / counts.sum() + 1e-6 * np.eye(2),
        "diag": np.diagonal(full, axis1=1, axis2=2) + 1e-6,
        "spherical": np.trace(full, axis1=1, axis2=2) / 2 + 1e-6,
    }[covariance_type]
    assert_close(comps.covariances, expected, 1e-9, "covariances")


def test_every_source_honours_the_source_protocol():
    from emkit.engine.dask_source import DaskSource
    from emkit.engine.markov import SequenceSource
    from emkit.engine.sources import Block, Source

    da = pytest.importorskip("dask.array")
    X = np.arange(40.0).reshape(20, 2)
    w = np.linspace(0.0, 1.0, 20)
    for source in (ArraySource(X, w, 6), DaskSource(da.from_array(X, chunks=(6, 2)), w)):
        assert isinstance(source, Source)
        assert (source.n_samples, source.n_features, source.dtype) == (20, 2, X.dtype)
        blocks = list(source.blocks())
        assert all(isinstance(b, Block) for b in blocks)
        np.testing.assert_array_equal(np.vstack([b.X for b in blocks]), X)
        np.testing.assert_array_equal(np.concatenate([b.weights for b in blocks]), w)
        sample = source.sample(np.random.RandomState(0), 5)
        rows = sample.rows()
        assert rows.X.shape == (5, 2)
        # the sampled rows are rows of X with their own weights
        idx = (rows.X[:, 0] // 2).astype(int)
        np.testing.assert_array_equal(rows.X, X[idx])
        np.testing.assert_array_equal(rows.weights, w[idx])
    seq = SequenceSource(X, [5, 7, 8], np.array([1.0, 2.0, 3.0]), block_rows=10)
    blocks = list(seq.blocks())
    assert [b.lengths.tolist() for b in blocks] == [[5], [7], [8]]  # whole sequences
    rw = np.concatenate([b.row_weights() for b in blocks])
    np.testing.assert_array_equal(rw, np.repeat([1.0, 2.0, 3.0], [5, 7, 8]))
