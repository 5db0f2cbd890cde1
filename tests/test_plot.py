"""emkit.plot: every picture is rendered to PNG and checked for what it must show."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection
from matplotlib.colors import to_rgba
from matplotlib.patches import Ellipse
from scipy import integrate, stats

from emkit import BernoulliMixture, GaussianMixture, PeakFit, PoissonMixture, ValidationError
from emkit import plot as ep
from emkit.hmm import GaussianHMM

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def render(drawn, tmp_path, name="figure.png"):
    """Write the figure to PNG (the full draw) and check the file is a non-empty PNG."""
    path = tmp_path / name
    ep.save_figure(drawn, path)
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 5000
    return path


def three_clusters(seed=0):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(150, 2)) @ np.array([[2.0, 0.8], [0.0, 0.5]])
    B = rng.normal([5.0, 3.0], [0.6, 1.2], (100, 2))
    C = rng.normal([0.0, 6.0], 0.7, (80, 2))
    return pd.DataFrame(np.vstack([A, B, C]), columns=["length", "width"])


@pytest.fixture(scope="module")
def frame():
    return three_clusters()


@pytest.fixture(scope="module")
def gm(frame):
    return GaussianMixture(3, n_init=3, random_state=0).fit(frame)


def dense_covariance(model, k):
    """Component k's covariance matrix from scikit-learn's layout of covariances_."""
    cov = np.asarray(model.covariances_)
    d = model.n_features_in_
    return {
        "full": lambda: cov[k],
        "tied": lambda: cov,
        "diag": lambda: np.diag(cov[k]),
        "spherical": lambda: cov[k] * np.eye(d),
    }[model.covariance_type]()


def ellipse_points(patch):
    """The points of an ellipse patch's outline that lie on it (ends of its curve segments)."""
    ends = [v[-2:] for v, code in patch.get_path().iter_segments(curves=True) if code != 79]
    return patch.get_patch_transform().transform(np.array(ends))


def scatters(ax):
    return [c for c in ax.collections if isinstance(c, PathCollection)]


