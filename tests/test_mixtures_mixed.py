"""MixedMixture: mixed-type rows (Gaussian, categorical, Poisson and binary columns).

The columns of the test data interleave the families (Gaussian on 0 and 3, categorical
strings on 1 and 5, counts on 2, a binary column on 4), so a mix-up of columns shows. The
oracle is the product density from scipy.stats and the textbook M-step of each part.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from conftest import assert_close
from emkit import MixedMixture, ValidationError
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
from test_mixtures_discrete import LETTERS, as_strings

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

K = 2
REG_COVAR = 1e-6
FAMILIES = {"gaussian": [0, 3], "categorical": [1, 5], "poisson": [2], "bernoulli": [4]}
GAUSSIAN, CATEGORICAL, POISSON, BERNOULLI = ([0, 3], [1, 5], [2], [4])
N_CATEGORIES = (3, 2)
WEIGHTS = np.array([0.6, 0.4])
TRUTH = {
    "means": np.array([[0.0, 0.0], [3.0, -2.0]]),
    "variances": np.array([[1.0, 0.5], [0.8, 1.5]]),
    "tables": [np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]]), np.array([[0.8, 0.2], [0.3, 0.7]])],
    "rates": np.array([[2.0], [7.0]]),
    "probs": np.array([[0.2], [0.8]]),
}
START = {
    "weights": np.array([0.5, 0.5]),
    "means": np.array([[0.5, 0.5], [2.0, -1.0]]),
    "variances": np.array([[2.0, 1.0], [1.0, 2.0]]),
    "tables": [np.array([[0.5, 0.3, 0.2], [0.2, 0.3, 0.5]]), np.array([[0.6, 0.4], [0.4, 0.6]])],
    "rates": np.array([[3.0], [5.0]]),
    "probs": np.array([[0.4], [0.6]]),
}
#: Free parameters: diagonal Gaussian 2Kd, items K sum(M_j - 1), Poisson Kd, Bernoulli Kd.
N_PARAMETERS = 2 * K * 2 + K * sum(m - 1 for m in N_CATEGORIES) + K + K + K - 1


def simulate(n, seed, missing=0.1):
    """``(X, codes)``: an object array with strings and None, and its numeric form."""
    rng = np.random.RandomState(seed)
    labels = rng.choice(K, size=n, p=WEIGHTS)
    codes = np.empty((n, 6))
    codes[:, GAUSSIAN] = TRUTH["means"][labels] + rng.normal(size=(n, 2)) * np.sqrt(
        TRUTH["variances"][labels]
    )
    for j, t in zip(CATEGORICAL, TRUTH["tables"], strict=True):
        cdf = np.cumsum(t[labels], axis=1)
        codes[:, j] = (rng.uniform(size=(n, 1)) > cdf[:, :-1]).sum(axis=1)
        codes[rng.uniform(size=n) < missing, j] = np.nan
    codes[:, POISSON] = rng.poisson(TRUTH["rates"][labels])
    codes[:, BERNOULLI] = rng.uniform(size=(n, 1)) < TRUTH["probs"][labels]
    X = codes.astype(object)
    X[:, CATEGORICAL] = as_strings(codes[:, CATEGORICAL])
    return X, codes


def loglik(codes, c):
    """Component log-likelihoods of the numeric rows under the parts ``c``, from scipy."""
    g = codes[:, GAUSSIAN]
    out = np.column_stack(
        [
            stats.norm.logpdf(g, c["means"][k], np.sqrt(c["variances"][k])).sum(axis=1)
            for k in range(K)
        ]
    )
    out += items_loglik(codes[:, CATEGORICAL], c["tables"])
    out += poisson_loglik(codes[:, POISSON], c["rates"])
    return out + bernoulli_loglik(codes[:, BERNOULLI], c["probs"])


def mstep(codes, resp):
    """Each part's weighted estimates (the diagonal Gaussian with ``reg_covar``)."""
    g = codes[:, GAUSSIAN]
    means = weighted_means(g, resp)
    var = np.stack([resp[:, k] @ (g - means[k]) ** 2 for k in range(K)]) / resp.sum(axis=0)[:, None]
    return {
        "means": means,
        "variances": var + REG_COVAR,
        "tables": item_frequencies(codes[:, CATEGORICAL], resp, N_CATEGORIES),
        "rates": weighted_means(codes[:, POISSON], resp),
        "probs": weighted_means(codes[:, BERNOULLI], resp),
    }


