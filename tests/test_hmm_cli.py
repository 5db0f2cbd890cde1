"""The ``emkit hmm`` command handlers and HMM model files."""

import argparse
import io
import json
import zipfile

import numpy as np
import pytest

from emkit import hmm as ek
from emkit.cli import CommandError, main
from emkit.cli.hmm import read_sequences, register
from emkit.exceptions import ModelFileError
from emkit.io import load as load_hmm
from emkit.io import save as save_hmm


def parse(argv):
    parser = argparse.ArgumentParser(prog="emkit")
    register(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


@pytest.fixture
def run(capsys):
    def call(argv):
        args = parse(argv)
        assert args.handler(args) == 0
        return capsys.readouterr().out

    return call


@pytest.fixture
def gaussian_csv(tmp_path):
    truth = ek.GaussianHMM(2, init_params="")
    truth.startprob_ = np.array([0.5, 0.5])
    truth.transmat_ = np.array([[0.9, 0.1], [0.2, 0.8]])
    truth.means_ = np.array([[0.0, 0.0], [5.0, 5.0]])
    truth.covars_ = np.ones((2, 2))
    rng = np.random.RandomState(0)
    parts = [truth.sample(n, random_state=rng) for n in (60, 40)]
    path = tmp_path / "data.csv"
    lines = ["seq,x,y"]
    for s, (X, _) in zip((7, 3), parts, strict=True):
        lines += [f"{s},{x:.6f},{y:.6f}" for x, y in X]
    path.write_text("\n".join(lines) + "\n")
    return path, parts


def test_fit_prints_summary_and_decode_writes_states(gaussian_csv, tmp_path, run):
    path, parts = gaussian_csv
    model_file = tmp_path / "model"
    text = run(
        [
            "hmm",
            "fit",
            str(path),
            "--states",
            "2",
            "--lengths-column",
            "seq",
            "--random-state",
            "0",
            "--out",
            str(model_file),
        ]
    )
    for expected in (
        "GaussianHMM: 2 states, 100 samples in 2 sequence(s)",
        "log-likelihood:",
        "BIC:",
        "start probabilities:",
        "transition matrix",
        "means:",
        "variances",
    ):
        assert expected in text
    model = load_hmm(model_file)
    X, lengths, order, _ = read_sequences(str(path), "seq")
    assert order is None
    np.testing.assert_array_equal(lengths, [60, 40])
    assert f"log-likelihood: {model.score(X, lengths):.6f}" in text
    assert f"BIC: {model.bic(X, lengths):.6f}" in text

    out = run(["hmm", "decode", str(model_file), str(path), "--lengths-column", "seq"])
    lines = out.strip().splitlines()
    assert lines[0] == "state" and len(lines) == 101
    np.testing.assert_array_equal(np.array(lines[1:], dtype=int), model.predict(X, lengths))
    # The states match the generating ones up to relabelling.
    truth = np.concatenate([p[1] for p in parts])
    decoded = np.array(lines[1:], dtype=int)
    assert max(np.mean(decoded == truth), np.mean(decoded != truth)) > 0.97

    target = tmp_path / "states.csv"
    run(["hmm", "decode", str(model_file), str(path), "--lengths-column", "1", "-o", str(target)])
    assert target.read_text() == out


def test_fit_categorical_and_poisson(tmp_path, run, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rng = np.random.RandomState(1)
    cat = tmp_path / "symbols.csv"
    cat.write_text("symbol\n" + "\n".join(str(v) for v in rng.randint(0, 4, 200)) + "\n")
    text = run(["hmm", "fit", str(cat), "--states", "2", "--emission", "categorical"])
    assert "CategoricalHMM" in text and "emission probabilities:" in text and "symbol 3" in text
    counts = tmp_path / "counts.csv"
    counts.write_text("a,b\n" + "\n".join(f"{x},{y}" for x, y in rng.poisson(3, (100, 2))) + "\n")
    text = run(["hmm", "fit", str(counts), "--states", "2", "--emission", "poisson"])
    assert "PoissonHMM" in text and "rates (lambdas):" in text


def test_bad_data_files(tmp_path, run):
    bad = tmp_path / "bad.csv"
    bad.write_text("x,y\n1,2\n3,oops\n")
    with pytest.raises(CommandError, match=r"line 3, column 2 \(y\): 'oops' is not a number"):
        run(["hmm", "fit", str(bad), "--states", "2"])
    good = tmp_path / "good.csv"
    good.write_text("x,y\n1,2\n3,4\n")
    with pytest.raises(CommandError, match="--lengths-column 'seq' is not a column"):
        run(["hmm", "fit", str(good), "--states", "2", "--lengths-column", "seq"])
    with pytest.raises(CommandError, match="does not exist"):
        run(["hmm", "fit", str(tmp_path / "missing.csv"), "--states", "2"])
    with pytest.raises(CommandError, match="exactly one column of integer symbols"):
        run(["hmm", "fit", str(good), "--states", "2", "--emission", "categorical"])
    # Through emkit's entry point errors are one line on stderr: status 1 for bad data, 2 for
    # a usage error.
    assert main(["hmm", "fit", str(bad), "--states", "2"]) == 1
    assert main(["hmm", "fit", str(good), "--states", "0"]) == 2


@pytest.mark.parametrize(
    "model",
    [
        ek.GaussianHMM(
            2, covariance_type="full", n_iter=3, random_state=0, transmat_prior=np.full((2, 2), 1.5)
        ),
        ek.GaussianHMM(2, covariance_type="spherical", n_iter=3, random_state=0),
        ek.GMMHMM(2, n_mix=2, covariance_type="tied", n_iter=3, random_state=0),
        ek.PoissonHMM(2, n_iter=3, random_state=0),
        ek.CategoricalHMM(2, n_iter=3, random_state=0),
    ],
    ids=["gaussian-full", "gaussian-spherical", "gmm-tied", "poisson", "categorical"],
)
def test_save_load_round_trip(model, tmp_path):
    rng = np.random.RandomState(2)
    if isinstance(model, ek.CategoricalHMM):
        X = rng.randint(0, 3, size=(60, 1))
    elif isinstance(model, ek.PoissonHMM):
        X = rng.poisson(2.0, size=(60, 2))
    else:
        X = rng.randn(60, 2) + rng.randint(0, 2, size=(60, 1)) * 4
    model.fit(X)
    path = tmp_path / "m.npz"
    save_hmm(model, path)
    loaded = load_hmm(path)
    assert type(loaded) is type(model)
    assert loaded.get_params().keys() == model.get_params().keys()
    assert loaded.score(X) == pytest.approx(model.score(X), rel=1e-14)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert list(loaded.monitor_.history) == list(model.monitor_.history)
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]


def rewrite_zip(source, target, edit):
    """Copy a model file, passing each member's bytes through ``edit(name, data)``."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        for name in zin.namelist():
            data = edit(name, zin.read(name))
            if data is not None:
                zout.writestr(name, data)
    return target


def npy_bytes(arr):
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


def test_corrupt_model_files(tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        load_hmm(tmp_path / "nothing.npz")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip file at all")
    with pytest.raises(ModelFileError, match="not an emkit model file"):
        load_hmm(junk)

    model = ek.GaussianHMM(2, n_iter=2, random_state=0).fit(np.random.RandomState(0).randn(30, 2))
    good = tmp_path / "good.npz"
    save_hmm(model, good)

    def newer(name, data):
        if name != "metadata.json":
            return data
        meta = json.loads(data)
        meta["format_version"] = 99
        return json.dumps(meta)

    with pytest.raises(ModelFileError, match="format version 99, newer than this emkit reads"):
        load_hmm(rewrite_zip(good, tmp_path / "newer.npz", newer))

    def broken(name, data):
        if name == "transmat_.npy":
            return npy_bytes(np.array([[0.5, 0.9], [0.5, 0.5]]))
        return data

    with pytest.raises(ModelFileError, match="transmat_ rows must sum to 1"):
        load_hmm(rewrite_zip(good, tmp_path / "broken.npz", broken))

    def missing(name, data):
        return None if name == "means_.npy" else data

    with pytest.raises(ModelFileError, match="missing"):
        load_hmm(rewrite_zip(good, tmp_path / "missing.npz", missing))

    def reshaped(name, data):
        return npy_bytes(np.ones((3, 2))) if name == "means_.npy" else data

    with pytest.raises(ModelFileError, match=r"means_ has shape \(3, 2\); expected \(2, 2\)"):
        load_hmm(rewrite_zip(good, tmp_path / "reshaped.npz", reshaped))
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[:200])
    with pytest.raises(ModelFileError):
        load_hmm(truncated)


def _interleaved_csv(tmp_path):
    """Two sequences whose rows alternate in the file, with text ids."""
    rng = np.random.RandomState(4)
    first = rng.randn(50, 2) + np.repeat([[0.0, 0.0], [5.0, 5.0]], 25, axis=0)
    second = rng.randn(40, 2) + np.repeat([[5.0, 5.0], [0.0, 0.0]], 20, axis=0)
    rows, ids = [], []
    a = b = 0
    while a < len(first) or b < len(second):  # b-rows first, then alternating
        if b < len(second) and (a >= len(first) or (a + b) % 2 == 0):
            rows.append(second[b]), ids.append("run-b")
            b += 1
        else:
            rows.append(first[a]), ids.append("run-a")
            a += 1
    path = tmp_path / "mixed.csv"
    lines = ["id,x,y"] + [
        f"{i},{float(x)!r},{float(y)!r}" for i, (x, y) in zip(ids, rows, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path, np.array(ids), second, first


def test_interleaved_ids_are_grouped_into_sequences(tmp_path, run):
    path, ids, second, first = _interleaved_csv(tmp_path)
    X, lengths, order, names = read_sequences(str(path), "id")
    assert names == ["x", "y"]
    np.testing.assert_array_equal(lengths, [40, 50])  # run-b appears first
    np.testing.assert_array_equal(X, np.vstack([second, first]))
    np.testing.assert_array_equal(ids[order], ["run-b"] * 40 + ["run-a"] * 50)

    model_file = tmp_path / "m.npz"
    argv = ["hmm", "fit", str(path), "-k", "2", "--lengths-column", "id", "--random-state", "0"]
    text = run([*argv, "-o", str(model_file)])
    assert "90 samples in 2 sequence(s)" in text
    oracle = ek.GaussianHMM(2, n_iter=100, tol=1e-4, random_state=0).fit(X, lengths)
    model = load_hmm(model_file)
    np.testing.assert_allclose(model.means_, oracle.means_, rtol=1e-10)
    np.testing.assert_allclose(model.transmat_, oracle.transmat_, rtol=1e-10)

    out = run(["hmm", "decode", str(model_file), str(path), "--lengths-column", "id"])
    decoded = np.array(out.split()[1:], dtype=int)
    expected = np.empty(90, dtype=int)
    expected[order] = oracle.predict(X, lengths)
    np.testing.assert_array_equal(decoded, expected)  # in the file's row order


def test_hmm_fit_shares_the_fit_vocabulary(tmp_path, run, monkeypatch):
    monkeypatch.chdir(tmp_path)
    X = np.random.RandomState(0).randn(120, 2)
    X[60:] += 4
    np.save(tmp_path / "series.npy", X)
    argv = ["hmm", "fit", "series.npy", "-k", "2", "--covariance", "full", "--max-iter", "7"]
    text = run([*argv, "--tol", "0.5", "--random-state", "3", "-v"])
    assert "model saved to series.model.npz" in text
    model = load_hmm(tmp_path / "series.model.npz")
    expected = {"covariance_type": "full", "n_iter": 7, "tol": 0.5, "random_state": 3}
    assert {k: model.get_params()[k] for k in expected} == expected
    oracle = ek.GaussianHMM(2, **expected).fit(X)
    np.testing.assert_array_equal(model.means_, oracle.means_)
    # the hmmlearn-style spellings still work
    aliases = ["--states", "2", "--covariance-type", "tied", "--n-iter", "2", "--emission"]
    run(["hmm", "fit", "series.npy", *aliases, "gaussian", "-o", "t.npz"])
    assert load_hmm(tmp_path / "t.npz").get_params()["covariance_type"] == "tied"


def test_verbose_hmm_fit_reports_progress(tmp_path, capfd):
    X = np.random.RandomState(0).randn(60, 2)
    np.save(tmp_path / "s.npy", X)
    out = str(tmp_path / "m.npz")
    code = main(
        ["hmm", "fit", str(tmp_path / "s.npy"), "-k", "2", "--max-iter", "3", "-v", "-o", out]
    )
    assert code == 0
    err = capfd.readouterr().err
    assert len([line for line in err.splitlines() if line.split()[:1] == ["1"]]) == 1


def test_options_of_another_family_are_refused(tmp_path, capsys):
    counts = tmp_path / "counts.csv"
    counts.write_text("a,b\n1,2\n3,4\n0,1\n")
    code = main(
        ["hmm", "fit", str(counts), "-k", "2", "--family", "poisson", "--covariance", "full"]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert err == (
        "emkit: error: --covariance does not apply to --family poisson; it is an option of: "
        "gaussian\n"
    )


def test_npy_with_a_numbered_id_column(tmp_path, run):
    rng = np.random.RandomState(5)
    X = rng.randn(90, 2)
    ids = np.repeat([2.0, 1.0, 2.0], 30)  # id 2 comes back after id 1: grouped with its rows
    np.save(tmp_path / "s.npy", np.column_stack([X, ids]))
    options = ["-k", "2", "--lengths-column", "3", "--random-state", "0"]
    text = run(["hmm", "fit", str(tmp_path / "s.npy"), *options, "-o", str(tmp_path / "m.npz")])
    assert "90 samples in 2 sequence(s)" in text
    grouped = np.vstack([X[:30], X[60:], X[30:60]])
    oracle = ek.GaussianHMM(2, n_iter=100, tol=1e-4, random_state=0).fit(grouped, [60, 30])
    np.testing.assert_allclose(load_hmm(tmp_path / "m.npz").means_, oracle.means_, rtol=1e-10)
