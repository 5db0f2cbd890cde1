"""HMM API details shared with hmmlearn: monitor_, init warnings, letters, inputs, weights."""

import logging
import warnings

import numpy as np
import pytest

from emkit import hmm as ek
from emkit.engine.em import run_em
from emkit.engine.markov import DEFAULT_BLOCK_ROWS, SequenceSource, _RepeatedWarnings, baum_welch
from emkit.exceptions import DegenerateComponentWarning, ValidationError
from emkit.latent import markov as latent


def gaussian_data(seed=0, T=300, d=2):
    rng = np.random.RandomState(seed)
    states = (np.arange(T) // 25) % 2
    return np.array([[0.0, 0.0], [3.0, -2.0]])[states] + rng.randn(T, d)


ALL_MODELS = [
    ek.GaussianHMM(2),
    ek.GMMHMM(2, n_mix=2),
    ek.CategoricalHMM(2),
    ek.PoissonHMM(2),
]


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda m: type(m).__name__)
def test_monitor_exists_before_fit_with_the_hyperparameters(model):
    model = type(model)(2, n_iter=7, tol=0.5)
    assert isinstance(model.monitor_, ek.ConvergenceMonitor)
    assert (model.monitor_.tol, model.monitor_.n_iter, model.monitor_.iter) == (0.5, 7, 0)
    assert len(model.monitor_.history) == 0


def test_a_fit_uses_the_current_tol_and_n_iter():
    model = ek.GaussianHMM(2, n_iter=50, random_state=0)
    model.set_params(n_iter=3, tol=-np.inf)
    model.fit(gaussian_data())
    assert model.monitor_.iter == 3 and model.monitor_.n_iter == 3


def test_setting_a_parameter_that_init_params_overwrites_logs_hmmlearns_warning(caplog):
    model = ek.GaussianHMM(2, n_iter=2, random_state=0)
    model.startprob_ = np.array([0.5, 0.5])
    with caplog.at_level(logging.WARNING):
        model.fit(gaussian_data())
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert messages == [
        "Even though the 'startprob_' attribute is set, it will be overwritten during "
        "initialization because 'init_params' contains 's'"
    ]
    caplog.clear()
    model = ek.GaussianHMM(2, n_iter=2, random_state=0, init_params="mc")
    model.startprob_ = np.array([0.5, 0.5])
    with caplog.at_level(logging.WARNING):
        model.fit(gaussian_data())
    assert not caplog.records


@pytest.mark.parametrize(
    ("model", "argument", "value", "allowed"),
    [
        (ek.GaussianHMM(2), "params", "ste", "'s' startprob, 't' transmat, 'm' means"),
        (ek.GaussianHMM(2), "init_params", "stmcx", "'c' covariances"),
        (ek.GMMHMM(2), "params", "stq", "'w' weights"),
        (ek.CategoricalHMM(2), "params", "stm", "'e' emissionprob"),
        (ek.PoissonHMM(2), "init_params", "sl?", "'l' lambdas"),
    ],
    ids=lambda x: x if isinstance(x, str) else type(x).__name__,
)
def test_unknown_parameter_letters_are_an_error(model, argument, value, allowed):
    model.set_params(**{argument: value})
    bad = sorted(set(value) - set("stmcwel"))
    X = np.array([[0], [1], [2], [1], [0], [2]])
    with pytest.raises(ValidationError) as err:
        model.fit(X)
    message = str(err.value)
    assert f"{argument}={value!r}" in message
    assert allowed in message
    for letter in bad or sorted(set(value) - set(model._letters())):
        assert repr(letter) in message


def test_sample_with_an_invalid_covariance_type_is_a_validation_error():
    model = ek.GaussianHMM(2, n_iter=2, random_state=0).fit(gaussian_data())
    model.covariance_type = "bogus"
    with pytest.raises(ValidationError, match="covariance_type"):
        model.sample(5)
    gmm = ek.GMMHMM(2, n_iter=2, random_state=0).fit(gaussian_data())
    gmm.covariance_type = "bogus"
    with pytest.raises(ValidationError, match="covariance_type"):
        gmm.sample(5)


def test_categorical_sample_with_empty_emissionprob_is_a_validation_error():
    model = ek.CategoricalHMM(2, init_params="")
    model.startprob_ = np.array([0.5, 0.5])
    model.transmat_ = np.array([[0.9, 0.1], [0.1, 0.9]])
    model.emissionprob_ = []
    with pytest.raises(ValidationError, match=r"emissionprob_ has shape \(0,\)"):
        model.sample(5)
    with pytest.raises(ValidationError, match="emissionprob_"):
        model._check()


