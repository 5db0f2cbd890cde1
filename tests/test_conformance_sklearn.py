"""scikit-learn's own GaussianMixture tests, run against ``emkit.GaussianMixture``.

The test modules that ship inside the installed scikit-learn (``sklearn/mixture/tests``) are
imported and their tests re-exported here, with the name ``GaussianMixture`` in those modules
bound to emkit's class. Nothing of scikit-learn's test code is copied. Tests that cannot apply
(they exercise scikit-learn's private functions, or ``BayesianGaussianMixture``) or that
contradict a documented emkit difference (README, "Differences from scikit-learn") are listed
below with the reason, and skipped.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import sklearn.mixture

import emkit

MODULES = ("test_gaussian_mixture", "test_mixture")

# The modules are imported while ``sklearn.mixture.GaussianMixture`` is emkit's, so that the
# estimators their parametrize lists build at import time are emkit's too.
_original = sklearn.mixture.GaussianMixture
sklearn.mixture.GaussianMixture = emkit.GaussianMixture
try:
    _loaded = {n: importlib.import_module(f"sklearn.mixture.tests.{n}") for n in MODULES}
finally:
    sklearn.mixture.GaussianMixture = _original
for _module in _loaded.values():
    _module.GaussianMixture = emkit.GaussianMixture

_PRIVATE = "calls scikit-learn's private {} directly; nothing of emkit runs in it"

# ``module::test``: why it cannot apply to emkit's class.
NOT_APPLICABLE = {
    "test_gaussian_mixture::test_gaussian_mixture_precisions_init": (
        "sets parameters through scikit-learn's private GaussianMixture._set_parameters"
    ),
    "test_gaussian_mixture::test_gaussian_mixture_all_init_does_not_estimate_gaussian_parameters": (
        "mocks scikit-learn's private _estimate_gaussian_parameters to count its calls"
    ),
}
for _name in (
    "test_suffstat_sk_full",
    "test_suffstat_sk_tied",
    "test_suffstat_sk_diag",
    "test_suffstat_sk_spherical",
    "test_compute_log_det_cholesky",
    "test_gaussian_mixture_log_probabilities",
):
    NOT_APPLICABLE.setdefault(
        f"test_gaussian_mixture::{_name}", _PRIVATE.format("estimation helpers")
    )

# ``module::test``: the documented emkit difference it contradicts.
DIFFERENCES = {
    "test_gaussian_mixture::test_check_weights": (
        "scikit-learn's range message reports the minimum as 'max value' and the maximum as "
        "'min value'; emkit labels them the right way round (the shape and normalisation "
        "messages are scikit-learn's, and pass)"
    ),
    "test_gaussian_mixture::test_regularisation": (
        "scikit-learn raises on a collapsed covariance; emkit repairs it with the smallest "
        "diagonal jitter and a DegenerateComponentWarning (README, Differences from "
        "scikit-learn)"
    ),
}


@pytest.fixture
def global_random_seed():
    """scikit-learn's default test seed (its plugin's value when no seed range is set)."""
    return 42


@pytest.fixture(params=[np.float64])
def global_dtype(request):
    """scikit-learn runs its float32 variants only on request; so does this module."""
    return request.param


def _export():
    for module_name, module in _loaded.items():
        for name, obj in vars(module).items():
            if not name.startswith("test_") or not callable(obj):
                continue
            key = f"{module_name}::{name}"
            reason = NOT_APPLICABLE.get(key) or DIFFERENCES.get(key)
            if reason:
                obj = pytest.mark.skip(reason=reason)(obj)
            globals()[f"test_{module_name[5:]}__{name[5:]}"] = obj


_export()
