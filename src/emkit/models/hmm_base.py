"""Shared public behaviour of the hidden Markov model estimators (fit, score, decode, sample).

Each estimator is an initial-state distribution, a transition matrix and an emission family
(:mod:`emkit.engine.markov` composes them); a subclass only says which family, how its
parameters map to the public attributes, how to validate ``X`` and how to initialise. The
``params``/``init_params`` letters are translated here, once, into the engine's ``fixed`` set.
"""

from __future__ import annotations

import logging
import math
import numbers
from functools import partial

import numpy as np
from sklearn.base import BaseEstimator

from emkit import _validation as v
from emkit import criteria
from emkit.engine.dask_source import DaskBlockSource, is_dask_collection
from emkit.engine.markov import (
    ConvergenceMonitor,
    MarkovEM,
    MarkovParams,
    SequenceSource,
    baum_welch,
)
from emkit.engine.progress import IterationBar
from emkit.exceptions import NotFittedError, ValidationError
from emkit.latent import markov as latent
from emkit.models._constructor import passed_on
from emkit.models._inputs import check_labels, open_array, sample_sequences
from emkit.models._state import unchanged_on_error
from emkit.models.summary import hmm_summary, html_view, mime_bundle

DECODER_ALGORITHMS = ("viterbi", "map")
IMPLEMENTATIONS = ("log", "scaling")
_MARKOV_LETTERS = (("s", "startprob"), ("t", "transmat"))

_log = logging.getLogger(__name__)


def check_lengths(lengths, n_samples):
    """Validate sequence lengths; returns an int64 array summing to ``n_samples``."""
    if lengths is None:
        return np.array([n_samples], dtype=np.int64)
    try:
        arr = np.asarray(lengths)
    except (TypeError, ValueError):
        raise TypeError("lengths must be an array-like of integers") from None
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1 or arr.size == 0:
        raise ValidationError(
            f"lengths must be a non-empty 1-D array of sequence lengths, got shape {arr.shape}"
        )
    if arr.dtype.kind not in "iu":
        if arr.dtype.kind != "f" or not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise ValidationError("lengths must hold whole numbers (the length of each sequence)")
    arr = arr.astype(np.int64)
    bad = np.flatnonzero(arr < 1)
    if bad.size:
        raise ValidationError(
            f"lengths has zero or negative value(s) at position(s) {bad[:10].tolist()}; every "
            "sequence needs at least one sample: drop the empty sequences"
        )
    if int(arr.sum()) != n_samples:
        raise ValidationError(
            f"lengths sum to {int(arr.sum())} but X has {n_samples} rows; the lengths of the "
            "sequences must add up to the number of rows of X"
        )
    return arr


def check_distribution(value, name, shape):
    """Validate a probability vector or row-stochastic matrix set on the estimator."""
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an array of probabilities of shape {shape}") from None
    if arr.shape != tuple(shape):
        raise ValidationError(f"{name} has shape {arr.shape}; expected {tuple(shape)}")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValidationError(f"{name} must hold finite, non-negative probabilities")
    sums = arr.sum(axis=-1)
    if not np.allclose(sums, 1.0):
        if arr.ndim == 1:
            raise ValidationError(f"{name} must sum to 1 (it sums to {float(sums):.6g})")
        bad = np.flatnonzero(~np.isclose(sums, 1.0))
        raise ValidationError(
            f"{name} rows must sum to 1 (row(s) {bad[:10].tolist()} sum to "
            f"{np.round(sums[bad[:10]], 6).tolist()})"
        )
    return arr


def _check_prior(value, name, shape):
    try:
        arr = np.asarray(value, dtype=np.float64)
        np.broadcast_to(arr, shape)
    except (TypeError, ValueError):
        raise ValidationError(
            f"{name} must be a number or an array broadcastable to {shape}"
        ) from None
    if not np.all(np.isfinite(arr)):
        raise ValidationError(f"{name} must be finite")
    return arr


