"""The family contract, checked the same way for every family.

Each family (Gaussian of every covariance type, Poisson, Bernoulli, categorical items with
missing answers, and a product of a diagonal Gaussian, categorical items and Poisson counts
on interleaved columns) is described by a :class:`Case`: true parameters, a scipy.stats
log-likelihood, the M-step written by hand in NumPy, standard errors of the estimates, its
free-parameter count and an unconstrained parametrisation for a numerical optimiser. The
tests then check the protocol, additivity of the statistics, the one-pass mixture E-step, the
M-step (closed form and numerical maximisation), a sampling round trip, ``n_parameters`` and
the log-likelihoods. A new family gets all of them by adding a case.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from scipy import stats
from scipy.optimize import minimize
from scipy.special import expit, logit, logsumexp, softmax

from conftest import COV_TYPES, assert_close, dense_covariances
from emkit.exceptions import ValidationError
from emkit.families.base import Family, Stats
from emkit.families.bernoulli import BernoulliFamily, BernoulliParams
from emkit.families.categorical_items import CategoricalItemsFamily, ItemParams
from emkit.families.gaussian import GaussianFamily, GaussianParams
from emkit.families.poisson import PoissonFamily, PoissonParams
from emkit.families.product import ProductFamily, ProductParams
from mixture_oracles import (
    bernoulli_loglik,
    item_frequencies,
    items_loglik,
    poisson_loglik,
    weighted_means,
)
from test_families_gaussian import brute_force_mstep, random_covariances

K = 3
REG_COVAR = 1e-6
MISSING_RATE = 0.15


@dataclass
class Case:
    """One family with everything its contract tests need.

    Attributes
    ----------
    family : Family
    params : object
        True parameters of ``K`` components.
    n_features : int
    oracle : callable
        ``oracle(params, X) -> (n, K)`` log-likelihoods from scipy.stats.
    closed_form : callable
        ``closed_form(X, resp) -> list of arrays``: the M-step by hand, in the order of
        ``arrays``.
    arrays : callable
        ``arrays(params) -> list of arrays``: the estimated quantities.
    std_errors : callable
        ``std_errors(params, n) -> list of arrays``: standard errors of ``arrays`` estimated
        from ``n`` rows of each component.
    n_parameters : int
        Free parameters of the ``K`` components (counted by hand).
    pack, unpack : callable
        Parameters to an unconstrained vector and back (for scipy.optimize).
    missing : list of int
        Columns where a fraction of the answers is set missing (NaN).
    """

    family: object
    params: object
    n_features: int
    oracle: Callable
    closed_form: Callable
    arrays: Callable
    std_errors: Callable
    n_parameters: int
    pack: Callable
    unpack: Callable
    missing: list = dataclasses.field(default_factory=list)


# ----------------------------------------------------------------------------- Gaussian
def _chol_vector(cov):
    L = np.linalg.cholesky(cov)
    d = len(cov)
    low = np.tril_indices(d, -1)
    return np.concatenate([np.log(np.diag(L)), L[low]])


def _chol_matrix(v, d):
    L = np.zeros((d, d))
    L[np.diag_indices(d)] = np.exp(v[:d])
    L[np.tril_indices(d, -1)] = v[d:]
    return L @ L.T


def _gaussian_pack(params, ct):
    cov = params.covariances
    if ct == "full":
        shape = np.concatenate([_chol_vector(c) for c in cov])
    elif ct == "tied":
        shape = _chol_vector(cov)
    else:
        shape = np.log(cov).ravel()
    return np.concatenate([params.means.ravel(), shape])


def _gaussian_unpack(theta, ct, d):
    means = theta[: K * d].reshape(K, d)
    rest = theta[K * d :]
    size = d * (d + 1) // 2
    if ct == "full":
        cov = np.stack([_chol_matrix(rest[k * size : (k + 1) * size], d) for k in range(K)])
    elif ct == "tied":
        cov = _chol_matrix(rest, d)
    elif ct == "diag":
        cov = np.exp(rest).reshape(K, d)
    else:
        cov = np.exp(rest)
    return GaussianParams.from_covariances(means, cov, ct)


def _gaussian_std_errors(params, n, ct):
    d = params.n_features
    dense = dense_covariances(params.covariances, ct, K, d)
    var = np.diagonal(dense, axis1=1, axis2=2)
    mean_se = np.sqrt(var / n)
    # Var of a sample covariance entry: (S_ii S_jj + S_ij^2) / n.
    entry = np.sqrt((var[:, :, None] * var[:, None, :] + dense**2) / n)
    if ct == "full":
        cov_se = entry
    elif ct == "tied":
        cov_se = entry[0] / np.sqrt(K)
    elif ct == "diag":
        cov_se = var * np.sqrt(2.0 / n)
    else:
        cov_se = var[:, 0] * np.sqrt(2.0 / (n * d))
    return [mean_se, cov_se]


def gaussian_case(ct, d=2, seed=0):
    rng = np.random.RandomState(seed)
    means = rng.normal(scale=3.0, size=(K, d))
    cov = random_covariances(ct, K, d, rng)
    params = GaussianParams.from_covariances(means, cov, ct)

    def oracle(p, X):
        dense = dense_covariances(p.covariances, ct, K, d)
        return np.column_stack(
            [stats.multivariate_normal(p.means[k], dense[k]).logpdf(X) for k in range(K)]
        ).reshape(len(X), K)

    cov_params = {"full": K * d * (d + 1) // 2, "tied": d * (d + 1) // 2, "diag": K * d}
    return Case(
        family=GaussianFamily(ct, reg_covar=REG_COVAR),
        params=params,
        n_features=d,
        oracle=oracle,
        closed_form=lambda X, r: list(brute_force_mstep(X, r, ct, REG_COVAR)),
        arrays=lambda p: [p.means, p.covariances],
        std_errors=lambda p, n: _gaussian_std_errors(p, n, ct),
        n_parameters=K * d + cov_params.get(ct, K),
        pack=lambda p: _gaussian_pack(p, ct),
        unpack=lambda t: _gaussian_unpack(t, ct, d),
    )


# ----------------------------------------------------------------------------- discrete
def poisson_case():
    rates = np.array([[0.5, 3.0, 8.0], [4.0, 0.2, 1.0], [2.0, 2.0, 6.0]])
    return Case(
        family=PoissonFamily(),
        params=PoissonParams(rates),
        n_features=3,
        oracle=lambda p, X: poisson_loglik(X, p.lambdas),
        closed_form=lambda X, r: [weighted_means(X, r)],
        arrays=lambda p: [p.lambdas],
        std_errors=lambda p, n: [np.sqrt(p.lambdas / n)],
        n_parameters=K * 3,
        pack=lambda p: np.log(p.lambdas).ravel(),
        unpack=lambda t: PoissonParams(np.exp(t).reshape(K, 3)),
    )


def bernoulli_case():
    probs = np.array([[0.1, 0.8, 0.5, 0.3], [0.7, 0.2, 0.9, 0.4], [0.5, 0.5, 0.05, 0.6]])
    return Case(
        family=BernoulliFamily(),
        params=BernoulliParams(probs),
        n_features=4,
        oracle=lambda p, X: bernoulli_loglik(X, p.probabilities),
        closed_form=lambda X, r: [weighted_means(X, r)],
        arrays=lambda p: [p.probabilities],
        std_errors=lambda p, n: [np.sqrt(p.probabilities * (1 - p.probabilities) / n)],
        n_parameters=K * 4,
        pack=lambda p: logit(p.probabilities).ravel(),
        unpack=lambda t: BernoulliParams(expit(t).reshape(K, 4)),
    )


def items_case(n_categories=(3, 2, 4), seed=1):
    rng = np.random.RandomState(seed)
    family = CategoricalItemsFamily(n_categories)
    tables = [rng.dirichlet(np.full(m, 2.0), size=K) for m in n_categories]
    params = ItemParams(np.concatenate(tables, axis=1))
    observed = 1.0 - MISSING_RATE

    def unpack(t):
        logits = t.reshape(K, -1)
        return ItemParams(np.concatenate([softmax(b, axis=1) for b in family.split(logits)], 1))

    return Case(
        family=family,
        params=params,
        n_features=len(n_categories),
        oracle=lambda p, X: items_loglik(X, family.split(p.probabilities)),
        closed_form=lambda X, r: [np.concatenate(item_frequencies(X, r, n_categories), 1)],
        arrays=lambda p: [p.probabilities],
        std_errors=lambda p, n: [np.sqrt(p.probabilities * (1 - p.probabilities) / (observed * n))],
        n_parameters=K * sum(m - 1 for m in n_categories),
        pack=lambda p: np.log(p.probabilities).ravel(),
        unpack=unpack,
        missing=list(range(len(n_categories))),
    )


# ----------------------------------------------------------------------------- product
def product_case():
    """Diagonal Gaussian on columns 0 and 3, items on 1 and 4, Poisson counts on 2."""
    parts = [
        (gaussian_case("diag", d=2, seed=3), [0, 3]),
        (items_case((3, 2), seed=4), [1, 4]),
        (poisson_case(), [2]),
    ]
    # The Poisson case has three features; keep one of them for a single count column.
    pois = parts[2][0]
    one_rate = PoissonParams(pois.params.lambdas[:, :1].copy())
    parts[2] = (
        dataclasses.replace(
            pois,
            params=one_rate,
            n_features=1,
            n_parameters=K,
            unpack=lambda t: PoissonParams(np.exp(t).reshape(K, 1)),
        ),
        [2],
    )
    cases = [c for c, _ in parts]
    cols = [np.asarray(c) for _, c in parts]
    sizes = [len(c.pack(c.params)) for c in cases]
    cuts = np.cumsum(sizes)[:-1]

    def per_part(fn):
        return lambda p, *rest: [
            a for c, q in zip(cases, p.parts, strict=True) for a in fn(c)(q, *rest)
        ]

    def oracle(p, X):
        return sum(c.oracle(q, X[:, j]) for c, q, j in zip(cases, p.parts, cols, strict=True))

    def closed_form(X, r):
        return [a for c, j in zip(cases, cols, strict=True) for a in c.closed_form(X[:, j], r)]

    def unpack(t):
        return ProductParams(
            tuple(c.unpack(s) for c, s in zip(cases, np.split(t, cuts), strict=True))
        )

    return Case(
        family=ProductFamily([(c.family, j) for c, j in zip(cases, cols, strict=True)]),
        params=ProductParams(tuple(c.params for c in cases)),
        n_features=5,
        oracle=oracle,
        closed_form=closed_form,
        arrays=lambda p: [a for c, q in zip(cases, p.parts, strict=True) for a in c.arrays(q)],
        std_errors=per_part(lambda c: c.std_errors),
        n_parameters=sum(c.n_parameters for c in cases),
        pack=lambda p: np.concatenate([c.pack(q) for c, q in zip(cases, p.parts, strict=True)]),
        unpack=unpack,
        missing=[1, 4],
    )


CASES = {
    **{f"gaussian-{ct}": (lambda ct=ct: gaussian_case(ct)) for ct in COV_TYPES},
    "poisson": poisson_case,
    "bernoulli": bernoulli_case,
    "categorical-items": items_case,
    "product": product_case,
}


@pytest.fixture(params=list(CASES), scope="module")
def case(request):
    return CASES[request.param]()


# ----------------------------------------------------------------------------- helpers
def draw(case, labels, rng):
    """Rows drawn from ``case.params`` for the given component labels (missing answers NaN)."""
    X = np.empty((len(labels), case.n_features))
    for k in range(K):
        rows = np.flatnonzero(labels == k)
        X[rows] = case.family.sample(case.params, k, rows.size, rng)
    for j in case.missing:
        X[rng.uniform(size=len(X)) < MISSING_RATE, j] = np.nan
    return case.family.check_data(X)


def data(case, n, seed):
    """``n`` rows of all components, soft responsibilities and row weights (one zero)."""
    rng = np.random.RandomState(seed)
    X = draw(case, rng.randint(K, size=n), rng)
    resp = rng.dirichlet(np.ones(K), size=n)
    w = rng.uniform(0.2, 2.0, size=n)
    w[3] = 0.0
    return X, resp, w


def leaves(s, prefix=""):
    """``(name, array)`` of every added field of a Stats value, nested parts included."""
    out = []
    for f in dataclasses.fields(s):
        value = getattr(s, f.name)
        name = prefix + f.name
        items = value if isinstance(value, tuple) else (value,)
        for i, item in enumerate(items):
            sub = f"{name}[{i}]" if isinstance(value, tuple) else name
            if isinstance(item, Stats):
                out.extend(leaves(item, sub + "."))
            else:
                out.append((sub, np.asarray(item, dtype=np.float64)))
    return out


def assert_same_stats(actual, expected, rtol):
    assert type(actual) is type(expected)
    got, want = leaves(actual), leaves(expected)
    assert [n for n, _ in got] == [n for n, _ in want]
    for (name, a), (_, b) in zip(got, want, strict=True):
        assert_close(a, b, rtol, name)


def expected_q(case, params, X, resp):
    """Expected complete-data log-likelihood of the components, ``sum_ik r_ik log p_k(x_i)``."""
    return float(np.sum(resp * case.family.log_likelihood(params, X)))


# ----------------------------------------------------------------------------- the tests
def test_is_a_family(case):
    assert isinstance(case.family, Family)
    assert case.family.param_names
    assert isinstance(case.family.accumulate(None, *data(case, 10, 0)[:2]), Stats)


@pytest.mark.parametrize("cuts", [(1,), (37,), (199,), (50, 51, 120)])
def test_stats_add_over_any_split(case, cuts):
    X, resp, w = data(case, 200, 1)
    wresp = resp * w[:, None]
    whole = case.family.accumulate(case.params, X, wresp)
    bounds = [0, *cuts, len(X)]
    parts = [
        case.family.accumulate(case.params, X[a:b], wresp[a:b])
        for a, b in itertools.pairwise(bounds)
    ]
    assert_same_stats(sum(parts[1:], parts[0]), whole, 1e-12)


def test_stats_scale_linearly(case):
    X, resp, _ = data(case, 120, 2)
    fam = case.family
    base = fam.accumulate(case.params, X, resp)
    assert_same_stats(base.scaled(2.5), fam.accumulate(case.params, X, 2.5 * resp), 1e-12)
    halves = (
        fam.accumulate(case.params, X[:60], resp[:60]),
        fam.accumulate(case.params, X[60:], resp[60:]),
    )
    assert_same_stats((halves[0] + halves[1]).scaled(0.3), base.scaled(0.3), 1e-12)
    # The M-step reads only ratios of the statistics: scaling leaves it unchanged.
    for a, b in zip(
        case.arrays(fam.maximize(base.scaled(1e-3), case.params)),
        case.arrays(fam.maximize(base, case.params)),
        strict=True,
    ):
        assert_close(a, b, 1e-9, "maximize of scaled stats")


@pytest.mark.parametrize("weighted", [False, True])
def test_expect_mixture_matches_step_by_step(case, weighted):
    X, _, w = data(case, 150, 3)
    w = w if weighted else None
    weights = np.array([0.5, 0.3, 0.2])
    log_prob = case.oracle(case.params, X)
    joint = log_prob + np.log(weights)
    log_norm = logsumexp(joint, axis=1)
    resp = softmax(joint, axis=1)
    if w is not None:
        w[np.argmin(log_norm)] = 0.0  # the worst-fitted row is absent: the next one is worst
    ww = np.ones(len(X)) if w is None else w
    ll, s, worst, row = case.family.expect_mixture(case.params, np.log(weights), X, w)
    assert_close(ll, ww @ log_norm, 1e-12, "log-likelihood")
    assert_same_stats(s, case.family.accumulate(case.params, X, resp * ww[:, None]), 1e-11)
    live = np.flatnonzero(ww > 0)
    assert row == live[np.argmin(log_norm[live])]
    assert_close(worst, log_norm[row], 1e-12, "worst score")


def test_log_likelihood_against_scipy(case):
    X = data(case, 300, 4)[0]
    ll = case.family.log_likelihood(case.params, X)
    assert ll.shape == (300, K)
    assert_close(ll, case.oracle(case.params, X), 1e-10, "log_likelihood")


def test_maximize_is_the_closed_form(case):
    X, resp, w = data(case, 250, 5)
    wresp = resp * w[:, None]
    fam = case.family
    new = fam.maximize(fam.accumulate(case.params, X, wresp), case.params)
    for i, (a, b) in enumerate(zip(case.arrays(new), case.closed_form(X, wresp), strict=True)):
        assert_close(a, b, 1e-10, f"parameter array {i}")
    # From statistics centred elsewhere (here: the origin) the M-step is the same.
    other = fam.maximize(fam.accumulate(None, X, wresp), None)
    for i, (a, b) in enumerate(zip(case.arrays(other), case.arrays(new), strict=True)):
        assert_close(a, b, 1e-10, f"parameter array {i} from uncentred stats")


def test_maximize_beats_numerical_optimiser(case):
    X, resp, _ = data(case, 60, 6)
    fam = case.family
    new = fam.maximize(fam.accumulate(case.params, X, resp), case.params)
    q_mstep = expected_q(case, new, X, resp)

    def negative_q(theta):
        return -expected_q(case, case.unpack(theta), X, resp)

    start = case.pack(case.params)
    res = minimize(negative_q, start, method="L-BFGS-B", options={"maxiter": 20000, "ftol": 1e-15})
    q_opt = -res.fun
    assert q_opt > -negative_q(start)  # the optimiser moved uphill from the truth
    assert q_mstep >= q_opt - 1e-9 * abs(q_opt)
    # ... and it climbed to the same optimum: the closed form is that maximum.
    assert q_opt == pytest.approx(q_mstep, rel=1e-6)


def test_sampling_round_trip(case):
    n = 20_000
    rng = np.random.RandomState(7)
    labels = np.repeat(np.arange(K), n)
    X = draw(case, labels, rng)
    hard = np.eye(K)[labels]
    fam = case.family
    fitted = fam.maximize(fam.accumulate(None, X, hard), None)
    for i, (est, true, se) in enumerate(
        zip(
            case.arrays(fitted),
            case.arrays(case.params),
            case.std_errors(case.params, n),
            strict=True,
        )
    ):
        z = np.abs(est - true) / np.maximum(se, 1e-12)
        assert z.max() < 5.0, f"parameter array {i}: {z.max():.2f} standard errors off"


def test_n_parameters(case):
    assert case.family.n_parameters(K, case.n_features) == case.n_parameters


def test_initial_params_over_blocks_equal_one_m_step(case):
    X, resp, _ = data(case, 90, 8)
    hard = np.eye(K)[resp.argmax(axis=1)]
    fam = case.family

    def blocks():
        return iter([(X[:40], hard[:40]), (X[40:], hard[40:])])

    params, s = fam.initial_params(blocks, K)
    assert_close(s.counts, hard.sum(axis=0), 1e-14, "counts")
    for i, (a, b) in enumerate(zip(case.arrays(params), case.closed_form(X, hard), strict=True)):
        assert_close(a, b, 1e-10, f"parameter array {i}")


def test_reseed_moves_one_component_onto_the_row(case):
    X, resp, _ = data(case, 120, 9)
    fam = case.family
    k = 1
    before = fam.log_likelihood(case.params, X)
    row = int(np.argmin(before[:, k]))
    moved = fam.reseed(case.params, k, X[row], fam.accumulate(case.params, X, resp))
    after = fam.log_likelihood(moved, X)
    others = [j for j in range(K) if j != k]
    np.testing.assert_array_equal(after[:, others], before[:, others])
    assert np.all(np.isfinite(after[:, k]))
    assert after[row, k] > before[row, k]


BAD_VALUES = {
    "poisson": (1, -2.0, r"Xb must hold counts .*found -2\.0 at row 4, column 1"),
    "bernoulli": (2, 0.5, r"Xb must hold binary values .*found 0\.5 at row 4, column 2"),
    "categorical-items": (1, 2.0, r"Xb must hold category codes .*found 2\.0 at row 4, column 1"),
    # The product's parts see their own columns only: the column number is not asserted.
    "product": (2, 1.5, r"Xb must hold counts .*found 1\.5 at row 4"),
}


@pytest.mark.parametrize("name", list(BAD_VALUES))
def test_check_data_names_the_argument_and_the_value(name):
    case = CASES[name]()
    X = data(case, 10, 10)[0]
    column, value, message = BAD_VALUES[name]
    X[4, column] = value
    with pytest.raises(ValidationError, match=message):
        case.family.check_data(X, name="Xb")