def test_import_emkit_does_not_import_matplotlib():
    code = (
        "import sys, numpy as np, emkit\n"
        "from emkit import GaussianMixture\n"
        "X = np.random.default_rng(0).normal(size=(50, 2))\n"
        "gm = GaussianMixture(2, random_state=0).fit(X)\n"
        "str(gm.summary()); gm._repr_html_()\n"
        "print('matplotlib' in sys.modules)\n"
    )
    src = str(Path(__file__).parents[1] / "src")
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        env={"PYTHONPATH": src, "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_classification_draws_k_ellipses_at_1_2_3_sigma(frame, covariance_type, tmp_path):
    model = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(frame)
    ax = ep.plot_classification(model, frame)
    render(ax, tmp_path)
    ellipses = [p for p in ax.patches if isinstance(p, Ellipse)]
    assert len(ellipses) == 3 * model.n_components
    assert ax.get_xlabel() == "length" and ax.get_ylabel() == "width"
    for k in range(model.n_components):
        inverse = np.linalg.inv(dense_covariance(model, k))
        for sigma, patch in zip((1, 2, 3), ellipses[3 * k : 3 * k + 3], strict=True):
            diff = ellipse_points(patch) - model.means_[k]
            radius = np.sqrt(np.einsum("ni,ij,nj->n", diff, inverse, diff))
            np.testing.assert_allclose(radius, sigma, rtol=1e-9)


def test_classification_colours_each_component_and_marks_the_means(gm, frame, tmp_path):
    ax = ep.plot_classification(gm, frame)
    render(ax, tmp_path)
    *groups, means = scatters(ax)
    labels = gm.predict(frame)
    assert len(groups) == gm.n_components
    colours = {tuple(g.get_facecolor()[0][:3]) for g in groups}
    assert len(colours) == gm.n_components  # one colour per component
    for k, group in enumerate(groups):
        np.testing.assert_array_equal(group.get_offsets(), frame.to_numpy()[labels == k])
    np.testing.assert_allclose(means.get_offsets(), gm.means_)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["component 0", "component 1", "component 2", "means"]


def test_classification_draws_on_the_given_axes_and_other_features(tmp_path):
    rng = np.random.default_rng(1)
    X = np.vstack([rng.normal(0, 1, (100, 3)), rng.normal(4, 1, (100, 3))])
    model = GaussianMixture(2, random_state=0).fit(X)
    fig, axes = plt.subplots(1, 2)
    ax = ep.plot_classification(model, X, dims=(2, 0), ax=axes[1], feature_names=["a", "b", "c"])
    assert ax is axes[1] and not axes[0].collections
    render(fig, tmp_path)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("c", "a")
    np.testing.assert_allclose(scatters(ax)[-1].get_offsets(), model.means_[:, [2, 0]])


def test_a_uniform_sample_of_large_data_is_drawn(gm, frame):
    ax = ep.plot_classification(gm, frame, max_points=50)
    drawn = np.concatenate([g.get_offsets() for g in scatters(ax)[:-1]])
    assert len(drawn) == 50
    rows = {tuple(r) for r in frame.to_numpy()}
    assert all(tuple(r) in rows for r in drawn)


def test_uncertainty_sizes_grow_with_one_minus_max_posterior(gm, frame, tmp_path):
    ax = ep.plot_uncertainty(gm, frame)
    render(ax, tmp_path)
    proba = gm.predict_proba(frame)
    uncertainty = 1 - proba.max(axis=1)
    labels = proba.argmax(axis=1)
    groups = scatters(ax)[:-1]
    assert len(groups) == gm.n_components
    for k, group in enumerate(groups):
        expected = 2 + 60 * uncertainty[labels == k] / uncertainty.max()
        np.testing.assert_allclose(group.get_sizes(), expected, rtol=1e-12)
    assert len([p for p in ax.patches if isinstance(p, Ellipse)]) == gm.n_components


def test_density_contours_are_the_mixture_log_density(gm, frame, tmp_path):
    ax = ep.plot_density(gm, frame)
    render(ax, tmp_path)
    contour = ax.collections[-1]
    top = contour.levels.max()
    # the highest level is the largest log-density on the grid: near the best mean's peak
    grid = np.array([[x, y] for x in np.linspace(-8, 8, 200) for y in np.linspace(-4, 9, 200)])
    grid = pd.DataFrame(grid, columns=frame.columns)
    assert top == pytest.approx(gm.score_samples(grid).max(), abs=0.05)
    from emkit.plot._base import marginal_log_density

    points = frame.iloc[:20]
    np.testing.assert_allclose(
        marginal_log_density(gm, points.to_numpy(), [0, 1]), gm.score_samples(points), rtol=1e-12
    )


def test_density_of_two_of_three_features_is_the_marginal():
    rng = np.random.default_rng(2)
    X = np.vstack([rng.normal(0, 1, (80, 3)), rng.normal([3, 1, -2], 0.7, (60, 3))])
    model = GaussianMixture(2, random_state=0).fit(X)
    from emkit.plot._base import marginal_log_density

    for point in ([0.3, -1.0], [2.5, 0.2]):
        # integrate the full density over the feature left out (feature 1)
        def full(t, point=point):
            return np.exp(model.score_samples(np.array([[point[0], t, point[1]]])))[0]

        value, _ = integrate.quad(full, -15, 15, epsabs=1e-13, limit=200)
        got = marginal_log_density(model, np.array([point]), [0, 2])[0]
        assert got == pytest.approx(np.log(value), abs=1e-8)


def test_weights_are_one_bar_and_colour_per_component(gm, tmp_path):
    ax = ep.plot_weights(gm)
    render(ax, tmp_path)
    bars = ax.patches
    assert len(bars) == gm.n_components
    np.testing.assert_allclose([b.get_height() for b in bars], gm.weights_)
    assert len({b.get_facecolor() for b in bars}) == gm.n_components


def test_histogram_of_a_gaussian_mixture_shows_components_and_their_sum(tmp_path):
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.normal(0, 1, 300), rng.normal(4, 0.5, 150)])[:, None]
    model = GaussianMixture(2, random_state=0).fit(x)
    ax = ep.plot_histogram(model, x)
    render(ax, tmp_path)
    lines = ax.get_lines()
    assert [ln.get_label() for ln in lines] == ["component 0", "component 1", "mixture"]
    grid = lines[-1].get_xdata()
    np.testing.assert_allclose(lines[-1].get_ydata(), np.exp(model.score_samples(grid[:, None])))
    np.testing.assert_allclose(lines[0].get_ydata() + lines[1].get_ydata(), lines[2].get_ydata())
    heights = np.array([p.get_height() for p in ax.patches])
    widths = np.array([p.get_width() for p in ax.patches])
    assert np.sum(heights * widths) == pytest.approx(1.0)  # a density histogram


