"""CategoricalMixture (latent class analysis) against poLCA's examples and StepMix.

The poLCA reference fits (``tests/oracles/polca_reference.json``, made by
``tools/oracles/make_polca_reference.py``) are global maxima found by StepMix over many restarts;
their log-likelihoods agree with the values poLCA's documentation prints. The data sets are
poLCA's and live outside the repository: the tests look for a ``shared/research-data`` folder
beside the clone and skip without it.

The StepMix tests run both libraries from the same initial parameters for a fixed number of EM
iterations on data made here, and need no outside data.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import emkit
from mixture_oracles import matching

HERE = Path(__file__).resolve().parent
REFERENCE = json.loads((HERE / "oracles" / "polca_reference.json").read_text())
CASES = sorted(k for k, v in REFERENCE.items() if isinstance(v, dict))
DATA_DIRS = (HERE.parent.parent / "shared" / "research-data", Path("/work/shared/research-data"))
NOT_CONVERGED = "ignore::sklearn.exceptions.ConvergenceWarning"


def research_data():
    """The folder holding poLCA's data sets, or skip."""
    for folder in DATA_DIRS:
        if (folder / "polca_carcinoma.csv").exists():
            return folder
    pytest.skip(
        "poLCA data sets not found: put the shared research-data folder at "
        f"{DATA_DIRS[0]} (CI has it beside the clone)"
    )


def load_items(folder, case):
    """The case's items as floats, codes as in the file, NaN for a missing answer."""
    path = folder / case["data"]
    with open(path) as fh:
        header = [h.strip('"') for h in fh.readline().strip().split(",")]
    raw = np.genfromtxt(path, delimiter=",", skip_header=1, missing_values="NA")
    X = raw[:, [header.index(c) for c in case["items"]]]
    if case["missing"] == "listwise":
        X = X[~np.isnan(X).any(axis=1)]
    return X


def fit_global(X, K, *, n_init, random_state):
    """Multi-start search, then EM from the best start until the log-likelihood settles."""
    search = emkit.CategoricalMixture(
        K, n_init=n_init, tol=1e-5, max_iter=5000, random_state=random_state
    ).fit(X)
    return emkit.CategoricalMixture(
        K,
        tol=1e-12,
        max_iter=50000,
        weights_init=search.weights_,
        probabilities_init=search.probabilities_,
    ).fit(X)


@pytest.mark.filterwarnings(NOT_CONVERGED)
@pytest.mark.parametrize("name", CASES)
def test_polca_example_maximum_likelihood(name):
    case = REFERENCE[name]
    X = load_items(research_data(), case)
    assert len(X) == case["n_rows"]
    assert int(np.isnan(X).sum()) == case["n_missing_answers"]
    model = fit_global(X, case["n_components"], n_init=10, random_state=0)

    assert len(model.categories_) == len(case["items"])
    for got, want in zip(model.categories_, case["categories"], strict=True):
        np.testing.assert_array_equal(np.asarray(got, dtype=float), want)
    loglik = float(np.sum(model.score_samples(X)))
    np.testing.assert_allclose(loglik, case["loglik"], rtol=1e-6)
    if case["polca_loglik"] is not None:  # the value poLCA prints, rounded as printed
        np.testing.assert_allclose(loglik, case["polca_loglik"], atol=0.01)

    want = [np.asarray(p) for p in case["probabilities"]]
    perm = matching(np.hstack(model.probabilities_), np.hstack(want))
    np.testing.assert_allclose(model.weights_[perm], case["weights"], atol=1e-4)
    for got, ref in zip(model.probabilities_, want, strict=True):
        np.testing.assert_allclose(got[perm], ref, atol=1e-4)


def test_polca_reference_matches_documented_loglik():
    # The stored maxima are at least as high as poLCA's printed values, and equal when rounded.
    for name in CASES:
        case = REFERENCE[name]
        if case["polca_loglik"] is not None:
            digits = len(str(case["polca_loglik"]).split(".")[1])
            assert round(case["loglik"], digits) == case["polca_loglik"], name


# --- StepMix from the same initial parameters -------------------------------------------------

SIZES = (2, 3, 4, 3)


def lca_data(seed, n=600, K=3):
    """Codes 0..M_j-1 from a K-class model (every code observed), and a different start."""
    rng = np.random.default_rng(seed)
    z = rng.choice(K, size=n, p=rng.dirichlet(np.full(K, 5.0)))
    truth = [rng.dirichlet(np.full(m, 0.7), size=K) for m in SIZES]
    X = np.column_stack([(rng.random(n)[:, None] > np.cumsum(p[z], 1)).sum(1) for p in truth])
    for j, m in enumerate(SIZES):
        X[:m, j] = np.arange(m)  # every code observed, so categories_ == 0..M_j-1
    weights0 = rng.dirichlet(np.full(K, 5.0))
    probs0 = [rng.dirichlet(np.full(m, 3.0), size=K) for m in SIZES]
    return X.astype(float), weights0, probs0, rng


