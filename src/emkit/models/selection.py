"""MixtureSelection: mclust-style choice of the number of components and covariance structure.

Fits a :class:`~emkit.GaussianMixture` for every (covariance structure, number of components)
of a grid, scores each by BIC, ICL or AIC, and keeps the best. As in R's mclust, every fit
starts from a partition of one model-based hierarchical agglomeration (computed once, cut at
each ``K``; :mod:`emkit.engine.hierarchical`), and fits that end degenerate (a component that
emptied or collapsed onto a subspace: mclust gives those no BIC) are marked in the table,
never chosen.
"""

from __future__ import annotations

import math
import os
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.cluster import KMeans
from sklearn.utils.validation import check_is_fitted

from emkit import _validation as v
from emkit import criteria
from emkit.engine.em import RelativeLogLikelihoodChange, expect
from emkit.engine.hierarchical import hierarchy
from emkit.engine.mixture import MixtureEM
from emkit.engine.progress import progress_bar
from emkit.engine.sources import ArraySource
from emkit.exceptions import DegenerateComponentWarning, ValidationError
from emkit.families.covariance import MIXTURE_COVARIANCE_TYPES, STRATEGIES
from emkit.families.gaussian import GaussianFamily
from emkit.families.gaussian_prior import (
    PRIOR_TYPES,
    ConjugatePrior,
    PriorGaussianFamily,
    default_prior,
)
from emkit.families.parsimonious import MCLUST_TYPES
from emkit.kernels.threads import map_ordered, one_blas_thread
from emkit.models._state import unchanged_on_error
from emkit.models.gaussian_mixture import GaussianMixture

CRITERIA = ("bic", "icl", "aic")
INITS = ("hc", "kmeans")
CONVENTIONS = ("sklearn", "mclust")
RULES = ("mclust", "sklearn")
#: Named groups of covariance types for ``covariance_types``.
GROUPS = {"all": MCLUST_TYPES, "sklearn": ("spherical", "diag", "tied", "full")}
# A component has collapsed when its smallest covariance eigenvalue is below this many times
# reg_covar (plus a relative floor): it sits on a subspace of the data.
_COLLAPSE_FACTOR = 10.0
_COLLAPSE_RCOND = 1e-10


_thread_warnings = threading.local()


def _record_in_thread(message, category, filename, lineno, file=None, line=None):
    """``warnings.showwarning`` that keeps ``(message, category)`` in the thread's list."""
    caught = getattr(_thread_warnings, "caught", None)
    if caught is not None:
        caught.append((message, category))


def _grid_types(value):
    names = GROUPS.get(value, value) if isinstance(value, str) else value
    try:
        names = tuple(names)
    except TypeError:
        raise ValidationError(
            f"covariance_types must be 'all', 'sklearn' or a list of names, got {value!r}"
        ) from None
    if not names:
        raise ValidationError("covariance_types is empty; pass 'all' or at least one name")
    bad = [n for n in names if n not in MIXTURE_COVARIANCE_TYPES]
    if bad:
        raise ValidationError(
            f"covariance_types has unknown name(s) {bad}; choose from "
            f"{list(MIXTURE_COVARIANCE_TYPES)}, 'all' or 'sklearn'"
        )
    if len(set(names)) != len(names):
        raise ValidationError(f"covariance_types names a structure twice: {list(names)}")
    return names


def _grid_sizes(value):
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = [value]
    try:
        sizes = [int(k) for k in value]
    except (TypeError, ValueError):
        raise ValidationError(
            f"n_components must be an int or an iterable of ints (e.g. range(1, 10)), got {value!r}"
        ) from None
    if not sizes:
        raise ValidationError("n_components is empty; pass e.g. range(1, 10)")
    if min(sizes) < 1:
        raise ValidationError(f"n_components must be >= 1, got {min(sizes)}")
    return tuple(sorted(set(sizes)))


