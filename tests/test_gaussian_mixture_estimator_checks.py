"""scikit-learn's estimator checks (check_estimator) on emkit.GaussianMixture."""

from __future__ import annotations

from sklearn.utils.estimator_checks import parametrize_with_checks

from emkit import GaussianMixture

# No check is expected to fail. scikit-learn itself skips two of them in this environment:
# check_sample_weights_pandas_series (pandas is not a dependency of emkit) and
# check_array_api_input (needs SCIPY_ARRAY_API=1; emkit computes with NumPy only).
EXPECTED_FAILED_CHECKS = {}


@parametrize_with_checks(
    [GaussianMixture(), GaussianMixture(covariance_type="diag", chunk_size=7)],
    expected_failed_checks=lambda estimator: EXPECTED_FAILED_CHECKS,
    xfail_strict=True,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