# The hyperparameters every HMM has; BaseHMM.__init__ sets them.
SHARED_HYPERPARAMETERS = (
    "n_components",
    "startprob_prior",
    "transmat_prior",
    "algorithm",
    "random_state",
    "n_iter",
    "tol",
    "verbose",
    "params",
    "init_params",
    "implementation",
)


def shared_hyperparameters(arguments):
    """The shared hyperparameters out of a subclass constructor's ``locals()``."""
    return passed_on(arguments, SHARED_HYPERPARAMETERS)


def check_X_input(X):
    """Open a ``.npy`` path as a memory map (the models then read it whole); pass others through.

    ``X`` may be an array-like, a ``numpy.memmap`` or a path to a ``.npy`` file.
    """
    return open_array(X)


class BaseHMM(BaseEstimator):
    """Hidden Markov model estimator: shared fitting, scoring, decoding and sampling.

    The hyperparameters every HMM shares are set here; a subclass passes them through and sets
    its emission's own. Subclasses define ``_emission_letters`` (``(letter, fixed name)``
    pairs), ``_emission`` (the family), ``_emission_params``/``_set_emission_params``,
    ``_emission_attributes``, ``_validate_X``, ``_init_emission`` and ``_n_fit_scalars``.

    ``X`` may be an array-like, a ``numpy.memmap`` or a path to a ``.npy`` file (read block
    by block), or a Dask array (fitted block by block).
    """

    _emission_letters: tuple = ()
    _emission_attributes: tuple = ()
    #: Whether the initialisation reads the rows themselves (k-means, moments): a
    #: memory-mapped ``X`` is then initialised from a sample of its sequences (see :meth:`fit`).
    _init_reads_rows = True
    #: The type the emission takes its rows in; a memory map keeps its own and is converted
    #: one block at a time (see :meth:`_validate_X`).
    _row_dtype = np.float64

    def __init__(
        self,
        n_components=1,
        startprob_prior=1.0,
        transmat_prior=1.0,
        algorithm="viterbi",
        random_state=None,
        n_iter=10,
        tol=1e-2,
        verbose=False,
        params="",
        init_params="",
        implementation="log",
    ):
        self.n_components = n_components
        self.startprob_prior = startprob_prior
        self.transmat_prior = transmat_prior
        self.algorithm = algorithm
        self.random_state = random_state
        self.n_iter = n_iter
        self.tol = tol
        self.verbose = verbose
        self.params = params
        self.init_params = init_params
        self.implementation = implementation
        # hmmlearn's estimators have a monitor before fit (a fit replaces it with a fresh one
        # of the current tol, n_iter and verbose unless it was replaced by a custom monitor).
        self.monitor_ = ConvergenceMonitor(tol, n_iter, verbose)

    # ------------------------------------------------------------------ validation
    def _check_hyperparams(self):
        v.check_int(self.n_components, "n_components", 1)
        v.check_int(self.n_iter, "n_iter", 0)
        if (
            isinstance(self.tol, bool)
            or not isinstance(self.tol, numbers.Real)
            or math.isnan(self.tol)
        ):
            raise ValidationError(f"tol must be a number, got {self.tol!r}")
        v.check_choice(self.algorithm, "algorithm", DECODER_ALGORITHMS)
        v.check_choice(self.implementation, "implementation", IMPLEMENTATIONS)
        letters = self._letters()
        for name in ("params", "init_params"):
            value = getattr(self, name)
            if not isinstance(value, str):
                raise ValidationError(
                    f"{name} must be a string of parameter letters, got {value!r}"
                )
            unknown = sorted(set(value) - set(letters))
            if unknown:
                allowed = ", ".join(f"'{code}' {what}" for code, what in letters.items())
                raise ValidationError(
                    f"{name}={value!r} has unknown letter(s) {', '.join(map(repr, unknown))}; "
                    f"{type(self).__name__} accepts {allowed}"
                )
        K = self.n_components
        _check_prior(self.startprob_prior, "startprob_prior", (K,))
        _check_prior(self.transmat_prior, "transmat_prior", (K, K))

    def _letters(self):
        """``{letter: parameter name}`` of the ``params``/``init_params`` letters."""
        return dict(_MARKOV_LETTERS + tuple(self._emission_letters))

    def _fixed(self):
        return frozenset(name for code, name in self._letters().items() if code not in self.params)

    def _check_fitted(self):
        missing = [
            n
            for n in ("startprob_", "transmat_", *self._emission_attributes)
            if not hasattr(self, n)
        ]
        if missing:
            raise NotFittedError(
                f"This {type(self).__name__} instance has no {', '.join(missing)}; call fit, or "
                "set these attributes before scoring, decoding or sampling."
            )

    def _params(self):
        """The current parameters as :class:`MarkovParams`, validated."""
        K = self.n_components
        startprob = check_distribution(self.startprob_, "startprob_", (K,))
        transmat = check_distribution(self.transmat_, "transmat_", (K, K))
        return MarkovParams(startprob, transmat, self._emission_params())

    def _problem(self, fixed=frozenset()):
        return MarkovEM(
            self._emission(),
            fixed=fixed,
            startprob_prior=self.startprob_prior,
            transmat_prior=self.transmat_prior,
        )

    # ------------------------------------------------------------------ fitting
    def fit(self, X, lengths=None, sample_weight=None, labels=None):
        """Estimate the parameters with the Baum-Welch algorithm.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), numpy.memmap or path to a .npy file
            The sequences, stacked. A memory map (or file) is read block by block; the
            initialisation then runs on a sample of whole sequences of about 100,000 rows,
            as for a Dask array.
        lengths : array-like of int of shape (n_sequences,), default=None
            Length of each sequence; they sum to ``n_samples``. None is one sequence.
        sample_weight : array-like of shape (n_sequences,), default=None
            Non-negative per-sequence weights; integer weights fit the same model as repeated
            sequences.
        labels : array-like of int of shape (n_samples,), default=None
            Known state of some frames, -1 where unknown (semi-supervised Baum-Welch): at a
            labelled frame every other state's emission likelihood is zero, so the posterior
            is one-hot there and the paths through it are the only ones counted. All -1 (or
            None) is the unsupervised fit. The initialisation does not use them.

        Returns
        -------
        self
        """
        with unchanged_on_error(self):
            self._fit(X, lengths, sample_weight, labels)
        return self

    def _needs_init(self, code, name):
        if code in self.init_params:
            if hasattr(self, name):
                _log.warning(
                    "Even though the %r attribute is set, it will be overwritten during "
                    "initialization because 'init_params' contains %r",
                    name,
                    code,
                )
            return True
        return not hasattr(self, name)

    def _initialise(self, X, lengths):
        """Initialise the parameters that ``init_params`` names or that are not set."""
        K = self.n_components
        rng = v.check_random_state(self.random_state)
        init = np.full(K, 1.0 / K)
        if self._needs_init("s", "startprob_"):
            self.startprob_ = rng.dirichlet(init)
        if self._needs_init("t", "transmat_"):
            self.transmat_ = rng.dirichlet(init, size=K)
        self._init_emission(X, lengths)
        counts = self._n_fit_scalars(X.shape[1])
        n_scalars = sum(counts.get(code, 0) for code in self.params)
        if X.size < n_scalars:
            _log.warning(
                "Fitting a model with %d free scalar parameters with only %d data points will "
                "result in a degenerate solution.",
                n_scalars,
                X.size,
            )

    def _n_fit_scalars(self, n_features):
        """Free scalars fitted per ``params`` letter."""
        K = self.n_components
        return {"s": K - 1, "t": K * (K - 1), **self._emission_fit_scalars(n_features)}

    def _init(self, X, lengths=None):
        """Initialise the parameters as :meth:`fit` does before its first iteration.

        hmmlearn's name for this step; ``lengths`` may be an int (one sequence) or a list.
        """
        self._check_hyperparams()
        X = self._validate_X(check_X_input(X), fitting=True)
        lengths = check_lengths(lengths, X.shape[0])
        self._initialise(X, lengths)

    def _check(self):
        """Validate the hyperparameters and the parameters set on the estimator.

        hmmlearn's name for this step; raises ``ValidationError`` (a ``ValueError``).
        """
        self._check_hyperparams()
        self._check_fitted()
        self._params()

    def _fit(self, X, lengths, sample_weight, labels=None):
        self._check_hyperparams()
        X = check_X_input(X)
        streamed = isinstance(X, np.memmap)
        dask_X = X if is_dask_collection(X) else None
        if dask_X is not None:
            lengths = check_lengths(lengths, int(dask_X.shape[0]))
            X, init_lengths = sample_sequences(dask_X, lengths, self.random_state)
            X = self._validate_X(X, fitting=True)
        else:
            X = self._validate_X(X, fitting=True)
            lengths = init_lengths = check_lengths(lengths, X.shape[0])
        X_init = X
        if streamed and self._init_reads_rows:  # k-means on a sample of whole sequences
            X_init, init_lengths = sample_sequences(X, lengths, self.random_state)
            X_init = self._validate_X(X_init, fitting=False)
        weights = v.check_sample_weight(sample_weight, len(lengths), unit="sequence")
        if labels is not None:
            n_rows = int((X if dask_X is None else dask_X).shape[0])
            labels = check_labels(labels, n_rows, self.n_components, what="state")
            labels = None if labels is None else np.asarray(labels)
        self._initialise(X_init, init_lengths)
        del X_init  # a memory-mapped X's sample is not needed any more
        params = self._params()
        problem = self._problem(self._fixed())
        if dask_X is None:
            source = SequenceSource(X, lengths, weights, labels=labels, dtype=self._row_dtype)
        else:
            # Blocks of whole sequences about one row-chunk of the Dask array each.
            rows = max(dask_X.chunks[0])
            blocks = SequenceSource(
                dask_X, lengths, weights, block_rows=rows, labels=labels
            ).blocks()
            source = DaskBlockSource(blocks, check=partial(self._validate_X, fitting=False))
        monitor = self._new_monitor()
        with IterationBar(self.n_iter, desc=f"{type(self).__name__} fit") as bar:
            params = baum_welch(problem, source, params, monitor, self.n_iter, bar.callback)
        self.startprob_ = params.startprob
        self.transmat_ = params.transmat
        self._set_emission_params(params.emission)
        self.monitor_ = monitor

    def _new_monitor(self):
        current = getattr(self, "monitor_", None)
        if current is not None and type(current) is not ConvergenceMonitor:
            return current
        return ConvergenceMonitor(self.tol, self.n_iter, self.verbose)

    # ------------------------------------------------------------------ inference
    def _prepare(self, X, lengths):
        """Validated parameters, the number of rows and the blocks to run inference on.

        Each block is ``(rows, emission input, offsets)`` for a run of whole sequences of
        about ``DEFAULT_BLOCK_ROWS`` rows (a longer sequence is a block of its own), so that a
        memory-mapped ``X`` is read block by block and no (n, K) array of the whole is made.
        """
        self._check_fitted()
        self._check_hyperparams()
        X = self._validate_X(check_X_input(X), fitting=False)
        lengths = check_lengths(lengths, X.shape[0])
        params = self._params()
        problem = self._problem()
        source = SequenceSource(X, lengths, dtype=self._row_dtype)

        def blocks():
            for rows, block in source.row_blocks():
                yield rows, problem.emission_input(params, block.X), block.offsets

        return params, X.shape[0], blocks()

    def score_samples(self, X, lengths=None):
        """Log-likelihood of ``X`` and the posterior state probabilities.

        Returns
        -------
        log_prob : float
        posteriors : ndarray of shape (n_samples, n_components)
        """
        params, n, blocks = self._prepare(X, lengths)
        gamma = np.empty((n, self.n_components))
        total = 0.0
        for rows, frames, offsets in blocks:
            post = latent.forward_backward(frames, offsets, params.startprob, params.transmat)
            gamma[rows] = post.gamma
            total += float(post.log_prob.sum())
        return total, gamma

    def score(self, X, lengths=None, sample_weight=None):
        """Log-likelihood of ``X``, summed over the sequences.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), numpy.memmap or path to a .npy file
        lengths : array-like of int of shape (n_sequences,), default=None
        sample_weight : array-like of shape (n_sequences,), default=None
            Per-sequence weights (as in :meth:`fit`): the sum is weighted, so integer weights
            score the same as repeated sequences.

        Returns
        -------
        float
        """
        return self._score(X, lengths, sample_weight)[0]

    def _score(self, X, lengths, sample_weight=None):
        """Weighted log-likelihood of ``X`` and its weighted number of rows."""
        params, n, blocks = self._prepare(X, lengths)
        lp, sizes = [], []
        for _, frames, offsets in blocks:
            lp.append(latent.log_likelihood(frames, offsets, params.startprob, params.transmat))
            sizes.append(np.diff(offsets))
        lp, sizes = np.concatenate(lp), np.concatenate(sizes)
        weights = v.check_sample_weight(sample_weight, len(lp), unit="sequence")
        if weights is None:
            return float(lp.sum()), int(n)
        # A zero-weight sequence counts for nothing, even one the model finds impossible.
        used = weights > 0
        return float(np.dot(weights[used], lp[used])), float(np.dot(weights, sizes))

    def decode(self, X, lengths=None, algorithm=None):
        """Most likely state sequence of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        lengths : array-like of int of shape (n_sequences,), default=None
        algorithm : {'viterbi', 'map'}, default=None
            'viterbi': the most probable path; 'map': the most probable state of each frame.
            None uses the ``algorithm`` parameter.

        Returns
        -------
        log_prob : float
            ``log p(X, states)`` of the returned path, summed over sequences. For 'map' this is
            the log-probability of the decoded path too (``-inf`` if it uses a forbidden
            transition), never above Viterbi's.
        state_sequence : ndarray of shape (n_samples,)
        """
        algorithm = self.algorithm if algorithm is None else algorithm
        v.check_choice(algorithm, "algorithm", DECODER_ALGORITHMS)
        params, n, blocks = self._prepare(X, lengths)
        decoder = latent.viterbi if algorithm == "viterbi" else latent.map_decode
        path = np.empty(n, dtype=np.int64)
        total = 0.0
        for rows, frames, offsets in blocks:
            lp, path[rows] = decoder(frames, offsets, params.startprob, params.transmat)
            total += float(lp.sum())
        return total, path

    def predict(self, X, lengths=None):
        """Most likely state of each sample (decoded with ``algorithm``), shape (n_samples,)."""
        return self.decode(X, lengths)[1]

    def predict_proba(self, X, lengths=None):
        """Posterior state probabilities, shape (n_samples, n_components)."""
        return self.score_samples(X, lengths)[1]

    def sample(self, n_samples=1, random_state=None, currstate=None):
        """Generate a sequence from the model.

        Parameters
        ----------
        n_samples : int, default=1
        random_state : int, RandomState instance or None, default=None
            None uses the estimator's ``random_state``.
        currstate : int, default=None
            First state; drawn from ``startprob_`` when None.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
        state_sequence : ndarray of shape (n_samples,)
        """
        self._check_fitted()
        self._check_hyperparams()
        v.check_int(n_samples, "n_samples", 1)
        K = self.n_components
        if currstate is not None:
            v.check_int(currstate, "currstate", 0)
            if currstate >= K:
                raise ValidationError(f"currstate must be < n_components={K}, got {currstate}")
        params = self._params()
        rng = v.check_random_state(self.random_state if random_state is None else random_state)
        states = latent.sample_states(params.startprob, params.transmat, n_samples, rng, currstate)
        family = self._emission()
        parts = {}
        for k in np.unique(states):
            idx = np.flatnonzero(states == k)
            parts[k] = (idx, family.sample(params.emission, int(k), idx.size, rng))
        first = next(iter(parts.values()))[1]
        X = np.empty((n_samples, *first.shape[1:]), dtype=first.dtype)
        for idx, rows in parts.values():
            X[idx] = rows
        return X, states

    def get_stationary_distribution(self):
        """Stationary distribution of ``transmat_``, shape (n_components,).

        Only ``transmat_`` needs to be set.
        """
        if not hasattr(self, "transmat_"):
            raise NotFittedError(
                f"This {type(self).__name__} instance has no transmat_; call fit or set it"
            )
        K = self.n_components
        return latent.stationary_distribution(
            check_distribution(self.transmat_, "transmat_", (K, K))
        )

    # ------------------------------------------------------------------ criteria
    def _n_parameters(self):
        K = self.n_components
        return K - 1 + K * (K - 1) + self._emission().n_parameters(K, self._n_emission_features())

    def aic(self, X, lengths=None, sample_weight=None):
        """Akaike information criterion on ``X`` (lower is better).

        ``sample_weight`` weights the sequences' log-likelihoods as in :meth:`score`.
        """
        return criteria.aic(self.score(X, lengths, sample_weight), self._n_parameters())

    def bic(self, X, lengths=None, sample_weight=None):
        """Bayesian information criterion on ``X`` (lower is better).

        ``sample_weight`` weights the sequences' log-likelihoods as in :meth:`score`, and the
        number of samples is the weighted number of rows.
        """
        log_likelihood, n = self._score(X, lengths, sample_weight)  # X validated once
        return criteria.bic(log_likelihood, self._n_parameters(), n)

    # ------------------------------------------------------------------ model files
    def _check_fitted_state(self):
        """Check that the fitted attributes form a consistent model (e.g. one read from a file).

        Validates the hyper-parameters and the fitted parameters exactly as before scoring
        (shapes for ``n_components``, distributions summing to 1, finite values, symmetric
        positive-definite covariances, ...), that ``n_features_in_`` matches the emission
        parameters, and the type of ``monitor_``.

        Raises
        ------
        ValueError or TypeError
            Naming the first inconsistent attribute.
        """
        self._check_fitted()
        self._check_hyperparams()
        self._params()
        state = vars(self)
        n_features = state.get("n_features_in_")
        if n_features is not None and (
            isinstance(n_features, bool)
            or not isinstance(n_features, int)
            or n_features != self._n_emission_features()
        ):
            raise ValueError(
                f"n_features_in_ is {n_features!r} but the emission parameters have "
                f"{self._n_emission_features()} features"
            )
        monitor = state.get("monitor_")
        if monitor is not None and not isinstance(monitor, ConvergenceMonitor):
            raise TypeError(f"monitor_ must be a ConvergenceMonitor, got {type(monitor).__name__}")

    # ------------------------------------------------------------------ summaries
    def summary(self, X=None, lengths=None, feature_names=None):
        """A readable summary of the fitted model (text with ``str``, HTML in notebooks).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), optional
            Sequences to report the log-likelihood and BIC of (one forward pass); without it
            the last iteration's log-likelihood is shown.
        lengths : array-like of int, optional
        feature_names : list of str, optional
            Column names when the model has no ``feature_names_in_``.

        Returns
        -------
        emkit.models.summary.Summary
            Convergence, log-likelihood, start and transition probabilities, emissions.
        """
        self._check_fitted()
        return hmm_summary(self, X, lengths, feature_names)

    def _is_fitted(self):
        try:
            self._check_fitted()
        except NotFittedError:
            return False
        return True

    def _repr_html_(self):
        """The summary as HTML once fitted (scikit-learn's estimator diagram before)."""
        return html_view(self, self._is_fitted(), self.summary)

    def _repr_mimebundle_(self, **kwargs):
        """What a notebook displays: text and the HTML summary."""
        return mime_bundle(self, self._is_fitted(), self.summary)