def _criterion(model, criterion, X, w):
    if criterion == "icl":
        return model.icl(X, sample_weight=w)
    # BIC and AIC need only the log-likelihood: one pass of the fused E-step kernel (no n x K
    # array), the same value as ``model.bic`` / ``model.aic`` to rounding.
    # X was validated by the selection's fit already.
    source = ArraySource(X, w, model._chunk_for(X.shape[1]))
    stats = expect(MixtureEM(model._make_family()), model._params(), source)
    if criterion == "aic":
        return criteria.aic(stats.log_likelihood, model._n_parameters())
    return criteria.bic(stats.log_likelihood, model._n_parameters(), stats.total_weight)


def degenerate_reason(model, reg_covar, total_weight):
    """Why a fitted mixture is degenerate (a string), or None when it is not.

    A component with an expected count below one row, or whose covariance's smallest
    eigenvalue is within ``_COLLAPSE_FACTOR * reg_covar`` (or ``_COLLAPSE_RCOND`` of its
    largest): it has collapsed onto a point or a subspace.
    """
    counts = model.weights_ * total_weight
    small = np.flatnonzero(counts < 1.0)
    if small.size:
        return f"component {int(small[0])} holds {counts[small[0]]:.3g} rows (empty)"
    strat = STRATEGIES[model.covariance_type]
    K, d = model.means_.shape
    dense = strat.full_matrices(model.covariances_, K, d)
    for k, values in enumerate(np.linalg.eigvalsh(dense)):  # per matrix, as one at a time
        floor = max(_COLLAPSE_FACTOR * reg_covar, _COLLAPSE_RCOND * values[-1])
        if values[0] <= floor:
            return (
                f"component {k} collapsed (smallest covariance eigenvalue {values[0]:.3g} "
                f"<= {floor:.3g})"
            )
    return None


def _counted(results, bar):
    """Yield ``results``, advancing the progress ``bar`` by one for each."""
    for result in results:
        bar.update()
        yield result


