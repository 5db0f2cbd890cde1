"""Hidden Markov models on sequences with missing values (NaN coordinates, missing frames).

Oracles: brute-force enumeration of every state path of a tiny sequence, with emission
densities from scipy.stats on each frame's observed coordinates (a frame with nothing observed
has no emission term), and a brute-force Baum-Welch update that completes the missing
coordinates by their conditional expectations.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats

from emkit import ValidationError
from emkit.hmm import GMMHMM, CategoricalHMM, GaussianHMM, PoissonHMM
from test_markov_latent import brute_force

START = np.array([0.6, 0.4])
TRANS = np.array([[0.7, 0.3], [0.2, 0.8]])
MEANS = np.array([[0.0, 1.0], [2.5, -1.0]])
COVS = np.array([[[1.0, 0.4], [0.4, 0.8]], [[0.6, -0.2], [-0.2, 1.5]]])

# Seven frames: complete, one coordinate missing, nothing observed.
X_GAUSS = np.array(
    [
        [0.1, 0.9],
        [np.nan, -0.5],
        [2.0, np.nan],
        [np.nan, np.nan],
        [2.7, -1.2],
        [0.3, np.nan],
        [1.1, 0.2],
    ]
)


def _gauss_frame_logp(x, k):
    o = ~np.isnan(x)
    if not o.any():
        return 0.0
    return stats.multivariate_normal(MEANS[k, o], COVS[k][np.ix_(o, o)]).logpdf(x[o])


def _enumerate(frame_logp, T, K=2):
    """Total log-likelihood, state marginals, best path, its log-probability, transitions."""
    L = np.array([[frame_logp(t, k) for k in range(K)] for t in range(T)])
    total, gamma, xi, best, best_score, _ = brute_force(START, TRANS, L)
    return total, gamma, best, best_score, xi


def _check_inference(model, X, frame_logp):
    total, gamma, path, best, _ = _enumerate(frame_logp, len(X))
    assert model.score(X) == pytest.approx(total, rel=1e-12)
    np.testing.assert_allclose(model.predict_proba(X), gamma, rtol=1e-10, atol=1e-12)
    logprob, states = model.decode(X, algorithm="viterbi")
    np.testing.assert_array_equal(states, path)
    assert logprob == pytest.approx(best, rel=1e-12)


def _gaussian_hmm(ct="full", **kwargs):
    model = GaussianHMM(2, covariance_type=ct, init_params="", **kwargs)
    model.startprob_, model.transmat_ = START, TRANS
    model.means_, model.covars_ = MEANS, COVS
    return model


def test_gaussian_hmm_inference_equals_path_enumeration():
    model = _gaussian_hmm()
    _check_inference(model, X_GAUSS, lambda t, k: _gauss_frame_logp(X_GAUSS[t], k))


def test_gmm_hmm_inference_equals_path_enumeration():
    w = np.array([[0.3, 0.7], [0.5, 0.5]])
    means = np.stack([MEANS, MEANS[::-1] + 0.5], axis=1)  # (K, M, d)
    var = np.array([[[1.0, 0.5], [0.7, 1.2]], [[0.4, 0.9], [1.1, 0.6]]])  # diag (K, M, d)
    model = GMMHMM(2, n_mix=2, covariance_type="diag", init_params="")
    model.startprob_, model.transmat_ = START, TRANS
    model.weights_, model.means_, model.covars_ = w, means, var

    def frame_logp(t, k):
        x = X_GAUSS[t]
        o = ~np.isnan(x)
        if not o.any():
            return 0.0
        dens = [
            w[k, m] * np.prod(stats.norm.pdf(x[o], means[k, m, o], np.sqrt(var[k, m, o])))
            for m in range(2)
        ]
        return np.log(np.sum(dens))

    _check_inference(model, X_GAUSS, frame_logp)


def test_poisson_and_categorical_hmm_with_missing_observations():
    lam = np.array([[1.0, 4.0], [5.0, 0.5]])
    counts = np.array([[0, 3], [np.nan, 1], [6, np.nan], [np.nan, np.nan], [2, 2]])
    model = PoissonHMM(2, init_params="")
    model.startprob_, model.transmat_, model.lambdas_ = START, TRANS, lam

    def poisson_logp(t, k):
        x = counts[t]
        o = ~np.isnan(x)
        return float(np.sum(stats.poisson.logpmf(x[o], lam[k, o])))

    _check_inference(model, counts, poisson_logp)
    table = np.array([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7]])
    symbols = np.array([[0], [-1], [2], [2], [-1], [1]])
    model = CategoricalHMM(2, init_params="")
    model.startprob_, model.transmat_, model.emissionprob_ = START, TRANS, table

    def symbol_logp(t, k):
        s = symbols[t, 0]
        return 0.0 if s < 0 else float(np.log(table[k, s]))

    _check_inference(model, symbols, symbol_logp)
    as_float = np.where(symbols < 0, np.nan, symbols.astype(float))
    assert model.score(as_float) == pytest.approx(model.score(symbols), rel=1e-15)


def test_one_baum_welch_iteration_completes_the_missing_coordinates():
    _, gamma, _, _, xi = _enumerate(lambda t, k: _gauss_frame_logp(X_GAUSS[t], k), len(X_GAUSS))
    means = np.zeros((2, 2))
    covs = np.zeros((2, 2, 2))
    for k in range(2):
        xhat, chat, g = [], [], []
        for t, x in enumerate(X_GAUSS):
            o = ~np.isnan(x)
            m = ~o
            if not o.any():
                continue  # no emission term: no emission statistics
            B = COVS[k][np.ix_(m, o)] @ np.linalg.inv(COVS[k][np.ix_(o, o)])
            e = x.copy()
            e[m] = MEANS[k, m] + B @ (x[o] - MEANS[k, o])
            c = np.zeros((2, 2))
            c[np.ix_(m, m)] = COVS[k][np.ix_(m, m)] - B @ COVS[k][np.ix_(o, m)]
            xhat.append(e), chat.append(c), g.append(gamma[t, k])
        g, xhat = np.array(g), np.array(xhat)
        means[k] = g @ xhat / g.sum()
        diff = xhat - means[k]
        covs[k] = np.einsum("t,ta,tb->ab", g, diff, diff) + np.einsum("t,tab->ab", g, chat)
        covs[k] /= g.sum()
    model = _gaussian_hmm(covars_prior=0.0, n_iter=1, tol=-np.inf)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X_GAUSS)
    np.testing.assert_allclose(model.means_, means, rtol=1e-10)
    np.testing.assert_allclose(model.covars_, covs, rtol=1e-10)
    np.testing.assert_allclose(model.startprob_, gamma[0], rtol=1e-10)
    np.testing.assert_allclose(model.transmat_, xi / xi.sum(axis=1, keepdims=True), rtol=1e-10)


@pytest.mark.parametrize("cls", [GaussianHMM, GMMHMM])
def test_fit_on_incomplete_sequences_is_monotone(cls):
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(size=(150, 2)), rng.normal(size=(150, 2)) + 3.0])
    X[rng.uniform(size=X.shape) < 0.2] = np.nan
    X[40:45] = np.nan  # a sensor that drops out for a while
    model = cls(2, covariance_type="full", n_iter=30, tol=0, random_state=0)
    model.fit(X, lengths=[100, 200])
    history = np.array(model.monitor_.history)
    assert np.all(np.diff(history) >= -1e-9 * np.abs(history[1:]))
    states = model.predict(X, lengths=[100, 200])
    assert len(np.unique(states[:150])) == 1 and states[200] != states[0]


def test_bad_values_in_hmms():
    bad = X_GAUSS.copy()
    bad[0, 0] = np.inf
    with pytest.raises(ValidationError, match="infinity"):
        _gaussian_hmm().fit(bad)
    with pytest.raises(ValidationError, match=r"no observed value in column\(s\) 1"):
        GaussianHMM(2).fit(np.column_stack([np.arange(10.0), np.full(10, np.nan)]))
    with pytest.raises(ValidationError, match="negative value -2"):
        CategoricalHMM(2).fit(np.array([[0], [-2], [1]]))


def test_categorical_fit_through_the_likelihood_table_skips_missing_symbols(monkeypatch):
    # A long sequence takes the table path (the posterior mass per symbol); the missing
    # symbol is an extra row of ones there, whose mass counts for no symbol. Without the
    # table path (every row's posterior), the fit must be the same.
    from emkit.families.categorical import CategoricalFamily

    rng = np.random.default_rng(7)
    X = rng.integers(0, 4, size=(50_000, 1))
    X[rng.random(X.shape[0]) < 0.3] = -1

    def fit():
        model = CategoricalHMM(3, n_iter=4, tol=0.0, init_params="st", random_state=0)
        model.emissionprob_ = np.random.default_rng(1).dirichlet(np.ones(4), 3)
        return model.fit(X)

    by_table = fit()
    monkeypatch.delattr(CategoricalFamily, "likelihood_table")
    by_rows = fit()
    np.testing.assert_allclose(by_table.emissionprob_, by_rows.emissionprob_, rtol=1e-10)
    np.testing.assert_allclose(by_table.transmat_, by_rows.transmat_, rtol=1e-10)
    assert by_table.monitor_.history[-1] == pytest.approx(by_rows.monitor_.history[-1], rel=1e-12)
