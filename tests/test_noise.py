"""A uniform noise component (mclust's ``Vinv``) beside the Gaussians of GaussianMixture.

Oracle: EM written out in NumPy with one more column of constant density ``Vinv``; the
criteria count the noise weight; the noise share of sampled data is recovered.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.special import logsumexp, softmax

from conftest import assert_close
from emkit import GaussianMixture, ValidationError

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

K, REG = 2, 1e-6
START_MEANS = np.array([[0.5, 0.5], [3.0, 0.0]])
START_COVS = np.stack([np.eye(2), 0.5 * np.eye(2)])
START_WEIGHTS = np.array([0.45, 0.45, 0.1])


def simulate(seed, n_noise=60):
    rng = np.random.RandomState(seed)
    return np.concatenate(
        [
            rng.randn(300, 2),
            rng.randn(200, 2) * 0.5 + np.array([4.0, 1.0]),
            rng.uniform(-10, 10, size=(n_noise, 2)),
        ]
    )


def noise_em(X, n_iter, log_vinv):
    """EM of two full Gaussians and a uniform density, the noise last."""
    weights, means, covs, bounds = START_WEIGHTS, START_MEANS, START_COVS, []
    for _ in range(n_iter):
        dens = [stats.multivariate_normal.logpdf(X, m, c) for m, c in zip(means, covs, strict=True)]
        joint = np.column_stack([*dens, np.full(len(X), log_vinv)]) + np.log(weights)
        bounds.append(float(logsumexp(joint, axis=1).mean()))
        resp = softmax(joint, axis=1)
        weights = resp.mean(axis=0)
        n_k = resp[:, :K].sum(axis=0)
        means = resp[:, :K].T @ X / n_k[:, None]
        covs = np.stack(
            [
                (resp[:, k, None] * (X - means[k])).T @ (X - means[k]) / n_k[k] + REG * np.eye(2)
                for k in range(K)
            ]
        )
    return weights, means, covs, bounds


def from_start(noise, **kw):
    return GaussianMixture(
        K,
        noise=noise,
        weights_init=START_WEIGHTS,
        means_init=START_MEANS,
        precisions_init=np.linalg.inv(START_COVS),
        **{"reg_covar": REG, "tol": 0.0, **kw},
    )


@pytest.mark.parametrize("noise", [True, 1 / 500])
def test_matches_numpy_em_with_a_uniform_column(noise):
    X = simulate(0)
    m = from_start(noise, max_iter=8).fit(X)
    volume = np.prod(X.max(axis=0) - X.min(axis=0))
    log_vinv = -np.log(volume) if noise is True else np.log(noise)
    weights, means, covs, bounds = noise_em(X, 8, log_vinv)
    assert_close(m.noise_vinv_, np.exp(log_vinv), 1e-12, "noise_vinv_")
    assert_close(m.weights_, weights, 1e-10, "weights_")
    assert_close(m.means_, means, 1e-10, "means_")
    assert_close(m.covariances_, covs, 1e-10, "covariances_")
    assert_close(m.lower_bounds_, bounds, 1e-12, "lower_bounds_")


def test_chunked_fit_and_criteria_count_the_noise_weight():
    X = simulate(1)
    m = from_start(True, max_iter=5).fit(X)
    chunked = from_start(True, max_iter=5, chunk_size=64).fit(X)
    assert_close(chunked.means_, m.means_, 1e-10, "means_")
    n_params = K * 2 + K * 3 + K  # means, full covariances, K free weights of K + 1
    assert m._n_parameters() == n_params
    ll = m.score(X) * len(X)
    assert_close(m.bic(X), -2 * ll + n_params * np.log(len(X)), 1e-12, "bic")
    assert m.predict_proba(X).shape == (len(X), K + 1)


def test_recovers_the_noise_share_and_labels_outliers():
    X = simulate(2, n_noise=100)
    m = from_start(True, max_iter=200, tol=1e-8).fit(X)
    # 100 uniform rows of 600, a few of which fall on the clusters.
    assert abs(m.weights_[-1] - 100 / 600) < 0.03
    assert_close(m.means_, [[0.0, 0.0], [4.0, 1.0]], 0.05, "means_")
    assert m.predict(np.array([[9.0, -9.0]]))[0] == K
    assert m.predict(np.array([[4.0, 1.0]]))[0] == 1
    _, y = m.sample(2000)
    assert abs(np.mean(y == K) - m.weights_[-1]) < 0.03


@pytest.mark.parametrize(
    ("noise", "X", "match"),
    [
        (-1.0, simulate(0), "noise must be a finite number > 0"),
        (True, np.column_stack([simulate(0)[:, 0], np.ones(560)]), "column 1 is constant"),
        (True, np.where(np.arange(1120).reshape(560, 2) == 7, np.nan, simulate(0)), "missing"),
    ],
)
def test_bad_noise_settings_are_clear_errors(noise, X, match):
    with pytest.raises(ValidationError, match=match):
        GaussianMixture(K, noise=noise).fit(X)


def test_model_file_round_trip(tmp_path):
    from emkit.io import model_file

    X = simulate(3)
    m = from_start(True, max_iter=3).fit(X)
    model_file.save(m, tmp_path / "m.emkit")
    back = model_file.load(tmp_path / "m.emkit")
    assert back.noise_vinv_ == m.noise_vinv_
    assert np.array_equal(back.predict_proba(X), m.predict_proba(X))
