"""StepMix run from given parameters for a fixed number of EM iterations.

StepMix's public ``fit`` always draws its own starting point, so these functions build the
estimator, set the parameters with StepMix's own ``set_parameters`` and then repeat exactly the
body of StepMix's EM loop (``StepMix._e_step`` followed by ``StepMix._m_step``) ``n_iter``
times. The reported log-likelihood follows scikit-learn's convention, as emkit's
``lower_bound_`` does: it is the one computed by the E-step *before* the last M-step (with
``n_iter=0``, the log-likelihood of the given parameters), summed over rows with the sample
weights. StepMix is imported inside each function so that importing this module never needs it.

Categorical data are integer codes ``0 .. M_j - 1`` per column (NaN where an answer is
missing); the probabilities of item ``j`` are a ``(K, M_j)`` array whose column ``m`` belongs
to code ``m``.
"""

from __future__ import annotations

import numpy as np


def _codes_and_table(X_codes, probs):
    """StepMix's padded one-hot layout of the item probabilities, shape (K, J * L)."""
    X_codes = np.asarray(X_codes, dtype=float)
    if X_codes.ndim != 2 or X_codes.shape[1] != len(probs):
        raise ValueError("X_codes must have shape (n, J) with one probability table per column")
    K = probs[0].shape[0]
    L = max(p.shape[1] for p in probs)
    table = np.zeros((K, len(probs) * L))
    for j, p in enumerate(probs):
        table[:, j * L : j * L + p.shape[1]] = p
    return X_codes, table, L, int(sum(p.shape[1] for p in probs))


def _unpad(table, sizes):
    """Item probability tables of sizes ``sizes`` from StepMix's padded layout."""
    L = table.shape[1] // len(sizes)
    return [table[:, j * L : j * L + m].copy() for j, m in enumerate(sizes)]


def _categorical_descriptor(X_codes, L, total):
    """StepMix measurement name and parameters for categorical items (NaN-aware if needed)."""
    name = "categorical_nan" if np.isnan(X_codes).any() else "categorical"
    return name, {"integer_codes": True, "max_n_outcomes": L, "total_outcomes": total}


def run_stepmix_em(model, X, n_iter, *, tol=None, sample_weight=None):
    """Repeat StepMix's E-step/M-step pair on a prepared estimator.

    Parameters
    ----------
    model : stepmix.StepMix
        An estimator with parameters set (see :func:`stepmix_lca_model`).
    X : ndarray of shape (n_samples, n_columns)
        The data in StepMix's layout.
    n_iter : int
        Number of iterations (the most, when ``tol`` is given).
    tol : float, optional
        Stop, as StepMix's ``abs_tol`` does, once the mean per-row log-likelihood changes by
        less than ``tol`` between iterations.
    sample_weight : ndarray of shape (n_samples,), optional
        Row weights.

    Returns
    -------
    loglik_total : float
        Weighted total log-likelihood of the last E-step.
    n_done : int
        Iterations run.
    """
    total = float(len(X)) if sample_weight is None else float(np.sum(sample_weight))
    if n_iter == 0:
        mean_ll, _ = model._e_step(X, sample_weight=sample_weight)
        return mean_ll * total, 0
    previous, done = -np.inf, 0
    while done < n_iter:
        done += 1
        mean_ll, log_resp = model._e_step(X, sample_weight=sample_weight)
        model._m_step(X, np.exp(log_resp), sample_weight=sample_weight)
        if tol is not None and abs(mean_ll - previous) < tol:
            break
        previous = mean_ll
    return mean_ll * total, done


def _model(n_components, measurement, measurement_params):
    """A StepMix estimator whose measurement model is built but not initialised."""
    from stepmix.stepmix import StepMix

    model = StepMix(
        n_components=n_components,
        measurement=measurement,
        measurement_params=measurement_params,
        progress_bar=0,
        verbose=0,
    )
    model._initialize_parameters_measurement(None, init_emission=False)
    return model


