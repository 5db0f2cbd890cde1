"""PeakFit and ``emkit peaks``: peak recovery, BIC choice, standard errors, bad input.

Oracles: the generating peaks of simulated Poisson spectra; closed-form standard errors of
one normal observed through fine bins (sigma / sqrt(N), sigma / sqrt(2N), sqrt(N)); the
integral of the signal for areas on uneven positions. mixdist's standard errors are checked
in tests/test_binned_mixdist.py.
"""

from __future__ import annotations

import csv

import numpy as np
import pytest
from scipy import stats

from emkit import PeakFit, bins_from_edges
from emkit.cli import main
from emkit.exceptions import ValidationError
from emkit.models.peaks import FWHM_PER_SIGMA, TABLE_COLUMNS

FAST = dict(n_init=2, tol=1e-7, max_iter=1000, random_state=0)


def spectrum(rng, x, peaks, background=0.0):
    """Poisson counts at positions ``x`` of peaks (area, centre, sigma) on a flat level."""
    dx = x[1] - x[0]
    mean = background + sum(a * stats.norm.pdf(x, c, s) * dx for a, c, s in peaks)
    return rng.poisson(mean).astype(float)


@pytest.fixture(scope="module")
def two_peaks():
    rng = np.random.default_rng(7)
    x = np.linspace(0.0, 60.0, 241)
    truth = [(6000.0, 20.0, 2.0), (3000.0, 34.0, 3.0)]
    return x, spectrum(rng, x, truth, background=4.0), truth


def test_auto_finds_two_peaks_and_recovers_them(two_peaks):
    x, y, truth = two_peaks
    fit = PeakFit(max_peaks=3, background=True, **FAST).fit(x, y)
    assert fit.n_peaks_ == 2
    assert fit.bic_.shape == (3,) and np.argmin(fit.bic_) == 1
    dx = x[1] - x[0]
    for k, (area, centre, sigma) in enumerate(truth):
        assert abs(fit.centers_[k] - centre) < 4 * fit.centers_se_[k]
        assert abs(fit.sigmas_[k] - sigma) < 4 * fit.sigmas_se_[k]
        # areas in position x intensity units: the counts integrate to area * dx / dx
        assert abs(fit.areas_[k] - area * dx) < 4 * fit.areas_se_[k]
    np.testing.assert_allclose(fit.fwhm_, FWHM_PER_SIGMA * fit.sigmas_)
    np.testing.assert_allclose(fit.fwhm_se_, FWHM_PER_SIGMA * fit.sigmas_se_)
    background_share = 4.0 * len(x) / y.sum()
    assert abs(fit.background_share_ - background_share) < 4 * fit.background_share_se_
    assert fit.shares_.sum() + fit.background_share_ == pytest.approx(1.0)
    table = fit.table()
    assert list(table) == list(TABLE_COLUMNS) and table["center"][0] < table["center"][1]
    text = fit.format_table()
    assert text.splitlines()[0].split() == ["peak", *TABLE_COLUMNS]
    assert "background share" in text


def test_predict_gives_the_fitted_signal(two_peaks):
    x, y, truth = two_peaks
    fit = PeakFit(2, background=True, **FAST).fit(x, y)
    dx = x[1] - x[0]
    expected = 4.0 + sum(a * stats.norm.pdf(x, c, s) * dx for a, c, s in truth)
    curve = fit.predict(x)
    assert curve.shape == x.shape
    assert np.max(np.abs(curve - expected)) < 0.05 * expected.max()
    assert curve.sum() == pytest.approx(y.sum(), rel=1e-6)


