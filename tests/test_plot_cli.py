"""``emkit plot`` and ``--plot FILE`` on ``fit`` and ``hmm fit``."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from matplotlib.patches import Ellipse

from emkit import io as model_io
from emkit import plot as ep
from emkit.cli import figures, main
from emkit.cli import plot as cli_plot

MAGIC = {".png": b"\x89PNG\r\n\x1a\n", ".svg": b"<?xml", ".pdf": b"%PDF"}


def write_csv(path, X, header):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(X.tolist())
    return path


@pytest.fixture
def blobs_csv(tmp_path):
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 1, (120, 2)), rng.normal(5, 1, (80, 2))])
    return write_csv(tmp_path / "blobs.csv", X, ["height", "mass"])


@pytest.fixture
def series_csv(tmp_path):
    rng = np.random.default_rng(1)
    y = np.concatenate([rng.normal(0, 1, 60), rng.normal(5, 1, 40), rng.normal(0, 1, 50)])
    seq = np.repeat([1, 2], [100, 50])
    return write_csv(tmp_path / "series.csv", np.column_stack([seq, y]), ["seq", "level"])


@pytest.fixture
def drawn(monkeypatch):
    """The figures the command line writes, captured as they are saved."""
    figures = []
    save = ep.save_figure

    def keep(figure, path, **kw):
        figures.append(figure)
        save(figure, path, **kw)

    monkeypatch.setattr(ep, "save_figure", keep)
    return figures


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_plot_help_imports_no_matplotlib():
    code = (
        "import contextlib, io, sys\n"
        "from emkit.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as text:\n"
        "    assert main(['plot', '--help']) == 0 and '--kind' in text.getvalue()\n"
        "print('matplotlib' in sys.modules, 'emkit.plot' in sys.modules)\n"
    )
    src = str(Path(__file__).parents[1] / "src")
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": src, "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False"]


def test_kind_names_are_the_plot_kinds():
    assert cli_plot.KIND_NAMES == tuple(ep.KINDS)
    assert figures.FIGURE_FORMATS == ep.dispatch.FORMATS


def test_fit_with_plot_draws_the_classification(blobs_csv, tmp_path, capsys, drawn):
    figure = tmp_path / "fit.png"
    model = tmp_path / "m.npz"
    code, out, err = run(capsys, "fit", blobs_csv, "-k", "2", "--plot", figure, "-o", model)
    assert code == 0, err
    assert f"figure written to {figure}" in out
    assert figure.read_bytes().startswith(MAGIC[".png"])
    (ax,) = drawn[0].axes
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("height", "mass")  # the CSV's header
    assert len([p for p in ax.patches if isinstance(p, Ellipse)]) == 2 * 3


@pytest.mark.parametrize("ext", [".png", ".svg", ".pdf"])
def test_plot_command_writes_each_format(blobs_csv, tmp_path, capsys, ext):
    model = tmp_path / "m.npz"
    assert main(["fit", str(blobs_csv), "-k", "2", "-o", str(model)]) == 0
    capsys.readouterr()
    figure = tmp_path / f"uncertainty{ext}"
    code, out, err = run(capsys, "plot", model, blobs_csv, "-o", figure, "--kind", "uncertainty")
    assert code == 0, err
    assert figure.read_bytes().startswith(MAGIC[ext])
    assert out == f"figure written to {figure}\n"


def test_plot_command_options_reach_the_picture(blobs_csv, tmp_path, capsys, drawn):
    model = tmp_path / "m.npz"
    assert main(["fit", str(blobs_csv), "-k", "2", "-o", str(model)]) == 0
    figure = tmp_path / "h.png"
    code, _, err = run(capsys, "plot", model, blobs_csv, "-o", figure, "--kind", "histogram",
                       "--feature", "2")  # fmt: skip
    assert code == 0, err
    (ax,) = drawn[-1].axes
    assert ax.get_xlabel() == "mass"
    code, _, err = run(capsys, "plot", model, blobs_csv, "-o", figure, "--dims", "2,1")
    assert code == 0, err
    assert (drawn[-1].axes[0].get_xlabel(), drawn[-1].axes[0].get_ylabel()) == ("mass", "height")
    code, _, err = run(capsys, "plot", model, "-o", figure, "--kind", "weights")  # no data
    assert code == 0, err
    bars = drawn[-1].axes[0].patches
    np.testing.assert_allclose([b.get_height() for b in bars], model_io.load(model).weights_)


def test_hmm_fit_with_plot_and_the_hmm_pictures(series_csv, tmp_path, capsys, drawn):
    model = tmp_path / "h.npz"
    figure = tmp_path / "states.png"
    code, out, err = run(capsys, "hmm", "fit", series_csv, "--states", "2", "--lengths-column",
                         "seq", "--random-state", "0", "--plot", figure, "-o", model)  # fmt: skip
    assert code == 0, err
    assert f"figure written to {figure}" in out
    assert figure.read_bytes().startswith(MAGIC[".png"])
    series, band = drawn[0].axes[:2]
    assert series.get_ylabel() == "level" and band.get_ylabel() == "posterior"
    assert [ln.get_xdata()[0] for ln in series.get_lines()[1:]] == [99.5]  # sequence boundary
    for kind in ("transitions", "durations", "convergence"):
        code, _, err = run(capsys, "plot", model, series_csv, "-o", tmp_path / f"{kind}.svg",
                           "--kind", kind, "--lengths-column", "seq")  # fmt: skip
        assert code == 0, err


def test_plot_errors(blobs_csv, tmp_path, capsys):
    model = tmp_path / "m.npz"
    assert main(["fit", str(blobs_csv), "-k", "2", "-o", str(model)]) == 0
    capsys.readouterr()
    code, _, err = run(capsys, "plot", model, blobs_csv, "-o", tmp_path / "f.jpg")
    assert code == 2 and "name a .png, .svg, .pdf file" in err
    code, _, err = run(capsys, "fit", blobs_csv, "--plot", tmp_path / "f.gif")
    assert code == 2 and "not a figure file" in err
    code, _, err = run(capsys, "plot", model, "-o", tmp_path / "f.png")
    assert code == 1 and "draws the data" in err
    code, _, err = run(capsys, "plot", model, blobs_csv, "-o", tmp_path / "f.png", "--kind",
                       "states")  # fmt: skip
    assert code == 1 and "does not apply to a GaussianMixture" in err
    code, _, err = run(capsys, "plot", model, blobs_csv, "-o", blobs_csv)
    assert code == 2 and "is not a figure file" in err


def test_write_plot_draws_a_selection(tmp_path):
    class Selection:
        covariance_types_ = ("full", "diag")
        n_components_range_ = (1, 2, 3)
        scores_ = np.array([[3.0, 1.0, 2.0], [4.0, 2.5, np.nan]])
        criterion_ = "bic"
        greater_is_better_ = False
        best_covariance_type_ = "full"
        best_n_components_ = 2

    path = tmp_path / "selection.pdf"
    figures.write_plot(Selection(), str(path))
    assert path.read_bytes().startswith(MAGIC[".pdf"])
