"""Summaries of fitted models, built from their public attributes: text and HTML.

:func:`mixture_summary` and :func:`hmm_summary` return a :class:`Summary`: a few facts
(convergence, log-likelihood, criteria) and tables of parameters. ``str(summary)`` is the
text the command line prints; ``summary._repr_html_()`` is what a notebook shows. The
estimators' ``summary()`` methods call these functions.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import numpy as np
from sklearn.utils import estimator_html_repr

from emkit import criteria

__all__ = ["Summary", "Table", "hmm_summary", "mixture_summary", "peaks_summary"]

# Features of at most this many columns are shown in a table.
SHOWN_FEATURES = 8
# Narrowest column of numbers in a text table.
_MIN_WIDTH = 10

_MIXTURE_TITLES = {
    "GaussianMixture": "Gaussian mixture",
    "PoissonMixture": "Poisson mixture",
    "BernoulliMixture": "Bernoulli mixture",
    "CategoricalMixture": "Latent class model",
    "MixedMixture": "Mixed-type mixture",
    "BinnedGaussianMixture": "Binned Gaussian mixture",
}


@dataclass
class Table:
    """One table of a summary.

    Attributes
    ----------
    caption : str
    corner : str
        Header of the row-label column.
    columns : list of str
    rows : list of (str, list of str)
        Row label and one cell of text per column.
    note : str
        Shown after the header (e.g. how many columns were left out).
    narrow : int
        How many leading columns are as narrow as their text (the others are at least 10
        characters wide).
    """

    caption: str
    corner: str
    columns: list
    rows: list
    note: str = ""
    narrow: int = 0

    def text(self):
        """The table as aligned text lines (right-aligned columns, two spaces apart)."""
        width0 = max(len(self.corner), *(len(label) for label, _ in self.rows))
        widths = [
            max(
                _MIN_WIDTH * (j >= self.narrow),
                len(name),
                *(len(cells[j]) for _, cells in self.rows),
            )
            for j, name in enumerate(self.columns)
        ]
        head = "  ".join(
            [f"{self.corner:>{width0}}"]
            + [f"{c:>{w}}" for c, w in zip(self.columns, widths, strict=True)]
        )
        lines = [f"{self.caption}:", head + (f"  {self.note}" if self.note else "")]
        for label, cells in self.rows:
            parts = [f"{label:>{width0}}"] + [
                f"{c:>{w}}" for c, w in zip(cells, widths, strict=True)
            ]
            lines.append("  ".join(parts))
        return lines

    def html(self):
        """The table as an HTML ``<table>``."""
        e = html.escape
        head = "".join(f"<th>{e(c)}</th>" for c in [self.corner, *self.columns])
        body = "".join(
            f"<tr><th>{e(label)}</th>" + "".join(f"<td>{e(c)}</td>" for c in cells) + "</tr>"
            for label, cells in self.rows
        )
        note = f" <small>{e(self.note)}</small>" if self.note else ""
        return (
            f"<table><caption style='text-align:left'><b>{e(self.caption)}</b>{note}</caption>"
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        )


@dataclass
class Summary:
    """A fitted model's summary: a title, facts and tables.

    ``str(summary)`` gives the text; ``_repr_html_()`` the HTML a notebook shows.

    Attributes
    ----------
    title : str
    facts : list of (str, str)
        Label and value, e.g. ``("converged", "yes, after 12 iterations")``.
    tables : list of Table
    label_width : int
        Labels of the facts are padded to this width in the text (0: ``label: value``).
    """

    title: str
    facts: list = field(default_factory=list)
    tables: list = field(default_factory=list)
    label_width: int = 0

    def __str__(self):
        lines = [self.title]
        lines += [f"{label + ':':<{self.label_width}} {value}" for label, value in self.facts]
        for table in self.tables:
            lines += ["", *table.text()]
        return "\n".join(lines)

    def __repr__(self):
        return str(self)

    def _repr_html_(self):
        e = html.escape
        facts = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in self.facts)
        tables = "".join(t.html() for t in self.tables)
        return (
            f"<div class='emkit-summary'><p><b>{e(self.title)}</b></p>"
            f"<table>{facts}</table>{tables}</div>"
        )


def _numbers(table, fmt="{:.5g}"):
    return [[fmt.format(x) for x in row] for row in np.atleast_2d(np.asarray(table))]


def _feature_names(model, given, n):
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        names = given
    return [str(name) for name in names] if names is not None else [f"x{j}" for j in range(n)]


def _category_cells(categories, tables, K):
    """``most probable category (probability)`` of each item for each component."""
    return [
        [
            f"{cats[t[k].argmax()]} ({t[k].max():.2f})"
            for cats, t in zip(categories, tables, strict=True)
        ]
        for k in range(K)
    ]


def _family_columns(model, d):
    """``{family name: column indices}``: MixedMixture's ``columns_``, or all columns."""
    columns = getattr(model, "columns_", None)
    if isinstance(columns, dict):
        return {name: np.asarray(cols, dtype=np.intp) for name, cols in columns.items()}
    if hasattr(model, "categories_"):
        family = "categorical"
    elif hasattr(model, "means_"):
        family = "gaussian"
    elif hasattr(model, "rates_"):
        family = "poisson"
    else:
        family = "bernoulli"
    return {family: np.arange(d)}


