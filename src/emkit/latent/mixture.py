"""Mixture latent structure: responsibilities from log-likelihoods and log weights."""

from __future__ import annotations

import numpy as np

from emkit.kernels.logsumexp import normalize_rows


def log_weights(weights):
    """Log of mixture weights; a zero weight gives ``-inf`` without a warning."""
    with np.errstate(divide="ignore"):
        return np.log(weights)


def posterior(log_prob, log_w):
    """Responsibilities of each component for each row.

    Parameters
    ----------
    log_prob : ndarray of shape (n, K)
        Per-component log-likelihoods of each row.
    log_w : ndarray of shape (K,)
        Log mixture weights.

    Returns
    -------
    log_norm : ndarray of shape (n,)
        Log-likelihood of each row under the mixture.
    resp : ndarray of shape (n, K)
        Posterior probability of each component, rows summing to one.
    """
    weighted = log_prob + log_w.astype(log_prob.dtype)
    return normalize_rows(weighted)


def weights_from_counts(counts):
    """M-step for the mixture weights: normalised expected counts, shape (K,)."""
    counts = counts + 10 * np.finfo(np.float64).eps
    return counts / counts.sum()
