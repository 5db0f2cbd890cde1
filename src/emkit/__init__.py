"""emkit: Expectation-Maximization for mixtures and hidden Markov models."""

from emkit._version import __version__
from emkit.exceptions import (
    DegenerateComponentWarning,
    ModelFileError,
    NotFittedError,
    ValidationError,
)
from emkit.io import load, save
from emkit.models.bernoulli_mixture import BernoulliMixture
from emkit.models.categorical_mixture import CategoricalMixture
from emkit.models.gaussian_mixture import GaussianMixture
from emkit.models.mixed_mixture import MixedMixture
from emkit.models.poisson_mixture import PoissonMixture

__all__ = [
    "BernoulliMixture",
    "CategoricalMixture",
    "DegenerateComponentWarning",
    "GaussianMixture",
    "MixedMixture",
    "ModelFileError",
    "NotFittedError",
    "PoissonMixture",
    "ValidationError",
    "__version__",
    "load",
    "save",
]
