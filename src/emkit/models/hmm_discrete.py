"""CategoricalHMM and PoissonHMM: hidden Markov models of symbols and counts.

Drop-ins for hmmlearn's estimators of the same names.
"""

from __future__ import annotations

import numpy as np

from emkit import _validation as v
from emkit.exceptions import ValidationError
from emkit.families.categorical import CategoricalFamily, CategoricalParams
from emkit.families.poisson import PoissonFamily, PoissonParams
from emkit.models.hmm_base import BaseHMM, check_distribution, shared_hyperparameters


def _numeric_array(X, what, missing):
    """``X`` as int64 (``missing`` marks a missing value: -1) or float64 with NaN for one.

    An integer memory map is checked in place and keeps its type (its blocks are converted as
    they are read).
    """
    mapped = isinstance(X, np.memmap)
    if X is None:
        raise ValidationError(f"X is None; pass an array-like of {what}")
    try:
        arr = np.asarray(X)
    except (TypeError, ValueError):
        raise TypeError(
            f"X must be an array-like, a numpy.memmap or the path of a .npy file of {what}"
        ) from None
    if arr.dtype.kind not in "biuf":
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"X must hold numbers only ({what})") from None
    if arr.size == 0:
        raise ValidationError(f"X is empty; pass at least one sample of {what}")
    if arr.dtype.kind in "biu":  # integers: one pass finds any bad value
        low = int(arr.min())
        floor = -1 if missing == "-1" else 0  # -1 marks a missing symbol
        if low < floor:
            raise ValidationError(f"X must hold {what}; found the negative value {low}")
        if mapped:
            return arr
        return arr.astype(np.int64 if missing == "-1" else np.float64, copy=False)
    # Floats from here on: NaN marks a missing value.
    gaps = np.isnan(arr)
    if np.isinf(arr).any():
        raise ValidationError("X contains infinity; replace or drop the non-finite values")
    seen = arr[~gaps]
    bad = np.flatnonzero(seen != np.round(seen))
    if bad.size:
        value = float(seen[bad[0]])
        raise ValidationError(f"X must hold {what}; found the non-integer value {value:g}")
    ints = np.where(gaps, 0, arr).astype(np.int64)
    if ints.min() < 0:
        raise ValidationError(f"X must hold {what}; found the negative value {int(ints.min())}")
    if missing == "-1":
        return np.where(gaps, -1, ints)
    return np.where(gaps, np.nan, ints.astype(np.float64))


class CategoricalHMM(BaseHMM):
    """Hidden Markov model with categorical (discrete symbol) emissions.

    Same parameters, attributes and methods as ``hmmlearn.hmm.CategoricalHMM``; ``X`` has
    shape (n_samples, 1) and holds integer symbols in ``[0, n_features)``. A missing symbol is
    -1 (or NaN in a float array): its frame has no emission term, so it is decoded and fitted
    from its neighbours through the transitions.

    Parameters
    ----------
    n_components : int, default=1
    startprob_prior, transmat_prior : float or array-like, default=1.0
        Dirichlet concentrations of ``startprob_`` and of each row of ``transmat_``.
    emissionprob_prior : float or array-like of shape (n_components, n_features), default=1.0
        Dirichlet concentration of each row of ``emissionprob_``.
    n_features : int, default=None
        Number of symbols; inferred from the data (largest symbol + 1) when None.
    algorithm, random_state, n_iter, tol, verbose, implementation
        As for :class:`~emkit.hmm.GaussianHMM`.
    params, init_params : str, default='ste'
        's' startprob, 't' transmat, 'e' emissionprob.

    Attributes
    ----------
    startprob_ : ndarray of shape (n_components,)
    transmat_ : ndarray of shape (n_components, n_components)
    emissionprob_ : ndarray of shape (n_components, n_features)
    monitor_ : ConvergenceMonitor
    """

    # The alphabet comes from every symbol, not from a sample.
    _init_reads_rows = False
    _row_dtype = np.int64

    _emission_letters = (("e", "emissionprob"),)
    _emission_attributes = ("emissionprob_",)

    def __init__(
        self,
        n_components=1,
        startprob_prior=1.0,
        transmat_prior=1.0,
        *,
        emissionprob_prior=1.0,
        n_features=None,
        algorithm="viterbi",
        random_state=None,
        n_iter=10,
        tol=1e-2,
        verbose=False,
        params="ste",
        init_params="ste",
        implementation="log",
    ):
        super().__init__(**shared_hyperparameters(locals()))
        self.emissionprob_prior = emissionprob_prior
        self.n_features = n_features

    def _n_symbols(self):
        if self.n_features is not None:
            return int(self.n_features)
        shape = np.shape(self.emissionprob_)
        if len(shape) != 2 or shape[1] == 0:
            raise ValidationError(
                f"emissionprob_ has shape {shape}; expected (n_components={self.n_components}, "
                "n_features): one row of symbol probabilities per state"
            )
        return int(shape[1])

    def _emission_fit_scalars(self, n_features):
        return {"e": self.n_components * (self._n_symbols() - 1)}

    def _check_hyperparams(self):
        super()._check_hyperparams()
        v.check_int(self.n_features, "n_features", 1, allow_none=True)

    def _emission(self):
        return CategoricalFamily(self._n_symbols(), self.emissionprob_prior)

    def _n_emission_features(self):
        return self._n_symbols()

    def _emission_params(self):
        shape = (self.n_components, self._n_symbols())
        return CategoricalParams(check_distribution(self.emissionprob_, "emissionprob_", shape))

    def _set_emission_params(self, params):
        self.emissionprob_ = params.emissionprob

    def _validate_X(self, X, fitting):
        arr = _numeric_array(X, "integer symbols (-1 or NaN for a missing one)", "-1")
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2 or arr.shape[1] != 1:
            raise ValidationError(
                f"X has shape {arr.shape}; CategoricalHMM expects one symbol per row, shape "
                "(n_samples, 1)"
            )
        known = self.n_features is not None or (not fitting and hasattr(self, "emissionprob_"))
        if known:
            self._check_alphabet(arr)
        return arr

    def _check_alphabet(self, X):
        """Every symbol of the validated ``X`` lies in ``[0, n_features)``."""
        M = self._n_symbols()
        top = int(X.max())
        if top >= M:
            raise ValidationError(
                f"X contains the symbol {top}, outside the alphabet of n_features={M} "
                f"symbols (0 to {M - 1}); set n_features to the alphabet size"
            )

    def _init_emission(self, X, lengths):
        if self.n_features is None:  # (a given n_features was checked with X already)
            if hasattr(self, "emissionprob_") and "e" not in self.init_params:
                self.n_features = int(np.shape(self.emissionprob_)[1])
                self._check_alphabet(X)
            else:
                self.n_features = int(X.max()) + 1
        if self._needs_init("e", "emissionprob_"):
            rng = v.check_random_state(self.random_state)
            e = rng.rand(self.n_components, self.n_features)
            self.emissionprob_ = e / e.sum(axis=1, keepdims=True)


