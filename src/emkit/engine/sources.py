"""Blocks and sources: how every way of feeding data reaches the E-step.

A :class:`Block` carries some rows and their per-row extras (weights; for stacked sequences
the sequence boundaries and per-sequence weights). New per-row information is a new Block
field, never a new code path in the models. A *source* (the :class:`Source` protocol) yields
Blocks and draws an in-memory sample of rows for initialisation; nothing outside a source
reaches into its array. :class:`ArraySource` serves arrays in memory and memory maps;
``emkit.engine.dask_source`` and ``emkit.engine.markov.SequenceSource`` serve Dask arrays and
stacked sequences.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Protocol, runtime_checkable

import numpy as np

# Working memory targeted by the default block size (bytes of float64 temporaries per block).
TARGET_BLOCK_BYTES = 16 * 2**20


def default_chunk_size(n_features, n_components):
    """Rows per block so that an E-step's temporaries stay near ``TARGET_BLOCK_BYTES``."""
    # Per row: a few length-K vectors (log-densities, responsibilities, weighted
    # responsibilities) and two length-d residuals; no n x K x d temporary is ever formed.
    per_row = 8 * (3 * n_components + 2 * n_features + 4)
    return int(max(256, TARGET_BLOCK_BYTES // per_row))


@dataclass(frozen=True)
class Block:
    """Rows of a source and what comes with each of them.

    Attributes
    ----------
    X : ndarray of shape (n, n_features)
        The rows (None in a template whose rows travel separately, see :meth:`with_rows`).
    weights : ndarray of shape (n,) or None
        Row weights (None for all ones).
    offsets : ndarray of shape (S + 1,) or None
        Stacked sequences: sequence ``s`` occupies rows ``offsets[s]:offsets[s + 1]``.
    sequence_weights : ndarray of shape (S,) or None
        Per-sequence weights of stacked sequences (None for all ones).
    labels : ndarray of int of shape (n,) or None
        Known component (mixtures) or state (HMMs) of each row, -1 where unknown (None when
        no row has one).
    noise : ndarray of shape (n, d, d) or None
        Each row's measurement-noise covariance (extreme deconvolution; None without).
    """

    X: np.ndarray | None
    weights: np.ndarray | None = None
    offsets: np.ndarray | None = None
    sequence_weights: np.ndarray | None = None
    labels: np.ndarray | None = None
    noise: np.ndarray | None = None

    @property
    def lengths(self):
        """Length of each stacked sequence, shape (S,)."""
        return np.diff(self.offsets)

    def row_weights(self):
        """Weight of each row: ``weights``, or each row's sequence weight; None if unweighted."""
        if self.weights is not None or self.sequence_weights is None:
            return self.weights
        return np.repeat(self.sequence_weights, self.lengths)

    def with_rows(self, X):
        """The same block with rows ``X``."""
        return replace(self, X=X)


@runtime_checkable
class Source(Protocol):
    """What the engine needs of a data source."""

    @property
    def n_samples(self) -> int:
        """Number of rows."""

    @property
    def n_features(self) -> int:
        """Number of columns."""

    @property
    def dtype(self) -> np.dtype:
        """The dtype of the rows."""

    def blocks(self) -> Iterator[Block]:
        """The blocks of rows, in order."""

    def sample(self, rng, size) -> ArraySource:
        """An in-memory source of ``size`` rows drawn uniformly without replacement."""


def dense_noise(S):
    """Noise covariances as (n, d, d) float64: variances (n, d) become diagonal matrices."""
    if S is None:
        return None
    S = np.asarray(S, dtype=np.float64)
    if S.ndim == 3:
        return S
    out = np.zeros((*S.shape, S.shape[1]))
    idx = np.arange(S.shape[1])
    out[:, idx, idx] = S
    return out


def sample_indices(rng, n, size):
    """Sorted positions of ``size`` distinct rows out of ``n``, drawn uniformly.

    Uses O(size) memory (a full permutation of a 10^8-row file would not fit the budget).
    """
    if size >= n:
        return np.arange(n)
    if 4 * size >= n:
        return np.sort(rng.permutation(n)[:size])
    chosen = np.empty(0, dtype=np.int64)
    while chosen.size < size:
        draw = rng.randint(0, n, size=2 * (size - chosen.size) + 16, dtype=np.int64)
        chosen = np.union1d(chosen, draw)
    keep = rng.permutation(chosen.size)[:size]
    return np.sort(chosen[keep])


class ArraySource:
    """Blocks of an in-memory (or memory-mapped) array.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    sample_weight : ndarray of shape (n_samples,) or None
    chunk_size : int
        Rows per block.
    labels : ndarray of int of shape (n_samples,) or None
        Known component of each row (-1 unknown), see :class:`Block`.
    noise : ndarray of shape (n_samples, d, d) or None
        Per-row measurement-noise covariances (may be a memory map), see :class:`Block`.
    """

    def __init__(self, X, sample_weight, chunk_size, labels=None, noise=None):
        self.X = X
        self.sample_weight = sample_weight
        self.chunk_size = max(1, int(chunk_size))
        self.labels = labels
        self.noise = noise

    def attach(self, labels=None, noise=None):
        """Attach known labels and noise covariances (see :class:`Block`) to the rows.

        A Dask array of labels is computed; noise covariances may be a memory map.
        """
        if labels is not None:
            self.labels = np.asarray(labels)
        if noise is not None:
            self.noise = noise

    @property
    def n_samples(self):
        """Number of rows."""
        return self.X.shape[0]

    @property
    def n_features(self):
        """Number of columns."""
        return self.X.shape[1]

    @property
    def dtype(self):
        """The dtype of the rows."""
        return self.X.dtype

    def total_weight(self):
        """Sum of the row weights (the row count when unweighted)."""
        if self.sample_weight is None:
            return float(self.n_samples)
        return float(np.sum(self.sample_weight, dtype=np.float64))

    def bounds(self):
        """``(start, stop)`` of each block."""
        n, c = self.n_samples, self.chunk_size
        return [(s, min(s + c, n)) for s in range(0, n, c)]

    def blocks(self):
        """Yield a :class:`Block` of rows ``start:stop`` for each ``(start, stop)`` of bounds."""
        for start, stop in self.bounds():
            yield self._block(slice(start, stop))

    def _block(self, rows):
        """The :class:`Block` of ``rows`` (a slice or sorted positions), read into memory."""

        def part(a):
            return None if a is None else np.asarray(a[rows])

        return Block(
            np.asarray(self.X[rows]),
            part(self.sample_weight),
            labels=part(self.labels),
            noise=dense_noise(part(self.noise)),
        )

    def rows(self):
        """All rows and what comes with them as one in-memory :class:`Block`."""
        return self._block(slice(None))

    def sample(self, rng, size):
        """An in-memory source of ``min(size, n_samples)`` rows drawn uniformly."""
        idx = sample_indices(rng, self.n_samples, min(self.n_samples, size))
        b = self._block(idx)
        return ArraySource(b.X, b.weights, self.chunk_size, b.labels, b.noise)
