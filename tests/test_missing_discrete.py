"""Missing values (NaN) in Poisson, Bernoulli, categorical and mixed-type mixtures.

A missing count or answer is left out of its row's likelihood (scipy.stats oracles); EM
completes it by its conditional expectation, so one iteration matches a brute-force update
written here, and at convergence the rates are the observed-data maximisers (the
available-case weighted means).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats
from sklearn.exceptions import ConvergenceWarning

from emkit import BernoulliMixture, CategoricalMixture, MixedMixture, PoissonMixture

K = 2


def _counts(n=300, d=4, missing=0.25, seed=0):
    rng = np.random.default_rng(seed)
    rates = np.array([[1.0, 4.0, 0.5, 6.0], [5.0, 1.0, 3.0, 0.8]])[:, :d]
    labels = rng.integers(K, size=n)
    X = rng.poisson(rates[labels]).astype(np.float64)
    X[rng.uniform(size=X.shape) < missing] = np.nan
    return X[~np.isnan(X).all(axis=1)], rates


def _binary(n=300, d=5, missing=0.25, seed=1):
    rng = np.random.default_rng(seed)
    probs = rng.uniform(0.1, 0.9, size=(K, d))
    labels = rng.integers(K, size=n)
    X = (rng.uniform(size=(n, d)) < probs[labels]).astype(np.float64)
    X[rng.uniform(size=X.shape) < missing] = np.nan
    return X[~np.isnan(X).all(axis=1)], probs


def _observed_log_lik(X, weights, logpmf):
    """Per row and component: log weight + sum of the observed entries' log-probabilities."""
    seen = ~np.isnan(X)
    out = np.empty((len(X), K))
    for k in range(K):
        lp = np.where(seen, logpmf(np.where(seen, X, 0.0), k), 0.0)
        out[:, k] = np.log(weights[k]) + lp.sum(axis=1)
    return out


def _brute_force_step(X, weights, table, logpmf):
    joint = _observed_log_lik(X, weights, logpmf)
    ll = np.logaddexp.reduce(joint, axis=1)
    resp = np.exp(joint - ll[:, None])
    seen = ~np.isnan(X)
    counts = resp.sum(axis=0)
    sums = np.array(
        [np.where(seen, X, table[k]).T @ resp[:, k] for k in range(K)]
    )  # a missing entry counts as its component's mean
    return counts / counts.sum(), sums / counts[:, None], ll.mean(), resp


