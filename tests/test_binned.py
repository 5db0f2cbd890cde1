"""BinnedGaussianMixture: exact EM for grouped data against integrals, optimisers and truth.

Oracles: truncated-normal moments against mpmath quadrature at 30 digits; bin log-likelihoods
against scipy.integrate.quad of the mixture density; EM fixed points against a direct
numerical maximisation (scipy.optimize) of the grouped log-likelihood; parameter recovery
on sampled, coarsely binned data (where the bin-centre shortcut is biased).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, optimize, stats

import emkit
from emkit import BinnedGaussianMixture, GaussianMixture, bins_from_centres, bins_from_edges
from emkit.exceptions import ValidationError
from emkit.families.binned import BinnedGaussianFamily, normal_bin_moments
from emkit.io import load, save

NOT_CONVERGED = "ignore::sklearn.exceptions.ConvergenceWarning"


def sampled_bins(rng, n, weights, means, sigmas, edges):
    """Draw ``n`` values from a normal mixture and bin them: (X, counts)."""
    z = rng.choice(len(weights), size=n, p=weights)
    x = rng.normal(np.asarray(means)[z], np.asarray(sigmas)[z])
    counts, _ = np.histogram(x, bins=edges)
    return bins_from_edges(edges), counts.astype(float)


# ------------------------------------------------------------------ truncated moments
MOMENT_CASES = [
    # (lower, upper) of N(0, 1): centre, both tails, open ends, narrow, deep tails.
    (-1.0, 0.5),
    (0.2, 3.0),
    (-np.inf, -2.0),
    (1.5, np.inf),
    (-np.inf, np.inf),
    (-0.3, -0.3 + 1e-7),
    (4.0, 4.0 + 2e-6),
    (8.0, 9.0),
    (-12.0, -11.5),
    (25.0, 26.0),
    (-40.0, -30.0),
    (38.0, np.inf),
]


def mp_moments(lo, hi):
    """Log-mass, mean and variance of N(0, 1) on [lo, hi] in 60-digit arithmetic (mpmath)."""
    mpmath = pytest.importorskip("mpmath")
    with mpmath.workdps(60):
        a = mpmath.mpf(lo) if np.isfinite(lo) else -mpmath.inf
        b = mpmath.mpf(hi) if np.isfinite(hi) else mpmath.inf
        z = mpmath.ncdf(b) - mpmath.ncdf(a) if lo < 0 else mpmath.ncdf(-a) - mpmath.ncdf(-b)
        pa = mpmath.npdf(a) if np.isfinite(lo) else mpmath.mpf(0)
        pb = mpmath.npdf(b) if np.isfinite(hi) else mpmath.mpf(0)
        apa = a * pa if np.isfinite(lo) else mpmath.mpf(0)
        bpb = b * pb if np.isfinite(hi) else mpmath.mpf(0)
        mean = (pa - pb) / z
        var = 1 + (apa - bpb) / z - mean**2
        return float(mpmath.log(z)), float(mean), float(var)


def test_moment_oracle_agrees_with_quadrature():
    mpmath = pytest.importorskip("mpmath")
    log_z, mean, var = mp_moments(-1.0, 0.5)
    with mpmath.workdps(30):
        z = mpmath.quad(mpmath.npdf, [-1, 0.5])
        m1 = mpmath.quad(lambda t: t * mpmath.npdf(t), [-1, 0.5]) / z
        m2 = mpmath.quad(lambda t: (t - m1) ** 2 * mpmath.npdf(t), [-1, 0.5]) / z
    assert (log_z, mean, var) == pytest.approx((float(mpmath.log(z)), float(m1), float(m2)))


@pytest.mark.parametrize(("lo", "hi"), MOMENT_CASES)
def test_truncated_moments_match_quadrature(lo, hi):
    log_z, mean, var = mp_moments(lo, hi)
    # The same bin seen by a component N(mu, sigma^2): shifted and scaled.
    mu, sigma = 3.0, 2.5
    got = normal_bin_moments(
        np.array([mu + sigma * lo]), np.array([mu + sigma * hi]), [mu], [sigma]
    )
    got_log_z, got_mean, got_var = (g[0, 0] for g in got)
    assert got_log_z == pytest.approx(log_z, rel=1e-10, abs=1e-10)
    # Absolute errors in units of sigma: what enters the M-step.
    assert (got_mean - mu) / sigma == pytest.approx(mean, abs=1e-9)
    assert got_var / sigma**2 == pytest.approx(var, rel=1e-6, abs=1e-11)


def test_truncated_moments_far_tails_stay_finite_and_inside_the_bin():
    lo = np.array([-1e6, 1e4, -np.inf, 5e3, 1e300])
    hi = np.array([-1e6 + 1.0, 1e4 + 3.0, -1e5, np.inf, np.inf])
    log_z, mean, var = normal_bin_moments(lo, hi, [0.0], [1.0])
    assert np.all(np.isfinite(log_z[:4])) and np.all(np.isfinite(mean)) and np.all(var >= 0)
    assert np.all((mean[:, 0] >= lo) & (mean[:, 0] <= hi))
    assert np.all(var[:, 0] <= 1.0)


# ------------------------------------------------------------------ log-likelihood
def mixture_pdf(x, weights, means, sigmas):
    return sum(w * stats.norm.pdf(x, m, s) for w, m, s in zip(weights, means, sigmas, strict=True))


@pytest.mark.parametrize(("truncate", "background"), [(False, False), (True, False), (True, True)])
def test_bin_log_likelihood_matches_numerical_integration(truncate, background):
    weights, means, sigmas = np.array([0.3, 0.7]), np.array([-1.0, 2.0]), np.array([0.7, 1.5])
    edges = np.array([-3.0, -1.7, -0.2, 0.1, 1.0, 2.5, 6.0])
    X = bins_from_edges(edges)
    counts = np.array([3.0, 10, 2, 7, 15, 9])
    bg = 0.15
    w_all = np.append(weights * (1 - bg), bg) if background else weights
    model = BinnedGaussianMixture(
        2,
        truncate=truncate,
        background=background,
        weights_init=w_all,
        means_init=means[:, None],
        precisions_init=(1 / sigmas**2)[:, None, None],
        max_iter=0,
    ).fit(X, sample_weight=counts)
    A, B = edges[0], edges[-1]
    # weights_ are shares within the range when truncated: the component densities are
    # normals truncated to [A, B].
    mass_range = stats.norm.cdf(B, means, sigmas) - stats.norm.cdf(A, means, sigmas)
    scale = 1 / mass_range if truncate else np.ones(2)
    peak_w = w_all[:2]
    expected = []
    for lo, hi in X:
        peaks = integrate.quad(
            mixture_pdf, lo, hi, args=(peak_w * scale, means, sigmas), epsabs=0, epsrel=1e-13
        )[0]
        expected.append(np.log(peaks + (bg * (hi - lo) / (B - A) if background else 0.0)))
    np.testing.assert_allclose(model.score_samples(X), expected, rtol=1e-11)
    total = float(np.dot(counts, expected))
    assert model.score(X, sample_weight=counts) * counts.sum() == pytest.approx(total, rel=1e-11)


# ------------------------------------------------------------------ EM against optimisers
def grouped_loglik(theta, X, counts, truncate, background):
    """Grouped log-likelihood of one normal (+ background) written out from scipy.stats."""
    mu, log_sigma = theta[:2]
    sigma = np.exp(log_sigma)
    A, B = X[0, 0], X[-1, 1]
    p = stats.norm.cdf(X[:, 1], mu, sigma) - stats.norm.cdf(X[:, 0], mu, sigma)
    if truncate:
        p = p / (stats.norm.cdf(B, mu, sigma) - stats.norm.cdf(A, mu, sigma))
    if background:
        bg = 1 / (1 + np.exp(-theta[2]))
        p = (1 - bg) * p + bg * (X[:, 1] - X[:, 0]) / (B - A)
    return float(np.dot(counts, np.log(p)))


@pytest.mark.parametrize(("truncate", "background"), [(False, False), (True, False), (True, True)])
def test_em_reaches_the_maximum_found_by_an_optimiser(truncate, background):
    rng = np.random.default_rng(3)
    x = rng.normal(1.0, 2.0, 3000)
    top = 9.0 if background else 5.0
    if background:
        x = np.concatenate([x, rng.uniform(-2, top, 600)])
    edges = np.linspace(-2.0, top, 15)  # the normal extends beyond the window
    counts = np.histogram(x, bins=edges)[0].astype(float)
    X = bins_from_edges(edges)
    start = [0.5, 0.3, 0.0][: 3 if background else 2]
    opt = optimize.minimize(
        lambda t: -grouped_loglik(t, X, counts, truncate, background),
        start,
        method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20000},
    )
    model = BinnedGaussianMixture(
        1, truncate=truncate, background=background, tol=1e-13, max_iter=20000, reg_covar=0
    ).fit(X, sample_weight=counts)
    assert model.converged_
    assert model.means_[0, 0] == pytest.approx(opt.x[0], abs=1e-5)
    assert np.log(model.sigmas_[0]) == pytest.approx(opt.x[1], abs=1e-5)
    if background:
        assert model.weights_[1] == pytest.approx(1 / (1 + np.exp(-opt.x[2])), abs=1e-5)
    ll = model.score(X, sample_weight=counts) * counts.sum()
    assert ll == pytest.approx(-opt.fun, abs=1e-6)


@pytest.mark.parametrize(
    ("covariance_type", "truncate", "background"),
    [("full", False, False), ("tied", False, False), ("diag", True, False), ("full", True, True)],
)
def test_log_likelihood_never_decreases(covariance_type, truncate, background):
    rng = np.random.default_rng(5)
    X, counts = sampled_bins(rng, 4000, [0.4, 0.6], [0.0, 3.0], [1.0, 0.8], np.linspace(-3, 5, 13))
    model = BinnedGaussianMixture(
        2,
        covariance_type=covariance_type,
        truncate=truncate,
        background=background,
        tol=0,
        max_iter=60,
        init_params="random",
        random_state=0,
    )
    with pytest.warns(Warning):  # not converged at tol=0
        model.fit(X, sample_weight=counts)
    bounds = np.array(model.lower_bounds_)
    assert np.all(np.diff(bounds) >= -1e-12 * np.abs(bounds[1:]))
    assert bounds[-1] > bounds[0]


# ------------------------------------------------------------------ ground truth
def test_exact_em_recovers_parameters_where_bin_centres_are_biased():
    rng = np.random.default_rng(11)
    weights, means, sigmas = [0.35, 0.65], [0.0, 5.0], [1.0, 1.5]
    edges = np.arange(-6.0, 12.0, 1.8)  # bins wider than one component's sigma
    X, counts = sampled_bins(rng, 200_000, weights, means, sigmas, edges)
    exact = BinnedGaussianMixture(2, tol=1e-9, max_iter=2000, random_state=0)
    exact.fit(X, sample_weight=counts)
    order = np.argsort(exact.means_[:, 0])
    np.testing.assert_allclose(exact.means_[order, 0], means, atol=0.02)
    np.testing.assert_allclose(exact.sigmas_[order], sigmas, rtol=0.01)
    np.testing.assert_allclose(exact.weights_[order], weights, atol=0.005)
    centres = X.mean(axis=1)[:, None]
    naive = GaussianMixture(2, tol=1e-9, max_iter=2000, random_state=0)
    naive.fit(centres, sample_weight=counts)
    naive_sigmas = np.sqrt(naive.covariances_[np.argsort(naive.means_[:, 0]), 0, 0])
    # Sheppard: grouping adds about width^2 / 12 to each variance.
    assert naive_sigmas[0] > sigmas[0] * 1.1
    assert np.abs(naive_sigmas - sigmas).max() > 5 * np.abs(exact.sigmas_[order] - sigmas).max()


def test_truncated_fit_recovers_a_normal_cut_by_the_window():
    rng = np.random.default_rng(2)
    x = rng.normal(2.0, 1.5, 100_000)
    edges = np.linspace(0.5, 6.0, 23)  # cuts the normal 1 sigma left of its mean
    counts = np.histogram(x, bins=edges)[0].astype(float)
    X = bins_from_edges(edges)
    cut = BinnedGaussianMixture(1, truncate=True, tol=1e-10, max_iter=5000).fit(
        X, sample_weight=counts
    )
    assert cut.means_[0, 0] == pytest.approx(2.0, abs=0.03)
    assert cut.sigmas_[0] == pytest.approx(1.5, rel=0.02)
    whole = BinnedGaussianMixture(1, tol=1e-10).fit(X, sample_weight=counts)
    assert whole.means_[0, 0] > 2.3  # ignoring the window overstates the mean
    np.testing.assert_allclose(cut.observed_range_, [0.5, 6.0])


# ------------------------------------------------------------------ engine properties
@pytest.mark.filterwarnings(NOT_CONVERGED)
def test_chunked_memmap_and_dask_fits_equal_the_whole_fit(tmp_path):
    rng = np.random.default_rng(4)
    X, counts = sampled_bins(rng, 3000, [0.5, 0.5], [0.0, 4.0], [1.0, 1.0], np.linspace(-4, 8, 40))
    kwargs = dict(
        truncate=True,
        background=True,
        weights_init=[0.3, 0.3, 0.4],
        means_init=[[-1.0], [5.0]],
        precisions_init=[[[1.0]], [[0.5]]],
        tol=0,
        max_iter=15,
    )
    whole = BinnedGaussianMixture(2, **kwargs).fit(X, sample_weight=counts)
    chunked = BinnedGaussianMixture(2, chunk_size=7, **kwargs).fit(X, sample_weight=counts)
    np.testing.assert_allclose(chunked.means_, whole.means_, rtol=1e-10)
    np.testing.assert_allclose(chunked.weights_, whole.weights_, rtol=1e-10)
    np.save(tmp_path / "bins.npy", X)
    mapped = BinnedGaussianMixture(2, chunk_size=11, **kwargs)
    mapped.fit(str(tmp_path / "bins.npy"), sample_weight=counts)
    np.testing.assert_allclose(mapped.means_, whole.means_, rtol=1e-10)
    np.testing.assert_allclose(mapped.observed_range_, whole.observed_range_)
    da = pytest.importorskip("dask.array")
    lazy = BinnedGaussianMixture(2, **kwargs).fit(
        da.from_array(X, chunks=(20, 2)), sample_weight=da.from_array(counts, chunks=20)
    )
    np.testing.assert_allclose(lazy.means_, whole.means_, rtol=1e-10)
    np.testing.assert_allclose(lazy.covariances_, whole.covariances_, rtol=1e-10)
    np.testing.assert_allclose(lazy.observed_range_, whole.observed_range_)


def test_statistics_add_over_blocks():
    rng = np.random.default_rng(0)
    X = bins_from_edges(np.sort(rng.uniform(-3, 3, 12)))
    fam = BinnedGaussianFamily(observed_range=(X[0, 0], X[-1, 1]), truncate=True, background=True)
    model = BinnedGaussianMixture(2, means_init=[[-1.0], [1.0]], max_iter=0).fit(X)
    params = model._get_components()
    wresp = rng.dirichlet(np.ones(3), size=len(X))
    whole = fam.accumulate(params, X, wresp)
    split = fam.accumulate(params, X[:5], wresp[:5]) + fam.accumulate(params, X[5:], wresp[5:])
    np.testing.assert_allclose(split.counts, whole.counts, rtol=1e-12)
    np.testing.assert_allclose(split.moments.scatter, whole.moments.scatter, rtol=1e-12)


def test_save_load_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    X, counts = sampled_bins(rng, 2000, [0.3, 0.7], [0.0, 3.0], [0.8, 1.0], np.linspace(-3, 6, 20))
    model = BinnedGaussianMixture(
        2, truncate=True, background=True, covariance_type="tied", random_state=0
    )
    model.fit(X, sample_weight=counts)
    save(model, tmp_path / "binned.npz")
    again = load(tmp_path / "binned.npz")
    assert isinstance(again, BinnedGaussianMixture) and again.background and again.truncate
    np.testing.assert_array_equal(again.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(again.observed_range_, model.observed_range_)
    assert again.weights_.shape == (3,)
    values, labels = again.sample(500)
    assert values.shape == (500, 1) and set(np.unique(labels)) <= {0, 1, 2}
    assert values.min() >= -3 and values.max() <= 6  # truncated components and background


def test_open_ended_bins_and_centres():
    X = bins_from_edges([-np.inf, 0.0, 1.0, np.inf])
    np.testing.assert_array_equal(X, [[-np.inf, 0], [0, 1], [1, np.inf]])
    np.testing.assert_allclose(bins_from_centres([0.0, 1.0, 3.0]), [[-0.5, 0.5], [0.5, 2], [2, 4]])
    model = BinnedGaussianMixture(1).fit(X, sample_weight=[30, 40, 30])
    assert model.means_[0, 0] == pytest.approx(0.5, abs=1e-6)  # symmetric counts
    assert emkit.BinnedGaussianMixture is BinnedGaussianMixture


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda: bins_from_edges([0.0, 1.0, 1.0, 2.0]), "strictly increasing"),
        (lambda: bins_from_edges([0.0, 2.0, 1.0]), "edges[1] = 2.0 is followed by 1.0"),
        (lambda: bins_from_edges([[0.0, 1.0]]), "1-D"),
        (lambda: bins_from_centres([0.0, np.nan, 1.0]), "strictly increasing"),
        (lambda: BinnedGaussianMixture(1).fit([[0.0, 1.0], [2.0, 1.5]]), "row 1"),
        (lambda: BinnedGaussianMixture(1).fit([[0.0, np.nan], [1.0, 2.0]]), "row 0"),
        (lambda: BinnedGaussianMixture(1).fit([[0.0, 1.0, 2.0]]), "shape (n_bins, 2)"),
        (lambda: BinnedGaussianMixture(1).fit([[np.inf, np.inf], [0.0, 1.0]]), "row 0"),
        (
            lambda: BinnedGaussianMixture(1).fit([[0.0, 1.0], [1.0, 2.0]], sample_weight=[3, -1]),
            "sample_weight",
        ),
        (
            lambda: BinnedGaussianMixture(1).fit([[0.0, 1.0], [1.0, 2.0]], sample_weight=[3, 1, 2]),
            "one weight per row",
        ),
        (
            lambda: BinnedGaussianMixture(1, background=True).fit(
                bins_from_edges([-np.inf, 0.0, 1.0]), sample_weight=[1, 2]
            ),
            "finite bin edges",
        ),
    ],
)
def test_bad_input_is_a_clear_error(call, fragment):
    with pytest.raises(ValidationError, match=None) as err:
        call()
    assert fragment in str(err.value)


def test_failed_fit_keeps_the_earlier_fit():
    X = bins_from_edges([0.0, 1.0, 2.0, 3.0])
    model = BinnedGaussianMixture(1).fit(X, sample_weight=[1, 5, 2])
    before = model.means_.copy(), model.observed_range_.copy()
    with pytest.raises(ValidationError):
        model.fit(bins_from_edges([-5.0, 0.0, 10.0]), sample_weight=[1, -2])
    np.testing.assert_array_equal(model.means_, before[0])
    np.testing.assert_array_equal(model.observed_range_, before[1])
    with pytest.raises(TypeError, match="truncate"):
        BinnedGaussianMixture(1, truncate="yes").fit(X)


@pytest.mark.parametrize(
    ("covariance_type", "background", "n_free"),
    [("full", False, 3 + 3 + 2), ("tied", False, 3 + 1 + 2), ("full", True, 3 + 3 + 3)],
)
def test_bic_counts_means_variances_and_shares(covariance_type, background, n_free):
    rng = np.random.default_rng(8)
    X, counts = sampled_bins(
        rng, 3000, [0.3, 0.3, 0.4], [0, 4, 8], [1, 1, 1], np.linspace(-3, 11, 30)
    )
    model = BinnedGaussianMixture(
        3, covariance_type=covariance_type, background=background, random_state=0
    ).fit(X, sample_weight=counts)
    ll = model.score(X, sample_weight=counts) * counts.sum()
    assert model.bic(X, sample_weight=counts) == pytest.approx(
        -2 * ll + n_free * np.log(counts.sum()), rel=1e-12
    )
    assert model.predict_proba(X).shape == (len(X), 3 + background)


def test_weights_init_with_a_background_has_one_more_entry():
    X = bins_from_edges(np.linspace(0, 4, 9))
    with pytest.raises(ValidationError, match=r"weights_init has shape \(2,\); expected \(3,\)"):
        BinnedGaussianMixture(2, background=True, weights_init=[0.5, 0.5]).fit(X)
    model = BinnedGaussianMixture(2, background=True, weights_init=[0.4, 0.4, 0.2], max_iter=0)
    np.testing.assert_allclose(model.fit(X).weights_, [0.4, 0.4, 0.2])


def test_counts_given_as_y_are_an_error_not_ignored():
    X = bins_from_edges(np.linspace(-3.0, 3.0, 13))
    counts = np.arange(1.0, 13.0)
    model = BinnedGaussianMixture(1, random_state=0)
    for method in (model.fit, model.fit_predict, model.partial_fit):
        with pytest.raises(ValidationError, match="sample_weight=counts"):
            method(X, counts)
    assert model.fit(X, sample_weight=counts).weights_.shape == (1,)
