"""hmmlearn's own test suite, run against emkit's HMM classes.

The test modules that ship inside the installed hmmlearn (``hmmlearn/tests``) are imported and
their tests re-exported here; while each runs, the names those modules use for hmmlearn's
estimators (``hmm``, ``GMMHMM``, ``ConvergenceMonitor``) are replaced by emkit's. Nothing of
hmmlearn's test code is copied. Tests that cannot apply to emkit, or that contradict a
documented difference (README, "Differences from hmmlearn"), are listed in ``NOT_APPLICABLE``
and ``DIFFERENCES`` with the reason.
"""

from __future__ import annotations

import importlib
import types

import numpy as np
import pytest

pytest.importorskip("hmmlearn")

import emkit.hmm as emkit_hmm  # noqa: E402

_errors = np.geterr()
hmmlearn_tests = importlib.import_module("hmmlearn.tests")  # sets np.seterr(all="warn")
np.seterr(**_errors)

MODULES = (
    "test_base",
    "test_categorical_hmm",
    "test_gaussian_hmm",
    "test_gmm_hmm",
    "test_gmm_hmm_new",
    "test_gmm_hmm_multisequence",
    "test_poisson_hmm",
)
_loaded = {name: importlib.import_module(f"hmmlearn.tests.{name}") for name in MODULES}
np.seterr(**_errors)

# What each hmmlearn test module calls hmmlearn's estimators, and emkit's replacement.
SUBSTITUTES = {
    "hmm": emkit_hmm,
    "GMMHMM": emkit_hmm.GMMHMM,
    "ConvergenceMonitor": emkit_hmm.ConvergenceMonitor,
}

NOT_APPLICABLE = {}
DIFFERENCES = {}


def _export():
    """Put every test class and function of the hmmlearn modules into this module."""
    exported = {}
    for short, module in _loaded.items():
        prefix = short.removeprefix("test_")
        for name, obj in vars(module).items():
            if getattr(obj, "__module__", None) != module.__name__:
                continue
            if isinstance(obj, type) and name.startswith("Test"):
                new = f"Test_{prefix}_{name[4:]}"
                exported[new] = type(new, (obj,), {"__module__": __name__, "_origin": module})
            elif isinstance(obj, types.FunctionType) and name.startswith("test"):
                exported[f"test_{prefix}_{name[5:]}"] = obj
    return exported


globals().update(_export())


@pytest.fixture(autouse=True)
def _emkit_classes(request, monkeypatch):
    """Run the hmmlearn test with emkit's classes in place of hmmlearn's."""
    module = getattr(request.cls, "_origin", None) or request.module
    func = request.function
    module = _loaded.get(func.__module__.rsplit(".", 1)[-1], module)
    for name, value in SUBSTITUTES.items():
        if hasattr(module, name):
            monkeypatch.setattr(module, name, value)
    np.random.seed(0)
    yield