CASES = {
    "poisson": (
        _counts,
        lambda start: PoissonMixture(K, weights_init=start[0], rates_init=start[1], max_iter=1),
        "rates_",
        lambda table: lambda x, k: stats.poisson.logpmf(x, table[k]),
    ),
    "bernoulli": (
        _binary,
        lambda start: BernoulliMixture(
            K, weights_init=start[0], probabilities_init=start[1], max_iter=1
        ),
        "probabilities_",
        lambda table: lambda x, k: stats.bernoulli.logpmf(x, table[k]),
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_one_em_iteration_and_scores_match_brute_force(name):
    data, make, attr, pmf = CASES[name]
    X, truth = data()
    start = (np.array([0.4, 0.6]), np.clip(truth[::-1] * 0.8 + 0.1, 0.05, None))
    if name == "bernoulli":
        start = (start[0], np.clip(start[1], 0.05, 0.95))
    weights, table, mean_ll, _ = _brute_force_step(X, start[0], start[1], pmf(start[1]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = make(start).fit(X)
    np.testing.assert_allclose(model.weights_, weights, rtol=1e-10)
    np.testing.assert_allclose(getattr(model, attr), table, rtol=1e-10)
    assert model.lower_bound_ == pytest.approx(mean_ll, rel=1e-10)
    fitted = getattr(model, attr)
    joint = _observed_log_lik(X, model.weights_, pmf(fitted))
    np.testing.assert_allclose(
        model.score_samples(X), np.logaddexp.reduce(joint, axis=1), rtol=1e-10
    )


@pytest.mark.parametrize("name", list(CASES))
def test_fixed_point_is_the_observed_data_maximiser(name):
    data, _, attr, pmf = CASES[name]
    X, _ = data(n=400)
    cls = PoissonMixture if name == "poisson" else BernoulliMixture
    model = cls(K, tol=1e-12, max_iter=3000, random_state=0).fit(X)
    bounds = np.array(model.lower_bounds_)
    assert np.all(np.diff(bounds) >= -1e-12)
    table = getattr(model, attr)
    _, _, _, resp = _brute_force_step(X, model.weights_, table, pmf(table))
    seen = ~np.isnan(X)
    available = np.stack(
        [(np.where(seen, X, 0.0).T @ resp[:, k]) / (seen.T @ resp[:, k]) for k in range(K)]
    )
    np.testing.assert_allclose(table, available, rtol=1e-6, atol=1e-8)


def test_impute_gives_the_posterior_expectation():
    X, _ = _counts(n=100)
    model = PoissonMixture(K, random_state=0).fit(X)
    out = model.impute(X)
    seen = ~np.isnan(X)
    expected = model.predict_proba(X) @ model.rates_
    np.testing.assert_allclose(out[~seen], expected[~seen], rtol=1e-12)
    np.testing.assert_array_equal(out[seen], X[seen])
    drawn = model.impute(X, method="sample", random_state=0)
    assert np.all(drawn == np.floor(drawn)) and not np.isnan(drawn).any()
    np.testing.assert_array_equal(drawn[seen], X[seen])


def test_categorical_rows_without_answers_are_left_out_and_answers_imputed():
    rng = np.random.default_rng(2)
    codes = rng.integers(3, size=(200, 4)).astype(np.float64)
    codes[rng.uniform(size=codes.shape) < 0.2] = np.nan
    with_empty = np.vstack([codes, np.full((3, 4), np.nan)])
    with pytest.warns(UserWarning, match=r"3 of 203 row\(s\) of X have every value missing"):
        model = CategoricalMixture(K, random_state=0).fit(with_empty)
    reference = CategoricalMixture(K, random_state=0).fit(codes)
    for a, b in zip(model.probabilities_, reference.probabilities_, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10)
    out = model.impute(codes)
    seen = ~np.isnan(codes)
    np.testing.assert_array_equal(out[seen], codes[seen])
    resp = model.predict_proba(codes)
    for i, j in np.argwhere(~seen)[:10]:
        assert out[i, j] == np.argmax(resp[i] @ model.probabilities_[j])


def test_mixed_mixture_with_gaps_in_every_column_group():
    rng = np.random.default_rng(3)
    n = 300
    labels = rng.integers(K, size=n)
    X = np.column_stack(
        [
            rng.normal(np.array([0.0, 4.0])[labels], 1.0),
            rng.poisson(np.array([1.0, 6.0])[labels]),
            rng.uniform(size=n) < np.array([0.2, 0.8])[labels],
            rng.integers(3, size=n),
        ]
    ).astype(np.float64)
    X[rng.uniform(size=X.shape) < 0.2] = np.nan
    families = {"gaussian": [0], "poisson": [1], "bernoulli": [2], "categorical": [3]}
    with pytest.warns(UserWarning, match=r"^2 of 300 row\(s\) of X have every value missing"):
        model = MixedMixture(K, families=families, random_state=0, tol=1e-8, max_iter=500).fit(X)
    assert np.all(np.diff(model.lower_bounds_) >= -1e-12)
    seen = ~np.isnan(X)
    lp = np.zeros((n, K))
    for k in range(K):
        parts = [
            stats.norm.logpdf(X[:, 0], model.means_[k, 0], np.sqrt(model.covariances_[k, 0])),
            stats.poisson.logpmf(X[:, 1], model.rates_[k, 0]),
            stats.bernoulli.logpmf(X[:, 2], model.binary_probabilities_[k, 0]),
        ]
        for j, part in enumerate(parts):
            lp[:, k] += np.where(seen[:, j], part, 0.0)
        cats = model.categories_[0]
        code = np.searchsorted(cats, np.where(seen[:, 3], X[:, 3], cats[0]))
        lp[:, k] += np.where(seen[:, 3], np.log(model.probabilities_[0][k, code]), 0.0)
    expected = np.logaddexp.reduce(lp + np.log(model.weights_), axis=1)
    np.testing.assert_allclose(model.score_samples(X), expected, rtol=1e-10, atol=1e-12)
    out = model.impute(X)
    assert not np.isnan(np.asarray(out, dtype=np.float64)).any()
