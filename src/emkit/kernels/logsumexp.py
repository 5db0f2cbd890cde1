"""Row-wise log-sum-exp and normalisation in log space (max-shifted)."""

from __future__ import annotations

import numpy as np


def normalize_rows(log_prob):
    """Normalise each row of ``log_prob`` in log space.

    Parameters
    ----------
    log_prob : ndarray of shape (n, K)
        Unnormalised log-probabilities; ``-inf`` entries are allowed.

    Returns
    -------
    log_norm : ndarray of shape (n,)
        ``log(sum_k exp(log_prob[i, k]))``.
    resp : ndarray of shape (n, K)
        ``exp(log_prob - log_norm[:, None])``, rows summing to one.
    """
    top = log_prob.max(axis=1, keepdims=True)
    top[~np.isfinite(top)] = 0.0
    shifted = log_prob - top
    np.exp(shifted, out=shifted)
    total = shifted.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore"):
        log_norm = (np.log(total) + top)[:, 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        shifted /= total
    return log_norm, shifted