def _centre_width(model):
    """Number of features the component centres have (a binned model's bins have two)."""
    if isinstance(getattr(model, "columns_", None), dict):
        return model.n_features_in_
    if hasattr(model, "categories_"):
        return len(model.categories_)
    for name in ("means_", "rates_", "probabilities_"):
        if hasattr(model, name):
            return np.shape(getattr(model, name))[1]
    return model.n_features_in_


def _centre_cells(model, K, d):
    """(K, d) text cells: each component's centre in each feature, and what they show."""
    cells = [[""] * d for _ in range(K)]
    parts = _family_columns(model, d)
    bernoulli = getattr(model, "binary_probabilities_", None)
    if bernoulli is None and "bernoulli" in parts:
        bernoulli = model.probabilities_
    sources = {
        "gaussian": lambda: _numbers(model.means_),
        "poisson": lambda: _numbers(model.rates_),
        "bernoulli": lambda: _numbers(bernoulli),
        "categorical": lambda: _category_cells(model.categories_, model.probabilities_, K),
    }
    meaning = {
        "gaussian": "means",
        "poisson": "rates (mean counts)",
        "bernoulli": "probability of a 1",
        "categorical": "most probable category (probability)",
    }
    for name, cols in parts.items():
        values = sources[name]()
        for k in range(K):
            for i, j in enumerate(cols):
                cells[k][j] = values[k][i]
    return cells, ", ".join(meaning[name] for name in parts)


def _fit_status(model, iterations, converged, limit):
    if getattr(model, "n_steps_", None) == iterations and not converged:
        return f"online (partial_fit), {iterations} blocks"
    if converged:
        return f"yes, after {iterations} iterations"
    return f"NO, stopped after {iterations} iterations ({limit})"


def _extra_name(model):
    """What a weight past ``n_components`` is: the model's name for it, or ``background``."""
    return getattr(model, "_extra_weight_name", "background")


