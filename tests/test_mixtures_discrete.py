"""PoissonMixture, BernoulliMixture and CategoricalMixture against brute-force EM.

The same properties are checked for the three estimators through a :class:`Spec` (how to
simulate data, the scipy.stats log-likelihood, the M-step by hand, the ``*_init`` argument):
one EM iteration, monotone likelihood, recovery of the generating parameters, weights,
chunking, memory-mapped and Dask input, stepwise EM, the criteria and sampling. Then the
latent class specifics (category values, missing answers, degenerate classes) and bad input.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

from conftest import assert_close
from emkit import (
    BernoulliMixture,
    CategoricalMixture,
    DegenerateComponentWarning,
    PoissonMixture,
    ValidationError,
)
from mixture_oracles import (
    assert_criteria,
    bernoulli_loglik,
    em_step,
    item_frequencies,
    items_loglik,
    matching,
    poisson_loglik,
    weighted_means,
)

K = 3
WEIGHTS = np.array([0.5, 0.3, 0.2])
WEIGHTS_INIT = np.array([0.3, 0.3, 0.4])
N_CATEGORIES = (3, 2, 4, 3, 3)
#: Category ``m`` of every item is the string LETTERS[m] (sorted like the codes).
LETTERS = np.array(["a", "b", "c", "d"], dtype=object)

# Fits here run a fixed number of iterations (tol=0) on purpose.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@dataclass
class Spec:
    """An estimator and its oracles.

    ``truth``/``start`` are lists of component arrays (one (K, d) array, or one (K, M_j)
    table per item); ``simulate(n, seed)`` returns ``(X, codes)``: what the user passes and
    its numeric form (what a memory-mapped file holds).
    """

    cls: type
    init_name: str
    truth: list
    start: list
    simulate: Callable
    loglik: Callable
    mstep: Callable
    components: Callable
    n_parameters: int
    atol: float
    online_atol: float

    def init(self, comps):
        value = comps[0] if len(comps) == 1 else comps
        return {"weights_init": WEIGHTS_INIT, self.init_name: value}


def _labels(n, rng):
    return rng.choice(K, size=n, p=WEIGHTS)


def poisson_spec():
    rates = np.array([[1.0, 6.0, 0.5, 3.0], [7.0, 1.0, 3.0, 0.5], [3.0, 3.0, 10.0, 8.0]])

    def simulate(n, seed):
        rng = np.random.RandomState(seed)
        X = rng.poisson(rates[_labels(n, rng)])
        return X, X.astype(np.float64)

    return Spec(
        cls=PoissonMixture,
        init_name="rates_init",
        truth=[rates],
        start=[rates * np.array([[1.3], [0.7], [1.1]])],
        simulate=simulate,
        loglik=lambda X, c: poisson_loglik(X, c[0]),
        mstep=lambda X, r: [weighted_means(X, r)],
        components=lambda m: [m.rates_],
        n_parameters=K * 4 + K - 1,
        atol=0.5,
        online_atol=0.2,
    )


def bernoulli_spec():
    rng = np.random.RandomState(11)
    probs = np.where(rng.uniform(size=(K, 8)) < 0.5, 0.15, 0.85) + rng.uniform(-0.1, 0.1, (K, 8))

    def simulate(n, seed):
        rng = np.random.RandomState(seed)
        X = (rng.uniform(size=(n, 8)) < probs[_labels(n, rng)]).astype(np.int64)
        return X, X.astype(np.float64)

    return Spec(
        cls=BernoulliMixture,
        init_name="probabilities_init",
        truth=[probs],
        start=[np.clip(probs + rng.uniform(-0.2, 0.2, probs.shape), 0.05, 0.95)],
        simulate=simulate,
        loglik=lambda X, c: bernoulli_loglik(X, c[0]),
        mstep=lambda X, r: [weighted_means(X, r)],
        components=lambda m: [m.probabilities_],
        n_parameters=K * 8 + K - 1,
        atol=0.06,
        online_atol=0.06,
    )


def categorical_codes(n, seed, tables, missing=0.1):
    """Codes (n, J) drawn from ``tables`` (NaN for a missing answer) and the labels."""
    rng = np.random.RandomState(seed)
    labels = _labels(n, rng)
    codes = np.empty((n, len(tables)))
    for j, t in enumerate(tables):
        cdf = np.cumsum(t[labels], axis=1)
        codes[:, j] = (rng.uniform(size=(n, 1)) > cdf[:, :-1]).sum(axis=1)
    codes[rng.uniform(size=codes.shape) < missing] = np.nan
    return codes, labels


def as_strings(codes):
    """Category ``m`` as LETTERS[m], missing answers as None (an object array)."""
    out = np.empty(codes.shape, dtype=object)
    seen = ~np.isnan(codes)
    out[seen] = LETTERS[codes[seen].astype(int)]
    return out


def categorical_spec():
    rng = np.random.RandomState(12)
    tables = [rng.dirichlet(np.full(m, 0.7), size=K) for m in N_CATEGORIES]
    start = [0.5 * t + 0.5 * rng.dirichlet(np.ones(t.shape[1]), size=K) for t in tables]

    def simulate(n, seed):
        codes = categorical_codes(n, seed, tables)[0]
        return as_strings(codes), codes

    return Spec(
        cls=CategoricalMixture,
        init_name="probabilities_init",
        truth=tables,
        start=start,
        simulate=simulate,
        loglik=items_loglik,
        mstep=lambda X, r: item_frequencies(X, r, N_CATEGORIES),
        components=lambda m: list(m.probabilities_),
        n_parameters=K * sum(m - 1 for m in N_CATEGORIES) + K - 1,
        atol=0.08,
        online_atol=0.1,
    )


SPECS = {"poisson": poisson_spec, "bernoulli": bernoulli_spec, "categorical": categorical_spec}


@pytest.fixture(params=list(SPECS), scope="module")
def spec(request):
    return SPECS[request.param]()


@functools.cache
def _simulated(name, n, seed):
    return SPECS[name]().simulate(n, seed)


def simulated(spec, n=600, seed=0):
    return _simulated(spec.cls.__name__.lower().replace("mixture", ""), n, seed)


def fit(spec, X, *, init=True, sample_weight=None, **kw):
    """Fit with ``tol=0`` (a fixed number of iterations) from the spec's start by default."""
    kw = {"tol": 0.0, "max_iter": 10, **kw}
    if init:
        kw.update(spec.init(spec.start))
    return spec.cls(K, **kw).fit(X, sample_weight=sample_weight)


