"""PoissonMixture, BernoulliMixture and CategoricalMixture against brute-force EM.

The same properties are checked for the three estimators through a :class:`Spec` (how to
simulate data, the scipy.stats log-likelihood, the M-step by hand, the ``*_init`` argument):
one EM iteration, monotone likelihood, recovery of the generating parameters, weights,
chunking, memory-mapped and Dask input, stepwise EM, the criteria and sampling. Then the
latent class specifics (category values, missing answers, degenerate classes) and bad input.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

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


@functools.lru_cache(maxsize=None)
def _simulated(name, n, seed):
    return SPECS[name]().simulate(n, seed)


def simulated(spec, n=600, seed=0):
    return _simulated(spec.cls.__name__.lower().replace("mixture", ""), n, seed)


def fit(spec, X, *, init=True, sample_weight=None, **kw):
    """Fit with ``tol=0`` (a fixed number of iterations) from the spec's start by default."""
    kw = {"tol": 0.0, "max_iter": 10, **kw}
    if init:
        kw.update(spec.init(spec.start))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
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
    assert_same_fit(fit(spec, X, sample_weight=w), fit(spec, X[np.repeat(np.arange(len(X)), w)]), spec)


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
