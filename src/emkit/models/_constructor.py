"""Subclass constructors hand the hyperparameters their base class sets on, in one call."""

from __future__ import annotations


def passed_on(arguments, names):
    """The entries ``names`` of a constructor's ``locals()``, as keyword arguments."""
    return {name: arguments[name] for name in names}