def test_standard_errors_of_one_normal_match_the_closed_form():
    # Fine bins: the grouped information tends to that of the values themselves.
    rng = np.random.default_rng(3)
    n, sigma = 20_000, 2.0
    edges = np.linspace(-12.0, 12.0, 961)
    counts = np.histogram(rng.normal(0.0, sigma, n), bins=edges)[0].astype(float)
    fit = PeakFit(1, truncate=False, tol=1e-10, random_state=0).fit(bins_from_edges(edges), counts)
    N = counts.sum()
    assert fit.centers_se_[0] == pytest.approx(fit.sigmas_[0] / np.sqrt(N), rel=2e-3)
    assert fit.sigmas_se_[0] == pytest.approx(fit.sigmas_[0] / np.sqrt(2 * N), rel=2e-3)
    assert fit.areas_[0] == pytest.approx(N, rel=1e-9)
    assert fit.areas_se_[0] == pytest.approx(np.sqrt(N), rel=1e-6)
    assert fit.shares_[0] == 1.0 and fit.shares_se_[0] == 0.0


def test_areas_on_uneven_positions_integrate_the_signal():
    x = np.sort(np.concatenate([np.linspace(0, 20, 60), np.linspace(8, 12, 50)[1:-1]]))
    x = np.unique(np.round(x, 6))
    y = 500.0 * stats.norm.pdf(x, 10.5, 1.3)  # a density: integrates to 500
    fit = PeakFit(1, tol=1e-10, random_state=0).fit(x, y)
    assert fit.centers_[0] == pytest.approx(10.5, abs=1e-3)
    assert fit.sigmas_[0] == pytest.approx(1.3, rel=1e-3)
    assert fit.areas_[0] == pytest.approx(500.0, rel=2e-3)


def test_truncated_window_reports_whole_peak_areas():
    x = np.linspace(0.0, 10.0, 201)
    y = 1000.0 * stats.norm.pdf(x, 1.0, 1.0) * (x[1] - x[0])  # half-cut at the left edge
    cut = PeakFit(1, tol=1e-11, max_iter=20000, random_state=0).fit(x, y)
    assert cut.centers_[0] == pytest.approx(1.0, abs=2e-3)
    assert cut.areas_[0] == pytest.approx(1000.0 * (x[1] - x[0]), rel=3e-3)
    assert cut.shares_[0] == 1.0


@pytest.mark.parametrize(
    ("X", "y", "fragment"),
    [
        (np.arange(5.0), [1, 2, -3, 4, 5], "y[2] = -3.0"),
        (np.arange(5.0), [1, 2, 3], "one intensity per position"),
        (np.arange(5.0), np.zeros(5), "zero everywhere"),
        ([0.0, 2.0, 1.0, 3.0], [1, 2, 3, 4], "strictly increasing"),
        (np.zeros((4, 3)), np.ones(4), "shape (n, 2)"),
        (np.arange(5.0), [1, 2, np.nan, 4, 5], "finite, non-negative"),
    ],
)
def test_bad_input_is_a_clear_error(X, y, fragment):
    with pytest.raises(ValidationError) as err:
        PeakFit(1).fit(X, y)
    assert fragment in str(err.value)


def test_bad_parameters_are_clear_errors(two_peaks):
    with pytest.raises(ValidationError, match="n_peaks"):
        PeakFit(0).fit(np.arange(5.0), np.ones(5))
    with pytest.raises(ValidationError, match="only 2 positive"):
        PeakFit(3).fit(np.arange(5.0), [0, 1, 0, 2, 0])
    x, y, _ = two_peaks
    fit = PeakFit(2, **FAST).fit(x, y)
    with pytest.raises(ValidationError):
        fit.fit(x, -y)
    assert fit.n_peaks_ == 2 and fit.centers_[0] == pytest.approx(20.0, abs=0.5)
    with pytest.raises(ValidationError, match="covariance_type"):
        PeakFit(1, covariance_type="round").fit(np.arange(5.0), np.ones(5))