def assert_same_fit(a, b, spec, rtol=1e-10):
    assert_close(a.weights_, b.weights_, rtol, "weights_")
    for i, (x, y) in enumerate(zip(spec.components(a), spec.components(b), strict=True)):
        assert_close(x, y, rtol, f"component array {i}")
    assert_close(a.lower_bounds_, b.lower_bounds_, rtol, "lower_bounds_")


def flat(comps):
    return np.concatenate(comps, axis=1)


# ----------------------------------------------------------------------------- EM
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("n_iter", [1, 3])
def test_em_iterations_match_brute_force(spec, n_iter, weighted):
    X, codes = simulated(spec)
    w = np.random.RandomState(1).uniform(0.0, 3.0, len(X)) if weighted else None
    m = fit(spec, X, max_iter=n_iter, sample_weight=w)
    weights, comps, bounds = WEIGHTS_INIT, spec.start, []
    for _ in range(n_iter):
        weights, comps, bound = em_step(codes, weights, comps, spec.loglik, spec.mstep, w)
        bounds.append(bound)
    assert_close(m.weights_, weights, 1e-10, "weights_")
    for i, (a, b) in enumerate(zip(spec.components(m), comps, strict=True)):
        assert_close(a, b, 1e-10, f"component array {i}")
    assert_close(m.lower_bounds_, bounds, 1e-12, "lower_bounds_")
    assert m.n_iter_ == n_iter


@pytest.mark.parametrize("seed", [0, 1])
def test_log_likelihood_never_decreases(spec, seed):
    m = fit(spec, simulated(spec)[0], init=False, random_state=seed, max_iter=50)
    bounds = np.asarray(m.lower_bounds_)
    assert len(bounds) == 50
    assert np.all(np.diff(bounds) >= -1e-10), np.diff(bounds).min()
    assert bounds[-1] > bounds[0]


