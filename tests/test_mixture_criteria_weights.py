"""Weighted criteria and the feature-name error detail of the mixture estimators."""

import numpy as np
import pandas as pd
import pytest

from emkit import GaussianMixture, ValidationError


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(3)
    X = np.vstack([rng.normal(0, 1, (60, 2)), rng.normal(4, 0.5, (40, 2))])
    counts = rng.integers(0, 4, len(X))
    model = GaussianMixture(2, random_state=0).fit(X, sample_weight=counts)
    return model, X, counts


@pytest.mark.parametrize("criterion", ["bic", "aic", "icl", "score"])
def test_integer_weights_give_the_criterion_of_repeated_rows(fitted, criterion):
    model, X, counts = fitted
    weighted = getattr(model, criterion)(X, sample_weight=counts)
    repeated = getattr(model, criterion)(np.repeat(X, counts, axis=0))
    assert weighted == pytest.approx(repeated, rel=1e-12)


def test_weighted_score_is_the_weighted_mean_of_score_samples(fitted):
    model, X, counts = fitted
    w = counts + 0.5
    expected = np.dot(w, model.score_samples(X)) / w.sum()
    assert model.score(X, sample_weight=w) == pytest.approx(expected, rel=1e-12)
    assert model.score(X) == pytest.approx(model.score_samples(X).mean(), rel=1e-12)


def test_bad_criterion_weights_are_refused(fitted):
    model, X, _ = fitted
    with pytest.raises(ValidationError, match="sample_weight has shape"):
        model.bic(X, sample_weight=np.ones(3))


def test_feature_name_mismatch_keeps_the_detail():
    X = pd.DataFrame(np.random.default_rng(0).normal(size=(40, 3)), columns=["a", "b", "c"])
    model = GaussianMixture(2, random_state=0).fit(X)
    other = X[["a", "c", "b"]].rename(columns={"b": "z"})
    with pytest.raises(ValidationError) as err:
        model.predict(other)
    text = str(err.value)
    assert "unseen at fit time:\n- z" in text
    assert "yet now missing:\n- b" in text
