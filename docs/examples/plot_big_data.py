"""
Big data on a memory map
========================

Pass the path of a ``.npy`` file (or a ``numpy.memmap``): emkit streams it in blocks of
``chunk_size`` rows, never loading it whole, and initialises from a uniform sample of rows.
The result equals the in-memory fit from the same start. The plots draw a uniform sample of
the rows (``max_points``).
"""

import tempfile
from pathlib import Path

import numpy as np

from emkit import GaussianMixture
from emkit.plot import plot_classification, plot_convergence

rng = np.random.default_rng(0)
centres = np.array([[0.0, 0.0], [6.0, 1.0], [2.0, 6.0], [8.0, 7.0]])
X = centres[rng.integers(0, 4, 200_000)] + rng.normal(size=(200_000, 2))

with tempfile.TemporaryDirectory() as folder:
    path = Path(folder) / "big.npy"
    np.save(path, X)  # stands in for a file larger than memory
    gm = GaussianMixture(
        4, n_init=3, init_params="random_from_data", chunk_size=20_000, random_state=0
    ).fit(str(path))
    ax = plot_classification(gm, str(path), max_points=5_000)
print(gm.summary())

# %%
# The lower bound of every iteration of the three restarts (each starts from four random
# rows); the best is kept.
plot_convergence(gm)
