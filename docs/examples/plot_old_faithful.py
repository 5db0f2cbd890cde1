"""
Choosing the number of components on the Old Faithful data
==========================================================

272 eruptions of the Old Faithful geyser (Yellowstone): the eruption time and the waiting
time to the next eruption, in minutes (R's ``datasets::faithful``, shipped with these
examples). :class:`emkit.MixtureSelection` fits mclust's 14 covariance structures for 1 to 6
components from one model-based hierarchical start and compares their BIC, as mclust's
``Mclust`` does (here in mclust's sign: higher is better). mclust 6.0 picks EEE (emkit's
``tied``) with 3 components, BIC -2314.3; emkit picks the same model. The waiting times are
whole minutes, so a fit can collapse onto one repeated value (a spike of unbounded density):
such a fit gets no BIC (NaN, mclust's NA; the reason is in ``skipped_``) and is never chosen.
"""

from pathlib import Path

import numpy as np

from emkit import MixtureSelection
from emkit.plot import plot_classification, plot_density, plot_selection

here = Path(__file__).parent if "__file__" in globals() else Path.cwd()
X = np.loadtxt(here / "data" / "faithful.csv", delimiter=",", skiprows=1)
selection = MixtureSelection(n_components=range(1, 7), bic_convention="mclust", random_state=0)
selection.fit(X)
print(selection.summary(top=3))
plot_selection(selection)

# %%
# The selected model, its components and its density.
best = selection.best_estimator_
ax = plot_classification(best, X, feature_names=["eruption (min)", "waiting (min)"])

# %%
plot_density(best, X, feature_names=["eruption (min)", "waiting (min)"])