def test_recovers_generating_parameters(spec):
    X = simulated(spec, 4000, 1)[0]
    m = fit(spec, X, init=False, random_state=0, n_init=2, tol=1e-8, max_iter=500)
    perm = matching(flat(spec.components(m)), flat(spec.truth))
    assert_close(m.weights_[perm], WEIGHTS, 0.08, "weights_")
    err = np.abs(flat(spec.components(m))[perm] - flat(spec.truth)).max()
    assert err < spec.atol, err


# ----------------------------------------------------------------------------- weights, chunks
def test_integer_weights_equal_repeated_rows(spec):
    X = simulated(spec)[0]
    w = np.random.RandomState(2).randint(0, 4, size=len(X))
    assert (w == 0).any()
    assert_same_fit(
        fit(spec, X, sample_weight=w), fit(spec, X[np.repeat(np.arange(len(X)), w)]), spec
    )


def test_zero_weight_equals_removed_row(spec):
    X = simulated(spec)[0]
    w = np.ones(len(X))
    w[[0, 5, 77, 300]] = 0.0
    assert_same_fit(fit(spec, X, sample_weight=w), fit(spec, X[w > 0]), spec)


def test_chunk_size_does_not_change_the_fit(spec):
    X = simulated(spec)[0]
    a = fit(spec, X, init=False, random_state=3, chunk_size=7, max_iter=15)
    b = fit(spec, X, init=False, random_state=3, max_iter=15)
    assert_same_fit(a, b, spec)


# ----------------------------------------------------------------------------- sources
def test_npy_path_and_memmap_equal_in_memory(spec, tmp_path):
    X, codes = simulated(spec)
    path = tmp_path / "x.npy"
    np.save(path, codes)
    memory = fit(spec, X)
    assert_same_fit(fit(spec, str(path)), memory, spec)
    assert_same_fit(fit(spec, np.load(path, mmap_mode="r")), memory, spec)


def test_dask_equals_in_memory(spec):
    dask = pytest.importorskip("dask")
    da = pytest.importorskip("dask.array")
    X, codes = simulated(spec)
    with dask.config.set(scheduler="synchronous"):
        lazy = fit(spec, da.from_array(codes, chunks=(100, codes.shape[1])))
    assert_same_fit(lazy, fit(spec, X), spec)


# ----------------------------------------------------------------------------- stepwise EM
def test_partial_fit_improves_and_approaches_batch_fit(spec):
    X, codes = simulated(spec, 4000, 4)
    m = spec.cls(K, **spec.init(spec.start))
    for _ in range(2):
        for start in range(0, len(X), 400):
            m.partial_fit(X[start : start + 400])
    assert m.n_steps_ == 20 and len(m.lower_bounds_) == 20
    # The first step's bound is the first block's mean log-likelihood under the start.
    init_ll = em_step(codes[:400], WEIGHTS_INIT, spec.start, spec.loglik, spec.mstep)[2]
    assert_close(m.lower_bounds_[0], init_ll, 1e-12, "first bound")
    assert m.score(X[:400]) > init_ll + 0.1
    batch = fit(spec, X, tol=1e-10, max_iter=300)
    assert np.abs(m.weights_ - batch.weights_).max() < 0.08
    err = np.abs(flat(spec.components(m)) - flat(spec.components(batch))).max()
    assert err < spec.online_atol, err


# ----------------------------------------------------------------------------- inference
def test_inference_and_criteria_against_brute_force(spec):
    X, codes = simulated(spec)
    m = fit(spec, X, max_iter=20)
    log_prob = spec.loglik(codes, spec.components(m))
    assert_criteria(m, X, log_prob, spec.n_parameters)
    w = np.random.RandomState(5).randint(0, 3, size=len(X))
    assert_criteria(m, X, log_prob, spec.n_parameters, sample_weight=w)
    repeated = X[np.repeat(np.arange(len(X)), w)]
    for name in ("bic", "aic", "icl", "score"):
        weighted = getattr(m, name)(X, sample_weight=w)
        assert_close(weighted, getattr(m, name)(repeated), 1e-12, name)


