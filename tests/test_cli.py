"""The command line: fit, predict and demo in-process, one console-script run, bad input."""

import csv
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.metrics import adjusted_rand_score
from sklearn.mixture import GaussianMixture as SkGaussianMixture

from emkit import GaussianMixture
from emkit import io as model_io
from emkit.cli import REGISTRARS, main, read_table

IRIS = load_iris().data
HEADER = ["sl", "sw", "pl", "pw"]


def write_csv(path, X, header=None, delimiter=","):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, delimiter=delimiter)
        if header:
            writer.writerow(header)
        writer.writerows(X.tolist())
    return path


@pytest.fixture
def iris_csv(tmp_path):
    return write_csv(tmp_path / "iris.csv", IRIS, HEADER)


@pytest.fixture
def model_file(iris_csv, tmp_path):
    out = tmp_path / "iris.model.npz"
    assert main(["fit", str(iris_csv), "-k", "3", "--random-state", "0", "-o", str(out)]) == 0
    return out


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, *fragments):
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("emkit: error: ")
    for fragment in fragments:
        assert fragment in lines[0]


def test_fit_prints_summary_and_saves_the_model(iris_csv, tmp_path, capsys):
    out = tmp_path / "m"
    code, stdout, _ = run(
        capsys, "fit", iris_csv, "--components", "3", "--random-state", 0, "--out", out
    )
    assert code == 0
    oracle = SkGaussianMixture(3, random_state=0).fit(IRIS)
    model = model_io.load(out)
    np.testing.assert_allclose(model.means_, oracle.means_, rtol=1e-10)
    np.testing.assert_allclose(model.weights_, oracle.weights_, rtol=1e-10)
    total_ll = oracle.score(IRIS) * len(IRIS)
    assert "3 components, 'full' covariance, 150 samples x 4 features" in stdout
    assert f"converged:        yes, after {oracle.n_iter_} iterations" in stdout
    assert f"log-likelihood:   {total_ll:.6g} ({total_ll / 150:.6g} per sample)" in stdout
    assert f"BIC:              {oracle.bic(IRIS):.6g}" in stdout
    assert f"AIC:              {oracle.aic(IRIS):.6g}" in stdout
    assert "component  weight" in stdout and "sl" in stdout and "pw" in stdout
    rows = {line.split()[0]: line.split()[1:] for line in stdout.splitlines()[-5:-2]}
    for k in range(3):
        assert float(rows[str(k)][0]) == pytest.approx(oracle.weights_[k], abs=5e-5)
        np.testing.assert_allclose(
            [float(x) for x in rows[str(k)][1:]], oracle.means_[k], rtol=1e-4
        )
    assert f"model saved to {out}" in stdout
    assert model_io.read_metadata(out)["extra"] == {"columns": HEADER}


