"""Text summaries that ``emkit fit`` and ``emkit hmm fit`` print (:mod:`emkit.models.summary`)."""

from __future__ import annotations

__all__ = ["format_summary", "hmm_summary"]


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
        Model, convergence, log-likelihood, BIC/AIC, then one row per component with its
        weight and its centre in every feature.
    """
    return str(model.summary(X, feature_names=feature_names))


def hmm_summary(model, X, lengths, names):
    """Text summary of a fitted model on ``X``: parameters, log-likelihood, BIC."""
    return str(model.summary(X, lengths, feature_names=names))
