"""Text summaries that ``emkit fit`` and ``emkit hmm fit`` print."""

from __future__ import annotations

import numpy as np

from emkit import criteria
from emkit.models.hmm_discrete import CategoricalHMM
from emkit.models.hmm_gaussian import GaussianHMM

__all__ = ["format_summary", "hmm_summary"]

# Means of at most this many features are shown in a summary.
_SHOWN_FEATURES = 8


def format_summary(model, X, feature_names=None):
    """A readable summary of a fitted GaussianMixture and its fit to ``X``.

    Parameters
    ----------
    model : GaussianMixture
        Fitted.
    X : ndarray of shape (n_samples, n_features)
        The data it was fitted on (for the log-likelihood, BIC and AIC).
    feature_names : list of str, optional

    Returns
    -------
    str
        Several lines: model, convergence, log-likelihood, BIC/AIC, then one row per
        component with its weight and mean.
    """
    n, d = X.shape
    K = model.n_components
    total_ll = float(np.sum(model.score_samples(X), dtype=np.float64))  # one pass over X
    n_params = model._n_parameters()
    if model.converged_:
        status = f"yes, after {model.n_iter_} iterations"
    else:
        status = f"NO, stopped after {model.n_iter_} iterations (max_iter={model.max_iter})"
    lines = [
        f"Gaussian mixture: {K} components, '{model.covariance_type}' covariance, "
        f"{n} samples x {d} features",
        f"converged:        {status}",
        f"log-likelihood:   {total_ll:.6g} ({total_ll / n:.6g} per sample)",
        f"BIC:              {criteria.bic(total_ll, n_params, n):.6g}",
        f"AIC:              {criteria.aic(total_ll, n_params):.6g}",
        "",
    ]
    names = list(feature_names) if feature_names else [f"x{j}" for j in range(d)]
    shown = min(d, _SHOWN_FEATURES)
    widths = [max(10, len(name)) for name in names[:shown]]
    head = "component  weight  " + "  ".join(
        f"{name:>{w}}" for name, w in zip(names, widths, strict=False)
    )
    if shown < d:
        head += f"  ... ({d - shown} more features)"
    lines += ["means:", head]
    for k in range(K):
        cells = "  ".join(f"{model.means_[k, j]:>{w}.5g}" for j, w in enumerate(widths))
        lines.append(f"{k:>9}  {model.weights_[k]:.4f}  {cells}")
    return "\n".join(lines)


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
