"""PoissonMixture and weighted BernoulliMixture against R's flexmix.

``tests/oracles/flexmix_reference.json`` holds flexmix's best fit over many random starts
(``FLXMCmvpois``; ``FLXMCmvbinary`` with integer replication weights) of the synthetic data
sets beside it, all made by ``tools/oracles/make_flexmix_reference.R``. R is needed only to
remake them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import emkit
from mixture_oracles import matching

ORACLES = Path(__file__).resolve().parent / "oracles"
REFERENCE = json.loads((ORACLES / "flexmix_reference.json").read_text())


def poisson_case():
    case = REFERENCE["poisson"]
    X = np.loadtxt(ORACLES / case["data"], delimiter=",", skiprows=1)
    return X, case, np.asarray(case["rates"])


def bernoulli_case():
    case = REFERENCE["bernoulli_weighted"]
    table = np.loadtxt(ORACLES / case["data"], delimiter=",", skiprows=1)
    return table[:, :-1], table[:, -1], case, np.asarray(case["probabilities"])


def test_poisson_loglik_of_flexmix_parameters():
    X, case, rates = poisson_case()
    model = emkit.PoissonMixture(
        case["n_components"], max_iter=0, weights_init=case["weights"], rates_init=rates
    ).fit(X)
    np.testing.assert_allclose(np.sum(model.score_samples(X)), case["loglik"], rtol=1e-12)


@pytest.mark.parametrize("init_params", ["kmeans", "random"])
def test_poisson_mixture_reaches_flexmix_maximum(init_params):
    X, case, rates = poisson_case()
    model = emkit.PoissonMixture(
        case["n_components"],
        n_init=5,
        init_params=init_params,
        tol=1e-12,
        max_iter=5000,
        random_state=0,
    ).fit(X)
    np.testing.assert_allclose(model.score(X) * len(X), case["loglik"], rtol=1e-6)
    perm = matching(model.rates_, rates)
    np.testing.assert_allclose(model.weights_[perm], case["weights"], atol=1e-4)
    np.testing.assert_allclose(model.rates_[perm], rates, rtol=1e-4)


def test_bernoulli_loglik_of_flexmix_parameters():
    X, w, case, probs = bernoulli_case()
    model = emkit.BernoulliMixture(
        case["n_components"],
        max_iter=0,
        weights_init=case["weights"],
        probabilities_init=probs,
    ).fit(X, sample_weight=w)
    np.testing.assert_allclose(np.sum(w * model.score_samples(X)), case["loglik"], rtol=1e-12)
    np.testing.assert_allclose(
        model.score(X, sample_weight=w) * w.sum(), case["loglik"], rtol=1e-12
    )


@pytest.mark.parametrize("replicate", [False, True], ids=["weights", "repeated_rows"])
def test_weighted_bernoulli_mixture_reaches_flexmix_maximum(replicate):
    # flexmix's weights replicate rows: fitting the repeated rows must give the same maximum.
    X, w, case, probs = bernoulli_case()
    if replicate:
        X, w = np.repeat(X, w.astype(int), axis=0), None
    model = emkit.BernoulliMixture(
        case["n_components"], n_init=5, tol=1e-12, max_iter=5000, random_state=0
    ).fit(X, sample_weight=w)
    total = len(X) if w is None else w.sum()
    np.testing.assert_allclose(model.score(X, sample_weight=w) * total, case["loglik"], rtol=1e-6)
    perm = matching(model.probabilities_, probs)
    np.testing.assert_allclose(model.weights_[perm], case["weights"], atol=1e-4)
    np.testing.assert_allclose(model.probabilities_[perm], probs, atol=1e-4)