def test_histogram_of_a_poisson_mixture_is_per_count(tmp_path):
    rng = np.random.default_rng(4)
    counts = np.concatenate([rng.poisson(2, 200), rng.poisson(9, 150)])[:, None]
    model = PoissonMixture(2, random_state=0).fit(counts)
    ax = ep.plot_histogram(model, counts)
    render(ax, tmp_path)
    mixture = ax.get_lines()[-1]
    grid = mixture.get_xdata()
    np.testing.assert_array_equal(grid, np.arange(counts.max() + 1))
    np.testing.assert_allclose(mixture.get_ydata(), np.exp(model.score_samples(grid[:, None])))
    heights = [p.get_height() for p in ax.patches]
    np.testing.assert_allclose(heights, np.bincount(counts[:, 0]) / len(counts))
    assert ax.get_ylabel() == "probability"


def test_histogram_of_a_bernoulli_mixture_is_per_value(tmp_path):
    rng = np.random.default_rng(8)
    binary = (rng.random((300, 1)) < np.repeat([[0.2], [0.9]], 150, axis=0)).astype(float)
    model = BernoulliMixture(2, random_state=0).fit(binary)
    ax = ep.plot_histogram(model, binary)
    render(ax, tmp_path)
    mixture = ax.get_lines()[-1]
    np.testing.assert_array_equal(mixture.get_xdata(), [0.0, 1.0])
    np.testing.assert_allclose(mixture.get_ydata(), np.exp(model.score_samples([[0.0], [1.0]])))
    assert ep.default_kind(model) == "histogram"
    wide = BernoulliMixture(2, random_state=0).fit(np.hstack([binary, binary[::-1]]))
    assert ep.default_kind(wide) == "weights"


def test_pairs_grid_for_more_than_two_features(tmp_path):
    rng = np.random.default_rng(5)
    X = np.vstack([rng.normal(0, 1, (120, 4)), rng.normal(3, 0.8, (100, 4))])
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    model = GaussianMixture(2, covariance_type="diag", random_state=0).fit(frame)
    axes = ep.plot_pairs(model, frame)
    render(axes, tmp_path)
    assert axes.shape == (4, 4)
    for r, c in itertools.product(range(4), range(4)):
        ax = axes[r, c]
        ellipses = [p for p in ax.patches if isinstance(p, Ellipse)]
        if r > c:
            assert len(ellipses) == 2 * model.n_components  # 1 and 2 sigma
        elif r == c:
            assert [ln.get_label() for ln in ax.get_lines()][-1] == "mixture"
            assert not ellipses
        else:
            assert not ax.get_visible()
    assert [axes[3, c].get_xlabel() for c in range(4)] == ["a", "b", "c", "d"]
    assert [axes[r, 0].get_ylabel() for r in range(1, 4)] == ["b", "c", "d"]
    _, mine = plt.subplots(2, 2)
    assert ep.plot_pairs(model, frame, features=[3, 1], axes=mine)[1, 0] is mine[1, 0]
    assert (mine[1, 0].get_xlabel(), mine[1, 0].get_ylabel()) == ("d", "b")
    with pytest.raises(ValidationError, match=r"\(2, 2\) array of Axes"):
        ep.plot_pairs(model, frame, features=[0, 1], axes=mine[:1])


def test_convergence_has_one_line_per_restart_and_the_kept_one(frame, tmp_path):
    model = GaussianMixture(3, n_init=4, init_params="random", random_state=2).fit(frame)
    ax = ep.plot_convergence(model)
    render(ax, tmp_path)
    lines = ax.get_lines()
    assert len(lines) == 4 == len(model.lower_bounds_per_init_)
    kept = [ln for ln in lines if ln.get_label().endswith("(kept)")]
    assert len(kept) == 1
    np.testing.assert_array_equal(kept[0].get_ydata(), model.lower_bounds_)
    for line in lines:  # EM never decreases the bound
        assert np.all(np.diff(line.get_ydata()) > -1e-12)
        assert line.get_ydata()[-1] <= model.lower_bound_ + 1e-12


def test_convergence_of_an_hmm_is_its_monitor_history(tmp_path):
    X = np.random.default_rng(6).normal(size=(200, 1))
    model = GaussianHMM(2, n_iter=15, random_state=0).fit(X)
    ax = ep.plot_convergence(model)
    render(ax, tmp_path)
    (line,) = ax.get_lines()
    np.testing.assert_array_equal(line.get_ydata(), list(model.monitor_.history))


