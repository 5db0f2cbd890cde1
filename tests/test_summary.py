"""summary() and the notebook HTML view of every fitted model."""

from __future__ import annotations

from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
from sklearn.mixture import GaussianMixture as SkGaussianMixture

from emkit import (
    BernoulliMixture,
    BinnedGaussianMixture,
    CategoricalMixture,
    GaussianMixture,
    MixedMixture,
    NotFittedError,
    PoissonMixture,
    bins_from_edges,
)
from emkit.hmm import GMMHMM, CategoricalHMM, GaussianHMM, PoissonHMM

RNG = np.random.default_rng(0)
X2 = np.vstack([RNG.normal(0, 1, (120, 2)), RNG.normal(5, 1, (80, 2))])


class Cells(HTMLParser):
    """The text of every <td>/<th> cell, row by row, of an HTML fragment."""

    def __init__(self):
        super().__init__()
        self.rows, self._row, self._cell = [], None, None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._row is not None:
            self._row.append(self._cell)
            self._cell = None
        elif tag == "tr":
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def cells(html):
    parser = Cells()
    parser.feed(html)
    return parser.rows


def table_rows(text, caption):
    """Rows (split on whitespace) of the text table under ``caption:`` (header skipped)."""
    lines = text.splitlines()
    start = lines.index(f"{caption}:")
    rows = []
    for line in lines[start + 2 :]:
        if not line.strip():
            break
        rows.append(line.split())
    return rows


def table_header(text, caption):
    lines = text.splitlines()
    return lines[lines.index(f"{caption}:") + 1]


def test_gaussian_summary_against_scikit_learn():
    model = GaussianMixture(2, random_state=0).fit(X2)
    oracle = SkGaussianMixture(2, random_state=0).fit(X2)
    text = str(model.summary(X2))
    total = oracle.score(X2) * len(X2)
    assert text.splitlines()[0] == (
        "Gaussian mixture: 2 components, 'full' covariance, 200 samples x 2 features"
    )
    assert f"converged:        yes, after {oracle.n_iter_} iterations" in text
    assert f"log-likelihood:   {total:.6g} ({total / 200:.6g} per sample)" in text
    assert f"BIC:              {oracle.bic(X2):.6g}" in text
    assert f"AIC:              {oracle.aic(X2):.6g}" in text
    rows = table_rows(text, "means")
    for k, row in enumerate(rows):
        assert row[0] == str(k)
        assert float(row[1]) == pytest.approx(oracle.weights_[k], abs=5e-5)
        np.testing.assert_allclose([float(x) for x in row[2:]], oracle.means_[k], rtol=1e-4)


def test_summary_without_data_shows_the_lower_bound():
    model = GaussianMixture(2, random_state=0).fit(X2)
    text = str(model.summary())
    assert "2 features" in text and "samples" not in text
    assert f"lower bound:      {model.lower_bound_:.6g}" in text


def test_weighted_summary_equals_repeated_rows():
    counts = RNG.integers(1, 4, size=len(X2))
    model = GaussianMixture(2, random_state=0).fit(X2, sample_weight=counts)
    weighted = str(model.summary(X2, sample_weight=counts)).splitlines()
    repeated = str(model.summary(np.repeat(X2, counts, axis=0))).splitlines()
    assert weighted[2:5] == repeated[2:5]  # log-likelihood, BIC, AIC
    assert f"{model.bic(X2, sample_weight=counts):.6g}" in weighted[3]


def test_feature_names_head_the_table():
    frame = pd.DataFrame(X2, columns=["height", "weight"])
    model = GaussianMixture(2, random_state=0).fit(frame)
    assert table_header(str(model.summary()), "means").split()[2:] == ["height", "weight"]
    plain = GaussianMixture(2, random_state=0).fit(X2)
    text = str(plain.summary(feature_names=["a", "b"]))
    assert table_header(text, "means").split() == ["component", "weight", "a", "b"]