def initial_parameters(covariance_type, reg_covar, X, w, labels, K, prior=None):
    """``(weights, means, precisions)`` of one M-step from a hard partition (mclust's start).

    Parameters
    ----------
    covariance_type : str
    reg_covar : float
    X : ndarray of shape (m, d)
    w : ndarray of shape (m,) or None
    labels : ndarray of int of shape (m,)
        Cluster of each row, 0 .. K - 1.
    K : int
    prior : dict or None
        A conjugate prior (``GaussianMixture``'s ``prior``): the M-step is then MAP.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateComponentWarning)
        return _initial_parameters(covariance_type, reg_covar, X, w, labels, K, prior)


def _initial_parameters(covariance_type, reg_covar, X, w, labels, K, prior):
    """:func:`initial_parameters` without touching the (process-wide) warning filters."""
    resp = np.zeros((X.shape[0], K))
    resp[np.arange(X.shape[0]), labels] = 1.0 if w is None else w
    if prior is None:
        family = GaussianFamily(covariance_type, reg_covar)
    else:
        family = PriorGaussianFamily(
            covariance_type, reg_covar, ConjugatePrior.from_dict(prior, covariance_type)
        )
    counts = resp.sum(axis=0)
    means = (resp.T @ X) / np.maximum(counts, np.finfo(np.float64).tiny)[:, None]
    params = family.maximize(family.accumulate_at(means, X, resp))
    return counts / counts.sum(), params.means, params.precisions()


class MixtureSelection(DensityMixin, BaseEstimator):
    """Choose the covariance structure and number of components of a Gaussian mixture.

    Fits every (structure, ``K``) of the grid from mclust's initialisation and keeps the best
    by the criterion; ``predict``, ``predict_proba``, ``score``, ``score_samples`` and
    ``sample`` delegate to that best :class:`~emkit.GaussianMixture`.

    Parameters
    ----------
    n_components : int or iterable of int, default=range(1, 10)
        Numbers of components to try (the columns of the table).
    covariance_types : 'all', 'sklearn' or list of str, default='all'
        Structures to try (the rows): 'all' is mclust's 14 (EII ... VVV, see
        :mod:`emkit.families.parsimonious`), 'sklearn' the four scikit-learn names; any mix
        of those names is allowed.
    criterion : {'bic', 'icl', 'aic'}, default='bic'
        ICL is BIC minus twice the log posterior of each row's most probable component
        (:meth:`GaussianMixture.icl`; Biernacki et al. 2000, and mclust's ``icl``).
    bic_convention : {'sklearn', 'mclust'}, default='sklearn'
        'sklearn': ``-2 log L + p log n``, lower is better. 'mclust': the negative of that,
        ``2 log L - p log n``, higher is better (how mclust prints its BIC table). The same
        sign rule applies to ICL and AIC.
    init : {'hc', 'kmeans'}, default='hc'
        'hc': partitions of one model-based hierarchical agglomeration (mclust's default);
        'kmeans': one k-means partition per ``K``. Every structure with the same ``K`` starts
        from the same partition, through one M-step.
    prior : None, 'default' or dict, default=None
        None: maximum likelihood. 'default': mclust's ``priorControl()`` conjugate prior
        (:func:`~emkit.families.gaussian_prior.default_prior`, computed for each ``K`` from
        the data), MAP EM, scores from the log-likelihood at the MAP parameters as mclust
        reports them. A dict: that prior for every fit (``GaussianMixture``'s ``prior``).
        emkit has the MAP M-step of the ten structures mclust has a prior for (EII, VII, EEI,
        VEI, EVI, VVI, EEE, EEV, VEV, VVV, and the scikit-learn names); EVE, VEE, VVE and EVV
        are skipped with that reason.
    tol : float, default=1e-5
        Tolerance of the convergence rule: with ``convergence='mclust'``, EM stops at the
        first iteration whose relative change of the total log-likelihood,
        ``|L_t - L_(t-1)| / (1 + |L_t|)``, is below ``tol`` (mclust's ``emControl(tol)``, whose
        default is also 1e-5); with ``'sklearn'``, when the mean per-sample log-likelihood
        changes by less than ``tol``.
    convergence : {'mclust', 'sklearn'}, default='mclust'
        The stopping rule of every fit (see ``tol``). 'mclust' stops where mclust does, so
        the table is mclust's; 'sklearn' is :class:`~emkit.GaussianMixture`'s own rule (with
        ``tol=1e-3`` and ``max_iter=100``, scikit-learn's defaults, a quicker and rougher
        table). ``best_estimator_`` is a plain :class:`~emkit.GaussianMixture`: refitted, it
        stops by its own rule.
    reg_covar : float, default=1e-6
    max_iter : int, default=1000
    hc_max_rows : int, default=2000
        The hierarchy is computed on a random sample of this many rows when there are more
        (mclust's ``subset``); ``hc_rows_`` says which rows were used.
    n_jobs : int or None, default=None
        None: fits run side by side on the kernels' thread pool (as many as numba's thread
        count), each fit's kernels in its own thread (the kernels release the GIL); fastest on
        large data, and on small data about as fast as one at a time (where each fit's
        small E-steps run in its thread either way). 1: one fit at a time, each spreading its
        larger E-steps over the kernels' threads. Another int: that many fits at once in threads of
        their own; -1: one per CPU.
    random_state : int, RandomState instance or None, default=None
        Seeds the hierarchy's row sample and the k-means partitions; the same value gives the
        same table whatever ``n_jobs``.
    verbose : int, default=0
        1 prints one line per finished fit.

    Attributes
    ----------
    covariance_types_ : tuple of str
        Row names of the table.
    n_components_range_ : tuple of int
        Column labels of the table.
    scores_ : ndarray of shape (n_types, n_sizes)
        The criterion of each fit (in ``bic_convention``'s sign); NaN where a fit was skipped.
    criterion_ : str
    greater_is_better_ : bool
    skipped_ : dict
        ``(covariance_type, K) -> reason`` for every NaN of ``scores_``.
    best_covariance_type_ : str
    best_n_components_ : int
    best_estimator_ : GaussianMixture
        The chosen fit.
    best_score_ : float
    hc_rows_ : ndarray of int or None
        Rows the hierarchy was computed on (None: all rows of positive weight).
    n_features_in_ : int
    """

    def __init__(
        self,
        n_components=range(1, 10),
        covariance_types="all",
        *,
        criterion="bic",
        bic_convention="sklearn",
        init="hc",
        prior=None,
        tol=1e-5,
        convergence="mclust",
        reg_covar=1e-6,
        max_iter=1000,
        hc_max_rows=2000,
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.n_components = n_components
        self.covariance_types = covariance_types
        self.criterion = criterion
        self.bic_convention = bic_convention
        self.init = init
        self.prior = prior
        self.tol = tol
        self.convergence = convergence
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.hc_max_rows = hc_max_rows
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ fitting
    def _check_params(self):
        types = _grid_types(self.covariance_types)
        sizes = _grid_sizes(self.n_components)
        v.check_choice(self.criterion, "criterion", CRITERIA)
        v.check_choice(self.bic_convention, "bic_convention", CONVENTIONS)
        v.check_choice(self.init, "init", INITS)
        if self.prior is not None and not isinstance(self.prior, dict) and self.prior != "default":
            raise ValidationError(
                f"prior must be None, 'default' (mclust's priorControl()) or a dict with "
                f"'shrinkage', 'mean', 'dof' and 'scale', got {self.prior!r}"
            )
        v.check_real(self.tol, "tol", 0.0)
        v.check_choice(self.convergence, "convergence", RULES)
        v.check_real(self.reg_covar, "reg_covar", 0.0)
        v.check_int(self.max_iter, "max_iter", 1)
        v.check_int(self.hc_max_rows, "hc_max_rows", 2)
        v.check_int(self.verbose, "verbose", 0)
        if self.n_jobs is not None and (
            not isinstance(self.n_jobs, (int, np.integer))
            or isinstance(self.n_jobs, bool)
            or (self.n_jobs < 1 and self.n_jobs != -1)
        ):
            raise ValidationError(f"n_jobs must be None, -1 or an int >= 1, got {self.n_jobs!r}")
        return types, sizes

    def _workers(self, n_fits):
        if self.n_jobs is None:
            jobs = 1
        elif self.n_jobs == -1:
            jobs = os.cpu_count() or 1
        else:
            jobs = int(self.n_jobs)
        return max(1, min(jobs, n_fits))

    def fit(self, X, y=None, sample_weight=None):
        """Fit the whole grid and keep the best model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights. Every fit and score is weighted; rows of zero weight are
            left out of the initialisation too. The hierarchy itself does not weigh its
            rows, so integer weights give the table of repeated rows exactly with
            ``init='kmeans'``, not with ``'hc'`` (whose start sees each distinct row once).

        Returns
        -------
        self : object
        """
        with unchanged_on_error(self):
            self._fit(X, sample_weight)
        return self

    def _fit(self, X, sample_weight):
        types, sizes = self._check_params()
        X = v.check_X(self, X, reset=True)
        w = v.check_sample_weight(sample_weight, X.shape[0])
        live = np.arange(X.shape[0]) if w is None else np.flatnonzero(w > 0)
        # With missing values the starting partitions come from the complete rows, or from
        # mean-filled ones when too few are complete (as every mixture's initialisation).
        rows, init_X = GaussianFamily().init_selection(X, w, sizes[-1])
        if rows is not None:
            live = np.intersect1d(live, rows)
        if sizes[-1] > live.size:
            raise ValidationError(
                f"n_components goes up to {sizes[-1]} but X has only {live.size} rows "
                f"{'of positive weight' if w is not None else ''}; use fewer components"
            )
        total = float(X.shape[0]) if w is None else float(w.sum())
        rng = v.check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        starts, hc_rows = self._partitions(init_X, w, live, sizes, seed)
        starts["live"], starts["live_weights"] = live, None if w is None else w[live]
        starts["values"] = init_X

        cells = [(ct, K) for ct in types for K in sizes]

        def run(cell):
            return cell, self._fit_one(X, w, total, starts, *cell)

        # Warnings of concurrent fits go to the list of the thread that raised them
        # (warnings.catch_warnings alone is process-wide, not per thread).
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = _record_in_thread
            workers = self._workers(len(cells))
            with (
                progress_bar(total=len(cells), desc="model selection", unit="fit") as bar,
                one_blas_thread(),
            ):
                if self.n_jobs is None:
                    # Fits side by side on the kernels' threads, each fit's kernels serial in
                    # its thread: no hand-over of every small E-step to other threads.
                    results = dict(_counted(map_ordered(run, cells), bar))
                elif workers == 1:
                    results = dict(_counted(map(run, cells), bar))
                else:
                    with ThreadPoolExecutor(max_workers=workers) as pool:
                        results = dict(_counted(pool.map(run, cells), bar))

        scores = np.full((len(types), len(sizes)), np.nan)
        skipped, models = {}, {}
        for i, ct in enumerate(types):
            for j, K in enumerate(sizes):
                model, value, reason = results[ct, K]
                if reason is None:
                    scores[i, j] = value
                    models[ct, K] = model
                else:
                    skipped[ct, K] = reason
        if not models:
            first = next(iter(skipped.items()))
            raise ValidationError(
                f"every fit of the grid was degenerate or skipped (e.g. {first[0]}: {first[1]}); "
                "try fewer components (n_components), other covariance_types, or a larger "
                "reg_covar"
            )
        sign = -1.0 if self.bic_convention == "mclust" else 1.0
        scores *= sign
        # nanargmin/nanargmax: the first best cell in row-major order on ties.
        pick = np.nanargmax(scores) if sign < 0 else np.nanargmin(scores)
        i, j = np.unravel_index(int(pick), scores.shape)
        self.covariance_types_ = types
        self.n_components_range_ = sizes
        self.scores_ = scores
        self.criterion_ = self.criterion
        self.greater_is_better_ = sign < 0
        self.skipped_ = skipped
        self.best_covariance_type_ = types[i]
        self.best_n_components_ = int(sizes[j])
        self.best_estimator_ = models[types[i], sizes[j]]
        self.best_score_ = float(scores[i, j])
        self.hc_rows_ = hc_rows

    def _partitions(self, X, w, live, sizes, seed):
        """``K -> (rows, labels)`` of each starting partition, and the hierarchy's rows."""
        if self.init == "kmeans":
            Xl, wl = X[live], None if w is None else w[live]
            starts = {}
            for K in sizes:
                km = KMeans(n_clusters=K, n_init=1, random_state=seed + K)
                starts[K] = (live, km.fit(Xl, sample_weight=wl).labels_)
            return starts, None
        h = hierarchy(X[live], max_rows=self.hc_max_rows, random_state=np.random.RandomState(seed))
        rows = live if h.rows is None else live[h.rows]
        starts = {}
        for K in sizes:
            starts[K] = (rows, h.labels(K) if K <= h.n_initial else None)
        return starts, (None if h.rows is None else rows)

    def _fit_one(self, X, w, total, starts, ct, K):
        """``(model, score, reason)`` of one cell; reason is None unless it was skipped."""
        rows, labels = starts[K]
        if labels is None:
            return None, math.nan, f"fewer distinct rows than {K} components"
        prior = self.prior
        if prior is not None and ct not in PRIOR_TYPES:
            return None, math.nan, f"no conjugate prior for {ct} (emkit has {PRIOR_TYPES})"
        if prior == "default":
            prior = default_prior(starts["values"][starts["live"]], starts["live_weights"], K, ct)
        wr = None if w is None else w[rows]
        # The start's own warnings are dropped (this thread records none meanwhile): a
        # catch_warnings here would change the filters of the fits in the other threads.
        _thread_warnings.caught = None
        weights, means, precisions = _initial_parameters(
            ct, self.reg_covar, starts["values"][rows], wr, labels, K, prior
        )
        model = GaussianMixture(
            K,
            covariance_type=ct,
            tol=self.tol,
            reg_covar=self.reg_covar,
            max_iter=self.max_iter,
            weights_init=weights,
            means_init=means,
            precisions_init=precisions,
            random_state=0,
            prior=prior,
        )
        _thread_warnings.caught = caught = []
        rule = None
        if self.convergence == "mclust":

            def rule(start):
                return RelativeLogLikelihoodChange(self.tol)

        try:
            model._fit(X, w, convergence=rule)
        except (ValueError, np.linalg.LinAlgError) as err:
            return None, math.nan, f"fit failed: {err}"
        degenerate = [m for m, c in caught if issubclass(c, DegenerateComponentWarning)]
        reason = str(degenerate[0]) if degenerate else None
        reason = reason or degenerate_reason(model, self.reg_covar, total)
        if reason is not None:
            return None, math.nan, reason
        score = float(_criterion(model, self.criterion, X, w))
        if self.verbose:
            print(f"MixtureSelection: {ct} K={K} {self.criterion}={score:.6g}", flush=True)
        return model, score, None

    # ------------------------------------------------------------------ delegation
    def _best(self):
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_

    def predict(self, X):
        """Most probable component of each row under the best model, shape (n_samples,)."""
        return self._best().predict(X)

    def predict_proba(self, X):
        """Posterior probabilities under the best model, shape (n_samples, K)."""
        return self._best().predict_proba(X)

    def score(self, X, y=None, sample_weight=None):
        """Mean per-sample log-likelihood of ``X`` under the best model."""
        return self._best().score(X, sample_weight=sample_weight)

    def score_samples(self, X):
        """Log-likelihood of each row under the best model, shape (n_samples,)."""
        return self._best().score_samples(X)

    def sample(self, n_samples=1):
        """Draw rows from the best model: ``(X, y)``."""
        return self._best().sample(n_samples)

    # ------------------------------------------------------------------ reports
    def to_pandas(self):
        """The score table as a ``pandas.DataFrame`` (rows: structures, columns: K).

        Raises
        ------
        ImportError
            When pandas is not installed.
        """
        check_is_fitted(self, "scores_")
        import pandas as pd

        frame = pd.DataFrame(
            self.scores_, index=list(self.covariance_types_), columns=list(self.n_components_range_)
        )
        frame.index.name = "covariance_type"
        frame.columns.name = "n_components"
        return frame

    def top(self, n=3):
        """The ``n`` best ``(covariance_type, K, score)`` of the table, best first."""
        check_is_fitted(self, "scores_")
        flat = [
            (ct, int(K), float(self.scores_[i, j]))
            for i, ct in enumerate(self.covariance_types_)
            for j, K in enumerate(self.n_components_range_)
            if not np.isnan(self.scores_[i, j])
        ]
        flat.sort(key=lambda t: -t[2] if self.greater_is_better_ else t[2])
        return flat[:n]

    def summary(self, top=3):
        """A text summary like mclust's: the best model and the ``top`` best of the table."""
        check_is_fitted(self, "scores_")
        name = self.criterion_.upper()
        better = "higher" if self.greater_is_better_ else "lower"
        best = self.best_estimator_
        lines = [
            f"Gaussian mixture selected by {name} ({better} is better) over "
            f"{len(self.covariance_types_)} covariance structures x "
            f"{len(self.n_components_range_)} numbers of components "
            f"({len(self.skipped_)} fits skipped, see skipped_)",
            f"Best: {self.best_covariance_type_} with {self.best_n_components_} components, "
            f"{name} = {self.best_score_:.6g}, log-likelihood per row = {best.lower_bound_:.6g}, "
            f"{best._n_parameters()} parameters",
            f"Top {top} models by {name}:",
        ]
        cells = self.top(top)
        labels = [f"{ct},{K}" for ct, K, _ in cells]
        width = max([len(s) for s in labels] + [12])
        lines.append(" ".join(s.rjust(width) for s in labels))
        lines.append(" ".join(f"{s:.6g}".rjust(width) for _, _, s in cells))
        lines.append("Mixing proportions: " + " ".join(f"{p:.4g}" for p in best.weights_))
        if self.hc_rows_ is not None:
            lines.append(
                f"Initialisation: hierarchical agglomeration on a random sample of "
                f"{len(self.hc_rows_)} rows (hc_max_rows)"
            )
        return "\n".join(lines)

    def table(self):
        """The score table as text (rows: structures, columns: K; 'NA' where skipped)."""
        check_is_fitted(self, "scores_")
        width = 12
        head = "".rjust(10) + "".join(str(K).rjust(width) for K in self.n_components_range_)
        rows = [head]
        for i, ct in enumerate(self.covariance_types_):
            cells = ["NA" if np.isnan(s) else f"{s:.6g}" for s in self.scores_[i]]
            rows.append(ct.ljust(10) + "".join(c.rjust(width) for c in cells))
        return "\n".join(rows)
