"""Extreme deconvolution: GaussianMixture.fit(X, noise_covariance=S) (Bovy, Hogg & Roweis 2011).

Oracles: XD written out in NumPy row by row (``b_ik``, ``B_ik`` from explicit inverses, scipy's
densities) for every covariance type; astroML's XDGMM from the same parameters (when astroML is
installed); zero noise is the ordinary fit; chunked, memory-mapped and Dask fits equal the
in-memory one.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.special import logsumexp

from conftest import assert_close
from emkit import GaussianMixture, PoissonMixture, ValidationError
from emkit.families.covariance import use_kernels

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

K, D = 2, 2
TRUE_COVS = np.array([[[1.0, 0.3], [0.3, 0.5]], [[0.4, 0.0], [0.0, 0.8]]])
START_WEIGHTS = np.array([0.5, 0.5])
START_MEANS = np.array([[0.5, 0.5], [2.0, 0.0]])
START_COVS = np.stack([np.eye(D), 0.8 * np.eye(D)])
REG = 1e-6


def simulate(n, seed):
    rng = np.random.RandomState(seed)
    z = rng.randint(0, K, n)
    means = np.array([[0.0, 0.0], [3.0, 1.0]])
    true = np.array([rng.multivariate_normal(means[k], TRUE_COVS[k]) for k in z])
    A = rng.randn(n, D, D) * 0.5
    S = A @ A.transpose(0, 2, 1) + 0.05 * np.eye(D)
    X = true + np.einsum("nij,nj->ni", np.linalg.cholesky(S), rng.randn(n, D))
    return X, S


@pytest.fixture(scope="module")
def data():
    return simulate(300, 0)


def constrain(scatters, counts, covariance_type):
    """Each covariance structure's M-step from the per-component scatters / counts."""
    covs = scatters / counts[:, None, None]
    if covariance_type == "diag":
        covs = np.stack([np.diag(np.diag(c)) for c in covs])
    elif covariance_type == "spherical":
        covs = np.stack([np.trace(c) / D * np.eye(D) for c in covs])
    elif covariance_type == "tied":
        covs = np.tile(scatters.sum(axis=0) / counts.sum(), (K, 1, 1))
    return covs + REG * np.eye(D)


def start_covs(covariance_type):
    """The start covariances (one shared by both components when tied)."""
    return np.stack([START_COVS[0]] * K) if covariance_type == "tied" else START_COVS


def brute_force_xd(X, S, n_iter, covariance_type="full", labels=None):
    """XD by the equations of Bovy et al. (2011), one row and component at a time.

    Rows with ``labels >= 0`` keep a one-hot responsibility (a semi-supervised fit).
    """
    n = len(X)
    w, m, c, bounds = START_WEIGHTS, START_MEANS, start_covs(covariance_type), []
    for _ in range(n_iter):
        logp = np.array(
            [
                [stats.multivariate_normal.logpdf(X[i], m[k], c[k] + S[i]) for k in range(K)]
                for i in range(n)
            ]
        )
        joint = logp + np.log(w)
        log_norm = logsumexp(joint, axis=1)
        q = np.exp(joint - log_norm[:, None])
        if labels is not None:
            known = np.flatnonzero(labels >= 0)
            q[known] = np.eye(K)[labels[known]]
            log_norm[known] = joint[known, labels[known]]
        bounds.append(float(log_norm.mean()))
        b = np.empty((n, K, D))
        B = np.empty((n, K, D, D))
        for i in range(n):
            for k in range(K):
                gain = c[k] @ np.linalg.inv(c[k] + S[i])
                b[i, k] = m[k] + gain @ (X[i] - m[k])
                B[i, k] = c[k] - gain @ c[k]
        counts = q.sum(axis=0)
        w = counts / n
        m = np.einsum("ik,ikd->kd", q, b) / counts[:, None]
        scatters = np.stack(
            [
                sum(
                    q[i, k] * (np.outer(b[i, k] - m[k], b[i, k] - m[k]) + B[i, k]) for i in range(n)
                )
                for k in range(K)
            ]
        )
        c = constrain(scatters, counts, covariance_type)
    return w, m, c, bounds


