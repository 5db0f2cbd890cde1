"""emkit: Expectation-Maximization for mixtures and hidden Markov models.

The public names are loaded on first use (module ``__getattr__``), so ``import emkit`` reads
no scikit-learn, numba or Dask and compiles nothing; ``from emkit import GaussianMixture``
works as usual.
"""

import importlib

from emkit._version import __version__

#: Public name -> module that defines it.
_LAZY = {
    "BernoulliMixture": "emkit.models.bernoulli_mixture",
    "BinnedGaussianMixture": "emkit.models.binned_mixture",
    "CategoricalMixture": "emkit.models.categorical_mixture",
    "DegenerateComponentWarning": "emkit.exceptions",
    "GaussianMixture": "emkit.models.gaussian_mixture",
    "MixedMixture": "emkit.models.mixed_mixture",
    "MixtureSelection": "emkit.models.selection",
    "ModelFileError": "emkit.exceptions",
    "NotFittedError": "emkit.exceptions",
    "PeakFit": "emkit.models.peaks",
    "PoissonMixture": "emkit.models.poisson_mixture",
    "ValidationError": "emkit.exceptions",
    "bins_from_centres": "emkit.models.binned_mixture",
    "bins_from_edges": "emkit.models.binned_mixture",
    "load": "emkit.io",
    "progress_bars": "emkit.engine.progress",
    "save": "emkit.io",
}

__all__ = [
    "BernoulliMixture",
    "BinnedGaussianMixture",
    "CategoricalMixture",
    "DegenerateComponentWarning",
    "GaussianMixture",
    "MixedMixture",
    "MixtureSelection",
    "ModelFileError",
    "NotFittedError",
    "PeakFit",
    "PoissonMixture",
    "ValidationError",
    "__version__",
    "bins_from_centres",
    "bins_from_edges",
    "load",
    "progress_bars",
    "save",
]


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'emkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