class FakeSelection:
    """A stand-in with exactly the attributes of a fitted MixtureSelection."""

    covariance_types_ = ("full", "tied", "diag", "spherical")
    n_components_range_ = (1, 2, 3, 4, 5)
    scores_ = np.array(
        [
            [1000, 800, 500, 600, np.nan],
            [1000, 850, 600, 650, 700],
            [1100, 900, 700, 720, 750],
            [1200, 1000, 800, 810, 830],
        ],
        dtype=float,
    )
    criterion_ = "bic"
    greater_is_better_ = False
    best_covariance_type_ = "full"
    best_n_components_ = 3


def test_selection_has_one_line_per_covariance_structure_and_marks_the_best(tmp_path):
    sel = FakeSelection()
    ax = ep.plot_selection(sel)
    render(ax, tmp_path)
    lines = ax.get_lines()
    assert [ln.get_label() for ln in lines] == list(sel.covariance_types_)
    for line, row in zip(lines, sel.scores_, strict=True):
        np.testing.assert_array_equal(line.get_xdata(), sel.n_components_range_)
        np.testing.assert_array_equal(line.get_ydata(), row)  # NaN kept: a gap
    assert len({ln.get_color() for ln in lines}) == 4
    (best,) = scatters(ax)
    np.testing.assert_array_equal(best.get_offsets(), [[3, 500]])
    assert "BIC" in ax.get_ylabel() and "lower is better" in ax.get_ylabel()
    assert ep.plot(sel) is not None  # the default picture of a selection


def test_selection_with_missing_attributes_is_an_error():
    class Partial:
        scores_ = np.zeros((1, 1))

    with pytest.raises(ValidationError, match="covariance_types_"):
        ep.plot_selection(Partial())


def regime_series(seed=0):
    """A 1-D series that switches between three levels, sampled from an HMM."""
    truth = GaussianHMM(3, covariance_type="diag", random_state=seed)
    truth.startprob_ = np.array([0.6, 0.3, 0.1])
    truth.transmat_ = np.array([[0.95, 0.04, 0.01], [0.05, 0.9, 0.05], [0.02, 0.08, 0.9]])
    truth.means_ = np.array([[0.0], [5.0], [10.0]])
    truth.covars_ = np.ones((3, 1))
    return truth.sample(600, random_state=seed)


@pytest.fixture(scope="module")
def hmm_fit():
    X, _ = regime_series()
    lengths = [350, 250]
    model = GaussianHMM(3, n_iter=50, random_state=3).fit(X, lengths)
    return model, X, lengths


def test_states_one_colour_per_state_over_the_posterior_band(hmm_fit, tmp_path):
    model, X, lengths = hmm_fit
    axes = ep.plot_states(model, X, lengths)
    render(axes, tmp_path)
    series, band = axes
    groups = scatters(series)
    _, states = model.decode(X, lengths)
    assert len(groups) == model.n_components
    assert len({tuple(g.get_facecolor()[0]) for g in groups}) == model.n_components
    for k, group in enumerate(groups):
        np.testing.assert_array_equal(group.get_offsets()[:, 0], np.flatnonzero(states == k))
        np.testing.assert_array_equal(group.get_offsets()[:, 1], X[states == k, 0])
    bands = band.collections
    assert len(bands) == model.n_components
    for group, layer in zip(groups, bands, strict=True):
        assert to_rgba(layer.get_facecolor()[0]) == pytest.approx(group.get_facecolor()[0])
    boundaries = [ln.get_xdata()[0] for ln in series.get_lines()[1:]]
    assert boundaries == [349.5]  # the sequence boundary
    assert series.get_ylabel() == "x0" and band.get_ylabel() == "posterior"


def test_states_on_given_axes_adds_the_band_below(hmm_fit, tmp_path):
    model, X, lengths = hmm_fit
    fig, ax = plt.subplots()
    series, band = ep.plot_states(model, X, lengths, ax=ax, feature_names=["level"])
    assert series is ax and band in ax.child_axes
    render(fig, tmp_path)
    assert ax.get_ylabel() == "level"


def test_transition_heatmap_shows_the_matrix(hmm_fit, tmp_path):
    model, _, _ = hmm_fit
    ax = ep.plot_transitions(model)
    render(ax, tmp_path)
    (image,) = ax.get_images()
    np.testing.assert_array_equal(image.get_array(), model.transmat_)
    texts = [t.get_text() for t in ax.texts]
    assert texts == [f"{p:.2f}" for p in model.transmat_.ravel()]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("to state", "from state")


