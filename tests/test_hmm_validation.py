"""Bad input to the HMM estimators fails with clear ValueError/TypeError subclasses."""

import numpy as np
import pytest

from emkit import hmm as ek
from emkit.exceptions import NotFittedError, ValidationError

X = np.random.RandomState(0).randn(40, 2)


def fitted_gaussian():
    return ek.GaussianHMM(2, n_iter=2, random_state=0).fit(X)


@pytest.mark.parametrize(
    ("lengths", "match"),
    [
        ([10, 10], "sum to 20 but X has 40 rows"),
        ([20, 0, 20], "zero or negative"),
        ([50, -10], "zero or negative"),
        ([20.5, 19.5], "whole numbers"),
        ([], "non-empty"),
        ([[20, 20]], "1-D"),
    ],
)
def test_bad_lengths(lengths, match):
    with pytest.raises(ValidationError, match=match):
        ek.GaussianHMM(2, n_iter=1, random_state=0).fit(X, lengths)
    with pytest.raises(ValidationError, match=match):
        fitted_gaussian().score(X, lengths)


def test_nan_and_infinite_data():
    bad = X.copy()
    bad[3, 1] = np.inf
    with pytest.raises(ValidationError, match="infinity"):
        ek.GaussianHMM(2).fit(bad)
    with pytest.raises(ValidationError, match="infinity"):
        ek.PoissonHMM(2).fit(np.array([[1.0], [np.inf]]))
    with pytest.raises(ValidationError, match="infinity"):
        fitted_gaussian().predict(bad)


def test_symbols_outside_the_alphabet():
    symbols = np.array([[0], [1], [4], [2]])
    with pytest.raises(ValidationError, match=r"symbol 4, outside the alphabet of n_features=3"):
        ek.CategoricalHMM(2, n_features=3).fit(symbols)
    model = ek.CategoricalHMM(2, n_features=5, random_state=0).fit(symbols)
    with pytest.raises(ValidationError, match="symbol 7"):
        model.predict(np.array([[7]]))
    with pytest.raises(ValidationError, match="negative value -2"):
        ek.CategoricalHMM(2).fit(np.array([[0], [-2]]))  # -1 marks a missing symbol
    with pytest.raises(ValidationError, match=r"non-integer value 1\.5"):
        ek.CategoricalHMM(2).fit(np.array([[0.0], [1.5]]))
    with pytest.raises(ValidationError, match=r"shape \(n_samples, 1\)"):
        ek.CategoricalHMM(2).fit(np.array([[0, 1], [1, 0]]))
    with pytest.raises(TypeError, match="numbers"):
        ek.CategoricalHMM(2).fit(np.array([["a"], ["b"]]))


def test_poisson_counts_must_be_non_negative_integers():
    with pytest.raises(ValidationError, match="negative value -2"):
        ek.PoissonHMM(2).fit(np.array([[1, 2], [-2, 0]]))
    with pytest.raises(ValidationError, match=r"non-integer value 0\.5"):
        ek.PoissonHMM(2).fit(np.array([[1.0, 2.0], [0.5, 0.0]]))


def test_hand_set_probabilities_must_sum_to_one():
    model = ek.GaussianHMM(2, init_params="mc", n_iter=1)
    model.startprob_ = np.array([0.6, 0.6])
    model.transmat_ = np.array([[0.5, 0.5], [0.5, 0.5]])
    with pytest.raises(ValidationError, match=r"startprob_ must sum to 1 \(it sums to 1.2\)"):
        model.fit(X)
    model.startprob_ = np.array([0.5, 0.5])
    model.transmat_ = np.array([[0.5, 0.5], [0.2, 0.5]])
    with pytest.raises(ValidationError, match=r"transmat_ rows must sum to 1 \(row\(s\) \[1\]"):
        model.fit(X)
    fitted = fitted_gaussian()
    fitted.transmat_ = np.array([[0.5, 0.6], [0.5, 0.5]])
    with pytest.raises(ValidationError, match="transmat_ rows"):
        fitted.decode(X)
    fitted.transmat_ = np.array([[1.5, -0.5], [0.5, 0.5]])
    with pytest.raises(ValidationError, match="non-negative"):
        fitted.score(X)
    cat = ek.CategoricalHMM(2, n_features=3, init_params="st")
    cat.emissionprob_ = np.array([[0.5, 0.5, 0.5], [0.2, 0.3, 0.5]])
    with pytest.raises(ValidationError, match="emissionprob_ rows must sum to 1"):
        cat.fit(np.array([[0], [1], [2]]))


