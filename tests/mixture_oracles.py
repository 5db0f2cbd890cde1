"""Oracles for the discrete and mixed-type mixtures, written without emkit.

Log-likelihoods come from ``scipy.stats``; M-steps are the textbook weighted estimates in
plain NumPy; :func:`em_step` is one brute-force EM iteration built from the two. The contract
tests of the families and the estimator tests share them.
"""

from __future__ import annotations

import numpy as np
from scipy import stats
from scipy.optimize import linear_sum_assignment
from scipy.special import logsumexp, softmax

from conftest import assert_close


def poisson_loglik(X, rates):
    """``sum_f log Poisson(x_if; rates[k, f])``, shape (n, K)."""
    X = np.asarray(X, dtype=np.float64)
    return np.column_stack([stats.poisson.logpmf(X, r).sum(axis=1) for r in rates])


def bernoulli_loglik(X, probabilities):
    """``sum_f log Bernoulli(x_if; probabilities[k, f])``, shape (n, K)."""
    X = np.asarray(X, dtype=np.float64)
    return np.column_stack([stats.bernoulli.logpmf(X, p).sum(axis=1) for p in probabilities])


def items_loglik(codes, tables):
    """Product over the observed items of ``P(item j = code | k)`` in logs, shape (n, K).

    ``codes`` (n, J) holds category codes with NaN for a missing answer; ``tables`` holds one
    (K, M_j) array per item. Each factor is a one-trial multinomial from scipy.stats.
    """
    codes = np.asarray(codes, dtype=np.float64)
    K = tables[0].shape[0]
    out = np.zeros((codes.shape[0], K))
    for j, table in enumerate(tables):
        seen = ~np.isnan(codes[:, j])
        onehot = np.eye(table.shape[1])[codes[seen, j].astype(int)]
        for k in range(K):
            out[seen, k] += stats.multinomial.logpmf(onehot, 1, table[k])
    return out


def weighted_means(X, resp):
    """``sum_i r_ik x_i / sum_i r_ik``, shape (K, d): the Poisson and Bernoulli M-steps."""
    X = np.asarray(X, dtype=np.float64)
    return resp.T @ X / resp.sum(axis=0)[:, None]


def item_frequencies(codes, resp, n_categories):
    """Weighted category shares of each item over the rows that answered it.

    Returns one (K, M_j) array per item: the latent class M-step with missing answers.
    """
    codes = np.asarray(codes, dtype=np.float64)
    tables = []
    for j, m in enumerate(n_categories):
        seen = ~np.isnan(codes[:, j])
        onehot = np.eye(m)[codes[seen, j].astype(int)]
        counts = resp[seen].T @ onehot
        tables.append(counts / counts.sum(axis=1, keepdims=True))
    return tables


def em_step(X, weights, params, loglik, mstep, sample_weight=None):
    """One EM iteration by brute force.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    weights : ndarray of shape (K,)
    params : object
        Component parameters, read only by ``loglik``.
    loglik : callable
        ``loglik(X, params) -> (n, K)`` component log-likelihoods.
    mstep : callable
        ``mstep(X, resp) -> new params`` from (weighted) responsibilities.
    sample_weight : ndarray of shape (n,), optional

    Returns
    -------
    weights : ndarray of shape (K,)
    params : object
    mean_loglik : float
        Weighted mean log-likelihood under the parameters given (emkit's lower bound).
    """
    joint = loglik(X, params) + np.log(weights)
    resp = softmax(joint, axis=1)
    log_norm = logsumexp(joint, axis=1)
    w = np.ones(len(X)) if sample_weight is None else np.asarray(sample_weight, float)
    resp = resp * w[:, None]
    counts = resp.sum(axis=0)
    return counts / counts.sum(), mstep(X, resp), float(w @ log_norm / w.sum())


def matching(estimated, truth):
    """Permutation ``perm`` with ``estimated[perm]`` closest to ``truth`` (rows = components)."""
    cost = np.abs(np.asarray(truth)[:, None, :] - np.asarray(estimated)[None, :, :]).sum(axis=2)
    rows, cols = linear_sum_assignment(cost)
    return cols[np.argsort(rows)]


def assert_criteria(model, X, log_prob, n_parameters, sample_weight=None):
    """score, score_samples, predict, predict_proba, bic, aic and icl against brute force.

    ``log_prob`` (n, K) holds the component log-likelihoods of the rows ``X`` under the
    model's parameters, computed by the oracles; ``n_parameters`` is the documented count of
    free parameters. With ``sample_weight`` the weighted criteria are checked as well.
    """
    n, n_comp = log_prob.shape
    joint = log_prob + np.log(model.weights_)
    log_norm, resp = logsumexp(joint, axis=1), softmax(joint, axis=1)
    ss = model.score_samples(X)
    proba = model.predict_proba(X)
    labels = model.predict(X)
    assert ss.shape == (n,) and proba.shape == (n, n_comp) and labels.shape == (n,)
    assert_close(ss, log_norm, 1e-10, "score_samples")
    assert_close(proba, resp, 1e-10, "predict_proba")
    np.testing.assert_array_equal(labels, proba.argmax(axis=1))
    assert_close(model.score(X), np.mean(ss), 1e-13, "score")
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    total, size = float(w @ log_norm), float(w.sum())
    classification = -float(w @ np.log(resp[np.arange(n), resp.argmax(axis=1)]))
    bic = -2 * total + n_parameters * np.log(size)
    kw = {} if sample_weight is None else {"sample_weight": sample_weight}
    assert_close(model.score(X, **kw), total / size, 1e-12, "score")
    assert_close(model.bic(X, **kw), bic, 1e-12, "bic")
    assert_close(model.aic(X, **kw), -2 * total + 2 * n_parameters, 1e-12, "aic")
    assert_close(model.icl(X, **kw), bic + 2 * classification, 1e-10, "icl")
