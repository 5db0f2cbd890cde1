"""Information criteria from a total log-likelihood (lower is better)."""

from __future__ import annotations

import math


def aic(log_likelihood, n_parameters):
    """Akaike information criterion: ``-2 log L + 2 p``."""
    return -2.0 * float(log_likelihood) + 2.0 * n_parameters


def bic(log_likelihood, n_parameters, n_samples):
    """Bayesian information criterion: ``-2 log L + p log n``."""
    return -2.0 * float(log_likelihood) + n_parameters * math.log(n_samples)
