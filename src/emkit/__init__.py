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
    "CategoricalMixture": "emkit.models.categorical_mixture",
    "DegenerateComponentWarning": "emkit.exceptions",
    "GaussianMixture": "emkit.models.gaussian_mixture",
    "MixedMixture": "emkit.models.mixed_mixture",
    "MixtureSelection": "emkit.models.selection",
    "ModelFileError": "emkit.exceptions",
    "NotFittedError": "emkit.exceptions",
    "PoissonMixture": "emkit.models.poisson_mixture",
    "ValidationError": "emkit.exceptions",
    "load": "emkit.io",
    "save": "emkit.io",
}

__all__ = [
    "BernoulliMixture",
    "CategoricalMixture",
    "DegenerateComponentWarning",
    "GaussianMixture",
    "MixedMixture",
    "MixtureSelection",
    "ModelFileError",
    "NotFittedError",
    "PoissonMixture",
    "ValidationError",
    "__version__",
    "load",
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