# ------------------------------------------------------------------ command line
def write_csv(path, rows, header):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_cli_prints_the_peak_table(two_peaks, tmp_path, capsys):
    x, y, _ = two_peaks
    path = write_csv(tmp_path / "spectrum.csv", zip(x, y, strict=True), ["position", "intensity"])
    args = [
        "peaks",
        str(path),
        "--peaks",
        "2",
        "--background",
        "--n-init",
        "2",
        "--random-state",
        "0",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out.splitlines()
    assert "2 peak(s) (given)" in out[0]
    assert out[1].split() == ["peak", *TABLE_COLUMNS]
    assert len(out) == 5 and out[-1].startswith("background share")
    centres = sorted(float(line.split()[1]) for line in out[2:4])
    assert centres == pytest.approx([20.0, 34.0], abs=0.3)
    table = tmp_path / "peaks.csv"
    assert main([*args, "-o", str(table)]) == 0
    rows = list(csv.DictReader(open(table)))
    assert [float(r["center"]) for r in rows] == pytest.approx(centres, abs=5e-3)


def test_cli_reads_bins_and_reports_errors(tmp_path, capsys):
    edges = np.linspace(-4, 4, 17)
    counts = np.round(1000 * np.diff(stats.norm.cdf(edges)))
    rows = zip(edges[:-1], edges[1:], counts, strict=True)
    path = write_csv(tmp_path / "hist.csv", rows, ["lower", "upper", "count"])
    assert main(["peaks", str(path), "--peaks", "1", "--no-truncate"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert abs(float(out[2].split()[1])) < 1e-3
    bad = write_csv(tmp_path / "bad.csv", [[0, 1], [1, -2], [2, 3]], ["x", "y"])
    assert main(["peaks", str(bad)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("emkit: error: ") and "non-negative" in err[0]
    assert main(["peaks", str(path), "--peaks", "many"]) == 2
    assert "--peaks" in capsys.readouterr().err
    wide = write_csv(tmp_path / "wide.csv", [[0, 1, 2, 3]], ["a", "b", "c", "d"])
    assert main(["peaks", str(wide)]) == 1
    assert "4 columns" in capsys.readouterr().err


def test_a_signal_too_small_to_be_counts_warns(two_peaks):
    x, y, _ = two_peaks
    with pytest.warns(UserWarning, match="treat y as counts"):
        small = PeakFit(2, **FAST).fit(x, y / y.sum())
    big = PeakFit(2, **FAST).fit(x, y)
    np.testing.assert_allclose(small.centers_, big.centers_, rtol=1e-4)
    # Standard errors scale as 1 / sqrt(total).
    np.testing.assert_allclose(small.centers_se_, big.centers_se_ * np.sqrt(y.sum()), rtol=1e-2)


def test_summary_lists_every_peak_and_the_fit():
    rng = np.random.default_rng(3)
    draws = np.concatenate([rng.normal(2.0, 0.4, 3000), rng.normal(5.0, 0.7, 2000)])
    counts, edges = np.histogram(draws, bins=60)
    fit = PeakFit(n_peaks=2, random_state=0).fit(np.column_stack([edges[:-1], edges[1:]]), counts)
    text = str(fit.summary())
    assert text.startswith("Peak decomposition")
    assert f"log-likelihood: {fit.log_likelihood_:.6g}" in text
    for k in range(2):
        assert f"{fit.centers_[k]:.4g}" in text and f"{fit.areas_[k]:.4g}" in text
    html = fit._repr_html_()
    assert "<table>" in html and f"{fit.sigmas_[1]:.4g}" in html


def test_cli_plot_option_draws_the_peaks(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    rng = np.random.default_rng(5)
    counts, edges = np.histogram(rng.normal(0.0, 1.0, 4000), bins=40)
    spectrum = tmp_path / "s.csv"
    spectrum.write_text(
        "\n".join(
            f"{lo:.17g},{hi:.17g},{c}"
            for lo, hi, c in zip(edges[:-1], edges[1:], counts, strict=True)
        )
    )
    figure = tmp_path / "peaks.png"
    assert main(["peaks", str(spectrum), "--peaks", "1", "--plot", str(figure)]) == 0
    assert "1 peak(s)" in capsys.readouterr().out
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