def test_many_features_are_cut_with_a_note():
    X = RNG.normal(size=(100, 11))
    text = str(GaussianMixture(2, covariance_type="diag", random_state=0).fit(X).summary())
    header = table_header(text, "means")
    assert header.split()[:10] == ["component", "weight", *[f"x{j}" for j in range(8)]]
    assert header.endswith("... (3 more features)")


def test_discrete_and_mixed_families():
    counts = np.vstack([RNG.poisson([1.0, 8.0], (150, 2)), RNG.poisson([6.0, 2.0], (100, 2))])
    poisson = PoissonMixture(2, random_state=0).fit(counts)
    rows = table_rows(str(poisson.summary()), "rates (mean counts)")
    np.testing.assert_allclose([[float(x) for x in r[2:]] for r in rows], poisson.rates_, rtol=1e-4)
    assert "rates (mean counts):" in str(poisson.summary())

    binary = (RNG.random((200, 3)) < [0.2, 0.7, 0.5]).astype(float)
    bern = BernoulliMixture(2, random_state=0).fit(binary)
    rows = table_rows(str(bern.summary()), "probability of a 1")
    np.testing.assert_allclose(
        [[float(x) for x in r[2:]] for r in rows], bern.probabilities_, atol=5e-5
    )

    answers = np.array([["yes", "often"], ["no", "never"], ["yes", "often"]] * 40, dtype=object)
    lca = CategoricalMixture(2, n_init=2, random_state=0).fit(answers)
    text = str(lca.summary())
    assert text.startswith("Latent class model: 2 components")
    for k, row in enumerate(table_rows(text, "most probable category (probability)")):
        for j, table in enumerate(lca.probabilities_):
            best = lca.categories_[j][table[k].argmax()]
            assert f"{best} ({table[k].max():.2f})" in " ".join(row)

    group = RNG.random(200) < 0.5
    table = np.empty((200, 3), dtype=object)
    table[:, 0] = RNG.normal(np.where(group, 0.0, 3.0))
    table[:, 1] = np.where(RNG.random(200) < np.where(group, 0.9, 0.2), "red", "blue")
    table[:, 2] = RNG.poisson(np.where(group, 1.0, 5.0))
    families = {"gaussian": [0], "categorical": [1], "poisson": [2]}
    mixed = MixedMixture(2, families=families, n_init=2, random_state=0).fit(table)
    caption = "means, most probable category (probability), rates (mean counts)"
    rows = table_rows(str(mixed.summary()), caption)
    for k, row in enumerate(rows):
        assert float(row[2]) == pytest.approx(mixed.means_[k, 0], rel=1e-4)
        assert float(row[-1]) == pytest.approx(mixed.rates_[k, 0], rel=1e-4)


def test_binned_mixture_with_a_background_row():
    values = np.concatenate([RNG.normal(3, 1, 500), RNG.normal(8, 1, 300), RNG.uniform(0, 12, 100)])
    edges = np.linspace(0, 12, 49)
    counts = np.histogram(values, edges)[0]
    X = bins_from_edges(edges)
    model = BinnedGaussianMixture(2, background=True, random_state=0).fit(X, sample_weight=counts)
    text = str(model.summary(X, sample_weight=counts))
    assert text.startswith("Binned Gaussian mixture: 2 components")
    assert f"BIC:              {model.bic(X, sample_weight=counts):.6g}" in text
    rows = table_rows(text, "means")
    assert [r[0] for r in rows] == ["0", "1", "background"]
    assert float(rows[2][1]) == pytest.approx(model.weights_[2], abs=5e-5)
    np.testing.assert_allclose([float(r[2]) for r in rows[:2]], model.means_[:, 0], rtol=1e-4)


def test_online_fit_is_reported_as_such():
    model = GaussianMixture(2, random_state=0)
    for block in np.array_split(X2, 4):
        model.partial_fit(block)
    assert "online (partial_fit), 4 blocks" in str(model.summary())