def parts(m):
    """The fitted parameters of a MixedMixture in the oracles' layout."""
    return {
        "means": m.means_,
        "variances": m.covariances_,
        "tables": list(m.probabilities_),
        "rates": m.rates_,
        "probs": m.binary_probabilities_,
    }


def flat(c):
    """One row per component of every parameter, for comparing and matching labels."""
    return np.concatenate(
        [c["means"], c["variances"], *c["tables"], c["rates"], c["probs"]], axis=1
    )


def model(**kw):
    kw = {"families": FAMILIES, "tol": 0.0, "max_iter": 10, "random_state": 0, **kw}
    return MixedMixture(K, **kw)


def fit_from(start, X, n_iter, sample_weight=None, **kw):
    """``n_iter`` EM iterations from the parameters ``start`` (set, then warm-started)."""
    m = model(max_iter=1, **kw).fit(X, sample_weight=sample_weight)
    m.weights_ = start["weights"].copy()
    m.means_, m.covariances_ = start["means"].copy(), start["variances"].copy()
    m.probabilities_ = [t.copy() for t in start["tables"]]
    m.rates_, m.binary_probabilities_ = start["rates"].copy(), start["probs"].copy()
    return m.set_params(warm_start=True, max_iter=n_iter).fit(X, sample_weight=sample_weight)


@pytest.fixture(scope="module")
def rows():
    return simulate(600, 0)


def assert_same_fit(a, b, rtol=1e-10):
    assert_close(a.weights_, b.weights_, rtol, "weights_")
    assert_close(flat(parts(a)), flat(parts(b)), rtol, "parameters")
    assert_close(a.lower_bounds_, b.lower_bounds_, rtol, "lower_bounds_")


# ----------------------------------------------------------------------------- EM
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("n_iter", [1, 3])
def test_em_iterations_match_brute_force(rows, n_iter, weighted):
    X, codes = rows
    w = np.random.RandomState(1).uniform(0.0, 3.0, len(X)) if weighted else None
    m = fit_from(START, X, n_iter, sample_weight=w)
    weights, comps, bounds = START["weights"], START, []
    for _ in range(n_iter):
        weights, comps, bound = em_step(codes, weights, comps, loglik, mstep, w)
        bounds.append(bound)
    assert_close(m.weights_, weights, 1e-10, "weights_")
    assert_close(flat(parts(m)), flat(comps), 1e-10, "parameters")
    assert_close(m.lower_bounds_, bounds, 1e-12, "lower_bounds_")


@pytest.mark.parametrize("seed", [0, 1])
def test_log_likelihood_never_decreases(rows, seed):
    m = model(random_state=seed, max_iter=50).fit(rows[0])
    bounds = np.asarray(m.lower_bounds_)
    assert len(bounds) == 50
    assert np.all(np.diff(bounds) >= -1e-10), np.diff(bounds).min()


def test_recovers_generating_parameters():
    X = simulate(4000, 1)[0]
    m = model(n_init=2, tol=1e-8, max_iter=500).fit(X)
    perm = matching(flat(parts(m)), flat(TRUTH))
    assert np.abs(m.weights_[perm] - WEIGHTS).max() < 0.03
    fitted = {k: v[perm] if k != "tables" else [t[perm] for t in v] for k, v in parts(m).items()}
    assert np.abs(fitted["means"] - TRUTH["means"]).max() < 0.1
    assert np.abs(fitted["variances"] - TRUTH["variances"]).max() < 0.15
    assert (
        np.abs(np.concatenate(fitted["tables"], 1) - np.concatenate(TRUTH["tables"], 1)).max()
        < 0.05
    )
    assert np.abs(fitted["rates"] - TRUTH["rates"]).max() < 0.2
    assert np.abs(fitted["probs"] - TRUTH["probs"]).max() < 0.05


