"""GaussianMixture on data with missing (NaN) values: exact EM of the observed values.

The oracles are scipy.stats marginal densities and a brute-force NumPy implementation of the
missing-data EM written here, row by row (Ghahramani & Jordan, 1994): for each row and
component, the marginal density of the observed coordinates, the conditional mean of the
missing ones and their conditional covariance.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from scipy.optimize import linear_sum_assignment
from sklearn.exceptions import ConvergenceWarning

from emkit import GaussianMixture, ValidationError
from emkit.families.covariance import STRATEGIES, use_kernels
from emkit.families.gaussian import GaussianFamily, GaussianParams
from emkit.kernels import gaussian_missing_numba, gaussian_missing_numpy

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")


def _data(n=240, d=3, K=2, missing=0.25, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=3.0, size=(K, d))
    A = rng.normal(size=(K, d, d)) * 0.6
    cov = A @ A.transpose(0, 2, 1) + 0.5 * np.eye(d)
    labels = rng.integers(K, size=n)
    X = np.stack([rng.multivariate_normal(centres[k], cov[k]) for k in labels])
    Xm = X.copy()
    Xm[rng.uniform(size=X.shape) < missing] = np.nan
    Xm[np.isnan(Xm).all(axis=1), 0] = X[np.isnan(Xm).all(axis=1), 0]
    return Xm, centres, cov, labels


def _dense(model, k):
    strat = STRATEGIES[model.covariance_type]
    return strat.component_covariance(model.covariances_, k, model.means_.shape[1])


def _start(ct, d, K, seed=1):
    """Initial parameters of every covariance type (means, precisions, weights)."""
    rng = np.random.default_rng(seed)
    means = rng.normal(scale=2.0, size=(K, d))
    A = rng.normal(size=(K, d, d)) * 0.5
    full = A @ A.transpose(0, 2, 1) + np.eye(d)
    cov = {
        "full": full,
        "tied": full[0],
        "diag": np.stack([np.diag(c) for c in full]),
        "spherical": np.array([np.trace(c) / d for c in full]),
    }[ct]
    weights = rng.dirichlet(np.full(K, 5.0))
    prec = GaussianParams.from_covariances(means, cov, ct).precisions()
    return weights, means, cov, prec


def _brute_force_em(X, w, weights, means, cov, ct, reg_covar):
    """One EM iteration of the missing-data Gaussian mixture, row by row."""
    n, d = X.shape
    K = len(weights)
    strat = STRATEGIES[ct]
    dense = [strat.component_covariance(cov, k, d) for k in range(K)]
    resp = np.zeros((n, K))
    xhat = np.zeros((n, K, d))
    chat = np.zeros((n, K, d, d))
    ll = np.zeros(n)
    for i in range(n):
        o = ~np.isnan(X[i])
        m = ~o
        logp = np.empty(K)
        for k in range(K):
            S, mu = dense[k], means[k]
            Soo = S[np.ix_(o, o)]
            logp[k] = np.log(weights[k]) + stats.multivariate_normal(mu[o], Soo).logpdf(X[i, o])
            B = S[np.ix_(m, o)] @ np.linalg.inv(Soo)
            xhat[i, k, o] = X[i, o]
            xhat[i, k, m] = mu[m] + B @ (X[i, o] - mu[o])
            chat[i, k][np.ix_(m, m)] = S[np.ix_(m, m)] - B @ S[np.ix_(o, m)]
        ll[i] = np.logaddexp.reduce(logp)
        resp[i] = np.exp(logp - ll[i])
    wr = resp * w[:, None]
    Nk = wr.sum(axis=0)
    new_means = np.einsum("ik,ikd->kd", wr, xhat) / Nk[:, None]
    scat = np.zeros((K, d, d))
    for k in range(K):
        e = xhat[:, k] - new_means[k]
        scat[k] = np.einsum("i,ia,ib->ab", wr[:, k], e, e) + np.einsum(
            "i,iab->ab", wr[:, k], chat[:, k]
        )
    full = scat / Nk[:, None, None] + reg_covar * np.eye(d)
    new_cov = {
        "full": full,
        "tied": scat.sum(axis=0) / Nk.sum() + reg_covar * np.eye(d),
        "diag": np.stack([np.diag(c) for c in full]),
        "spherical": np.array([np.trace(c) / d for c in full]),
    }[ct]
    return Nk / Nk.sum(), new_means, new_cov, float(np.dot(w, ll) / w.sum())


def _one_iteration(X, ct, start, **kwargs):
    weights, means, _, prec = start
    model = GaussianMixture(
        len(weights),
        covariance_type=ct,
        max_iter=1,
        weights_init=weights,
        means_init=means,
        precisions_init=prec,
        **kwargs,
    )
    return model


@pytest.mark.parametrize("ct", COVARIANCE_TYPES)
def test_score_samples_is_the_mixture_of_scipy_marginals(ct):
    X, *_ = _data(n=120)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = GaussianMixture(2, covariance_type=ct, max_iter=5, random_state=0).fit(X)
    expected = np.empty(len(X))
    for i, x in enumerate(X):
        o = ~np.isnan(x)
        dens = [
            model.weights_[k]
            * stats.multivariate_normal(model.means_[k, o], _dense(model, k)[np.ix_(o, o)]).pdf(
                x[o]
            )
            for k in range(2)
        ]
        expected[i] = np.log(np.sum(dens))
    assert np.isnan(X).any(axis=1).mean() > 0.4
    np.testing.assert_allclose(model.score_samples(X), expected, rtol=1e-10, atol=1e-12)
    resp = model.predict_proba(X)
    np.testing.assert_allclose(resp.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(model.predict(X), resp.argmax(axis=1))
    assert model.score(X) == pytest.approx(expected.mean(), rel=1e-12)
    n_par = model._n_parameters()
    assert model.bic(X) == pytest.approx(-2 * expected.sum() + n_par * np.log(len(X)), rel=1e-12)
    assert model.aic(X) == pytest.approx(-2 * expected.sum() + 2 * n_par, rel=1e-12)


@pytest.mark.parametrize("kernels", ["numba", "numpy"])
@pytest.mark.parametrize("ct", COVARIANCE_TYPES)
def test_one_em_iteration_matches_brute_force(ct, kernels):
    X, *_ = _data(n=90, d=3, K=2, missing=0.3, seed=2)
    w = np.random.default_rng(3).uniform(0.2, 2.0, size=len(X))
    start = _start(ct, 3, 2)
    weights, means, cov, ll = _brute_force_em(X, w, start[0], start[1], start[2], ct, 1e-6)
    with use_kernels(kernels), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for chunk in (None, 7):
            model = _one_iteration(X, ct, start, chunk_size=chunk).fit(X, sample_weight=w)
            np.testing.assert_allclose(model.weights_, weights, rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(model.means_, means, rtol=1e-10, atol=1e-10)
            np.testing.assert_allclose(model.covariances_, cov, rtol=1e-10, atol=1e-10)
            assert model.lower_bound_ == pytest.approx(ll, rel=1e-10)


def test_kernels_agree_and_reduce_to_the_complete_data_statistics():
    rng = np.random.default_rng(4)
    n, d, K = 700, 6, 3
    X = rng.normal(size=(n, d))
    means = rng.normal(size=(K, d))
    A = rng.normal(size=(K, d, d))
    cov = A @ A.transpose(0, 2, 1) + np.eye(d)
    log_w = np.log(np.array([0.2, 0.3, 0.5]))
    params = GaussianParams.from_covariances(means, cov, "full")
    family = GaussianFamily("full")
    # Nothing missing: the missing-value kernels give the fused kernel's statistics.
    order, starts = gaussian_missing_numpy.missing_patterns(np.isnan(X))
    ll, counts, sums, scat, score, index = gaussian_missing_numba.mixture_estep(
        X, np.empty(0), order, starts, means, cov, log_w
    )
    ll0, stats0, score0, index0 = family.expect_mixture(params, log_w, X, None)
    assert ll == pytest.approx(ll0, rel=1e-12)
    np.testing.assert_allclose(counts, stats0.counts, rtol=1e-11)
    np.testing.assert_allclose(sums, stats0.sums, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(scat, stats0.scatter, rtol=1e-10, atol=1e-9)
    assert (score, index) == (pytest.approx(score0, rel=1e-12), index0)
    # Missing values (many patterns, some rows alone in theirs): the twins agree.
    X[rng.uniform(size=X.shape) < 0.35] = np.nan
    order, starts = gaussian_missing_numpy.missing_patterns(np.isnan(X))
    w = rng.uniform(size=n)
    for shared in (cov, cov[:1]):
        a = gaussian_missing_numba.mixture_estep(X, w, order, starts, means, shared, log_w)
        b = gaussian_missing_numpy.mixture_estep(X, w, order, starts, means, shared, log_w)
        for x, y in zip(a, b, strict=True):
            np.testing.assert_allclose(x, y, rtol=1e-10, atol=1e-10)
    diag = cov * np.eye(d)
    a = gaussian_missing_numba.mixture_estep(X, w, order, starts, means, diag, log_w, True)
    b = gaussian_missing_numpy.mixture_estep(X, w, order, starts, means, diag, log_w, True)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-10, atol=1e-10)
    R = rng.uniform(size=(n, K))
    for c, flag in ((cov, False), (diag, True)):
        a = gaussian_missing_numba.scatter(X, R, order, starts, means, c, flag)
        b = gaussian_missing_numpy.scatter(X, R, order, starts, means, c, flag)
        for x, y in zip(a, b, strict=True):
            np.testing.assert_allclose(x, y, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(
        gaussian_missing_numba.log_prob(X, order, starts, means, cov),
        gaussian_missing_numpy.log_prob(X, order, starts, means, cov),
        rtol=1e-12,
    )


def test_patterns_group_rows_for_many_features():
    rng = np.random.default_rng(5)
    miss = rng.uniform(size=(50, 70)) < 0.02
    miss[10] = miss[3]
    order, starts = gaussian_missing_numpy.missing_patterns(miss)
    assert sorted(order.tolist()) == list(range(50))
    for p in range(len(starts) - 1):
        rows = order[starts[p] : starts[p + 1]]
        assert (miss[rows] == miss[rows[0]]).all()
    assert len(starts) - 1 == len({r.tobytes() for r in miss})


@pytest.mark.parametrize("ct", COVARIANCE_TYPES)
def test_observed_log_likelihood_never_decreases(ct):
    X, *_ = _data(n=300, d=4, K=3, missing=0.3, seed=6)
    model = GaussianMixture(3, covariance_type=ct, tol=0, max_iter=25, random_state=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X)
    bounds = np.array(model.lower_bounds_)
    assert np.all(np.diff(bounds) >= -1e-12 * np.abs(bounds[1:]))


def test_data_without_nan_never_takes_the_missing_value_path(monkeypatch):
    X, *_ = _data(n=200, missing=0.0)
    expected = GaussianMixture(2, random_state=0).fit(X)

    def refuse(*args, **kwargs):
        raise AssertionError("the missing-value path ran on complete data")

    monkeypatch.setattr(GaussianFamily, "_expect_missing", refuse)
    monkeypatch.setattr(gaussian_missing_numba, "log_prob", refuse)
    model = GaussianMixture(2, random_state=0).fit(X)
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        np.testing.assert_array_equal(getattr(model, name), getattr(expected, name))
    assert model.lower_bounds_ == expected.lower_bounds_
    np.testing.assert_array_equal(model.score_samples(X), expected.score_samples(X))


def _matched_errors(model, centres, cov):
    dist = ((model.means_[:, None, :] - centres[None]) ** 2).sum(axis=2)
    rows, cols = linear_sum_assignment(dist)
    mean_err = max(
        np.abs(model.means_[r] - centres[c]).max() for r, c in zip(rows, cols, strict=True)
    )
    cov_err = max(np.abs(_dense(model, r) - cov[c]).max() for r, c in zip(rows, cols, strict=True))
    return mean_err, cov_err


@pytest.mark.parametrize("missing", [0.1, 0.4])
def test_fit_recovers_the_generating_parameters_better_than_mean_imputation(missing):
    X, centres, cov, _ = _data(n=3000, d=3, K=2, missing=missing, seed=7)
    exact = GaussianMixture(2, n_init=2, random_state=0).fit(X)
    filled = np.where(np.isnan(X), np.nanmean(X, axis=0), X)
    naive = GaussianMixture(2, n_init=2, random_state=0).fit(filled)
    exact_err = _matched_errors(exact, centres, cov)
    naive_err = _matched_errors(naive, centres, cov)
    # Sampling error of 3000 rows (the complete data give 0.08 and 0.13 here).
    assert exact_err[0] < 0.25 and exact_err[1] < 0.12 * np.abs(cov).max(), exact_err
    assert exact_err[0] < naive_err[0] and exact_err[1] < naive_err[1], (exact_err, naive_err)


def test_impute_gives_the_conditional_expectation():
    X, *_ = _data(n=200, d=3, K=2, missing=0.3, seed=8)
    model = GaussianMixture(2, random_state=0).fit(X)
    out = model.impute(X)
    seen = ~np.isnan(X)
    np.testing.assert_array_equal(out[seen], X[seen])
    resp = model.predict_proba(X)
    for i in np.flatnonzero((~seen).any(axis=1))[:20]:
        o, m = seen[i], ~seen[i]
        expected = 0.0
        for k in range(2):
            S, mu = _dense(model, k), model.means_[k]
            cond = mu[m] + S[np.ix_(m, o)] @ np.linalg.solve(S[np.ix_(o, o)], X[i, o] - mu[o])
            expected = expected + resp[i, k] * cond
        np.testing.assert_allclose(out[i, m], expected, rtol=1e-10, atol=1e-12)
    # Draws: reproducible, observed values kept, centred on the conditional expectation.
    row = np.repeat(X[np.flatnonzero(~seen[:, 0] & seen[:, 1:].all(axis=1))[:1]], 4000, axis=0)
    draws = model.impute(row, method="sample", random_state=0)
    again = model.impute(row, method="sample", random_state=0)
    np.testing.assert_array_equal(draws, again)
    np.testing.assert_array_equal(draws[:, 1:], row[:, 1:])
    mean = model.impute(row[:1])[0, 0]
    spread = draws[:, 0].std()
    assert abs(draws[:, 0].mean() - mean) < 4 * spread / np.sqrt(len(row))
    with pytest.raises(ValidationError, match="method"):
        model.impute(X, method="median")


def test_streamed_and_dask_fits_equal_the_in_memory_fit(tmp_path):
    X, *_ = _data(n=400, d=3, K=2, missing=0.2, seed=9)
    kwargs = {"random_state": 0, "chunk_size": 64, "max_iter": 20, "tol": 0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        memory = GaussianMixture(2, **kwargs).fit(X)
        np.save(tmp_path / "x.npy", X)
        mapped = GaussianMixture(2, **kwargs).fit(str(tmp_path / "x.npy"))
        da = pytest.importorskip("dask.array")
        remote = GaussianMixture(2, **kwargs).fit(da.from_array(X, chunks=(64, 3)))
    for other in (mapped, remote):
        np.testing.assert_allclose(other.means_, memory.means_, rtol=1e-10)
        np.testing.assert_allclose(other.covariances_, memory.covariances_, rtol=1e-10)
        np.testing.assert_allclose(other.lower_bounds_, memory.lower_bounds_, rtol=1e-10)


def test_partial_fit_and_float32_accept_missing_values():
    X, *_ = _data(n=400, d=3, K=2, missing=0.2, seed=10)
    model = GaussianMixture(2, random_state=0)
    for start in range(0, 400, 100):
        model.partial_fit(X[start : start + 100])
    assert np.isfinite(model.means_).all() and np.isfinite(model.lower_bound_)
    single = GaussianMixture(2, random_state=0).fit(X.astype(np.float32))
    double = GaussianMixture(2, random_state=0).fit(X)
    assert single.means_.dtype == np.float32
    np.testing.assert_allclose(single.means_, double.means_, rtol=1e-4, atol=1e-4)


def test_rows_without_any_value_are_left_out_with_one_warning():
    X, *_ = _data(n=200, missing=0.2, seed=11)
    with_empty = np.vstack([X, np.full((7, 3), np.nan)])
    with pytest.warns(
        UserWarning, match=r"^7 of 207 row\(s\) of X have every value missing"
    ) as rec:
        model = GaussianMixture(2, random_state=0).fit(with_empty)
    assert sum("every value missing" in str(r.message) for r in rec) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        reference = GaussianMixture(2, random_state=0).fit(X)
    np.testing.assert_allclose(model.means_, reference.means_, rtol=1e-10)
    assert model.score(with_empty) == pytest.approx(reference.score(X), rel=1e-12)


def test_bad_missing_values_are_clear_errors():
    X, *_ = _data(n=100, missing=0.2, seed=12)
    model = GaussianMixture(2, random_state=0).fit(X)
    before = model.means_.copy()
    bad = X.copy()
    bad[:, 1] = np.nan
    with pytest.raises(ValidationError, match=r"no observed value in column\(s\) 1"):
        model.fit(bad)
    np.testing.assert_array_equal(model.means_, before)
    few = np.full((10, 3), np.nan)
    few[:2] = X[:2]
    with pytest.warns(UserWarning, match="8 of 10"), pytest.raises(ValidationError, match="only 2"):
        GaussianMixture(3).fit(few)
    bad = X.copy()
    bad[4, 2] = np.inf
    for call in (model.fit, model.score_samples, model.predict, model.impute):
        with pytest.raises(ValidationError, match="infinity"):
            call(bad)


def test_full_covariance_fit_matches_r_mgmm():
    """R's MGMM (exact EM with missing values) from the same start: one step, and converged."""
    ref = json.loads((Path(__file__).parent / "oracles" / "mgmm_reference.json").read_text())
    X = np.array([[np.nan if v is None else v for v in row] for row in ref["X"]])
    init = ref["init"]
    start = {
        "weights_init": init["weights"],
        "means_init": init["means"],
        "precisions_init": np.linalg.inv(np.array(init["covariances"])),
        "reg_covar": 0.0,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        one = GaussianMixture(2, max_iter=1, **start).fit(X)
    expected = ref["one_iteration"]
    np.testing.assert_allclose(one.weights_, expected["weights"], rtol=1e-10)
    np.testing.assert_allclose(one.means_, expected["means"], rtol=1e-10)
    np.testing.assert_allclose(one.covariances_, expected["covariances"], rtol=1e-10)
    conv = GaussianMixture(2, max_iter=20000, tol=1e-13, **start).fit(X)
    # MGMM stops on a small increment of its EM objective, a little short of the maximum
    # along flat directions: the fits agree to about 1e-5 and emkit's likelihood is not lower.
    expected = ref["converged"]
    mgmm = GaussianMixture(
        2,
        max_iter=0,
        weights_init=expected["weights"],
        means_init=expected["means"],
        precisions_init=np.linalg.inv(np.array(expected["covariances"])),
    ).fit(X)
    assert conv.score(X) >= mgmm.score(X) - 1e-12
    np.testing.assert_allclose(conv.weights_, expected["weights"], atol=2e-5)
    np.testing.assert_allclose(conv.means_, expected["means"], atol=5e-5)
    np.testing.assert_allclose(conv.covariances_, expected["covariances"], atol=5e-5)
    np.testing.assert_allclose(conv.impute(X), expected["completed"], atol=5e-4)


def test_has_missing_sees_nan_only():
    from emkit.families.base import has_missing

    X = np.zeros((5, 3))
    assert not has_missing(X)
    X[1, 2], X[3, 0] = np.inf, -np.inf  # infinities (even summing to NaN) are not missing
    assert not has_missing(X) and not has_missing(X.astype(np.float32))
    X[4, 1] = np.nan
    assert has_missing(X) and has_missing(X[3:]) and not has_missing(X[:4])
    assert has_missing(X.astype(np.float32)) and not has_missing(np.arange(4))
    assert not has_missing(np.zeros((0, 3)))