def test_state_durations_are_the_runs_of_each_sequence():
    rng = np.random.default_rng(7)
    states = rng.choice(3, size=200, p=[0.7, 0.2, 0.1])
    states = np.repeat(states, rng.integers(1, 5, size=200))[:300]
    lengths = [120, 100, 80]
    expected = []
    for seq in np.split(states, np.cumsum(lengths)[:-1]):
        expected += [(int(s), len(list(run))) for s, run in itertools.groupby(seq)]
    assert ep.state_durations(states, lengths) == expected
    assert sum(d for _, d in expected) == 300


def test_durations_histogram_one_colour_per_state(hmm_fit, tmp_path):
    model, X, lengths = hmm_fit
    ax = ep.plot_durations(model, X, lengths)
    render(ax, tmp_path)
    _, states = model.decode(X, lengths)
    runs = ep.state_durations(states, lengths)
    steps = [p for p in ax.patches if p.get_label().startswith("state")]
    present = sorted({s for s, _ in runs})
    assert [p.get_label() for p in steps] == [
        f"state {k} ({sum(1 for s, _ in runs if s == k)} runs)" for k in present
    ]
    assert len({p.get_edgecolor() for p in steps}) == len(present)


def test_peaks_add_up_to_the_fit_and_integrate_to_their_areas(tmp_path):
    x = np.linspace(0, 100, 400)
    signal = 300 * stats.norm.pdf(x, 30, 4) + 200 * stats.norm.pdf(x, 45, 3) + 0.5
    y = np.random.default_rng(9).poisson(signal * 20) / 20
    fit = PeakFit(2, background=True, random_state=0).fit(x, y)
    ax = ep.plot(fit, x, y=y)
    render(ax, tmp_path)
    lines = {ln.get_label(): ln.get_ydata() for ln in ax.get_lines()}
    np.testing.assert_array_equal(lines["signal"], y)
    np.testing.assert_allclose(lines["fit"], fit.predict(x), rtol=1e-12)
    peaks = [lines[f"peak {k + 1}: {c:.4g}"] for k, c in enumerate(fit.centers_)]
    np.testing.assert_allclose(sum(peaks) + lines["background"], lines["fit"], rtol=1e-12)
    spacing = x[1] - x[0]
    for peak, area in zip(peaks, fit.areas_, strict=True):  # whole peaks inside the window
        assert np.sum(peak) * spacing == pytest.approx(area, rel=1e-6)
    assert len(ax.collections) == 2  # one filled area per peak
    with pytest.raises(ValidationError, match="pass y"):
        ep.plot(fit, x)


def test_save_figure_formats_by_extension(gm, tmp_path):
    ax = ep.plot_weights(gm)
    magic = {".png": PNG_MAGIC, ".svg": b"<?xml", ".pdf": b"%PDF"}
    for ext, start in magic.items():
        path = tmp_path / f"weights{ext}"
        ep.save_figure(ax, path)
        assert path.read_bytes().startswith(start)
    with pytest.raises(ValidationError, match=r"\.png, \.svg, \.pdf"):
        ep.save_figure(ax, tmp_path / "weights.jpg")


def test_default_kinds_and_bad_kinds(gm, hmm_fit):
    assert ep.default_kind(gm) == "classification"
    assert ep.default_kind(hmm_fit[0]) == "states"
    assert ep.default_kind(FakeSelection()) == "selection"
    with pytest.raises(ValidationError, match="choose one of"):
        ep.plot(gm, kind="spiral")
    with pytest.raises(ValidationError, match="does not apply to a GaussianMixture"):
        ep.plot(gm, kind="transitions")
    with pytest.raises(ValidationError, match="pass X"):
        ep.plot(gm, kind="classification")


def test_bad_arguments_give_clear_errors(gm, frame):
    with pytest.raises(ValidationError, match="dims"):
        ep.plot_classification(gm, frame, dims=(0, 0))
    with pytest.raises(ValidationError, match="feature=5"):
        ep.plot_histogram(gm, frame, feature=5)
    with pytest.raises(ValidationError, match="fit it first"):
        ep.plot_weights(GaussianMixture(2))
    counts = np.random.default_rng(0).poisson(3.0, (50, 2))
    with pytest.raises(ValidationError, match="which a PoissonMixture does not have"):
        ep.plot_density(PoissonMixture(2, random_state=0).fit(counts))
    with pytest.raises(ValidationError, match="numeric"):
        ep.plot_classification(gm, np.array([["a", "b"], ["c", "d"]], dtype=object))
