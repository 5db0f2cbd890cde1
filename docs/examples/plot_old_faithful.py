"""
Choosing the number of components on the Old Faithful data
==========================================================

272 eruptions of the Old Faithful geyser (Yellowstone): the eruption time and the waiting
time to the next eruption, in minutes (R's ``datasets::faithful``, shipped with these
examples). We fit every covariance structure for 1 to 6 components and compare their BIC
(lower is better), as mclust's ``Mclust`` does (mclust's EEE is emkit's ``tied``, VVV
``full``, VVI ``diag``, VII ``spherical``; mclust reports ``-BIC``). mclust 6.0 picks EEE with
3 components, BIC 2314.3; emkit picks the same model.
"""

# TODO(selection): replace the loop and the SimpleNamespace below by emkit.MixtureSelection
# once it is merged: sel = MixtureSelection(...).fit(X); plot_selection(sel).

from pathlib import Path
from types import SimpleNamespace

import numpy as np

from emkit import GaussianMixture
from emkit.plot import plot_classification, plot_density, plot_selection

here = Path(__file__).parent if "__file__" in globals() else Path.cwd()
X = np.loadtxt(here / "data" / "faithful.csv", delimiter=",", skiprows=1)
structures = ("full", "tied", "diag", "spherical")
ks = tuple(range(1, 7))
settings = {"n_init": 3, "tol": 1e-4, "max_iter": 200, "random_state": 0}


def bic_or_nan(k, covariance_type):
    """BIC of the best of 3 restarts; NaN for a singular fit.

    The waiting times are whole minutes, so a component can collapse onto one repeated value
    (a spike of unbounded density): its BIC is meaningless (mclust reports NA for such fits).
    """
    gm = GaussianMixture(k, covariance_type=covariance_type, **settings).fit(X)
    return gm.bic(X) if np.max(np.abs(gm.precisions_)) < 1e4 else np.nan


scores = np.array([[bic_or_nan(k, c) for k in ks] for c in structures])
r, c = np.unravel_index(np.nanargmin(scores), scores.shape)
selection = SimpleNamespace(
    covariance_types_=structures,
    n_components_range_=ks,
    scores_=scores,
    criterion_="bic",
    greater_is_better_=False,
    best_covariance_type_=structures[r],
    best_n_components_=ks[c],
)
print(f"best: {structures[r]} covariance, {ks[c]} components (BIC {scores[r, c]:.1f})")
plot_selection(selection)

# %%
# The selected model, its components and its density.
best = GaussianMixture(ks[c], covariance_type=structures[r], **settings).fit(X)
ax = plot_classification(best, X, feature_names=["eruption (min)", "waiting (min)"])

# %%
plot_density(best, X, feature_names=["eruption (min)", "waiting (min)"])