def test_sample_shapes_and_values(spec):
    X = simulated(spec)[0]
    m = fit(spec, X)
    rows, labels = m.sample(200)
    assert rows.shape == (200, X.shape[1]) and labels.shape == (200,)
    assert set(np.unique(labels)) <= set(range(K))
    if spec.cls is CategoricalMixture:
        for j, cats in enumerate(m.categories_):
            assert rows.dtype == object and set(rows[:, j]) <= set(cats)
            assert isinstance(rows[0, j], str)
    else:
        assert np.all(rows == np.round(rows)) and rows.min() >= 0
        if spec.cls is BernoulliMixture:
            assert set(np.unique(rows)) <= {0.0, 1.0}


# ----------------------------------------------------------------------------- latent classes
def categorical_tables():
    return categorical_spec().truth


def test_strings_codes_and_pandas_categoricals_give_the_same_fit():
    pd = pytest.importorskip("pandas")
    codes = categorical_codes(500, 6, categorical_tables())[0]
    strings = as_strings(codes)
    ints = np.where(np.isnan(codes), None, np.nan_to_num(codes).astype(int)).astype(object)
    frame = pd.DataFrame(
        {
            f"q{j}": pd.Categorical(strings[:, j], categories=list(LETTERS[:m]))
            for j, m in enumerate(N_CATEGORIES)
        }
    )
    fits = [
        CategoricalMixture(K, random_state=0, max_iter=30, tol=0).fit(X)
        for X in (strings, codes, ints, frame)
    ]
    for other in fits[1:]:
        assert_close(other.weights_, fits[0].weights_, 1e-12, "weights_")
        for a, b in zip(other.probabilities_, fits[0].probabilities_, strict=True):
            assert_close(a, b, 1e-12, "probabilities_")
        assert_close(other.lower_bounds_, fits[0].lower_bounds_, 1e-12, "lower_bounds_")
    for j, m in enumerate(N_CATEGORIES):
        assert list(fits[0].categories_[j]) == list(LETTERS[:m])
        assert list(fits[1].categories_[j]) == list(range(m))
        assert list(fits[3].categories_[j]) == list(LETTERS[:m])
    assert list(fits[3].feature_names_in_) == [f"q{j}" for j in range(len(N_CATEGORIES))]


def test_missing_answers_are_left_out_of_the_likelihood():
    codes = categorical_codes(500, 7, categorical_tables(), missing=0.3)[0]
    X = as_strings(codes)
    m = CategoricalMixture(K, random_state=0, max_iter=30, tol=0).fit(X)
    # None and NaN are the same missing answer.
    nan_X = np.where(X == None, np.nan, X)  # noqa: E711 - elementwise test for None
    assert_close(
        CategoricalMixture(K, random_state=0, max_iter=30, tol=0).fit(nan_X).weights_,
        m.weights_,
        1e-12,
        "weights_ with NaN for missing",
    )
    rows = np.flatnonzero(np.isnan(codes).any(axis=1) & ~np.isnan(codes).all(axis=1))[:5]
    for i in rows:
        by_hand = np.log(m.weights_).copy()
        for j, table in enumerate(m.probabilities_):
            if not np.isnan(codes[i, j]):
                by_hand += np.log(table[:, int(codes[i, j])])
        expected = np.log(np.sum(np.exp(by_hand)))
        assert m.score_samples(X[i : i + 1])[0] == pytest.approx(expected, rel=1e-12, abs=1e-12)
    # A row with no answer at all has probability one and tells nothing about its class.
    blank = np.full((1, len(N_CATEGORIES)), None, dtype=object)
    assert m.score_samples(blank)[0] == pytest.approx(0.0, abs=1e-12)
    assert_close(m.predict_proba(blank)[0], m.weights_, 1e-12, "posterior of a blank row")