def mixture_summary(model, X=None, sample_weight=None, feature_names=None):
    """Summary of a fitted mixture (any family), optionally of its fit to ``X``.

    Parameters
    ----------
    model : fitted mixture estimator
        GaussianMixture, PoissonMixture, BernoulliMixture, CategoricalMixture or MixedMixture.
    X : array-like of shape (n_samples, n_features), optional
        Data to report the log-likelihood, BIC and AIC of (in memory, a memory map or a
        ``.npy`` path; one pass). Without it the last iteration's lower bound is shown.
    sample_weight : array-like of shape (n_samples,), optional
        Row weights for the log-likelihood and criteria; the sample size is their sum.
    feature_names : list of str, optional
        Column names when the model has no ``feature_names_in_``.

    Returns
    -------
    Summary
        Title, convergence, log-likelihood and criteria, then one row per component with
        its weight and its centre in every feature (the means, the rates, the probabilities
        of a one, or the most probable category and its probability).
    """
    K, d = model.n_components, model.n_features_in_
    kind = type(model).__name__
    detail = f", '{model.covariance_type}' covariance" if hasattr(model, "covariance_type") else ""
    status = _fit_status(model, model.n_iter_, model.converged_, f"max_iter={model.max_iter}")
    facts = [("converged", status)]
    if X is None:
        title = f"{_MIXTURE_TITLES.get(kind, kind)}: {K} components{detail}, {d} features"
        facts.append(("lower bound", f"{model.lower_bound_:.6g} (mean log-likelihood per sample)"))
    else:
        log_density = np.asarray(model.score_samples(X), dtype=np.float64)  # one pass over X
        n_rows = log_density.shape[0]
        if sample_weight is None:
            total_ll, n = float(np.sum(log_density)), n_rows
        else:
            w = np.asarray(sample_weight, dtype=np.float64)
            total_ll, n = float(np.dot(w[w > 0], log_density[w > 0])), float(np.sum(w))
        title = (
            f"{_MIXTURE_TITLES.get(kind, kind)}: {K} components{detail}, "
            f"{n_rows} samples x {d} features"
        )
        n_params = model._n_parameters()
        facts += [
            ("log-likelihood", f"{total_ll:.6g} ({total_ll / n:.6g} per sample)"),
            ("BIC", f"{criteria.bic(total_ll, n_params, n):.6g}"),
            ("AIC", f"{criteria.aic(total_ll, n_params):.6g}"),
        ]
    width = _centre_width(model)
    names = _feature_names(model, feature_names, d) if width == d else []
    names += [f"x{j}" for j in range(len(names), width)]
    cells, meaning = _centre_cells(model, K, width)
    shown = min(width, SHOWN_FEATURES)
    weights = np.asarray(model.weights_)
    table = Table(
        caption=meaning,
        corner="component",
        columns=["weight", *names[:shown]],
        rows=[(str(k), [f"{weights[k]:.4f}", *cells[k][:shown]]) for k in range(K)]
        + [(_extra_name(model), [f"{w:.4f}", *[""] * shown]) for w in weights[K:]],
        note=f"... ({width - shown} more features)" if shown < width else "",
        narrow=1,
    )
    return Summary(title, facts, [table], label_width=17)


def _state_table(caption, values, columns, fmt="{:.4f}"):
    rows = [(f"state {k}", cells) for k, cells in enumerate(_numbers(values, fmt))]
    return Table(caption, "", list(columns), rows)


def _emission_tables(model, names):
    """Tables of the emission parameters, read from whichever attributes the model has."""
    K = model.n_components
    if hasattr(model, "emissionprob_"):
        symbols = [f"symbol {m}" for m in range(model.emissionprob_.shape[1])]
        return [_state_table("emission probabilities", model.emissionprob_, symbols)]
    if hasattr(model, "lambdas_"):
        return [_state_table("rates (lambdas)", model.lambdas_, names)]
    means, covars = np.asarray(model.means_), np.asarray(model.covars_)
    if means.ndim == 2:  # one Gaussian per state
        variances = np.array([np.diag(c) for c in covars])
        return [
            _state_table("means", means, names, "{:.5g}"),
            _state_table(f"variances ({model.covariance_type})", variances, names, "{:.5g}"),
        ]
    weights = np.asarray(model.weights_)  # a Gaussian mixture per state (GMMHMM)
    M = weights.shape[1]
    mixes = [f"mix {m}" for m in range(M)]
    rows = [
        (f"state {k}, mix {m}", [f"{x:.5g}" for x in means[k, m]])
        for k in range(K)
        for m in range(M)
    ]
    return [
        _state_table("mixture weights", weights, mixes),
        Table("means", "", list(names), rows),
    ]