def test_fit_passes_every_option_and_defaults_the_output_name(
    iris_csv, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    argv = [
        "fit",
        iris_csv,
        "-k",
        2,
        "--covariance",
        "diag",
        "--max-iter",
        7,
        "--tol",
        0.5,
        "--n-init",
        2,
        "--init",
        "random",
        "--reg-covar",
        0.01,
        "--random-state",
        4,
    ]
    code, stdout, _ = run(capsys, *argv)
    assert code == 0
    assert "model saved to iris.model.npz" in stdout
    model = model_io.load(tmp_path / "iris.model.npz")
    expected = dict(
        n_components=2,
        covariance_type="diag",
        max_iter=7,
        tol=0.5,
        n_init=2,
        init_params="random",
        reg_covar=0.01,
        random_state=4,
    )
    assert {k: model.get_params()[k] for k in expected} == expected
    direct = GaussianMixture(**expected).fit(IRIS)
    np.testing.assert_array_equal(model.means_, direct.means_)


def test_fit_reads_headerless_and_semicolon_files(tmp_path, capsys):
    data = write_csv(tmp_path / "d.txt", IRIS[:, :2], delimiter=";")
    X, names = read_table(str(data), ";")
    np.testing.assert_array_equal(X, IRIS[:, :2])
    assert names is None
    code, stdout, _ = run(capsys, "fit", data, "-k", 2, "--delimiter", ";", "-o", tmp_path / "m")
    assert code == 0
    assert "x0" in stdout and "x1" in stdout


def test_predict_writes_labels_and_probabilities(model_file, iris_csv, tmp_path, capsys):
    model = model_io.load(model_file)
    code, stdout, _ = run(capsys, "predict", model_file, iris_csv)
    assert code == 0
    rows = list(csv.reader(io.StringIO(stdout)))
    assert rows[0] == ["label", "p0", "p1", "p2"]
    table = np.array(rows[1:], dtype=float)
    np.testing.assert_array_equal(table[:, 0], model.predict(IRIS))
    np.testing.assert_allclose(table[:, 1:], model.predict_proba(IRIS), rtol=1e-5, atol=1e-300)

    out = tmp_path / "labels.csv"
    code, stdout, _ = run(capsys, "predict", model_file, iris_csv, "--out", out)
    assert code == 0
    assert stdout.strip() == f"150 labels written to {out}"
    assert out.read_text() == "\n".join(",".join(r) for r in rows) + "\n"


def test_predict_warns_when_column_names_differ(model_file, tmp_path, capsys):
    renamed = write_csv(tmp_path / "r.csv", IRIS[:5], ["a", "b", "c", "d"])
    code, stdout, err = run(capsys, "predict", model_file, renamed)
    assert code == 0
    assert len(stdout.splitlines()) == 6
    assert err.startswith("emkit: warning: the columns of")
    assert "(sl, sw, pl, pw)" in err


def test_convergence_warning_is_one_line(iris_csv, tmp_path, capsys):
    code, _, err = run(capsys, "fit", iris_csv, "-k", 3, "--max-iter", 1, "-o", tmp_path / "m")
    assert code == 0
    assert err.startswith("emkit: warning: Best performing initialization did not converge")
    assert len(err.strip().splitlines()) == 1


def test_demo_prints_summary_and_agreement(capsys):
    code, stdout, _ = run(capsys, "demo")
    assert code == 0
    oracle = SkGaussianMixture(3, random_state=0).fit(IRIS)
    ari = adjusted_rand_score(load_iris().target, oracle.predict(IRIS))
    assert f"BIC:              {oracle.bic(IRIS):.6g}" in stdout
    assert f"adjusted Rand index): {ari:.3f}" in stdout
    assert "sepal_length" in stdout and "setosa" in stdout


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        ("a,b\n1,2\n3,x\n", ["bad.csv, line 3, column 2 (b): 'x' is not a number"]),
        ("a,b\n1,2\n3,\n", ["line 3, column 2 (b): empty field", "missing values"]),
        ("1,2\n3,4,5\n", ["bad.csv, line 2: 3 fields where the first row has 2"]),
        ("a,b\n", ["bad.csv has no data rows"]),
        ("", ["bad.csv has no data rows"]),
        ("a,b\n1,2\nnan,4\n", ["X contains NaN", "drop or impute"]),
        ("a,b\n1,2\n", ["n_samples = 1"]),
        (b"\x89PNG\r\n\x1a\n\xff\xfe", ["bad.csv is not a UTF-8 text (CSV) file"]),
    ],
)
def test_bad_data_files_give_one_line_errors(tmp_path, capsys, content, fragments):
    bad = tmp_path / "bad.csv"
    if isinstance(content, bytes):
        bad.write_bytes(content)
    else:
        bad.write_text(content)
    code, _, err = run(capsys, "fit", bad, "-k", 2, "-o", tmp_path / "m")
    assert_one_line_error(code, err, *fragments)
    assert not (tmp_path / "m").exists()


