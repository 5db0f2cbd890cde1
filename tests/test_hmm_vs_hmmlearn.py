"""emkit.hmm against hmmlearn: same data, same initial parameters, same answer."""

import numpy as np
import pytest
from hmmlearn import hmm as hl

from emkit import hmm as ek

LENGTHS = [None, [120, 1, 80, 99]]


def gaussian_data(seed=0, n=300, d=3):
    rng = np.random.RandomState(seed)
    return rng.randn(n, d) + rng.randint(0, 3, size=(n, 1)) * 2.5


def set_params(models, **params):
    for m in models:
        for name, value in params.items():
            setattr(m, name, np.array(value, copy=True))


def markov_params(K, seed=5):
    rng = np.random.RandomState(seed)
    return {
        "startprob_": rng.dirichlet(np.ones(K)),
        "transmat_": rng.dirichlet(np.ones(K) * 3, size=K),
    }


def gaussian_covars(ct, K, d, rng):
    return {
        "spherical": rng.uniform(0.5, 1.5, size=K),
        "diag": rng.uniform(0.5, 1.5, size=(K, d)),
        "full": np.array([np.eye(d) * (1 + 0.2 * k) + 0.1 for k in range(K)]),
        "tied": np.eye(d) + 0.1,
    }[ct]


def their_covars(model):
    """hmmlearn's covariances as full matrices (its spherical ``covars_`` has a wrong shape)."""
    if model.covariance_type == "spherical":
        d = model.means_.shape[1]
        return np.eye(d)[None] * model._covars_[:, :1, None]
    return model.covars_


def assert_close(a, b, names, rtol=1e-6):
    for name in names:
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=rtol, atol=1e-9)


@pytest.mark.parametrize("lengths", LENGTHS)
@pytest.mark.parametrize("ct", ["spherical", "diag", "full", "tied"])
def test_gaussian_hmm_same_fit(ct, lengths):
    X = gaussian_data()
    kw = {"covariance_type": ct, "init_params": "", "n_iter": 15, "tol": -np.inf}
    ours, theirs = ek.GaussianHMM(3, **kw), hl.GaussianHMM(3, implementation="scaling", **kw)
    rng = np.random.RandomState(1)
    set_params(
        [ours, theirs],
        **markov_params(3),
        means_=rng.randn(3, 3) * 2,
        covars_=gaussian_covars(ct, 3, 3, rng),
    )
    ours.fit(X, lengths)
    theirs.fit(X, lengths)
    np.testing.assert_allclose(ours.monitor_.history, theirs.monitor_.history, rtol=1e-10)
    assert_close(ours, theirs, ["startprob_", "transmat_", "means_"], rtol=1e-9)
    np.testing.assert_allclose(ours.covars_, their_covars(theirs), rtol=1e-9, atol=1e-12)
    assert ours.score(X, lengths) == pytest.approx(theirs.score(X, lengths), rel=1e-10)
    lp_o, post_o = ours.score_samples(X, lengths)
    lp_t, post_t = theirs.score_samples(X, lengths)
    assert lp_o == pytest.approx(lp_t, rel=1e-10)
    np.testing.assert_allclose(post_o, post_t, atol=1e-10)
    v_o, path_o = ours.decode(X, lengths)
    v_t, path_t = theirs.decode(X, lengths)
    np.testing.assert_array_equal(path_o, path_t)
    assert v_o == pytest.approx(v_t, rel=1e-10)
    assert ours.bic(X, lengths) == pytest.approx(theirs.bic(X, lengths), rel=1e-10)
    assert ours.aic(X, lengths) == pytest.approx(theirs.aic(X, lengths), rel=1e-10)


@pytest.mark.parametrize("ct", ["diag", "full", "tied", "spherical"])
def test_gaussian_hmm_priors_match(ct):
    X = gaussian_data(seed=3)
    kw = {
        "covariance_type": ct,
        "init_params": "",
        "n_iter": 8,
        "tol": -np.inf,
        "startprob_prior": 2.0,
        "transmat_prior": 1.5,
        "means_prior": 0.5,
        "means_weight": 3.0,
        "covars_prior": 0.3,
        "covars_weight": 5.0,
    }
    ours, theirs = ek.GaussianHMM(3, **kw), hl.GaussianHMM(3, **kw)
    rng = np.random.RandomState(2)
    set_params(
        [ours, theirs],
        **markov_params(3),
        means_=rng.randn(3, 3),
        covars_=gaussian_covars(ct, 3, 3, rng),
    )
    ours.fit(X, [150, 150])
    theirs.fit(X, [150, 150])
    assert_close(ours, theirs, ["startprob_", "transmat_", "means_"], rtol=1e-9)
    np.testing.assert_allclose(ours.covars_, their_covars(theirs), rtol=1e-9)


@pytest.mark.parametrize("params", ["stm", "st", "smc", "tmc"])
def test_gaussian_hmm_params_subset(params):
    X = gaussian_data(seed=4)
    kw = {"covariance_type": "diag", "init_params": "", "n_iter": 5, "tol": -np.inf}
    ours, theirs = ek.GaussianHMM(3, params=params, **kw), hl.GaussianHMM(3, params=params, **kw)
    rng = np.random.RandomState(3)
    start = {**markov_params(3), "means_": rng.randn(3, 3), "covars_": np.ones((3, 3))}
    set_params([ours, theirs], **start)
    ours.fit(X)
    theirs.fit(X)
    assert_close(ours, theirs, ["startprob_", "transmat_", "means_", "covars_"], rtol=1e-9)
    for letter, name in [("s", "startprob_"), ("t", "transmat_"), ("m", "means_")]:
        if letter not in params:
            np.testing.assert_array_equal(getattr(ours, name), start[name])