def precisions_init(covariance_type):
    prec = np.linalg.inv(START_COVS)
    return {
        "full": prec,
        "tied": np.linalg.inv(START_COVS[0]),
        "diag": np.stack([np.diag(p) for p in prec]),
        "spherical": np.array([p[0, 0] for p in prec]),
    }[covariance_type]


def from_start(covariance_type="full", **kw):
    return GaussianMixture(
        K,
        covariance_type=covariance_type,
        weights_init=START_WEIGHTS,
        means_init=START_MEANS,
        precisions_init=precisions_init(covariance_type),
        **{"reg_covar": REG, "tol": 0.0, **kw},
    )


def dense(m):
    """The fitted covariances as (K, d, d) matrices, whatever the covariance type."""
    return np.stack([m._get_components().component_covariance(k) for k in range(K)])


@pytest.mark.parametrize("kernels", ["numba", "numpy"])
@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_matches_brute_force_xd(data, covariance_type, kernels):
    X, S = data
    n_iter = 4
    with use_kernels(kernels):
        m = from_start(covariance_type, max_iter=n_iter).fit(X, noise_covariance=S)
    w, means, covs, bounds = brute_force_xd(X, S, n_iter, covariance_type)
    assert_close(m.weights_, w, 1e-10, "weights_")
    assert_close(m.means_, means, 1e-10, "means_")
    assert_close(dense(m), covs, 1e-10, "covariances")
    assert_close(m.lower_bounds_, bounds, 1e-12, "lower_bounds_")


def test_scoring_uses_each_rows_noise(data):
    X, S = data
    m = from_start(max_iter=3).fit(X, noise_covariance=S)
    logp = np.column_stack(
        [
            [
                stats.multivariate_normal.logpdf(X[i], m.means_[k], m.covariances_[k] + S[i])
                for i in range(len(X))
            ]
            for k in range(K)
        ]
    ) + np.log(m.weights_)
    log_norm = logsumexp(logp, axis=1)
    assert_close(m.score_samples(X, noise_covariance=S), log_norm, 1e-12, "score_samples")
    assert_close(
        m.predict_proba(X, noise_covariance=S), np.exp(logp - log_norm[:, None]), 1e-10, "proba"
    )
    assert_close(m.score(X, noise_covariance=S), log_norm.mean(), 1e-12, "score")
    assert np.array_equal(m.predict(X, noise_covariance=S), logp.argmax(axis=1))


def test_variances_and_zero_noise(data):
    X, S = data
    variances = np.stack([np.diag(s) for s in S])
    a = from_start(max_iter=3).fit(X, noise_covariance=variances)
    b = from_start(max_iter=3).fit(X, noise_covariance=np.stack([np.diag(v) for v in variances]))
    assert_close(a.covariances_, b.covariances_, 1e-12, "diagonal noise")
    plain = from_start(max_iter=3).fit(X)
    zero = from_start(max_iter=3).fit(X, noise_covariance=np.zeros((len(X), D)))
    assert_close(zero.covariances_, plain.covariances_, 1e-10, "zero noise")
    assert_close(zero.lower_bounds_, plain.lower_bounds_, 1e-12, "zero noise bounds")


def test_chunked_memmap_and_dask_give_the_in_memory_fit(data, tmp_path):
    X, S = data
    ref = from_start(max_iter=3).fit(X, noise_covariance=S)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "S.npy", S)
    fits = [
        from_start(max_iter=3, chunk_size=41).fit(X, noise_covariance=S),
        from_start(max_iter=3, chunk_size=50).fit(
            np.load(tmp_path / "X.npy", mmap_mode="r"), noise_covariance=str(tmp_path / "S.npy")
        ),
    ]
    da = pytest.importorskip("dask.array")
    dX, dS = da.from_array(X, chunks=(70, D)), da.from_array(S, chunks=(70, D, D))
    dask_fit = from_start(max_iter=3).fit(dX, noise_covariance=dS)
    fits.append(dask_fit)
    for fit in fits:
        assert_close(fit.means_, ref.means_, 1e-10, "means_")
        assert_close(fit.covariances_, ref.covariances_, 1e-10, "covariances_")
        assert_close(fit.lower_bounds_, ref.lower_bounds_, 1e-12, "lower_bounds_")
    lazy = dask_fit.predict_proba(dX, noise_covariance=dS).compute()
    assert_close(lazy, ref.predict_proba(X, noise_covariance=S), 1e-10, "dask predict_proba")


