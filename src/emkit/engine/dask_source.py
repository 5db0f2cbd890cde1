"""Exact EM over a Dask array: E-step per block on the workers, tree-summed Stats, M on the client.

Because statistics add, each iteration maps the problem's ``expect_block`` over the row blocks
of the (persisted) array, sums the per-block statistics pairwise in a tree on the cluster, and
brings back one small statistics object. The M-step runs here; the new parameters travel to the
workers inside the next iteration's graph. Dask is optional: this module imports it lazily.
"""

from __future__ import annotations

import operator

import numpy as np

DASK_HINT = (
    "emkit's Dask support needs the optional dependencies: pip install 'emkit[dask]' "
    "(dask[array] and distributed)"
)


def require_dask():
    """Import and return ``(dask, dask.array)`` or raise ImportError saying what to install."""
    try:
        import dask
        import dask.array as da
    except ImportError as err:  # pragma: no cover - exercised with dask hidden
        raise ImportError(DASK_HINT) from err
    return dask, da


def is_dask_collection(X):
    """True for a Dask array (or collection) without importing Dask."""
    return type(X).__module__.split(".")[0] == "dask" and hasattr(X, "__dask_graph__")


def _block_stats(problem, params, X, w):
    return problem.expect_block(params, np.asarray(X), None if w is None else np.asarray(w))


def _tree_sum(dask, parts):
    add = dask.delayed(operator.add, pure=True)
    while len(parts) > 1:
        nxt = [add(parts[i], parts[i + 1]) for i in range(0, len(parts) - 1, 2)]
        if len(parts) % 2:
            nxt.append(parts[-1])
        parts = nxt
    return parts[0]


class DaskSource:
    """A Dask array of rows (and optional weights), persisted once on the cluster.

    Parameters
    ----------
    X : dask.array.Array of shape (n_samples, n_features)
        Rechunked to whole rows (one chunk across the features) and persisted.
    sample_weight : dask.array.Array or ndarray of shape (n_samples,), optional
    """

    def __init__(self, X, sample_weight=None):
        dask, da = require_dask()
        self._dask = dask
        X = X.rechunk({1: -1})
        if sample_weight is not None:
            sample_weight = da.asarray(sample_weight).rechunk((X.chunks[0],))
            X, sample_weight = dask.persist(X, sample_weight)
        else:
            X = X.persist()
        self.X = X
        self.sample_weight = sample_weight
        self._x_blocks = list(X.to_delayed().ravel())
        self._w_blocks = (
            [None] * len(self._x_blocks)
            if sample_weight is None
            else list(sample_weight.to_delayed().ravel())
        )

    @property
    def n_samples(self):
        """Number of rows."""
        return int(self.X.shape[0])

    def total_weight(self):
        """Sum of the row weights (the row count when unweighted)."""
        if self.sample_weight is None:
            return float(self.n_samples)
        return float(self.sample_weight.sum().compute())

    def blocks(self):
        """Yield ``(X_block, weight_block)`` one computed block at a time (client side)."""
        for xb, wb in zip(self._x_blocks, self._w_blocks, strict=True):
            if wb is None:
                yield np.asarray(xb.compute()), None
            else:
                x, w = self._dask.compute(xb, wb)
                yield np.asarray(x), np.asarray(w)

    def expect(self, problem, params):
        """Summed E-step statistics of every block, computed on the cluster."""
        dask = self._dask
        shared_problem = dask.delayed(problem, pure=True)
        shared_params = dask.delayed(params, pure=True)
        task = dask.delayed(_block_stats, pure=True)
        parts = [
            task(shared_problem, shared_params, xb, wb)
            for xb, wb in zip(self._x_blocks, self._w_blocks, strict=True)
        ]
        return dask.compute(_tree_sum(dask, parts))[0]

    def rows(self, idx):
        """Rows ``idx`` (sorted positions) and their weights, as in-memory arrays."""
        if self.sample_weight is None:
            return np.asarray(self.X[idx].compute()), None
        rows, w = self._dask.compute(self.X[idx], self.sample_weight[idx])
        return np.asarray(rows), np.asarray(w)
