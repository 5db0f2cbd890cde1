"""Benchmark data and initial parameters shared by ``run.py`` and ``memory_probe.py``.

Rows come from ``K`` Gaussian clusters with random means and random full covariances; both
libraries start from the same weights, means and precisions (the data's pooled precision,
in each covariance layout), so they run the same EM iterations.
"""

from __future__ import annotations

import numpy as np


def make_data(n, d, K, dtype=np.float64, seed=0, chunk=262_144):
    """Rows from ``K`` random Gaussian clusters, shape (n, d), written in place in chunks.

    Generating in place keeps the peak memory of the generator at the data size.
    """
    rng = np.random.default_rng(seed)
    means = rng.uniform(-4.0, 4.0, size=(K, d))
    mix = np.eye(d) + rng.normal(scale=0.3 / np.sqrt(d), size=(K, d, d))
    X = np.empty((n, d), dtype=dtype)
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        labels = rng.integers(0, K, stop - start)
        z = rng.standard_normal((stop - start, d))
        block = means[labels]
        for k in range(K):
            rows = labels == k
            block[rows] += z[rows] @ mix[k].T
        X[start:stop] = block
    return X


def initial_params(X, K, covariance_type, seed=1, sample=100_000):
    """``weights_init``, ``means_init``, ``precisions_init`` accepted by both libraries."""
    rng = np.random.default_rng(seed)
    n, d = X.shape
    means = np.asarray(X[np.sort(rng.choice(n, size=K, replace=False))], dtype=np.float64)
    rows = np.asarray(X[rng.choice(n, size=min(n, sample), replace=False)], dtype=np.float64)
    cov = np.atleast_2d(np.cov(rows.T)) + 1e-3 * np.eye(d)
    prec = np.linalg.inv(cov)
    prec = 0.5 * (prec + prec.T)
    if covariance_type == "full":
        precisions = np.tile(prec, (K, 1, 1))
    elif covariance_type == "tied":
        precisions = prec
    elif covariance_type == "diag":
        precisions = np.tile(1.0 / np.diag(cov), (K, 1))
    else:
        precisions = np.full(K, 1.0 / np.mean(np.diag(cov)))
    return {
        "weights_init": np.full(K, 1.0 / K),
        "means_init": means,
        "precisions_init": precisions,
    }