def test_html_holds_the_same_numbers_and_escapes_names():
    frame = pd.DataFrame(X2, columns=["<b>", "w&h"])
    model = GaussianMixture(2, random_state=0).fit(frame)
    html = model._repr_html_()
    assert "<b><b>" not in html and "&lt;b&gt;" in html and "w&amp;h" in html
    rows = cells(html)
    assert ["converged", f"yes, after {model.n_iter_} iterations"] in rows
    header = next(r for r in rows if r and r[0] == "component")
    assert header == ["component", "weight", "<b>", "w&h"]
    body = rows[rows.index(header) + 1 :]
    assert [float(x) for x in body[1][2:]] == pytest.approx(model.means_[1], rel=1e-4)
    bundle = model._repr_mimebundle_()
    assert bundle["text/html"] == html


def test_unfitted_models_keep_scikit_learns_view_and_refuse_a_summary():
    model = GaussianMixture(2)
    assert "sk-" in model._repr_html_()  # scikit-learn's estimator diagram
    assert "sk-" in model._repr_mimebundle_()["text/html"]
    with pytest.raises(NotFittedError):
        model.summary()
    with pytest.raises(NotFittedError):
        GaussianHMM(2).summary()


def test_hmm_summary_against_its_model():
    X = np.concatenate([RNG.normal(0, 1, (150, 2)), RNG.normal(4, 1, (100, 2))])
    lengths = [130, 120]
    model = GaussianHMM(2, n_iter=20, random_state=0).fit(X, lengths)
    text = str(model.summary(X, lengths))
    assert text.splitlines()[0] == "GaussianHMM: 2 states, 250 samples in 2 sequence(s)"
    assert f"log-likelihood: {model.score(X, lengths):.6f}" in text
    assert f"BIC: {model.bic(X, lengths):.6f}" in text
    rows = table_rows(text, "transition matrix (row: from, column: to)")
    np.testing.assert_allclose(
        [[float(x) for x in r[2:]] for r in rows], model.transmat_, atol=5e-5
    )
    means = table_rows(text, "means")
    np.testing.assert_allclose([[float(x) for x in r[2:]] for r in means], model.means_, rtol=1e-4)
    plain = str(model.summary())
    assert f"log-likelihood: {model.monitor_.history[-1]:.6f} (last iteration)" in plain
    assert [r[0] for r in cells(model._repr_html_()) if r][:1] == ["log-likelihood"]


def test_hmm_summary_of_a_npy_file(tmp_path):
    X = np.concatenate([RNG.normal(0, 1, (150, 2)), RNG.normal(4, 1, (100, 2))])
    np.save(tmp_path / "X.npy", X)
    model = GaussianHMM(2, n_iter=5, random_state=0).fit(X, [130, 120])
    text = str(model.summary(tmp_path / "X.npy", [130, 120]))
    assert text == str(model.summary(X, [130, 120]))


def test_every_hmm_kind_has_a_summary():
    symbols = RNG.integers(0, 3, size=(200, 1))
    counts = RNG.poisson(3.0, size=(200, 2))
    real = RNG.normal(size=(200, 2))
    cat = CategoricalHMM(2, n_iter=5, random_state=0).fit(symbols)
    assert "emission probabilities:" in str(cat.summary())
    rows = table_rows(str(cat.summary()), "emission probabilities")
    np.testing.assert_allclose(
        [[float(x) for x in r[2:]] for r in rows], cat.emissionprob_, atol=5e-5
    )
    poisson = PoissonHMM(2, n_iter=5, random_state=0).fit(counts)
    rows = table_rows(str(poisson.summary()), "rates (lambdas)")
    np.testing.assert_allclose(
        [[float(x) for x in r[2:]] for r in rows], poisson.lambdas_, rtol=1e-4
    )
    gmm = GMMHMM(2, n_mix=2, n_iter=5, random_state=0).fit(real)
    text = str(gmm.summary(real))
    assert "mixture weights:" in text and "state 1, mix 1" in text