def stepmix_lca(X_codes, weights0, probs0, n_iter, sample_weight=None):
    """Latent class analysis by StepMix from given parameters for ``n_iter`` EM iterations.

    Parameters
    ----------
    X_codes : array-like of shape (n_samples, n_items)
        Integer codes ``0 .. M_j - 1``; NaN marks a missing answer (left out of the row's
        likelihood, StepMix's ``categorical_nan`` model).
    weights0 : array-like of shape (n_components,)
        Initial class shares.
    probs0 : list of n_items arrays of shape (n_components, M_j)
        Initial item probabilities.
    n_iter : int
        Number of EM iterations (E-step then M-step).
    sample_weight : array-like of shape (n_samples,), optional
        Row weights.

    Returns
    -------
    loglik_total : float
        Weighted total log-likelihood of the last E-step (of the given parameters if
        ``n_iter == 0``).
    weights : ndarray of shape (n_components,)
        Class shares after the iterations.
    probs : list of ndarrays of shape (n_components, M_j)
        Item probabilities after the iterations.
    """
    probs0 = [np.asarray(p, dtype=float) for p in probs0]
    model, X = stepmix_lca_model(X_codes, weights0, probs0)
    sw = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
    ll, _ = run_stepmix_em(model, X, n_iter, sample_weight=sw)
    probs = _unpad(model._mm.parameters["pis"], [p.shape[1] for p in probs0])
    return ll, model.weights_.copy(), probs


def stepmix_lca_model(X_codes, weights0, probs0):
    """A StepMix latent class estimator set to the given parameters, and X in its layout.

    Parameters
    ----------
    X_codes : array-like of shape (n_samples, n_items)
        Integer codes ``0 .. M_j - 1``; NaN marks a missing answer.
    weights0 : array-like of shape (n_components,)
        Class shares.
    probs0 : list of n_items arrays of shape (n_components, M_j)
        Item probabilities.

    Returns
    -------
    model : stepmix.StepMix
        Ready for :func:`run_stepmix_em`.
    X : ndarray of shape (n_samples, n_items)
        The codes as floats.
    """
    probs0 = [np.asarray(p, dtype=float) for p in probs0]
    X, table, L, total = _codes_and_table(X_codes, probs0)
    name, params = _categorical_descriptor(X, L, total)
    model = _model(len(weights0), name, params)
    model.weights_ = np.array(weights0, dtype=float)
    model._mm.set_parameters({"pis": table, "max_n_outcomes": L, "total_outcomes": total})
    return model, X


def stepmix_mixed(
    X_cont,
    X_codes,
    weights0,
    means0,
    variances0,
    probs0,
    n_iter,
    *,
    reg_covar=1e-6,
    sample_weight=None,
):
    """Diagonal-Gaussian + categorical measurement by StepMix from given parameters.

    The continuous columns are StepMix's ``continuous`` (``gaussian_diag``) model, the codes its
    ``categorical`` model (``categorical_nan`` if any code is NaN), nested in one measurement
    model; the class shares are common.

    Parameters
    ----------
    X_cont : array-like of shape (n_samples, n_continuous)
        Continuous columns.
    X_codes : array-like of shape (n_samples, n_items)
        Integer codes ``0 .. M_j - 1`` of the categorical columns.
    weights0 : array-like of shape (n_components,)
        Initial class shares.
    means0, variances0 : array-like of shape (n_components, n_continuous)
        Initial means and (diagonal) variances.
    probs0 : list of n_items arrays of shape (n_components, M_j)
        Initial item probabilities.
    n_iter : int
        Number of EM iterations.
    reg_covar : float, default=1e-6
        Added to every variance in the M-step (scikit-learn's convention, which StepMix uses).
    sample_weight : array-like of shape (n_samples,), optional
        Row weights.

    Returns
    -------
    loglik_total : float
        Weighted total log-likelihood of the last E-step.
    weights : ndarray of shape (n_components,)
    means, variances : ndarrays of shape (n_components, n_continuous)
    probs : list of ndarrays of shape (n_components, M_j)
    """
    X_cont = np.asarray(X_cont, dtype=float)
    probs0 = [np.asarray(p, dtype=float) for p in probs0]
    codes, table, L, total = _codes_and_table(X_codes, probs0)
    name, params = _categorical_descriptor(codes, L, total)
    descriptor = {
        "continuous": {
            "model": "continuous",
            "n_columns": X_cont.shape[1],
            "reg_covar": reg_covar,
        },
        "categorical": {"model": name, "n_columns": codes.shape[1], **params},
    }
    model = _model(len(weights0), descriptor, None)
    model.weights_ = np.array(weights0, dtype=float)
    model._mm.set_parameters(
        {
            "continuous": {
                "means": np.array(means0, dtype=float),
                "covariances": np.array(variances0, dtype=float),
            },
            "categorical": {"pis": table, "max_n_outcomes": L, "total_outcomes": total},
        }
    )
    X = np.hstack([X_cont, codes])
    sw = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
    ll, _ = run_stepmix_em(model, X, n_iter, sample_weight=sw)
    gauss = model._mm.models["continuous"]
    probs = _unpad(model._mm.models["categorical"].parameters["pis"], [p.shape[1] for p in probs0])
    return ll, model.weights_.copy(), gauss.means_.copy(), gauss.covariances_.copy(), probs
