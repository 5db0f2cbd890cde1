"""Move centred Gaussian statistics to a new reference point, exactly.

With ``delta_k = new_ref_k - old_ref_k``, sums centred on the new point are
``s_k - N_k delta_k`` and scatters are ``S_k - s_k delta_k^T - delta_k s_k^T + N_k delta_k
delta_k^T`` (in each covariance layout). Stepwise EM uses this to blend statistics gathered
under different parameters.
"""

from __future__ import annotations

import numpy as np


def shift_sums(counts, sums, delta):
    """Sums centred on the new reference, shape (K, d)."""
    return sums - counts[:, None] * delta


def shift_full(counts, sums, scatter, delta):
    """Full scatters (K, d, d) centred on the new reference."""
    cross = sums[:, :, None] * delta[:, None, :]
    outer = counts[:, None, None] * delta[:, :, None] * delta[:, None, :]
    return scatter - cross - cross.transpose(0, 2, 1) + outer


def shift_tied(counts, sums, scatter, delta):
    """Tied scatter (d, d) (summed over components) centred on the new references."""
    return scatter + (
        shift_full(counts, sums, np.zeros((*delta.shape, delta.shape[1])), delta)
    ).sum(axis=0)


def shift_diag(counts, sums, scatter, delta):
    """Diagonal scatters (K, d) centred on the new reference."""
    return scatter - 2.0 * sums * delta + counts[:, None] * delta**2


def shift_spherical(counts, sums, scatter, delta):
    """Spherical scatters (K,) centred on the new reference."""
    return scatter + shift_diag(counts, sums, np.zeros_like(sums), delta).sum(axis=1)


SHIFTS = {
    "full": shift_full,
    "tied": shift_tied,
    "diag": shift_diag,
    "spherical": shift_spherical,
}