@pytest.mark.parametrize("kind", ["path", "memmap"])
@pytest.mark.parametrize("cls", [ek.GaussianHMM, ek.GMMHMM])
def test_fit_on_a_npy_file_equals_fit_on_the_array(tmp_path, kind, cls):
    X = gaussian_data(seed=5)
    lengths = [100, 120, 80]
    path = tmp_path / "X.npy"
    np.save(path, X)
    source = str(path) if kind == "path" else np.load(path, mmap_mode="r")
    ref = cls(2, n_iter=5, random_state=0).fit(X, lengths)
    got = cls(2, n_iter=5, random_state=0).fit(source, lengths)
    np.testing.assert_allclose(got.means_, ref.means_, rtol=1e-12)
    np.testing.assert_allclose(got.transmat_, ref.transmat_, rtol=1e-12)
    np.testing.assert_allclose(got.monitor_.history, ref.monitor_.history, rtol=1e-12)
    assert got.score(source, lengths) == pytest.approx(ref.score(X, lengths), rel=1e-12)
    np.testing.assert_array_equal(got.predict(source, lengths), ref.predict(X, lengths))


def _given_parameters(model, K, d, rng):
    model.startprob_ = np.full(K, 1.0 / K)
    model.transmat_ = np.full((K, K), 0.1 / (K - 1)) + np.eye(K) * (0.9 - 0.1 / (K - 1))
    model.means_ = rng.normal(scale=2.0, size=(K, d))
    model.covars_ = np.ones((K, d))
    return model


def test_a_float32_file_of_many_blocks_equals_the_array(tmp_path):
    # Sequences over several blocks of rows: fit, score, decode and posteriors read the
    # memory map block by block and give what the in-memory array gives.
    rng = np.random.RandomState(8)
    lengths = rng.randint(1, 3000, size=250)
    X = rng.normal(size=(lengths.sum(), 3)) + rng.randint(0, 3, size=(lengths.sum(), 1)) * 2.0
    X = X.astype(np.float32)
    path = tmp_path / "X32.npy"
    np.save(path, X)
    mapped = np.load(path, mmap_mode="r")
    assert lengths.sum() > 2 * DEFAULT_BLOCK_ROWS
    fits = []
    for data in (X, mapped):
        model = ek.GaussianHMM(3, n_iter=3, init_params="")
        fits.append(_given_parameters(model, 3, 3, np.random.RandomState(1)).fit(data, lengths))
    ref, got = fits
    np.testing.assert_array_equal(got.means_, ref.means_)
    np.testing.assert_array_equal(got.monitor_.history, ref.monitor_.history)
    assert got.score(mapped, lengths) == ref.score(X, lengths)
    np.testing.assert_array_equal(got.predict(mapped, lengths), ref.predict(X, lengths))
    np.testing.assert_array_equal(got.predict_proba(mapped, lengths), ref.predict_proba(X, lengths))
    # Blocks or not, each sequence's log-likelihood is forward-backward's on the whole array.
    frames = ref._problem().emission_input(ref._params(), X.astype(np.float64))
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    whole = latent.log_likelihood(frames, offsets, ref.startprob_, ref.transmat_)
    assert ref.score(X, lengths) == pytest.approx(whole.sum(), rel=1e-12)


def test_a_file_is_fitted_without_reading_it_whole(tmp_path):
    import tracemalloc

    rng = np.random.RandomState(9)
    X = rng.normal(size=(1_200_000, 4)) + rng.randint(0, 2, size=(1_200_000, 1)) * 3.0
    path = tmp_path / "X.npy"
    np.save(path, X)
    ek.GaussianHMM(2, n_iter=2, random_state=0).fit(X[:20_000], [1000] * 20)  # kernels loaded
    tracemalloc.start()
    try:
        model = ek.GaussianHMM(2, n_iter=2, random_state=0).fit(path, [1000] * 1200)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # The initialisation reads a sample of whole sequences (100 of them here), EM one block
    # at a time; reading the file whole would take at least its size.
    assert peak < 0.4 * X.nbytes, peak / X.nbytes
    assert np.sort(model.means_[:, 0]) == pytest.approx([0.0, 3.0], abs=0.05)


@pytest.mark.parametrize("cls", [ek.PoissonHMM, ek.CategoricalHMM])
def test_an_int32_file_of_many_blocks_equals_the_array(tmp_path, cls):
    # Counts or symbols kept as int32 on disk, converted one block at a time.
    rng = np.random.RandomState(12)
    lengths = rng.randint(1, 3000, size=250)
    n = int(lengths.sum())
    X = rng.poisson(np.where(rng.rand(n, 1) < 0.5, 1.0, 4.0), size=(n, 1)).astype(np.int32)
    X[-1] = 12  # the largest symbol comes last: the alphabet is read from every row
    path = tmp_path / "X.npy"
    np.save(path, X)
    fits = []
    for data in (X, path):
        model = cls(2, n_iter=3, random_state=0)
        if cls is ek.PoissonHMM:  # its initialisation reads a sample of a file's sequences
            model.set_params(init_params="")
            model.startprob_, model.transmat_ = np.full(2, 0.5), np.full((2, 2), 0.5)
            model.lambdas_ = np.array([[0.5], [5.0]])
        fits.append(model.fit(data, lengths))
    ref, got = fits
    for name in ref._emission_attributes:
        np.testing.assert_array_equal(getattr(got, name), getattr(ref, name))
    np.testing.assert_array_equal(got.monitor_.history, ref.monitor_.history)
    assert got.score(path, lengths) == ref.score(X, lengths)
    np.testing.assert_array_equal(got.predict(path, lengths), ref.predict(X, lengths))