# ----------------------------------------------------------------------------- weights, chunks
def test_integer_weights_equal_repeated_rows(rows):
    X = rows[0]
    w = np.random.RandomState(2).randint(0, 4, size=len(X))
    assert (w == 0).any()
    repeated = X[np.repeat(np.arange(len(X)), w)]
    assert_same_fit(fit_from(START, X, 10, sample_weight=w), fit_from(START, repeated, 10))


def test_zero_weight_equals_removed_row(rows):
    X = rows[0]
    w = np.ones(len(X))
    w[[1, 50, 400]] = 0.0
    assert_same_fit(fit_from(START, X, 10, sample_weight=w), fit_from(START, X[w > 0], 10))


def test_chunk_size_does_not_change_the_fit(rows):
    assert_same_fit(model(chunk_size=7, max_iter=15).fit(rows[0]), model(max_iter=15).fit(rows[0]))


# ----------------------------------------------------------------------------- sources
def _streamed(kind, codes, tmp_path):
    if kind == "dask":
        da = pytest.importorskip("dask.array")
        return da.from_array(codes, chunks=(100, codes.shape[1]))
    path = tmp_path / "x.npy"
    np.save(path, codes)
    return str(path) if kind == "path" else np.load(path, mmap_mode="r")


@pytest.mark.parametrize("kind", ["path", "memmap", "dask"])
def test_streamed_input_equals_in_memory(rows, kind, tmp_path):
    dask = pytest.importorskip("dask")
    X, codes = rows
    with dask.config.set(scheduler="synchronous"):
        streamed = fit_from(START, _streamed(kind, codes, tmp_path), 10)
    assert_same_fit(streamed, fit_from(START, X, 10))


# ----------------------------------------------------------------------------- stepwise EM
def test_partial_fit_improves_and_approaches_batch_fit():
    X, codes = simulate(4000, 3)
    m = fit_from(START, X[:400], 0)
    for _ in range(2):
        for start in range(0, len(X), 400):
            m.partial_fit(X[start : start + 400])
    assert m.n_steps_ == 20
    init_ll = em_step(codes[:400], START["weights"], START, loglik, mstep)[2]
    assert_close(m.lower_bounds_[0], init_ll, 1e-12, "first bound")
    assert m.score(X[:400]) > init_ll + 0.1
    batch = fit_from(START, X, 300, tol=1e-10)
    assert np.abs(m.weights_ - batch.weights_).max() < 0.05
    assert np.abs(flat(parts(m)) - flat(parts(batch))).max() < 0.2


# ----------------------------------------------------------------------------- inference
def test_inference_and_criteria_against_brute_force(rows):
    X, codes = rows
    m = fit_from(START, X, 20)
    log_prob = loglik(codes, parts(m))
    assert_criteria(m, X, log_prob, N_PARAMETERS)
    w = np.random.RandomState(5).randint(0, 3, size=len(X))
    assert_criteria(m, X, log_prob, N_PARAMETERS, sample_weight=w)


def test_sample_returns_the_category_values(rows):
    m = fit_from(START, rows[0], 5)
    out, labels = m.sample(300)
    assert out.shape == (300, 6) and labels.shape == (300,)
    for j, m_j in zip(CATEGORICAL, N_CATEGORIES, strict=True):
        assert set(out[:, j]) <= set(LETTERS[:m_j])
        assert all(isinstance(v, str) for v in out[:, j])
    numeric = out[:, GAUSSIAN + POISSON + BERNOULLI].astype(np.float64)
    assert np.all(np.isfinite(numeric))
    assert np.all(numeric[:, 2] == np.round(numeric[:, 2])) and numeric[:, 2].min() >= 0
    assert set(np.unique(numeric[:, 3])) <= {0.0, 1.0}
    # The components sampled are the fitted ones: the Poisson means follow the rates.
    for k in range(K):
        mine = numeric[labels == k, 2]
        assert abs(mine.mean() - m.rates_[k, 0]) < 5 * np.sqrt(m.rates_[k, 0] / mine.size)


