"""Exact EM over a Dask array: E-step per block on the workers, tree-summed Stats, M on the client.

Because statistics add, each iteration maps the problem's ``expect_block`` over the row blocks
of the (persisted) array, sums the per-block statistics pairwise in a tree on the cluster, and
brings back one small statistics object. The M-step runs here; the new parameters travel to the
workers inside the next iteration's graph. Dask is optional: this module imports it lazily.
"""

from __future__ import annotations

import operator

import numpy as np

from emkit.engine.sources import ArraySource, Block, dense_noise, sample_indices

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


def _aux_block(weights, labels, noise):
    """A Block template (no rows) of a block's weights, labels and noise covariances."""
    return Block(None, weights, labels=labels, noise=dense_noise(noise))


def _block_stats(problem, params, X, aux):
    """``expect_block`` of rows ``X`` with their ``aux``: row weights, or a Block template."""
    rows = np.asarray(X)
    block = aux.with_rows(rows) if isinstance(aux, Block) else Block(rows, aux)
    return problem.expect_block(params, block)


def _tree_sum(dask, parts):
    add = dask.delayed(operator.add, pure=True)
    while len(parts) > 1:
        nxt = [add(parts[i], parts[i + 1]) for i in range(0, len(parts) - 1, 2)]
        if len(parts) % 2:
            nxt.append(parts[-1])
        parts = nxt
    return parts[0]


def expect_remote(dask, problem, params, x_blocks, aux_blocks):
    """Map ``problem.expect_block`` over persisted blocks and tree-sum the statistics.

    ``aux_blocks`` holds what comes with each block's rows: its row weights (Dask objects or
    None), or a :class:`~emkit.engine.sources.Block` template without rows (e.g. the
    boundaries of its sequences).
    """
    shared_problem = dask.delayed(problem, pure=True)
    shared_params = dask.delayed(params, pure=True)
    task = dask.delayed(_block_stats, pure=True)
    parts = [
        task(shared_problem, shared_params, xb, ab)
        for xb, ab in zip(x_blocks, aux_blocks, strict=True)
    ]
    return dask.compute(_tree_sum(dask, parts))[0]


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
        self.labels = self.noise = None
        self._aux = self._w_blocks

    def attach(self, labels=None, noise=None):
        """Attach known labels and noise covariances, chunked as X and persisted.

        See :class:`~emkit.engine.sources.Block` for what they are.
        """
        _, da = require_dask()
        rows = self.X.chunks[0]
        if labels is not None:
            self.labels = da.asarray(labels).rechunk((rows,)).persist()
        if noise is not None:
            noise = da.asarray(noise)
            self.noise = noise.rechunk((rows, *((-1,) * (noise.ndim - 1)))).persist()
        parts = [self._w_blocks]
        for extra in (self.labels, self.noise):
            n = len(self._x_blocks)
            parts.append([None] * n if extra is None else list(extra.to_delayed().ravel()))
        block = self._dask.delayed(_aux_block, pure=True)
        self._aux = [block(w, lab, s) for w, lab, s in zip(*parts, strict=True)]

    @property
    def n_samples(self):
        """Number of rows."""
        return int(self.X.shape[0])

    @property
    def n_features(self):
        """Number of columns."""
        return int(self.X.shape[1])

    @property
    def dtype(self):
        """The dtype of the rows."""
        return self.X.dtype

    def blocks(self):
        """Yield each :class:`~emkit.engine.sources.Block`, computed one at a time (client side)."""
        for xb, ab in zip(self._x_blocks, self._aux, strict=True):
            x, aux = self._dask.compute(xb, ab)
            x = np.asarray(x)
            if isinstance(aux, Block):
                yield aux.with_rows(x)
            else:
                yield Block(x, None if aux is None else np.asarray(aux))

    def expect(self, problem, params):
        """Summed E-step statistics of every block, computed on the cluster."""
        return expect_remote(self._dask, problem, params, self._x_blocks, self._aux)

    def sample(self, rng, size):
        """An in-memory source of ``min(size, n_samples)`` rows drawn uniformly."""
        idx = sample_indices(rng, self.n_samples, min(self.n_samples, size))
        rows, w, labels, noise = (
            None if a is None else np.asarray(a)
            for a in self._dask.compute(
                self.X[idx],
                None if self.sample_weight is None else self.sample_weight[idx],
                None if self.labels is None else self.labels[idx],
                None if self.noise is None else self.noise[idx],
            )
        )
        return ArraySource(rows, w, max(1, max(self.X.chunks[0])), labels, dense_noise(noise))


class DaskBlockSource:
    """Blocks of rows with a per-block companion (e.g. whole sequences), persisted once.

    Parameters
    ----------
    blocks : iterable of Block
        Blocks whose rows are lazy slices of a Dask array (for HMMs, blocks of whole
        sequences with their boundaries and weights).
    check : callable, optional
        Applied to every block's rows on the workers before they are persisted (validation);
        its return value is the block used.
    """

    def __init__(self, blocks, check=None):
        dask, _ = require_dask()
        self._dask = dask
        rows, self._aux = [], []
        for block in blocks:
            x = block.X.rechunk(block.X.shape).to_delayed().ravel()[0]
            rows.append(dask.delayed(check, pure=True)(x) if check else x)
            self._aux.append(block.with_rows(None))
        self._rows = list(dask.persist(*rows))

    def expect(self, problem, params):
        """Summed E-step statistics of every block, computed on the cluster."""
        return expect_remote(self._dask, problem, params, self._rows, self._aux)
