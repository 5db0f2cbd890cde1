"""emkit: Expectation-Maximization for mixtures and hidden Markov models."""

from emkit.exceptions import (
    DegenerateComponentWarning,
    ModelFileError,
    NotFittedError,
    ValidationError,
)
from emkit.io import load, save
from emkit.models.gaussian_mixture import GaussianMixture

__version__ = "0.1.0"

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
