"""
Decomposing a spectrum into peaks
=================================

A measured spectrum is a sum of overlapping peaks on a flat background, plus counting noise.
:class:`~emkit.PeakFit` fits Gaussian peaks by EM for binned data, picks their number by BIC,
and gives each peak's centre, width, area and standard errors;
:func:`~emkit.plot.plot_peaks` draws each peak under the measured curve.
"""

import numpy as np
from scipy import stats

from emkit import PeakFit
from emkit.plot import plot_peaks

x = np.linspace(0.0, 100.0, 500)  # e.g. an energy axis
truth = (
    300 * stats.norm.pdf(x, 30, 4)
    + 180 * stats.norm.pdf(x, 41, 3)  # overlaps the first peak
    + 150 * stats.norm.pdf(x, 70, 6)
    + 0.6
)
y = np.random.default_rng(0).poisson(truth * 20) / 20  # counting noise

fit = PeakFit("auto", max_peaks=5, background=True, random_state=0).fit(x, y)
print(f"{fit.n_peaks_} peaks chosen by BIC:", np.round(fit.bic_, 1))
print(fit.format_table())

# %%
# The measured signal (grey), each peak (filled), the background (dashed) and their sum.
plot_peaks(fit, x, y)