def test_matches_astroml_xdgmm(data):
    xd = pytest.importorskip("astroML.density_estimation")
    X, S = data
    n_iter = 5
    model = xd.XDGMM(K)
    model.alpha, model.mu, model.V = START_WEIGHTS.copy(), START_MEANS.copy(), START_COVS.copy()
    for _ in range(n_iter):
        model._EMstep(X, S)
    m = from_start(max_iter=n_iter, reg_covar=0.0).fit(X, noise_covariance=S)
    assert_close(m.weights_, model.alpha, 1e-6, "weights_")
    assert_close(m.means_, model.mu, 1e-6, "means_")
    assert_close(m.covariances_, model.V, 1e-6, "covariances_")
    assert_close(m.score(X, noise_covariance=S) * len(X), model.logL(X, S), 1e-6, "logL")


def test_recovers_the_deconvolved_covariances():
    X, S = simulate(3000, 1)
    m = GaussianMixture(K, means_init=[[0.0, 0.0], [3.0, 1.0]], tol=1e-8, max_iter=300)
    m.fit(X, noise_covariance=S)
    assert_close(m.covariances_, TRUE_COVS, 0.15, "deconvolved covariances")
    naive = GaussianMixture(K, means_init=[[0.0, 0.0], [3.0, 1.0]]).fit(X)
    assert np.trace(naive.covariances_[0]) > np.trace(TRUE_COVS[0]) + 0.2  # inflated by noise


@pytest.mark.parametrize(
    ("S", "match"),
    [
        (np.zeros((299, D, D)), "noise_covariance has shape"),
        (np.zeros((300, 3)), "noise_covariance has shape"),
        (np.tile([[1.0, 2.0], [2.0, 1.0]], (300, 1, 1)), r"noise_covariance\[0\] is not positive"),
        (np.tile([[1.0, 0.5], [0.0, 1.0]], (300, 1, 1)), r"noise_covariance\[0\] is not symmetric"),
        (np.full((300, D), -1.0), "negative variance"),
        (np.full((300, D), np.nan), "NaN or infinity"),
    ],
)
def test_bad_noise_covariances_are_clear_errors(data, S, match):
    X, _ = data
    m = from_start(max_iter=2).fit(X)
    before = m.means_.copy()
    with pytest.raises(ValidationError, match=match):
        m.fit(X, noise_covariance=S)
    assert np.array_equal(m.means_, before)


def test_other_families_reject_noise_covariances():
    X = np.random.RandomState(0).poisson(3.0, size=(50, 2)).astype(float)
    with pytest.raises(TypeError, match="noise_covariance is not supported by PoissonMixture"):
        PoissonMixture(2).fit(X, noise_covariance=np.ones((50, 2)))


def test_partial_fit_step_is_one_xd_iteration(data):
    X, S = data
    step = from_start().partial_fit(X, noise_covariance=S)
    _, means, covs, _ = brute_force_xd(X, S, 1)
    assert_close(step.means_, means, 1e-10, "means_")
    assert_close(step.covariances_, covs, 1e-10, "covariances_")


def test_labelled_rows_with_noise_match_brute_force(data):
    X, S = data
    labels = np.full(len(X), -1)
    labels[:10], labels[-10:] = 0, 1
    m = from_start(max_iter=3).fit(X, noise_covariance=S, labels=labels)
    w, means, covs, bounds = brute_force_xd(X, S, 3, labels=labels)
    assert_close(m.weights_, w, 1e-10, "weights_")
    assert_close(m.means_, means, 1e-10, "means_")
    assert_close(m.covariances_, covs, 1e-10, "covariances_")
    assert_close(m.lower_bounds_, bounds, 1e-12, "lower_bounds_")