def test_counts_from_a_npy_file(tmp_path):
    X = np.random.RandomState(0).poisson(3.0, size=(200, 2))
    np.save(tmp_path / "counts.npy", X)
    ref = ek.PoissonHMM(2, n_iter=5, random_state=0).fit(X)
    got = ek.PoissonHMM(2, n_iter=5, random_state=0).fit(tmp_path / "counts.npy")
    np.testing.assert_allclose(got.lambdas_, ref.lambdas_, rtol=1e-12)


def test_a_path_that_is_not_npy_is_a_clear_error(tmp_path):
    with pytest.raises(ValidationError, match=r"\.npy"):
        ek.GaussianHMM(2).fit(str(tmp_path / "X.csv"))


@pytest.mark.parametrize("cls", [ek.GaussianHMM, ek.CategoricalHMM])
def test_weighted_score_and_criteria_equal_repeated_sequences(cls):
    rng = np.random.RandomState(6)
    lengths = [40, 25, 35]
    if cls is ek.CategoricalHMM:
        X = rng.randint(3, size=(sum(lengths), 1))
    else:
        X = gaussian_data(seed=6, T=sum(lengths))
    weights = np.array([2, 0, 3])
    parts = np.split(X, np.cumsum(lengths)[:-1])
    repeated = np.vstack([p for p, w in zip(parts, weights, strict=True) for _ in range(w)])
    rep_lengths = [n for n, w in zip(lengths, weights, strict=True) for _ in range(w)]
    model = cls(2, n_iter=5, random_state=0).fit(X, lengths, sample_weight=weights)
    assert model.score(X, lengths, sample_weight=weights) == pytest.approx(
        model.score(repeated, rep_lengths), rel=1e-12
    )
    assert model.bic(X, lengths, sample_weight=weights) == pytest.approx(
        model.bic(repeated, rep_lengths), rel=1e-12
    )
    assert model.aic(X, lengths, sample_weight=weights) == pytest.approx(
        model.aic(repeated, rep_lengths), rel=1e-12
    )
    # Unit weights are the unweighted criterion; a bad weight vector is refused.
    assert model.bic(X, lengths, sample_weight=np.ones(3)) == pytest.approx(
        model.bic(X, lengths), rel=1e-12
    )
    with pytest.raises(ValidationError, match="sample_weight"):
        model.score(X, lengths, sample_weight=[1.0, 2.0])


def test_baum_welch_runs_through_the_one_em_driver_with_either_convergence_rule():
    X = gaussian_data(seed=7)
    model = ek.GaussianHMM(2, n_iter=0, random_state=0).fit(X)  # initialised, not iterated
    problem, params = model._problem(model._fixed()), model._params()
    source = SequenceSource(X, np.array([X.shape[0]]))
    seen = []
    monitor = ek.ConvergenceMonitor(1e-6, 40, False)
    baum_welch(problem, source, params, monitor, 40, callback=lambda i, s, p: seen.append(s))
    # hmmlearn's rule: the monitor saw every E-step's total log-likelihood, in order.
    assert [s.log_likelihood for s in seen] == list(monitor.history)
    assert monitor.converged and monitor.history[-1] - monitor.history[-2] < 1e-6
    # scikit-learn's rule on the same problem: |change of the mean log-likelihood| < tol.
    result = run_em(problem, source, params, max_iter=40, tol=1e-6 / X.shape[0])
    np.testing.assert_allclose(result.lower_bounds, np.asarray(monitor.history) / X.shape[0])
    assert result.converged and abs(np.diff(result.lower_bounds)[-1]) < 1e-6 / X.shape[0]


def test_warnings_repeated_over_iterations_are_given_once_with_their_count():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with _RepeatedWarnings():
            for amount in (1e-10, 1e-9, 2.5e-9):
                warnings.warn(
                    f"component 1: added {amount:.3g}", DegenerateComponentWarning, stacklevel=1
                )
            warnings.warn("component 2: added 1e-10", DegenerateComponentWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == [
        "component 1: added 1e-10 (in 3 iterations)",
        "component 2: added 1e-10",
    ]
