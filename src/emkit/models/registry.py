"""The estimators that model files may hold: an explicit allow-list, by class name.

:func:`emkit.io.load` builds a model only from a class listed here (never from a name
imported dynamically from the file). A new estimator becomes saveable by adding it to
``ESTIMATORS`` and implementing ``_check_fitted_state`` (and, if it keeps fitted state in
private attributes, listing them in a ``_saved_private`` class attribute).
"""

from __future__ import annotations

from emkit.models.bernoulli_mixture import BernoulliMixture
from emkit.models.binned_mixture import BinnedGaussianMixture
from emkit.models.categorical_mixture import CategoricalMixture
from emkit.models.gaussian_mixture import GaussianMixture
from emkit.models.hmm_discrete import CategoricalHMM, PoissonHMM
from emkit.models.hmm_gaussian import GaussianHMM
from emkit.models.hmm_gmm import GMMHMM
from emkit.models.mixed_mixture import MixedMixture
from emkit.models.poisson_mixture import PoissonMixture

__all__ = ["ESTIMATORS"]

#: Class name (the ``kind`` stored in a model file) -> estimator class.
ESTIMATORS = {
    cls.__name__: cls
    for cls in (
        GaussianMixture,
        PoissonMixture,
        BernoulliMixture,
        CategoricalMixture,
        MixedMixture,
        BinnedGaussianMixture,
        GaussianHMM,
        GMMHMM,
        CategoricalHMM,
        PoissonHMM,
    )
}
