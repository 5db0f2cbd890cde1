"""Errors and warnings raised by emkit."""

from __future__ import annotations

from sklearn.exceptions import NotFittedError

__all__ = ["DegenerateComponentWarning", "ModelFileError", "NotFittedError", "ValidationError"]


class ValidationError(ValueError):
    """An argument has the wrong shape, type, range or value; the message names it."""


class ModelFileError(ValidationError):
    """A saved model file is missing, corrupt, or of an unsupported format version."""


class DegenerateComponentWarning(UserWarning):
    """A component emptied or collapsed during a fit and was repaired."""
