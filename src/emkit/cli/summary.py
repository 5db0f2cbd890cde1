"""Text summaries that ``emkit fit`` and ``emkit hmm fit`` print."""

from __future__ import annotations

import numpy as np

from emkit import criteria
from emkit.models.bernoulli_mixture import BernoulliMixture
from emkit.models.gaussian_mixture import GaussianMixture
from emkit.models.hmm_discrete import CategoricalHMM
from emkit.models.hmm_gaussian import GaussianHMM
from emkit.models.poisson_mixture import PoissonMixture

__all__ = ["format_summary", "hmm_summary"]

# Means of at most this many features are shown in a summary.
_SHOWN_FEATURES = 8


def format_summary(model, X, feature_names=None):
    """A readable summary of a fitted mixture and its fit to ``X``.

    Parameters
    ----------
    model : BaseMixture
        Fitted (GaussianMixture, PoissonMixture, BernoulliMixture, CategoricalMixture).
    X : ndarray of shape (n_samples, n_features)
        The data it was fitted on (for the log-likelihood, BIC and AIC).
    feature_names : list of str, optional

    Returns
    -------
    str
        Several lines: model, convergence, log-likelihood, BIC/AIC, then one row per
        component with its weight and its centre in every feature (the means, the rates, the
        probabilities of a one, or the most probable category and its probability).
    """
    n, d = len(X), model.n_features_in_
    K = model.n_components
    total_ll = float(np.sum(model.score_samples(X), dtype=np.float64))  # one pass over X
    n_params = model._n_parameters()
    if model.converged_:
        status = f"yes, after {model.n_iter_} iterations"
    else:
        status = f"NO, stopped after {model.n_iter_} iterations (max_iter={model.max_iter})"
    title, label, cells = _centres(model)
    detail = f", '{model.covariance_type}' covariance" if hasattr(model, "covariance_type") else ""
    lines = [
        f"{title}: {K} components{detail}, {n} samples x {d} features",
        f"converged:        {status}",
        f"log-likelihood:   {total_ll:.6g} ({total_ll / n:.6g} per sample)",
        f"BIC:              {criteria.bic(total_ll, n_params, n):.6g}",
        f"AIC:              {criteria.aic(total_ll, n_params):.6g}",
        "",
    ]
    names = list(feature_names) if feature_names else [f"x{j}" for j in range(d)]
    shown = min(d, _SHOWN_FEATURES)
    widths = [
        max(10, len(name), *(len(cells[k][j]) for k in range(K)))
        for j, name in enumerate(names[:shown])
    ]
    head = "component  weight  " + "  ".join(
        f"{name:>{w}}" for name, w in zip(names, widths, strict=False)
    )
    if shown < d:
        head += f"  ... ({d - shown} more features)"
    lines += [f"{label}:", head]
    for k in range(K):
        row = "  ".join(f"{cells[k][j]:>{w}}" for j, w in enumerate(widths))
        lines.append(f"{k:>9}  {model.weights_[k]:.4f}  {row}")
    return "\n".join(lines)


def _centres(model):
    """Title, table label and (K, d) cells of text describing each component's centre."""
    if isinstance(model, GaussianMixture):
        return "Gaussian mixture", "means", _numbers(model.means_)
    if isinstance(model, PoissonMixture):
        return "Poisson mixture", "rates (mean counts)", _numbers(model.rates_)
    if isinstance(model, BernoulliMixture):
        return "Bernoulli mixture", "probability of a 1", _numbers(model.probabilities_)
    cells = [
        [
            f"{cats[t[k].argmax()]} ({t[k].max():.2f})"
            for cats, t in zip(model.categories_, model.probabilities_, strict=True)
        ]
        for k in range(model.n_components)
    ]
    return "Latent class model", "most probable category (probability)", cells


def _numbers(table):
    return [[f"{x:.5g}" for x in row] for row in np.asarray(table)]


def _matrix(rows, labels, columns, fmt="{:>10.4f}"):
    width = max(len(c) for c in columns) + 2
    head = " " * 10 + "".join(f"{c:>{max(width, 10)}}" for c in columns)
    lines = [head]
    for label, row in zip(labels, np.atleast_2d(rows), strict=True):
        cells = "".join(f"{fmt.format(x):>{max(width, 10)}}" for x in row)
        lines.append(f"{label:<10}{cells}")
    return lines


def hmm_summary(model, X, lengths, names):
    """Text summary of a fitted model on ``X``: parameters, log-likelihood, BIC."""
    K = model.n_components
    states = [f"state {k}" for k in range(K)]
    n_seq = 1 if lengths is None else len(lengths)
    log_likelihood = model.score(X, lengths)  # one forward pass
    lines = [
        f"{type(model).__name__}: {K} states, {X.shape[0]} samples in {n_seq} sequence(s)",
        f"log-likelihood: {log_likelihood:.6f}",
        f"BIC: {criteria.bic(log_likelihood, model._n_parameters(), X.shape[0]):.6f}",
        f"iterations: {model.monitor_.iter} "
        f"({'converged' if model.monitor_.converged else 'not converged'})",
        "",
        "start probabilities:",
        *_matrix(model.startprob_[None, :], [""], states),
        "",
        "transition matrix (row: from, column: to):",
        *_matrix(model.transmat_, states, states),
        "",
    ]
    if isinstance(model, GaussianHMM):
        lines += ["means:", *_matrix(model.means_, states, names), ""]
        variances = np.array([np.diag(c) for c in model.covars_])
        lines += [f"variances ({model.covariance_type}):", *_matrix(variances, states, names)]
    elif isinstance(model, CategoricalHMM):
        symbols = [f"symbol {m}" for m in range(model.emissionprob_.shape[1])]
        lines += ["emission probabilities:", *_matrix(model.emissionprob_, states, symbols)]
    else:
        lines += ["rates (lambdas):", *_matrix(model.lambdas_, states, names)]
    return "\n".join(lines)
