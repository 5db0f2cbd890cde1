"""Semi-supervised fits (mclust's MclustSSC): some rows (frames) with a known component (state).

Oracles: EM written out in NumPy with the labelled rows' responsibilities fixed one-hot by hand
and mclust's log-likelihood (the mixture density for unlabelled rows, ``pi_k f_k(x)`` of the
known component for labelled ones); a fully labelled fit is the class-wise maximum-likelihood
estimate after one iteration; every label -1 is the unsupervised fit, bitwise.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.special import logsumexp, softmax

from conftest import assert_close
from emkit import BernoulliMixture, GaussianMixture, PoissonMixture, ValidationError
from emkit.hmm import GaussianHMM
from mixture_oracles import bernoulli_loglik, poisson_loglik, weighted_means
from test_mixtures_mixed import START, flat, loglik, model, mstep, parts, simulate

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

K = 3
REG = 1e-6


def labelled_em_step(X, weights, params, component_loglik, m_step, labels):
    """One EM iteration with the labelled rows' responsibilities fixed by hand.

    Returns the new weights and parameters and the mean log-likelihood under ``params``.
    """
    joint = component_loglik(X, params) + np.log(weights)
    resp = softmax(joint, axis=1)
    row_ll = logsumexp(joint, axis=1)
    known = np.flatnonzero(labels >= 0)
    resp[known] = np.eye(joint.shape[1])[labels[known]]
    row_ll[known] = joint[known, labels[known]]
    return resp.mean(axis=0), m_step(X, resp), float(row_ll.mean())


def gaussian_loglik(X, params):
    means, covs = params
    return np.column_stack(
        [stats.multivariate_normal.logpdf(X, m, c) for m, c in zip(means, covs, strict=True)]
    )


def gaussian_mstep(X, resp):
    n_k = resp.sum(axis=0)
    means = resp.T @ X / n_k[:, None]
    covs = np.stack(
        [
            (resp[:, k, None] * (X - means[k])).T @ (X - means[k]) / n_k[k] + REG * np.eye(2)
            for k in range(resp.shape[1])
        ]
    )
    return means, covs


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = np.concatenate(
        [
            rng.randn(80, 2),
            rng.randn(70, 2) + np.array([2.0, 0.5]),
            rng.randn(60, 2) * 0.7 + np.array([0.5, 2.5]),
        ]
    )
    labels = np.full(len(X), -1)
    labels[:8], labels[80:90], labels[200:] = 0, 1, 2
    labels[100] = 0  # a labelled row inside another cluster
    return X, labels


START_MEANS = np.array([[0.5, 0.0], [1.5, 1.0], [0.0, 2.0]])
START_COVS = np.stack([np.eye(2), 1.5 * np.eye(2), np.diag([0.5, 1.0])])
START_WEIGHTS = np.array([0.3, 0.3, 0.4])


def gaussian_from_start(**kw):
    return GaussianMixture(
        K,
        weights_init=START_WEIGHTS,
        means_init=START_MEANS,
        precisions_init=np.linalg.inv(START_COVS),
        reg_covar=REG,
        tol=0.0,
        **kw,
    )


def test_gaussian_matches_hand_fixed_responsibilities(data):
    X, labels = data
    n_iter = 6
    m = gaussian_from_start(max_iter=n_iter).fit(X, labels=labels)
    weights, params, bounds = START_WEIGHTS, (START_MEANS, START_COVS), []
    for _ in range(n_iter):
        weights, params, bound = labelled_em_step(
            X, weights, params, gaussian_loglik, gaussian_mstep, labels
        )
        bounds.append(bound)
    assert_close(m.weights_, weights, 1e-10, "weights_")
    assert_close(m.means_, params[0], 1e-10, "means_")
    assert_close(m.covariances_, params[1], 1e-10, "covariances_")
    assert_close(m.lower_bounds_, bounds, 1e-12, "lower_bounds_")


def test_blocks_memmap_and_dask_give_the_in_memory_fit(data, tmp_path):
    X, labels = data
    ref = gaussian_from_start(max_iter=4).fit(X, labels=labels)
    chunked = gaussian_from_start(max_iter=4, chunk_size=37).fit(X, labels=labels)
    path = tmp_path / "X.npy"
    np.save(path, X)
    mapped = gaussian_from_start(max_iter=4, chunk_size=50).fit(
        np.load(path, mmap_mode="r"), labels=labels
    )
    fits = [chunked, mapped]
    da = pytest.importorskip("dask.array")
    fits.append(
        gaussian_from_start(max_iter=4).fit(
            da.from_array(X, chunks=60), labels=da.from_array(labels, chunks=60)
        )
    )
    for fit in fits:
        assert_close(fit.means_, ref.means_, 1e-10, "means_")
        assert_close(fit.covariances_, ref.covariances_, 1e-10, "covariances_")
        assert_close(fit.lower_bounds_, ref.lower_bounds_, 1e-12, "lower_bounds_")


def test_all_unknown_is_the_unsupervised_fit_bitwise(data):
    X, _ = data
    a = GaussianMixture(K, random_state=0).fit(X)
    b = GaussianMixture(K, random_state=0).fit(X, labels=np.full(len(X), -1))
    for name in ("weights_", "means_", "covariances_"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
    assert a.lower_bounds_ == b.lower_bounds_


def test_every_component_labelled_starts_from_the_labelled_rows(data):
    X, labels = data
    m = GaussianMixture(K, reg_covar=REG, max_iter=0).fit(X, labels=labels)
    known = labels >= 0
    resp = np.eye(K)[labels[known]]
    means, covs = gaussian_mstep(X[known], resp)
    assert_close(m.means_, means, 1e-10, "means_")
    assert_close(m.covariances_, covs, 1e-10, "covariances_")
    assert_close(m.weights_, resp.mean(axis=0), 1e-12, "weights_")


def poisson_mstep(X, resp):
    return weighted_means(X, resp)


@pytest.mark.parametrize(
    ("estimator", "start", "component_loglik", "draw"),
    [
        (
            PoissonMixture,
            {"rates_init": np.array([[1.0, 4.0], [3.0, 1.0], [6.0, 6.0]])},
            poisson_loglik,
            lambda rng, k: rng.poisson([[1, 5], [4, 1], [7, 6]][k]),
        ),
        (
            BernoulliMixture,
            {"probabilities_init": np.array([[0.2, 0.7], [0.6, 0.3], [0.5, 0.5]])},
            bernoulli_loglik,
            lambda rng, k: rng.uniform(size=2) < [[0.1, 0.8], [0.7, 0.2], [0.5, 0.6]][k],
        ),
    ],
)
def test_discrete_families_match_hand_fixed_responsibilities(
    estimator, start, component_loglik, draw
):
    rng = np.random.RandomState(3)
    truth = rng.choice(K, size=240)
    X = np.array([draw(rng, k) for k in truth], dtype=np.float64)
    labels = np.where(rng.uniform(size=240) < 0.2, truth, -1)
    n_iter = 5
    m = estimator(K, weights_init=START_WEIGHTS, tol=0.0, max_iter=n_iter, **start)
    m.fit(X, labels=labels)
    weights, params, bounds = START_WEIGHTS, next(iter(start.values())), []
    for _ in range(n_iter):
        weights, params, bound = labelled_em_step(
            X, weights, params, component_loglik, poisson_mstep, labels
        )
        bounds.append(bound)
    fitted = m.rates_ if estimator is PoissonMixture else m.probabilities_
    assert_close(m.weights_, weights, 1e-10, "weights_")
    assert_close(fitted, params, 1e-10, "parameters")
    assert_close(m.lower_bounds_, bounds, 1e-12, "lower_bounds_")


def test_mixed_families_match_hand_fixed_responsibilities():
    X, codes = simulate(300, 2)
    labels = np.where(np.random.RandomState(4).uniform(size=300) < 0.3, np.arange(300) % 2, -1)
    m = model(max_iter=1).fit(X)
    m.weights_ = START["weights"].copy()
    m.means_, m.covariances_ = START["means"].copy(), START["variances"].copy()
    m.probabilities_ = [t.copy() for t in START["tables"]]
    m.rates_, m.binary_probabilities_ = START["rates"].copy(), START["probs"].copy()
    m.set_params(warm_start=True, max_iter=3).fit(X, labels=labels)
    weights, comps, bounds = START["weights"], START, []
    for _ in range(3):
        weights, comps, bound = labelled_em_step(codes, weights, comps, loglik, mstep, labels)
        bounds.append(bound)
    assert_close(m.weights_, weights, 1e-10, "weights_")
    assert_close(flat(parts(m)), flat(comps), 1e-10, "parameters")
    assert_close(m.lower_bounds_, bounds, 1e-12, "lower_bounds_")


def test_partial_fit_of_a_fully_labelled_block_is_the_class_estimate(data):
    X, _ = data
    truth = np.repeat([0, 1, 2], [80, 70, 60])
    m = GaussianMixture(K, reg_covar=REG).partial_fit(X, labels=truth)
    means, covs = gaussian_mstep(X, np.eye(K)[truth])
    assert_close(m.means_, means, 1e-10, "means_")
    assert_close(m.covariances_, covs, 1e-10, "covariances_")


@pytest.mark.parametrize(
    ("labels", "error", "match"),
    [
        (np.full(210, 3), ValidationError, r"labels must lie in \[-1, 2\]"),
        (np.full(210, -2), ValidationError, r"labels must lie in \[-1, 2\]"),
        (np.zeros(209, dtype=int), ValidationError, "labels has shape"),
        (np.full(210, 0.5), TypeError, "labels must hold integers"),
        (np.zeros((210, 1), dtype=int), ValidationError, "labels has shape"),
    ],
)
def test_bad_labels_are_clear_errors_and_keep_the_fit(data, labels, error, match):
    X, _ = data
    m = GaussianMixture(K, random_state=0).fit(X)
    before = m.means_.copy()
    with pytest.raises(error, match=match):
        m.fit(X, labels=labels)
    assert np.array_equal(m.means_, before)


# ----------------------------------------------------------------------------- HMMs
def forward_backward(log_e, start, trans):
    """Posterior of each frame and expected transitions, by the scaled recursions."""
    e = np.exp(log_e)
    n, S = e.shape
    alpha, c = np.empty((n, S)), np.empty(n)
    a = start * e[0]
    c[0] = a.sum()
    alpha[0] = a / c[0]
    for t in range(1, n):
        a = (alpha[t - 1] @ trans) * e[t]
        c[t] = a.sum()
        alpha[t] = a / c[t]
    beta = np.ones((n, S))
    for t in range(n - 2, -1, -1):
        beta[t] = trans @ (e[t + 1] * beta[t + 1]) / c[t + 1]
    gamma = alpha * beta
    xi = sum(np.outer(alpha[t], e[t + 1] * beta[t + 1]) * trans / c[t + 1] for t in range(n - 1))
    return gamma, xi, float(np.log(c).sum())


def test_hmm_known_states_match_a_masked_forward_backward():
    rng = np.random.RandomState(5)
    states = np.repeat([0, 1, 0, 1], 30)
    X = (np.array([0.0, 2.0])[states] + rng.randn(120))[:, None]
    labels = np.full(120, -1)
    labels[[3, 40, 70, 100, 101]] = states[[3, 40, 70, 100, 101]]
    start = np.array([0.6, 0.4])
    trans = np.array([[0.9, 0.1], [0.2, 0.8]])
    means, var = np.array([[0.5], [1.5]]), np.array([[1.0], [1.0]])
    m = GaussianHMM(2, n_iter=1, params="stm", init_params="", tol=0.0)
    m.startprob_, m.transmat_, m.means_, m.covars_ = start, trans, means, var
    m.fit(X, labels=labels)
    log_e = stats.norm.logpdf(X, means.T, np.sqrt(var.T))
    known = np.flatnonzero(labels >= 0)
    mask = np.zeros_like(log_e)
    mask[known] = -np.inf
    mask[known, labels[known]] = 0.0
    gamma, xi, log_prob = forward_backward(log_e + mask, start, trans)
    assert_close(m.startprob_, gamma[0], 1e-10, "startprob_")
    assert_close(m.transmat_, xi / xi.sum(axis=1, keepdims=True), 1e-10, "transmat_")
    assert_close(m.means_, gamma.T @ X / gamma.sum(axis=0)[:, None], 1e-10, "means_")
    assert_close(m.monitor_.history[-1], log_prob, 1e-12, "log-likelihood")


def test_hmm_bad_labels_are_clear_errors():
    X = np.random.RandomState(0).randn(50, 1)
    with pytest.raises(ValidationError, match=r"labels must lie in \[-1, 1\]"):
        GaussianHMM(2, n_iter=2).fit(X, labels=np.full(50, 2))
    with pytest.raises(ValidationError, match="labels has shape"):
        GaussianHMM(2, n_iter=2).fit(X, labels=np.zeros(49, dtype=int))


@pytest.mark.parametrize("init_params", ["kmeans", "random"])
def test_labels_of_some_components_number_the_clusters(init_params):
    rng = np.random.RandomState(7)
    centres = np.array([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0]])
    X = np.concatenate([rng.randn(100, 2) * 0.5 + c for c in centres])
    labels = np.full(300, -1)
    labels[:5], labels[100:105] = 2, 0  # cluster 0 is component 2, cluster 1 is component 0
    m = GaussianMixture(K, init_params=init_params, random_state=0).fit(X, labels=labels)
    assert_close(m.means_, centres[[1, 2, 0]], 0.05, "means_")


def hmm_from_start():
    m = GaussianHMM(2, n_iter=3, params="stmc", init_params="", tol=0.0)
    m.startprob_, m.transmat_ = np.array([0.6, 0.4]), np.array([[0.9, 0.1], [0.2, 0.8]])
    m.means_, m.covars_ = np.array([[0.5], [1.5]]), np.array([[1.0], [1.0]])
    return m


def test_hmm_dask_and_all_unknown_labels():
    rng = np.random.RandomState(5)
    states = np.repeat([0, 1, 0, 1], 30)
    X = (np.array([0.0, 2.0])[states] + rng.randn(120))[:, None]
    labels = np.full(120, -1)
    labels[[3, 40, 70]] = states[[3, 40, 70]]
    ref = hmm_from_start().fit(X, lengths=[60, 60], labels=labels)
    unsupervised = hmm_from_start().fit(X, lengths=[60, 60])
    none_known = hmm_from_start().fit(X, lengths=[60, 60], labels=np.full(120, -1))
    assert np.array_equal(none_known.means_, unsupervised.means_)
    assert np.array_equal(none_known.transmat_, unsupervised.transmat_)
    assert not np.allclose(ref.means_, unsupervised.means_, rtol=1e-6)
    da = pytest.importorskip("dask.array")
    lazy = hmm_from_start().fit(
        da.from_array(X, chunks=(60, 1)), lengths=[60, 60], labels=da.from_array(labels, chunks=60)
    )
    assert_close(lazy.means_, ref.means_, 1e-10, "means_")
    assert_close(lazy.transmat_, ref.transmat_, 1e-10, "transmat_")