def _n_emission_features(model):
    for name in ("means_", "lambdas_"):
        if hasattr(model, name):
            return np.shape(getattr(model, name))[-1]
    return 1


def hmm_summary(model, X=None, lengths=None, feature_names=None):
    """Summary of a fitted hidden Markov model, optionally of its fit to ``X``.

    Parameters
    ----------
    model : fitted HMM estimator
        GaussianHMM, GMMHMM, CategoricalHMM or PoissonHMM.
    X : array-like of shape (n_samples, n_features), optional
        Sequences to report the log-likelihood and BIC of (one forward pass). Without it
        the log-likelihood of the last iteration is shown.
    lengths : array-like of int, optional
        Lengths of the sequences stacked in ``X``.
    feature_names : list of str, optional
        Column names when the model has no ``feature_names_in_``.

    Returns
    -------
    Summary
        Title, convergence and log-likelihood, then the start probabilities, the transition
        matrix and the emission parameters of every state.
    """
    K = model.n_components
    kind = type(model).__name__
    monitor = model.monitor_
    facts = []
    if X is None:
        title = f"{kind}: {K} states, {_n_emission_features(model)} feature(s)"
        if monitor.history:
            facts.append(("log-likelihood", f"{monitor.history[-1]:.6f} (last iteration)"))
    else:
        # One forward pass, block by block (X may be a path or a memory map).
        log_likelihood, n_rows = model._score(X, lengths)
        n_seq = 1 if lengths is None else len(lengths)
        title = f"{kind}: {K} states, {n_rows} samples in {n_seq} sequence(s)"
        facts += [
            ("log-likelihood", f"{log_likelihood:.6f}"),
            ("BIC", f"{criteria.bic(log_likelihood, model._n_parameters(), n_rows):.6f}"),
        ]
    converged = "converged" if monitor.converged else "not converged"
    facts.append(("iterations", f"{monitor.iter} ({converged})"))
    names = _feature_names(model, feature_names, _n_emission_features(model))
    states = [f"state {k}" for k in range(K)]
    tables = [
        Table("start probabilities", "", states, [("", [f"{p:.4f}" for p in model.startprob_])]),
        _state_table("transition matrix (row: from, column: to)", model.transmat_, states),
        *_emission_tables(model, names),
    ]
    return Summary(title, facts, tables)


def peaks_summary(model, digits=4):
    """Summary of a fitted :class:`~emkit.PeakFit`: the peak table and the fit's facts.

    Parameters
    ----------
    model : PeakFit
    digits : int, default=4
        Significant digits of the numbers in the table.
    """
    cols = model.table()
    chosen = " (chosen by BIC)" if model.n_peaks == "auto" else ""
    facts = [
        ("peaks", f"{model.n_peaks_}{chosen}"),
        ("total weight", f"{model.total_weight_:.6g}"),
        ("log-likelihood", f"{model.log_likelihood_:.6g}"),
    ]
    if model.background:
        share, se = model.background_share_, model.background_share_se_
        facts.append(("background share", f"{share:.{digits}g} (se {se:.{digits}g})"))
    rows = [(str(k + 1), [f"{cols[c][k]:.{digits}g}" for c in cols]) for k in range(model.n_peaks_)]
    return Summary("Peak decomposition", facts, [Table("Peaks", "peak", list(cols), rows)])


def html_view(model, fitted, summarize):
    """A notebook's HTML view of ``model``: its summary once fitted, scikit-learn's before."""
    if not fitted:
        return estimator_html_repr(model)
    return summarize()._repr_html_()


def mime_bundle(model, fitted, summarize):
    """The MIME bundle notebooks prefer to ``_repr_html_`` (text and HTML of the summary)."""
    if not fitted:
        return {"text/plain": repr(model), "text/html": estimator_html_repr(model)}
    summary = summarize()
    return {"text/plain": repr(model), "text/html": summary._repr_html_()}