def test_item_probabilities_are_labelled_by_category():
    pd = pytest.importorskip("pandas")
    codes = categorical_codes(300, 8, categorical_tables())[0]
    X = as_strings(codes)
    names = [f"item_{j}" for j in range(len(N_CATEGORIES))]
    m = CategoricalMixture(K, random_state=0, max_iter=10, tol=0).fit(
        pd.DataFrame(X, columns=names)
    )
    table = m.item_probabilities()
    assert list(table) == names
    for j, name in enumerate(names):
        assert list(table[name].columns) == list(LETTERS[: N_CATEGORIES[j]])
        assert list(table[name].index) == [f"class {k}" for k in range(K)]
        np.testing.assert_array_equal(table[name].to_numpy(), m.probabilities_[j])
    plain = CategoricalMixture(K, random_state=0, max_iter=10, tol=0).fit(X).item_probabilities()
    assert list(plain) == [f"item {j}" for j in range(len(N_CATEGORIES))]


def test_unseen_category_at_predict_time_is_a_clear_error():
    X = as_strings(categorical_codes(300, 9, categorical_tables(), missing=0.0)[0])
    m = CategoricalMixture(K, random_state=0, max_iter=5).fit(X)
    bad = X[:4].copy()
    bad[2, 3] = "zebra"
    with pytest.raises(ValidationError, match=r"column 3 of X has the category 'zebra'"):
        m.predict(bad)


def _separated_answers(n=300, seed=0):
    """Class 0 answers 'a' or 'b' to item 0, class 1 only 'c'; items 1-3 agree with the class."""
    rng = np.random.RandomState(seed)
    lab = rng.randint(2, size=n)
    cols = [np.where(lab == 0, rng.choice(["a", "b"], n), "c")]
    for _ in range(3):
        agree = rng.uniform(size=n) < 0.95
        cols.append(np.where(agree == (lab == 0), "x", "y"))
    return np.column_stack(cols).astype(object)


def test_category_never_seen_in_a_class_gets_probability_zero_and_finite_scores():
    X = _separated_answers()
    m = CategoricalMixture(2, random_state=0, max_iter=400, tol=0).fit(X)
    first = m.probabilities_[0]
    c_class = int(np.argmax(first[:, 2]))
    assert first[1 - c_class, 2] < 1e-100  # 'c' never answered in the other class
    assert first[c_class, :2].max() < 1e-100  # and 'a', 'b' never in the 'c' class
    ss = m.score_samples(X)
    assert np.all(np.isfinite(ss))
    assert np.all(np.isfinite(m.predict_proba(X)))
    assert np.all(np.diff(m.lower_bounds_) >= -1e-10)


def test_empty_class_is_reseeded_with_a_warning():
    X = np.array([["a", "a"], ["b", "b"]] * 20, dtype=object)
    # Class 3 starts on the pattern ('a', 'b'), which no row has: it receives no mass.
    start = [
        np.array([[1, 0], [0, 1], [0.5, 0.5], [1, 0]]),
        np.array([[1, 0], [0, 1], [0.5, 0.5], [0, 1]]),
    ]
    m = CategoricalMixture(4, weights_init=[0.25] * 4, probabilities_init=start, max_iter=20)
    with pytest.warns(DegenerateComponentWarning, match="component 3 received no responsibility"):
        m.fit(X)
    assert np.all(np.isfinite(m.weights_)) and m.weights_[3] > 0
    assert np.all(np.isfinite(m.score_samples(X)))


def test_all_zero_count_column_is_fine():
    rng = np.random.RandomState(0)
    X = np.column_stack([rng.poisson(2.0, 200), np.zeros(200, int), rng.poisson(8.0, 200)])
    m = PoissonMixture(2, random_state=0).fit(X)
    np.testing.assert_array_equal(m.rates_[:, 1], 0.0)
    ss = m.score_samples(X)
    assert np.all(np.isfinite(ss))
    assert_criteria(m, X, poisson_loglik(X, m.rates_), 2 * 3 + 1)


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("cls", "value", "message"),
    [
        (PoissonMixture, -1, r"X must hold counts .*found -1\.0 at row 2, column 1"),
        (PoissonMixture, 1.5, r"X must hold counts .*found 1\.5 at row 2, column 1"),
        (BernoulliMixture, 2, r"X must hold binary values .*found 2\.0 at row 2, column 1"),
        (BernoulliMixture, 0.5, r"X must hold binary values"),
    ],
)
def test_bad_values_are_named(cls, value, message):
    X = np.random.RandomState(0).randint(0, 2, size=(30, 3)).astype(float)
    X[2, 1] = value
    with pytest.raises(ValidationError, match=message):
        cls(2).fit(X)
    fitted = cls(2, random_state=0).fit(np.delete(X, 2, axis=0))
    with pytest.raises(ValidationError, match=message.split(" .*")[0]):
        fitted.predict(X)