def test_dataframe_with_named_columns_gives_the_same_fit(rows):
    pd = pytest.importorskip("pandas")
    X = rows[0]
    names = ["g0", "c1", "n2", "g3", "b4", "c5"]
    frame = pd.DataFrame(X, columns=names)
    for j in (0, 2, 3, 4):
        frame[names[j]] = frame[names[j]].astype(float)
    by_name = {"gaussian": ["g0", "g3"], "categorical": ["c1", "c5"]}
    by_name.update({"poisson": ["n2"], "bernoulli": ["b4"]})
    a = model(families=by_name).fit(frame)
    b = model().fit(X)
    assert_same_fit(a, b)
    assert list(a.feature_names_in_) == names
    assert {k: list(v) for k, v in a.columns_.items()} == FAMILIES


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("families", "message"),
    [
        ({**FAMILIES, "poisson": [2, 1]}, "column 1 is given to both 'categorical' and 'poisson'"),
        ({**FAMILIES, "normal": [6]}, r"families has unknown family name\(s\) \['normal'\]"),
        ({**FAMILIES, "categorical": [1]}, r"families does not cover column\(s\) \[5\]"),
        ({**FAMILIES, "bernoulli": [4, 9]}, r"families\['bernoulli'\] has column 9"),
        ({**FAMILIES, "gaussian": ["g0", 3]}, r"families\['gaussian'\] names column 'g0'"),
        (None, "families must be a dict"),
    ],
)
def test_bad_families_are_named(rows, families, message):
    with pytest.raises(ValidationError, match=message):
        model(families=families).fit(rows[0])


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        (2, -1.0, r"X must hold counts .*found -1\.0"),
        (2, 0.5, r"X must hold counts .*found 0\.5"),
        (4, 3.0, r"X must hold binary values .*found 3\.0"),
        (0, np.inf, "X has infinity in a gaussian column"),
        (0, "high", "column 0 of X is not numeric"),
    ],
)
def test_bad_values_are_named(rows, column, value, message):
    X = rows[0].copy()
    X[7, column] = value
    with pytest.raises(ValidationError, match=message):
        model().fit(X)


def test_bad_value_message_names_the_column_of_x(rows):
    X = rows[0].copy()
    X[7, 2] = -1.0
    with pytest.raises(ValidationError, match="at row 7, column 2"):
        model().fit(X)


def test_failed_fit_leaves_the_fitted_state_intact(rows):
    X = rows[0]
    m = model().fit(X)
    before = {k: v for k, v in vars(m).items() if k.endswith("_")}
    expected = flat(parts(m)).copy(), m.weights_.copy(), list(m.lower_bounds_)
    bad = X.copy()
    bad[3, 2] = -4
    with pytest.raises(ValidationError, match="X must hold counts"):
        m.fit(bad)
    with pytest.raises(ValidationError, match="families does not cover"):
        m.set_params(families={"gaussian": [0, 3]}).fit(X)
    assert {k: v for k, v in vars(m).items() if k.endswith("_")}.keys() == before.keys()
    np.testing.assert_array_equal(flat(parts(m)), expected[0])
    np.testing.assert_array_equal(m.weights_, expected[1])
    assert m.lower_bounds_ == expected[2]
    assert {k: list(v) for k, v in m.columns_.items()} == FAMILIES
    assert_close(m.score_samples(X), model().fit(X).score_samples(X), 0, "score_samples")
