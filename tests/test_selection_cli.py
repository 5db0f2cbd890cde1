"""``emkit select``: the table and summary, the saved best model, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from emkit import MixtureSelection
from emkit import io as model_io
from emkit.cli import main
from emkit.cli.select import MODEL_NAMES
from emkit.families.covariance import MIXTURE_COVARIANCE_TYPES

FAITHFUL = Path(__file__).parent / "oracles" / "mclust_faithful.csv"


def test_model_names_are_the_mixture_types():
    assert set(MODEL_NAMES) == set(MIXTURE_COVARIANCE_TYPES)


def test_select_prints_table_and_saves_the_best(tmp_path, capsys):
    out = tmp_path / "best.npz"
    argv = [str(FAITHFUL), "-k", "1-4", "--models", "EEE,VVV,EII", "-o", str(out)]
    assert main(["select", *argv]) == 0
    text = capsys.readouterr().out
    assert "BIC (mclust's sign: higher is better" in text
    assert "Best: EEE with 3 components" in text and f"model saved to {out}" in text
    lines = text.splitlines()
    assert lines[1].split() == ["1", "2", "3", "4"] and lines[2].startswith("EEE")
    model = model_io.load(out)
    X = np.loadtxt(FAITHFUL, delimiter=",", skiprows=1)
    direct = MixtureSelection([1, 2, 3, 4], ["EEE", "VVV", "EII"]).fit(X).best_estimator_
    assert model.covariance_type == "EEE"
    np.testing.assert_allclose(model.means_, direct.means_, rtol=1e-12)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--models", "EEE,XYZ"], "unknown model name(s) XYZ"),
        (["-k", "5-3"], "expected a range like 1-9"),
        (["-k", "0-3"], "must be >= 1"),
        (["--criterion", "bicc"], "invalid choice"),
    ],
)
def test_bad_options_are_usage_errors(argv, message, capsys):
    assert main(["select", str(FAITHFUL), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("emkit: error:") and message in err


def test_too_many_components_is_a_data_error(tmp_path, capsys):
    small = tmp_path / "small.csv"
    np.savetxt(small, np.arange(8.0).reshape(4, 2), delimiter=",")
    assert main(["select", str(small), "-k", "1-5", "-o", str(tmp_path / "m.npz")]) == 1
    assert "n_components goes up to 5 but X has only 4 rows" in capsys.readouterr().err


def test_select_plot_option_draws_the_criterion_curves(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    figure = tmp_path / "bic.svg"
    argv = [str(FAITHFUL), "-k", "1-3", "--models", "EEE,VII", "-o", str(tmp_path / "m.npz")]
    assert main(["select", *argv, "--plot", str(figure)]) == 0
    capsys.readouterr()
    svg = figure.read_text()
    assert svg.lstrip().startswith("<?xml") and "EEE" in svg and "VII" in svg


def test_selection_grid_shows_one_progress_step_per_fit(capsys):
    from emkit.engine.progress import progress_bars

    X = np.loadtxt(FAITHFUL, delimiter=",", skiprows=1)
    with progress_bars(True):
        MixtureSelection([1, 2], ["EEE", "VII"]).fit(X)
    err = capsys.readouterr().err
    assert "model selection" in err and "4/4" in err


def test_select_with_mclusts_prior(tmp_path, capsys):
    out = tmp_path / "best.npz"
    argv = [str(FAITHFUL), "-k", "1-3", "--models", "EEE,VEV,EVE", "--prior", "default"]
    assert main(["select", *argv, "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Best: EEE with 3 components" in text
    X = np.loadtxt(FAITHFUL, delimiter=",", skiprows=1)
    direct = MixtureSelection([1, 2, 3], ["EEE", "VEV", "EVE"], prior="default").fit(X)
    assert np.isnan(direct.scores_[2]).all()  # EVE: no prior in mclust, nor in emkit
    np.testing.assert_allclose(model_io.load(out).means_, direct.best_estimator_.means_)


def test_select_with_scikit_learns_stopping_rule(tmp_path, capsys):
    out = tmp_path / "best.npz"
    argv = [str(FAITHFUL), "-k", "2-3", "--models", "EEE", "--convergence", "sklearn"]
    assert main(["select", *argv, "--tol", "1e-3", "-o", str(out)]) == 0
    X = np.loadtxt(FAITHFUL, delimiter=",", skiprows=1)
    direct = MixtureSelection([2, 3], ["EEE"], convergence="sklearn", tol=1e-3).fit(X)
    other = MixtureSelection([2, 3], ["EEE"], tol=1e-3).fit(X)  # mclust's rule
    assert direct.best_estimator_.n_iter_ != other.best_estimator_.n_iter_
    np.testing.assert_allclose(model_io.load(out).means_, direct.best_estimator_.means_)