def test_missing_and_unwritable_paths(iris_csv, model_file, tmp_path, capsys):
    code, _, err = run(capsys, "fit", tmp_path / "nope.csv", "-k", 2, "-o", tmp_path / "m")
    assert_one_line_error(code, err, "data file", "nope.csv does not exist")
    code, _, err = run(capsys, "fit", tmp_path, "-k", 2, "-o", tmp_path / "m")
    assert_one_line_error(code, err, "is a directory")
    code, _, err = run(capsys, "fit", iris_csv, "-k", 2, "-o", tmp_path / "no" / "m")
    assert_one_line_error(code, err, "cannot write", "does not exist")
    code, _, err = run(capsys, "predict", tmp_path / "nope.npz", iris_csv)
    assert_one_line_error(code, err, "model file", "nope.npz does not exist")
    code, _, err = run(capsys, "predict", model_file, iris_csv, "-o", tmp_path)
    assert_one_line_error(code, err, "it is a directory")


def test_bad_models_and_feature_mismatch(iris_csv, model_file, tmp_path, capsys):
    code, _, err = run(capsys, "predict", iris_csv, iris_csv)
    assert_one_line_error(code, err, "iris.csv is not an emkit model file")
    truncated = tmp_path / "t.npz"
    truncated.write_bytes(model_file.read_bytes()[:-40])
    code, _, err = run(capsys, "predict", truncated, iris_csv)
    assert_one_line_error(code, err, "t.npz is not an emkit model file")
    narrow = write_csv(tmp_path / "narrow.csv", IRIS[:, :3])
    code, _, err = run(capsys, "predict", model_file, narrow)
    assert_one_line_error(code, err, "narrow.csv has 3 columns", "fitted on 4 features")


def test_usage_errors_are_left_to_argparse(iris_csv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", str(iris_csv), "-k", "0"])
    assert exit_info.value.code == 2
    assert "--components: must be an integer >= 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["fit", str(iris_csv), "-k", "2", "--covariance", "banana"])
    capsys.readouterr()
    assert main([]) == 2
    assert "fit" in capsys.readouterr().err


def test_commands_come_from_registrars(monkeypatch, capsys):
    def register_extra(subparsers):
        extra = subparsers.add_parser("extra")
        extra.add_argument("word")
        extra.set_defaults(handler=lambda args: print(args.word.upper()) or 0)

    monkeypatch.setattr("emkit.cli.REGISTRARS", [*REGISTRARS, register_extra])
    code, stdout, _ = run(capsys, "extra", "hmm")
    assert (code, stdout) == (0, "HMM\n")


def test_console_script(tmp_path):
    script = Path(sys.executable).with_name("emkit")
    if not script.exists():
        pytest.skip("the emkit console script is not installed next to this interpreter")
    done = subprocess.run([script, "demo"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "adjusted Rand index" in done.stdout
    missing = tmp_path / "missing.npz"
    done = subprocess.run(
        [script, "predict", missing, "x.csv"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1
    assert done.stderr == f"emkit: error: model file {missing} does not exist\n"


def test_npy_files_are_memory_mapped_and_stdin_is_read(tmp_path, monkeypatch, capsys):
    np.save(tmp_path / "iris.npy", IRIS)
    code, stdout, _ = run(
        capsys, "fit", tmp_path / "iris.npy", "-k", 3, "--random-state", 0, "-o", tmp_path / "m"
    )
    assert code == 0
    assert "150 samples x 4 features" in stdout
    model = model_io.load(tmp_path / "m")
    oracle = SkGaussianMixture(3, random_state=0).fit(IRIS)
    np.testing.assert_allclose(model.means_, oracle.means_, rtol=1e-10)
    text = "\n".join(",".join(map(repr, row)) for row in IRIS[:4].tolist()) + "\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(text))
    code, stdout, _ = run(capsys, "predict", tmp_path / "m", "-")
    assert code == 0
    labels = np.array([line.split(",")[0] for line in stdout.splitlines()[1:]], dtype=int)
    np.testing.assert_array_equal(labels, model.predict(IRIS[:4]))
    (tmp_path / "bad.npy").write_text("not numpy")
    code, _, err = run(capsys, "predict", tmp_path / "m", tmp_path / "bad.npy")
    assert_one_line_error(code, err, "bad.npy is not a readable .npy array file")