class PoissonHMM(BaseHMM):
    """Hidden Markov model with independent Poisson counts per feature.

    Same parameters, attributes and methods as ``hmmlearn.hmm.PoissonHMM``; NaN marks a missing
    count, left out of its frame's emission (a frame with every count missing has no emission
    term). With a Gamma prior
    (``lambdas_prior`` = shape alpha, ``lambdas_weight`` = rate beta) the rates are the
    per-state posterior means ``(alpha + sum_t w_tk x_t) / (beta + sum_t w_tk)``.

    Parameters
    ----------
    n_components : int, default=1
    startprob_prior, transmat_prior : float or array-like, default=1.0
    lambdas_prior, lambdas_weight : float or array-like, default=0.0
        Shape and rate of the Gamma prior on each rate; zero is maximum likelihood.
    algorithm, random_state, n_iter, tol, verbose, implementation
        As for :class:`~emkit.hmm.GaussianHMM`.
    params, init_params : str, default='stl'
        's' startprob, 't' transmat, 'l' lambdas.

    Attributes
    ----------
    n_features : int
    startprob_ : ndarray of shape (n_components,)
    transmat_ : ndarray of shape (n_components, n_components)
    lambdas_ : ndarray of shape (n_components, n_features)
    monitor_ : ConvergenceMonitor
    """

    _emission_letters = (("l", "lambdas"),)
    _emission_attributes = ("lambdas_",)

    def __init__(
        self,
        n_components=1,
        startprob_prior=1.0,
        transmat_prior=1.0,
        lambdas_prior=0.0,
        lambdas_weight=0.0,
        algorithm="viterbi",
        random_state=None,
        n_iter=10,
        tol=1e-2,
        verbose=False,
        params="stl",
        init_params="stl",
        implementation="log",
    ):
        super().__init__(**shared_hyperparameters(locals()))
        self.lambdas_prior = lambdas_prior
        self.lambdas_weight = lambdas_weight

    def _emission(self):
        return PoissonFamily(self.lambdas_prior, self.lambdas_weight)

    def _emission_fit_scalars(self, n_features):
        return {"l": self.n_components * n_features}

    def _n_emission_features(self):
        return np.shape(self.lambdas_)[1]

    def _emission_params(self):
        lam = np.asarray(self.lambdas_)
        if lam.ndim != 2 or lam.shape[0] != self.n_components:
            raise ValidationError(
                f"lambdas_ has shape {lam.shape}; expected (n_components={self.n_components}, "
                "n_features)"
            )
        lam = v.check_array_param(lam, "lambdas_", lam.shape)
        if np.any(lam < 0):
            raise ValidationError("lambdas_ must be >= 0 (Poisson rates)")
        return PoissonParams(lam)

    def _set_emission_params(self, params):
        self.lambdas_ = params.lambdas

    def _validate_X(self, X, fitting):
        arr = _numeric_array(X, "non-negative integer counts (NaN for a missing one)", "nan")
        if arr.ndim != 2:
            raise ValidationError(f"X has shape {arr.shape}; expected (n_samples, n_features)")
        keeps = hasattr(self, "lambdas_") and not (fitting and "l" in self.init_params)
        if keeps and np.shape(self.lambdas_)[-1] != arr.shape[1]:
            raise ValidationError(
                f"X has {arr.shape[1]} features but lambdas_ has {np.shape(self.lambdas_)[-1]}"
            )
        return arr

    def _init_emission(self, X, lengths):
        self.n_features = X.shape[1]
        if self._needs_init("l", "lambdas_"):
            rng = v.check_random_state(self.random_state)
            mean, var = np.nanmean(X), np.nanvar(X)
            size = (self.n_components, self.n_features)
            if mean > 0 and var > 0:
                self.lambdas_ = rng.gamma(shape=mean**2 / var, scale=var / mean, size=size)
            else:
                self.lambdas_ = np.full(size, mean)