@pytest.mark.parametrize(
    ("cls", "kwargs", "name"),
    [
        (PoissonMixture, {"rates_init": -np.ones((2, 3))}, "rates_init"),
        (PoissonMixture, {"rates_init": np.ones((3, 3))}, "rates_init"),
        (BernoulliMixture, {"probabilities_init": np.full((2, 3), 1.5)}, "probabilities_init"),
        (BernoulliMixture, {"weights_init": [0.2, 0.2]}, "weights_init"),
    ],
)
def test_bad_inits_are_named(cls, kwargs, name):
    X = np.random.RandomState(0).randint(0, 2, size=(30, 3))
    with pytest.raises(ValidationError, match=name):
        cls(2, **kwargs).fit(X)


def test_bad_categorical_inits_are_named():
    X = as_strings(categorical_codes(100, 1, categorical_tables(), missing=0.0)[0])
    with pytest.raises(ValidationError, match="probabilities_init must hold one array per item"):
        CategoricalMixture(K, probabilities_init=categorical_tables()[:2]).fit(X)
    tables = [t.copy() for t in categorical_tables()]
    tables[1][0] = [0.9, 0.9]
    with pytest.raises(ValidationError, match=r"probabilities_init\[1\] must hold probabilities"):
        CategoricalMixture(K, probabilities_init=tables).fit(X)


def _bad_version(spec, X):
    """``X`` spoiled for the estimator, and the start of the error it must raise."""
    bad = X.copy()
    if spec.cls is PoissonMixture:
        bad[0, 0] = -3
        return bad, "X must hold counts"
    if spec.cls is BernoulliMixture:
        bad[0, 0] = 7
        return bad, "X must hold binary values"
    bad[:, 1] = None
    return bad, "column 1 of X has no observed value"


def test_failed_fit_leaves_the_fitted_state_intact(spec):
    X = simulated(spec)[0]
    m = fit(spec, X)
    before = {k: v for k, v in vars(m).items() if k.endswith("_")}
    snapshot = {
        k: [np.array(a, copy=True) for a in v] if isinstance(v, list) else np.array(v, copy=True)
        for k, v in before.items()
    }
    bad, message = _bad_version(spec, X[:100])
    with pytest.raises(ValidationError, match=message):
        m.fit(bad)
    after = {k: v for k, v in vars(m).items() if k.endswith("_")}
    assert set(after) == set(before)
    for k, v in snapshot.items():
        got = after[k]
        if isinstance(v, list):
            assert all(np.array_equal(a, b) for a, b in zip(got, v, strict=True)), k
        else:
            assert np.array_equal(got, v), k
    assert_close(m.score_samples(X), fit(spec, X).score_samples(X), 0, "score_samples")


def test_a_row_no_component_can_produce_is_a_clear_error_in_predict():
    rng = np.random.default_rng(0)
    X = np.c_[rng.poisson(2, 200), np.zeros(200)]
    model = PoissonMixture(2, random_state=0).fit(X)
    assert np.isneginf(model.score_samples([[1, 3]])[0])
    for method in (model.predict, model.predict_proba):
        with pytest.raises(ValidationError, match="row 0 of X has probability zero"):
            method([[1, 3]])


def test_integer_count_files_are_streamed(tmp_path):
    rng = np.random.default_rng(1)
    X = np.vstack([rng.poisson([1, 6], (150, 2)), rng.poisson([7, 1], (100, 2))])
    np.save(tmp_path / "counts.npy", X.astype(np.int64))
    kwargs = {"weights_init": [0.5, 0.5], "rates_init": [[1.0, 5.0], [6.0, 1.0]], "tol": 0}
    streamed = PoissonMixture(2, max_iter=5, **kwargs).fit(str(tmp_path / "counts.npy"))
    memory = PoissonMixture(2, max_iter=5, **kwargs).fit(X)
    np.testing.assert_allclose(streamed.rates_, memory.rates_, rtol=1e-12)
