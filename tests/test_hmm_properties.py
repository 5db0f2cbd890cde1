"""Properties of the HMM estimators: monotone EM, invariances, recovery, weights, edge cases."""

import warnings

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from emkit import hmm as ek
from emkit.exceptions import DegenerateComponentWarning
from emkit.latent import markov as lm


def sample_gaussian(K=3, d=2, T=3000, seed=0, lengths=None):
    rng = np.random.RandomState(seed)
    truth = ek.GaussianHMM(K, covariance_type="full", init_params="")
    truth.startprob_ = np.full(K, 1.0 / K)
    A = np.full((K, K), 0.05 / (K - 1))
    np.fill_diagonal(A, 0.95)
    truth.transmat_ = A
    truth.means_ = rng.randn(K, d) * 5
    truth.covars_ = np.array([np.eye(d) * (0.5 + 0.3 * k) for k in range(K)])
    if lengths is None:
        return truth, *truth.sample(T, random_state=rng)
    parts = [truth.sample(n, random_state=rng) for n in lengths]
    return truth, np.vstack([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def match(true_means, fitted_means):
    cost = ((true_means[:, None, :] - fitted_means[None, :, :]) ** 2).sum(axis=2)
    return linear_sum_assignment(cost)[1]


def assert_monotone(history):
    h = np.asarray(history)
    assert np.all(np.diff(h) >= -1e-9 * np.abs(h[1:])), h


@pytest.mark.parametrize("ct", ["spherical", "diag", "full", "tied"])
def test_gaussian_monotone_and_recovers_parameters(ct):
    truth, X, _ = sample_gaussian(seed=1)
    model = ek.GaussianHMM(
        3, covariance_type=ct, n_iter=100, tol=1e-6, random_state=0, init_params="mc"
    )
    model.startprob_ = np.full(3, 1 / 3)
    model.transmat_ = np.full((3, 3), 0.25) + np.eye(3) * 0.25
    model.fit(X)
    assert_monotone(model.monitor_.history)
    perm = match(truth.means_, model.means_)
    np.testing.assert_allclose(model.means_[perm], truth.means_, atol=0.15)
    np.testing.assert_allclose(model.transmat_[np.ix_(perm, perm)], truth.transmat_, atol=0.03)
    if ct == "full":
        np.testing.assert_allclose(model.covars_[perm], truth.covars_, atol=0.15)


def test_categorical_and_poisson_recover_parameters():
    rng = np.random.RandomState(4)
    cat = ek.CategoricalHMM(2, init_params="")
    cat.startprob_ = np.array([0.5, 0.5])
    cat.transmat_ = np.array([[0.9, 0.1], [0.2, 0.8]])
    cat.emissionprob_ = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    X, _ = cat.sample(8000, random_state=rng)
    fit = ek.CategoricalHMM(2, n_iter=200, tol=1e-6, random_state=1).fit(X)
    assert_monotone(fit.monitor_.history)
    perm = match(cat.emissionprob_, fit.emissionprob_)
    np.testing.assert_allclose(fit.emissionprob_[perm], cat.emissionprob_, atol=0.03)
    np.testing.assert_allclose(fit.transmat_[np.ix_(perm, perm)], cat.transmat_, atol=0.03)

    poi = ek.PoissonHMM(2, init_params="")
    poi.startprob_ = np.array([0.5, 0.5])
    poi.transmat_ = np.array([[0.95, 0.05], [0.1, 0.9]])
    poi.lambdas_ = np.array([[2.0, 10.0], [12.0, 1.0]])
    X, _ = poi.sample(4000, random_state=rng)
    fit = ek.PoissonHMM(2, n_iter=100, tol=1e-6, random_state=0).fit(X)
    assert_monotone(fit.monitor_.history)
    perm = match(poi.lambdas_, fit.lambdas_)
    np.testing.assert_allclose(fit.lambdas_[perm], poi.lambdas_, rtol=0.05)


def test_gmm_hmm_monotone():
    rng = np.random.RandomState(0)
    X = rng.randn(400, 2) + rng.randint(0, 4, size=(400, 1)) * 3.0
    for ct in ("diag", "full", "tied", "spherical"):
        model = ek.GMMHMM(2, n_mix=2, covariance_type=ct, n_iter=30, tol=-np.inf, random_state=0)
        model.fit(X, [200, 200])
        assert_monotone(model.monitor_.history)


def test_order_of_sequences_does_not_matter():
    lengths = [200, 50, 130, 90]
    _, X, _ = sample_gaussian(seed=2, lengths=lengths)
    kw = {"covariance_type": "diag", "n_iter": 10, "tol": -np.inf, "init_params": ""}
    start = {
        "startprob_": np.full(3, 1 / 3),
        "transmat_": np.full((3, 3), 1 / 3),
        "means_": X[[0, 250, 400]],
        "covars_": np.ones((3, 2)),
    }
    pieces = np.split(X, np.cumsum(lengths)[:-1])
    order = [2, 0, 3, 1]
    a, b = ek.GaussianHMM(3, **kw), ek.GaussianHMM(3, **kw)
    for m in (a, b):
        for k, v in start.items():
            setattr(m, k, v.copy())
    a.fit(X, lengths)
    b.fit(np.vstack([pieces[i] for i in order]), [lengths[i] for i in order])
    for name in ("startprob_", "transmat_", "means_", "covars_"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-10)


def test_integer_weights_equal_repeated_sequences_and_zero_weight_removes():
    lengths = [120, 80, 100]
    _, X, _ = sample_gaussian(seed=3, lengths=lengths)
    pieces = np.split(X, np.cumsum(lengths)[:-1])
    kw = {"covariance_type": "full", "n_iter": 8, "tol": -np.inf, "init_params": ""}

    def fresh():
        m = ek.GaussianHMM(3, **kw)
        m.startprob_ = np.full(3, 1 / 3)
        m.transmat_ = np.full((3, 3), 1 / 3)
        m.means_ = X[[0, 130, 250]].copy()
        m.covars_ = np.tile(np.eye(2), (3, 1, 1))
        return m

    weighted = fresh().fit(X, lengths, sample_weight=[2, 0, 1])
    repeated = fresh().fit(np.vstack([pieces[0], pieces[0], pieces[2]]), [120, 120, 100])
    for name in ("startprob_", "transmat_", "means_", "covars_"):
        np.testing.assert_allclose(getattr(weighted, name), getattr(repeated, name), rtol=1e-9)
    np.testing.assert_allclose(weighted.monitor_.history, repeated.monitor_.history, rtol=1e-10)


def test_zeros_in_transmat_stay_zero():
    _, X, _ = sample_gaussian(seed=5)
    model = ek.GaussianHMM(3, n_iter=20, init_params="mc", random_state=0)
    model.startprob_ = np.array([1.0, 0.0, 0.0])
    model.transmat_ = np.array([[0.8, 0.2, 0.0], [0.0, 0.8, 0.2], [0.0, 0.0, 1.0]])
    model.fit(X)
    assert model.startprob_[1] == 0 and model.startprob_[2] == 0
    assert model.transmat_[0, 2] == 0 and model.transmat_[1, 0] == 0
    assert model.transmat_[2, 0] == 0 and model.transmat_[2, 1] == 0
    np.testing.assert_allclose(model.transmat_.sum(axis=1), 1.0)


def test_state_without_mass_keeps_valid_parameters_with_warning():
    _, X, _ = sample_gaussian(seed=6, K=3)
    model = ek.GaussianHMM(3, covariance_type="diag", n_iter=7, tol=-1.0, init_params="")
    model.startprob_ = np.array([0.5, 0.5, 0.0])
    model.transmat_ = np.array([[0.9, 0.1, 0.0], [0.1, 0.9, 0.0], [0.5, 0.0, 0.5]])
    model.means_ = np.array([X[0], X[1], [1e4, 1e4]])
    model.covars_ = np.ones((3, 2))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(X)
    # Once per fit, with the number of iterations, not once per iteration.
    degenerate = [w for w in caught if issubclass(w.category, DegenerateComponentWarning)]
    assert len(degenerate) == 1
    message = str(degenerate[0].message)
    assert "state 2 received no posterior mass in 7 iterations" in message
    assert "state 2 had no expected transitions out of it in 7 iterations" in message
    assert degenerate[0].filename == __file__
    assert np.all(np.isfinite(model.means_)) and np.all(np.isfinite(model.covars_))
    np.testing.assert_allclose(model.transmat_.sum(axis=1), 1.0)
    np.testing.assert_array_equal(model.means_[2], [1e4, 1e4])
    np.testing.assert_array_equal(model.transmat_[2], [0.5, 0.0, 0.5])
    assert np.isfinite(model.score(X))


def test_converged_only_when_tol_met():
    _, X, _ = sample_gaussian(seed=7, T=500)
    model = ek.GaussianHMM(3, n_iter=2, tol=1e-12, random_state=0).fit(X)
    assert model.monitor_.iter == 2 and not model.monitor_.converged
    model = ek.GaussianHMM(3, n_iter=50, tol=1.0, random_state=0).fit(X)
    assert model.monitor_.converged and model.monitor_.iter < 50
    h = model.monitor_.history
    assert h[-1] - h[-2] < 1.0


def test_verbose_reports_and_custom_monitor(capsys):
    _, X, _ = sample_gaussian(seed=8, T=300)
    ek.GaussianHMM(2, n_iter=3, tol=-np.inf, verbose=True, random_state=0).fit(X)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and err[0].split()[0] == "1"

    class StopAtOnce(ek.ConvergenceMonitor):
        @property
        def converged(self):
            return True

    model = ek.GaussianHMM(2, n_iter=10, random_state=0)
    model.monitor_ = StopAtOnce(0.0, 10, False)
    model.fit(X)
    assert model.monitor_.iter == 1


def test_map_decode_returns_log_probability():
    truth, X, _ = sample_gaussian(seed=9, T=60)
    lp_map, path_map = truth.decode(X, algorithm="map")
    lp_vit, _ = truth.decode(X, algorithm="viterbi")
    frames = truth._problem().frames(truth._params(), X)
    off = lm.offsets_from_lengths([len(X)])
    expected = lm.path_log_prob(frames, off, truth.startprob_, truth.transmat_, path_map)[0]
    assert lp_map == pytest.approx(expected, rel=1e-12)
    assert lp_map <= lp_vit + 1e-9
    np.testing.assert_array_equal(path_map, truth.predict_proba(X).argmax(axis=1))


def test_high_dimensional_gaussian_emissions_do_not_underflow():
    rng = np.random.RandomState(10)
    d = 300
    model = ek.GaussianHMM(2, covariance_type="diag", init_params="")
    model.startprob_ = np.array([0.5, 0.5])
    model.transmat_ = np.array([[0.9, 0.1], [0.1, 0.9]])
    model.means_ = np.vstack([np.zeros(d), np.full(d, 3.0)])
    model.covars_ = np.full((2, d), 0.5)
    X, states = model.sample(200, random_state=rng)
    lp, post = model.score_samples(X)
    assert np.isfinite(lp) and np.all(np.isfinite(post))
    np.testing.assert_array_equal(post.argmax(axis=1), states)
    L = model._emission().log_likelihood(model._params().emission, X)
    off = lm.offsets_from_lengths([200])
    shift = L.max(axis=1, keepdims=True)
    exact = lm.KERNELS["numpy"].forward_log(
        L - shift, off, np.log(model.startprob_), np.log(model.transmat_)
    )
    assert lp == pytest.approx(exact[0] + shift.sum(), rel=1e-12)


def test_failed_fit_leaves_model_unchanged():
    _, X, _ = sample_gaussian(seed=11, T=200)
    model = ek.GaussianHMM(3, n_iter=5, random_state=0).fit(X)
    before = {k: np.copy(v) for k, v in vars(model).items() if isinstance(v, np.ndarray)}
    with pytest.raises(ValueError):
        model.fit(X, lengths=[100, 50])
    for k, v in before.items():
        np.testing.assert_array_equal(getattr(model, k), v)


def test_sample_shapes_and_reproducibility():
    truth, _, _ = sample_gaussian(seed=12, T=10)
    X1, s1 = truth.sample(50, random_state=3)
    X2, _ = truth.sample(50, random_state=3)
    np.testing.assert_array_equal(X1, X2)
    assert X1.shape == (50, 2) and s1.shape == (50,)
    _, s3 = truth.sample(5, currstate=2, random_state=0)
    assert s3[0] == 2
    cat = ek.CategoricalHMM(2, init_params="")
    cat.startprob_ = np.array([1.0, 0.0])
    cat.transmat_ = np.eye(2)
    cat.emissionprob_ = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    Xc, sc = cat.sample(4, random_state=0)
    np.testing.assert_array_equal(Xc, [[1], [1], [1], [1]])
    np.testing.assert_array_equal(sc, [0, 0, 0, 0])


def test_gmm_hmm_recovers_mixture_means():
    rng = np.random.RandomState(13)
    truth = ek.GMMHMM(2, n_mix=2, covariance_type="diag", init_params="")
    truth.startprob_ = np.array([0.5, 0.5])
    truth.transmat_ = np.array([[0.9, 0.1], [0.1, 0.9]])
    truth.weights_ = np.array([[0.5, 0.5], [0.3, 0.7]])
    truth.means_ = np.array([[[0.0, 0.0], [6.0, 0.0]], [[0.0, 8.0], [6.0, 8.0]]])
    truth.covars_ = np.full((2, 2, 2), 0.5)
    X, _ = truth.sample(3000, random_state=rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateComponentWarning)
        fit = ek.GMMHMM(2, n_mix=2, n_iter=100, tol=1e-6, random_state=0).fit(X)
    assert_monotone(fit.monitor_.history)
    found = np.sort(fit.means_.reshape(-1, 2).round(0), axis=0)
    expected = np.sort(truth.means_.reshape(-1, 2), axis=0)
    np.testing.assert_allclose(found, expected, atol=1.0)