def test_bad_shapes_and_covariances():
    model = fitted_gaussian()
    with pytest.raises(ValidationError, match="X has 3 features"):
        model.score(np.zeros((5, 3)))
    model.startprob_ = np.array([1.0])
    with pytest.raises(ValidationError, match=r"startprob_ has shape \(1,\); expected \(2,\)"):
        model.score(X)
    full = ek.GaussianHMM(2, covariance_type="full", init_params="st", n_iter=1)
    full.means_ = np.zeros((2, 2))
    full.covars_ = np.array([np.eye(2), [[1.0, 2.0], [2.0, 1.0]]])
    with pytest.raises(ValidationError, match="covars_ of state 1 is not positive definite"):
        full.fit(X)
    full.covars_ = np.array([np.eye(2), [[1.0, 0.5], [0.0, 1.0]]])
    with pytest.raises(ValidationError, match="covars_ matrix 1 is not symmetric"):
        full.fit(X)
    diag = ek.GaussianHMM(2, init_params="st", n_iter=1)
    diag.means_ = np.zeros((2, 2))
    diag.covars_ = np.ones((2, 3))
    with pytest.raises(ValidationError, match=r"covars_ has shape \(2, 3\); expected \(2, 2\)"):
        diag.fit(X)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"covariance_type": "banana"}, "covariance_type must be one of"),
        ({"n_components": 0}, "n_components must be an integer >= 1"),
        ({"n_iter": -1}, "n_iter must be an integer >= 0"),
        ({"algorithm": "best"}, "algorithm must be one of"),
        ({"implementation": "fast"}, "implementation must be one of"),
        ({"transmat_prior": np.ones(3)}, "transmat_prior must be a number or an array"),
        ({"params": 5}, "params must be a string"),
    ],
)
def test_bad_constructor_arguments(kwargs, match):
    with pytest.raises(ValidationError, match=match):
        ek.GaussianHMM(**{"n_components": 2, **kwargs}).fit(X)


def test_decode_algorithm_and_not_fitted():
    with pytest.raises(ValidationError, match="algorithm must be one of"):
        fitted_gaussian().decode(X, algorithm="greedy")
    with pytest.raises(NotFittedError, match="no startprob_, transmat_, means_, covars_"):
        ek.GaussianHMM(2).score(X)
    with pytest.raises(NotFittedError):
        ek.CategoricalHMM(2).sample(3)


def test_bad_sample_weight_and_sample_arguments():
    with pytest.raises(ValidationError, match="one weight per sequence"):
        ek.GaussianHMM(2).fit(X, [20, 20], sample_weight=[1.0, 2.0, 3.0])
    with pytest.raises(ValidationError, match="negative"):
        ek.GaussianHMM(2).fit(X, [20, 20], sample_weight=[1.0, -1.0])
    model = fitted_gaussian()
    with pytest.raises(ValidationError, match="n_samples must be an integer >= 1"):
        model.sample(0)
    with pytest.raises(ValidationError, match="currstate must be < n_components=2"):
        model.sample(3, currstate=5)


def test_too_few_rows_for_initialisation():
    with pytest.raises(ValidationError, match="n_samples=2 is smaller than n_components=3"):
        ek.GaussianHMM(3).fit(X[:2])


def test_non_finite_expected_counts_raise_and_keep_the_model(monkeypatch):
    from emkit.engine import markov as engine_markov

    X = np.random.RandomState(0).randn(60, 2)
    model = ek.GaussianHMM(2, n_iter=3, random_state=0).fit(X)
    before = model.means_.copy()
    real_expect = engine_markov.MarkovEM.expect_block

    def poisoned(problem, params, block):
        stats = real_expect(problem, params, block)
        stats.trans[0, 0] = np.nan
        return stats

    monkeypatch.setattr(engine_markov.MarkovEM, "expect_block", poisoned)
    with pytest.raises(FloatingPointError, match="non-finite expected counts"):
        model.fit(X)
    np.testing.assert_array_equal(model.means_, before)
