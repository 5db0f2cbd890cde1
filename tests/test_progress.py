"""Progress bars (tqdm on stderr) and the per-restart traces they record."""

from __future__ import annotations

import numpy as np
import pytest

import emkit
from emkit import GaussianMixture, load, save
from emkit.engine.progress import Progress, bars_enabled, progress_bar, progress_bars
from emkit.hmm import GaussianHMM

RNG = np.random.default_rng(0)
X = np.vstack([RNG.normal(0, 1, (200, 2)), RNG.normal(4, 1, (150, 2))])


def test_bars_are_off_by_default_and_the_switch_is_scoped(capsys):
    assert emkit.progress_bars is progress_bars
    assert not bars_enabled()
    GaussianMixture(2, n_init=2, random_state=0).fit(X)
    assert capsys.readouterr() == ("", "")
    with progress_bars():
        assert bars_enabled()
        with progress_bars(False):
            assert not bars_enabled()
        assert bars_enabled()
    assert not bars_enabled()
    with progress_bars("auto"):  # stderr is not a terminal under pytest
        assert not bars_enabled()
    with pytest.raises(TypeError, match="'auto'"):
        progress_bars("yes")


def test_restart_bar_on_stderr_only_and_results_unchanged(capsys):
    plain = GaussianMixture(2, n_init=3, random_state=0).fit(X)
    with progress_bars():
        shown = GaussianMixture(2, n_init=3, random_state=0).fit(X)
    out, err = capsys.readouterr()
    assert out == ""
    assert "EM restarts" in err and "3/3" in err and "best lower bound" in err
    np.testing.assert_array_equal(shown.means_, plain.means_)
    assert shown.lower_bounds_per_init_ == plain.lower_bounds_per_init_


def test_passes_over_a_memory_mapped_file_have_their_own_bar(tmp_path, capsys):
    path = tmp_path / "x.npy"
    np.save(path, X)
    with progress_bars():
        model = GaussianMixture(2, chunk_size=100, random_state=0).fit(str(path))
    err = capsys.readouterr().err
    assert "pass:" in err and "/350 [" in err  # a bar of the rows of each pass
    reference = GaussianMixture(2, chunk_size=100, random_state=0).fit(str(path))
    np.testing.assert_array_equal(model.means_, reference.means_)


def test_hmm_fit_bar_counts_iterations(capsys):
    with progress_bars():
        model = GaussianHMM(2, n_iter=7, tol=-np.inf, random_state=0).fit(X)
    out, err = capsys.readouterr()
    assert out == ""
    assert "GaussianHMM fit" in err and "7/7" in err and "log-likelihood" in err
    assert model.monitor_.iter == 7


def test_verbose_lines_still_go_to_stdout_with_bars(capsys):
    with progress_bars():
        GaussianMixture(2, n_init=2, verbose=1, random_state=0).fit(X)
    out, err = capsys.readouterr()
    assert out.count("Initialization 0") == 1 and "Initialization 1" in out
    assert "EM restarts" not in out and "EM restarts" in err


def test_traces_record_every_restart():
    model = GaussianMixture(2, n_init=4, init_params="random", random_state=1).fit(X)
    traces = model.lower_bounds_per_init_
    assert len(traces) == 4
    assert model.lower_bounds_ in traces
    best = max(traces, key=lambda t: t[-1])
    assert best == model.lower_bounds_  # the kept restart is the best one
    for trace in traces:
        assert np.all(np.diff(trace) > -1e-12)  # EM never decreases the bound
    # each restart alone: n_init=1 from the same generator state gives the first trace
    first = GaussianMixture(2, init_params="random", random_state=1).fit(X)
    assert first.lower_bounds_ == traces[0]


def test_traces_survive_a_model_file(tmp_path):
    model = GaussianMixture(2, n_init=2, random_state=0).fit(X)
    save(model, tmp_path / "m.npz")
    assert load(tmp_path / "m.npz").lower_bounds_per_init_ == model.lower_bounds_per_init_


def test_progress_bar_helper_wraps_a_loop(capsys):
    assert list(progress_bar(range(3), desc="grid")) == [0, 1, 2]
    assert capsys.readouterr().err == ""
    with progress_bars():
        assert list(progress_bar(range(4), desc="grid", unit="model")) == [0, 1, 2, 3]
        with progress_bar(total=2, desc="manual") as bar:
            bar.update(2)
    err = capsys.readouterr().err
    assert "grid" in err and "4/4" in err and "manual" in err and "2/2" in err
    with progress_bars(), progress_bar(total=2, desc="grid") as outer:
        with progress_bar(total=1, desc="one fit") as inner:  # e.g. a fit inside a grid
            assert outer.leave and not inner.leave  # the inner bar is erased when done


def test_progress_without_bars_keeps_scikit_learns_lines(capsys):
    progress = Progress(verbose=1)
    progress.init_begin(0, 1)
    progress.iteration(10, 0.5)
    progress.init_end(-1.0, True, [-2.0, -1.0])
    assert (
        capsys.readouterr().out == "Initialization 0\n  Iteration 10\nInitialization converged.\n"
    )
    assert progress.traces == [[-2.0, -1.0]]