@pytest.mark.parametrize("lengths", LENGTHS)
def test_categorical_hmm_same_fit(lengths):
    rng = np.random.RandomState(0)
    X = rng.randint(0, 5, size=(300, 1))
    kw = {"init_params": "", "n_iter": 20, "tol": -np.inf, "n_features": 5}
    ours, theirs = ek.CategoricalHMM(3, **kw), hl.CategoricalHMM(3, **kw)
    set_params([ours, theirs], **markov_params(3), emissionprob_=rng.dirichlet(np.ones(5), size=3))
    ours.fit(X, lengths)
    theirs.fit(X, lengths)
    np.testing.assert_allclose(ours.monitor_.history, theirs.monitor_.history, rtol=1e-10)
    assert_close(ours, theirs, ["startprob_", "transmat_", "emissionprob_"], rtol=1e-9)
    np.testing.assert_array_equal(ours.predict(X, lengths), theirs.predict(X, lengths))


def test_categorical_hmm_prior_and_random_init_match():
    rng = np.random.RandomState(1)
    X = rng.randint(0, 4, size=(200, 1))
    kw = {"n_iter": 10, "tol": -np.inf, "emissionprob_prior": 1.7, "random_state": 7}
    ours = ek.CategoricalHMM(3, **kw).fit(X)
    theirs = hl.CategoricalHMM(3, **kw).fit(X)
    assert_close(ours, theirs, ["startprob_", "transmat_", "emissionprob_"], rtol=1e-9)


@pytest.mark.parametrize("lengths", LENGTHS)
def test_poisson_hmm_same_fit(lengths):
    rng = np.random.RandomState(0)
    rates = np.array([[1.0, 4.0], [5.0, 1.0], [10.0, 8.0]])
    X = rng.poisson(rates[rng.randint(0, 3, size=300)])
    kw = {"init_params": "", "n_iter": 20, "tol": -np.inf}
    ours, theirs = ek.PoissonHMM(3, **kw), hl.PoissonHMM(3, **kw)
    set_params([ours, theirs], **markov_params(3), lambdas_=rng.uniform(0.5, 9, size=(3, 2)))
    ours.fit(X, lengths)
    theirs.fit(X, lengths)
    np.testing.assert_allclose(ours.monitor_.history, theirs.monitor_.history, rtol=1e-10)
    assert_close(ours, theirs, ["startprob_", "transmat_", "lambdas_"], rtol=1e-9)


def test_poisson_single_state_gamma_prior_matches():
    # With one state hmmlearn's pooled prior update is the per-state posterior mean too.
    X = np.random.RandomState(2).poisson(3.0, size=(50, 2))
    kw = {"n_iter": 3, "tol": -np.inf, "lambdas_prior": 2.0, "lambdas_weight": 0.5}
    ours = ek.PoissonHMM(1, random_state=0, **kw).fit(X)
    theirs = hl.PoissonHMM(1, random_state=0, **kw).fit(X)
    np.testing.assert_allclose(ours.lambdas_[0], (2.0 + X.sum(axis=0)) / (0.5 + 50), rtol=1e-12)
    np.testing.assert_allclose(ours.lambdas_, theirs.lambdas_, rtol=1e-12)


@pytest.mark.parametrize("ct", ["diag", "full", "tied", "spherical"])
def test_gmm_hmm_same_fixed_point(ct):
    # hmmlearn centres the covariance update on the previous means (so its steps differ from
    # an exact M-step); both reach the same fixed point.
    rng = np.random.RandomState(0)
    X = rng.randn(160, 2) + rng.randint(0, 4, size=(160, 1)) * 4.0
    kw = {"covariance_type": ct, "init_params": "", "n_iter": 500, "tol": 1e-10}
    if ct == "spherical":
        kw["covars_prior"] = -(2 + 2) / 2  # emkit's maximum-likelihood default
    ours, theirs = ek.GMMHMM(2, n_mix=2, **kw), hl.GMMHMM(2, n_mix=2, **kw)
    r = np.random.RandomState(5)
    covars = {
        "diag": np.ones((2, 2, 2)),
        "full": np.tile(np.eye(2), (2, 2, 1, 1)),
        "tied": np.tile(np.eye(2), (2, 1, 1)),
        "spherical": np.ones((2, 2)),
    }[ct]
    set_params(
        [ours, theirs],
        **markov_params(2),
        weights_=np.full((2, 2), 0.5),
        means_=r.randn(2, 2, 2) * 2 + 3,
        covars_=covars,
    )
    ours.fit(X, [80, 80])
    theirs.fit(X, [80, 80])
    assert ours.monitor_.converged
    assert ours.score(X, [80, 80]) == pytest.approx(theirs.score(X, [80, 80]), rel=1e-9)
    assert_close(ours, theirs, ["startprob_", "transmat_", "weights_", "means_", "covars_"], 1e-5)


@pytest.mark.parametrize("ct", ["diag", "full"])
def test_same_random_state_same_model(ct):
    X = gaussian_data(seed=9)
    kw = {"covariance_type": ct, "n_iter": 10, "random_state": 3}
    ours = ek.GaussianHMM(3, **kw).fit(X)
    theirs = hl.GaussianHMM(3, **kw).fit(X)
    assert_close(ours, theirs, ["startprob_", "transmat_", "means_", "covars_"], rtol=1e-8)