def assert_same_fit(model, n_total, ref_ll, ref_weights, ref_probs):
    np.testing.assert_allclose(model.lower_bound_ * n_total, ref_ll, rtol=1e-10)
    np.testing.assert_allclose(model.weights_, ref_weights, rtol=1e-8, atol=1e-12)
    for got, want in zip(model.probabilities_, ref_probs, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-12)


@pytest.mark.filterwarnings(NOT_CONVERGED)
@pytest.mark.parametrize("variant", ["plain", "weighted", "missing"])
@pytest.mark.parametrize("n_iter", [1, 25])
def test_lca_matches_stepmix_from_same_start(variant, n_iter):
    pytest.importorskip("stepmix")
    from oracles.stepmix_oracle import stepmix_lca

    X, weights0, probs0, rng = lca_data(7)
    sample_weight = rng.uniform(0.2, 3.0, len(X)) if variant == "weighted" else None
    if variant == "missing":
        X[len(X) // 2 :][rng.random((len(X) - len(X) // 2, X.shape[1])) < 0.15] = np.nan
    ref_ll, ref_w, ref_p = stepmix_lca(X, weights0, probs0, n_iter, sample_weight=sample_weight)

    model = emkit.CategoricalMixture(
        len(weights0),
        tol=0.0,
        max_iter=n_iter,
        weights_init=weights0,
        probabilities_init=probs0,
    ).fit(X, sample_weight=sample_weight)
    assert model.n_iter_ == n_iter
    n_total = len(X) if sample_weight is None else sample_weight.sum()
    assert_same_fit(model, n_total, ref_ll, ref_w, ref_p)


def test_lca_max_iter_zero_scores_the_given_parameters():
    pytest.importorskip("stepmix")
    from oracles.stepmix_oracle import stepmix_lca

    X, weights0, probs0, _ = lca_data(11)
    ref_ll, _, _ = stepmix_lca(X, weights0, probs0, 0)
    model = emkit.CategoricalMixture(
        len(weights0), max_iter=0, weights_init=weights0, probabilities_init=probs0
    ).fit(X)
    np.testing.assert_allclose(np.sum(model.score_samples(X)), ref_ll, rtol=1e-12)
    np.testing.assert_allclose(model.score(X) * len(X), ref_ll, rtol=1e-12)


def mixed_data(seed, n=600, K=3):
    """Two Gaussian columns then the categorical items of :func:`lca_data`, and a start."""
    X_codes, weights0, probs0, rng = lca_data(seed, n=n, K=K)
    X_cont = rng.normal(size=(n, 2)) * [1.0, 3.0] + rng.integers(0, 3, size=(n, 1)) * [2.0, -4.0]
    means0 = rng.normal(size=(K, 2)) * [1.0, 3.0]
    variances0 = rng.uniform(0.5, 4.0, size=(K, 2))
    return X_cont, X_codes, weights0, means0, variances0, probs0, rng


@pytest.mark.filterwarnings(NOT_CONVERGED)
@pytest.mark.parametrize("variant", ["plain", "weighted", "missing"])
@pytest.mark.parametrize("n_iter", [1, 20])
def test_mixed_gaussian_categorical_matches_stepmix_from_same_start(variant, n_iter):
    pytest.importorskip("stepmix")
    from oracles.stepmix_oracle import stepmix_mixed

    X_cont, X_codes, weights0, means0, variances0, probs0, rng = mixed_data(5)
    sample_weight = rng.uniform(0.2, 3.0, len(X_cont)) if variant == "weighted" else None
    if variant == "missing":  # answers missing in the second half (codes stay all observed)
        half = len(X_codes) // 2
        X_codes[half:][rng.random((len(X_codes) - half, X_codes.shape[1])) < 0.15] = np.nan
    ref = stepmix_mixed(
        X_cont, X_codes, weights0, means0, variances0, probs0, n_iter, sample_weight=sample_weight
    )

    # MixedMixture has no per-family *_init arguments: set the fitted parameters and continue
    # from them with warm_start.
    X = np.hstack([X_cont, X_codes])
    model = emkit.MixedMixture(
        len(weights0),
        families={"gaussian": [0, 1], "categorical": [2, 3, 4, 5]},
        covariance_type="diag",
        max_iter=1,
        tol=0.0,
        random_state=0,
    ).fit(X, sample_weight=sample_weight)
    model.weights_ = weights0.copy()
    model.means_ = means0.copy()
    model.covariances_ = variances0.copy()
    model.probabilities_ = [p.copy() for p in probs0]
    model.set_params(warm_start=True, max_iter=n_iter).fit(X, sample_weight=sample_weight)

    assert model.n_iter_ == n_iter
    n_total = len(X) if sample_weight is None else sample_weight.sum()
    ref_ll, ref_w, ref_means, ref_vars, ref_p = ref
    assert_same_fit(model, n_total, ref_ll, ref_w, ref_p)
    np.testing.assert_allclose(model.means_, ref_means, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(model.covariances_, ref_vars, rtol=1e-8, atol=1e-12)
