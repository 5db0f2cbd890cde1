"""emkit: Expectation-Maximization for mixtures and hidden Markov models."""

from emkit._version import __version__
from emkit.exceptions import (
    DegenerateComponentWarning,
    ModelFileError,
    NotFittedError,
    ValidationError,
)
from emkit.io import load, save
from emkit.models.gaussian_mixture import GaussianMixture

__all__ = [
    "DegenerateComponentWarning",
    "GaussianMixture",
    "ModelFileError",
    "NotFittedError",
    "ValidationError",
    "__version__",
    "load",
    "save",
]
