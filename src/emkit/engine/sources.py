"""Data sources: blocks of rows (with optional per-row weights) fed to the E-step."""

from __future__ import annotations

import numpy as np

# Working memory targeted by the default block size (bytes of float64 temporaries per block).
TARGET_BLOCK_BYTES = 16 * 2**20


def default_chunk_size(n_features, n_components):
    """Rows per block so that an E-step's temporaries stay near ``TARGET_BLOCK_BYTES``."""
    # Per row: a few length-K vectors (log-densities, responsibilities, weighted
    # responsibilities) and two length-d residuals; no n x K x d temporary is ever formed.
    per_row = 8 * (3 * n_components + 2 * n_features + 4)
    return int(max(256, TARGET_BLOCK_BYTES // per_row))


class ArraySource:
    """Blocks of an in-memory (or memory-mapped) array.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    sample_weight : ndarray of shape (n_samples,) or None
    chunk_size : int
        Rows per block.
    """

    def __init__(self, X, sample_weight, chunk_size):
        self.X = X
        self.sample_weight = sample_weight
        self.chunk_size = max(1, int(chunk_size))

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
        """Yield ``(X_block, weight_block)``; ``weight_block`` is None when unweighted."""
        for start, stop in self.bounds():
            w = None if self.sample_weight is None else self.sample_weight[start:stop]
            yield np.asarray(self.X[start:stop]), w
