"""The command line: fit, predict and demo in-process, one console-script run, bad input."""

import csv
import io
import os
import re
import stat
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.metrics import adjusted_rand_score
from sklearn.mixture import GaussianMixture as SkGaussianMixture

from emkit import GaussianMixture
from emkit import io as model_io
from emkit.cli import COMMAND_MODULES, main
from emkit.cli.data import read_table

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
    table = read_table(str(data), ";")
    np.testing.assert_array_equal(table.X, IRIS[:, :2])
    assert table.names is None
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
        ("a,b\n1,\n3,\n", ["no observed value in column(s) 1"]),
        ("1,2\n3,4,5\n", ["bad.csv, line 2: 3 fields where the first row has 2"]),
        ("a,b\n", ["bad.csv has no data rows"]),
        ("", ["bad.csv has no data rows"]),
        ("a,b\n1,2\ninf,4\n", ["X contains infinity", "replace or drop"]),
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


def test_fit_takes_mclust_covariance_names(iris_csv, tmp_path, capsys):
    out = tmp_path / "vev.npz"
    argv = ["fit", iris_csv, "-k", 2, "--covariance", "VEV", "--random-state", 0, "-o", out]
    assert run(capsys, *argv)[0] == 0
    model = model_io.load(out)
    expected = GaussianMixture(2, covariance_type="VEV", random_state=0).fit(IRIS)
    assert model.covariance_type == "VEV" and model.covariances_.shape == (2, 4, 4)
    np.testing.assert_allclose(model.covariances_, expected.covariances_, rtol=1e-10)


def test_empty_fields_are_missing_values(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 1, (60, 2)), rng.normal(5, 1, (60, 2))])
    X[::7, 1] = np.nan
    X[3::7, 0] = np.nan
    lines = ["a,b"] + [",".join("" if np.isnan(v) else repr(float(v)) for v in row) for row in X]
    data = tmp_path / "gaps.csv"
    data.write_text("\n".join(lines) + "\n")
    out = tmp_path / "gaps.model.npz"
    assert run(capsys, "fit", data, "-k", 2, "--random-state", 0, "-o", out)[0] == 0
    code, stdout, _ = run(capsys, "predict", out, data)
    assert code == 0
    fitted = model_io.load(out)
    expected = GaussianMixture(2, random_state=0).fit(X)
    np.testing.assert_allclose(fitted.means_, expected.means_, rtol=1e-10)
    labels = [int(line.split(",")[0]) for line in stdout.split()[1:]]
    assert labels == fitted.predict(X).tolist()


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


def assert_usage_error(code, err, command, *fragments):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("emkit: error: ")
    assert lines[0].endswith(f"(see '{command} --help')")
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.mark.parametrize(
    ("argv", "command", "fragment"),
    [
        (["fit", "IRIS", "-k", "0"], "emkit fit", "--components: must be an integer >= 1"),
        (["fit", "IRIS"], "emkit fit", "required: -k/--components"),
        (["fit", "IRIS", "-k", "2", "--covariance", "banana"], "emkit fit", "invalid choice"),
        (["fit", "IRIS", "-k", "2", "--delimiter", ";;"], "emkit fit", "one character"),
        (["fit", "IRIS", "-k", "2", "--bogus"], "emkit fit", "unrecognized arguments"),
        (["fit", "IRIS", "-k", "2", "--columns", "a,,b"], "emkit fit", "comma-separated"),
        (["hmm"], "emkit hmm", "required"),
        (["hmm", "fit", "IRIS", "--states", "0"], "emkit hmm fit", "must be an integer >= 1"),
        (["nope"], "emkit", "invalid choice"),
    ],
)
def test_usage_errors_are_one_line_with_status_2(iris_csv, capsys, argv, command, fragment):
    argv = [str(iris_csv) if a == "IRIS" else a for a in argv]
    code, _, err = run(capsys, *argv)
    assert_usage_error(code, err, command, fragment)


def test_no_command_help_and_version(capsys):
    code, _, err = run(capsys)
    assert (code, err) == (2, "emkit: error: no command given (see 'emkit --help')\n")
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "usage: emkit" in out
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.startswith("emkit ")


def test_help_names_every_command_family(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for word in ("mixture", "hidden Markov", "fit", "predict", "demo", "hmm", "compile"):
        assert word in out
    for family in ("Gaussian", "categorical", "Poisson"):
        assert family in out
    code, out, _ = run(capsys, "hmm", "--help")
    assert code == 0 and "fit" in out and "decode" in out


def test_commands_come_from_the_command_modules(monkeypatch, capsys):
    class Extra:
        @staticmethod
        def register(subparsers):
            extra = subparsers.add_parser("extra")
            extra.add_argument("word")
            extra.set_defaults(handler=lambda args: print(args.word.upper()) or 0)

    monkeypatch.setattr("emkit.cli.app.COMMAND_MODULES", [*COMMAND_MODULES, Extra])
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


# ---------------------------------------------------------------------------- data files
@pytest.mark.parametrize("spelling", ["tab", "\\t", "\t"])
def test_tab_delimiter(tmp_path, capsys, spelling):
    data = write_csv(tmp_path / "d.tsv", IRIS, HEADER, delimiter="\t")
    code, stdout, _ = run(
        capsys,
        "fit",
        data,
        "-k",
        3,
        "--random-state",
        0,
        "--delimiter",
        spelling,
        "-o",
        tmp_path / "m",
    )
    assert code == 0
    assert "150 samples x 4 features" in stdout
    oracle = SkGaussianMixture(3, random_state=0).fit(IRIS)
    np.testing.assert_allclose(model_io.load(tmp_path / "m").means_, oracle.means_, rtol=1e-10)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8])
def test_integer_npy_is_read_as_float64(tmp_path, capsys, dtype):
    X = np.rint(IRIS * 10).astype(dtype)
    np.save(tmp_path / "ints.npy", X)
    code, _, err = run(
        capsys, "fit", tmp_path / "ints.npy", "-k", 3, "--random-state", 0, "-o", tmp_path / "m"
    )
    assert code == 0, err
    oracle = SkGaussianMixture(3, random_state=0).fit(X.astype(np.float64))
    np.testing.assert_allclose(model_io.load(tmp_path / "m").means_, oracle.means_, rtol=1e-10)
    code, stdout, _ = run(capsys, "predict", tmp_path / "m", tmp_path / "ints.npy")
    assert code == 0 and len(stdout.splitlines()) == 151


def test_npy_files_that_are_not_tables(tmp_path, capsys):
    np.save(tmp_path / "cube.npy", np.zeros((4, 3, 2)))
    code, _, err = run(capsys, "fit", tmp_path / "cube.npy", "-k", 2, "-o", tmp_path / "m")
    assert_one_line_error(code, err, "cube.npy holds an array of shape (4, 3, 2)")
    np.save(tmp_path / "text.npy", np.array([["a", "b"], ["c", "d"]]))
    code, _, err = run(capsys, "fit", tmp_path / "text.npy", "-k", 2, "-o", tmp_path / "m")
    assert_one_line_error(code, err, "text.npy holds <U1 values")


def test_columns_and_drop_by_name_or_number(iris_csv, tmp_path, capsys):
    oracle = SkGaussianMixture(2, random_state=0).fit(IRIS[:, [3, 1]])
    for option in (["--columns", "pw,sw"], ["--columns", "4,2"], ["--columns", "pw,2"]):
        code, stdout, _ = run(
            capsys, "fit", iris_csv, "-k", 2, "--random-state", 0, *option, "-o", tmp_path / "m"
        )
        assert code == 0
        model = model_io.load(tmp_path / "m")
        np.testing.assert_allclose(model.means_, oracle.means_, rtol=1e-10)
        assert model_io.read_metadata(tmp_path / "m")["extra"]["columns"] == ["pw", "sw"]
    oracle = SkGaussianMixture(2, random_state=0).fit(IRIS[:, [1, 2]])
    code, _, _ = run(
        capsys,
        "fit",
        iris_csv,
        "-k",
        2,
        "--random-state",
        0,
        "--drop",
        "sl,4",
        "-o",
        tmp_path / "m",
    )
    assert code == 0
    np.testing.assert_allclose(model_io.load(tmp_path / "m").means_, oracle.means_, rtol=1e-10)
    # predict picks the model's columns (sw, pl) by name from the full file
    code, stdout, _ = run(capsys, "predict", tmp_path / "m", iris_csv)
    assert code == 0
    labels = np.array([row.split(",")[0] for row in stdout.splitlines()[1:]], dtype=int)
    np.testing.assert_array_equal(labels, model_io.load(tmp_path / "m").predict(IRIS[:, [1, 2]]))


@pytest.mark.parametrize(
    ("option", "fragments"),
    [
        (["--columns", "sl,petal"], ["--columns 'petal' is not a column of", "sl, sw, pl, pw"]),
        (["--columns", "7"], ["--columns 7:", "has columns 1 to 4"]),
        (["--columns", "sl,1"], ["--columns lists a column of", "twice"]),
        (["--drop", "sl,sw,pl,pw"], ["has no feature columns left"]),
    ],
)
def test_bad_column_choices(iris_csv, tmp_path, capsys, option, fragments):
    code, _, err = run(capsys, "fit", iris_csv, "-k", 2, *option, "-o", tmp_path / "m")
    assert_one_line_error(code, err, *fragments)


def test_column_names_need_a_header(tmp_path, capsys):
    data = write_csv(tmp_path / "bare.csv", IRIS)
    code, _, err = run(capsys, "fit", data, "-k", 2, "--columns", "sl", "-o", tmp_path / "m")
    assert_one_line_error(code, err, "has no header row, so choose columns by number (1 to 4)")


def test_pandas_index_column_is_not_a_feature(tmp_path, capsys):
    import pandas as pd

    path = tmp_path / "frame.csv"
    frame = pd.DataFrame(IRIS, columns=HEADER, index=[f"flower{i}" for i in range(150)])
    frame.to_csv(path)
    pd.DataFrame(IRIS).to_csv(tmp_path / "numbered.csv")  # integer index, numbered columns
    oracle = SkGaussianMixture(3, random_state=0).fit(IRIS)
    for data in (path, tmp_path / "numbered.csv"):
        code, stdout, _ = run(
            capsys, "fit", data, "-k", 3, "--random-state", 0, "-o", tmp_path / "m"
        )
        assert code == 0
        assert "150 samples x 4 features" in stdout
        np.testing.assert_allclose(model_io.load(tmp_path / "m").means_, oracle.means_, rtol=1e-10)


# ---------------------------------------------------------------------------- outputs
def test_output_never_overwrites_an_input(iris_csv, model_file, tmp_path, capsys):
    before = iris_csv.read_bytes()
    code, _, err = run(capsys, "fit", iris_csv, "-k", 2, "-o", iris_csv)
    assert_one_line_error(code, err, f"refusing to overwrite the input file {iris_csv}")
    alias = tmp_path / "alias.csv"
    alias.symlink_to(iris_csv)
    code, _, err = run(capsys, "predict", model_file, alias, "-o", iris_csv)
    assert_one_line_error(code, err, "refusing to overwrite the input file")
    model_before = model_file.read_bytes()
    code, _, err = run(capsys, "predict", model_file, iris_csv, "-o", model_file)
    assert_one_line_error(code, err, f"refusing to overwrite the input file {model_file}")
    assert iris_csv.read_bytes() == before and model_file.read_bytes() == model_before


def test_output_to_a_symlink_replaces_its_target(model_file, iris_csv, tmp_path, capsys):
    target = tmp_path / "labels.csv"
    target.write_text("old\n")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    code, _, _ = run(capsys, "predict", model_file, iris_csv, "-o", link)
    assert code == 0
    assert link.is_symlink()
    assert target.read_text().startswith("label,p0,p1,p2\n")
    assert len(target.read_text().splitlines()) == 151


def test_output_to_a_fifo_is_streamed(model_file, iris_csv, tmp_path, capsys):
    fifo = tmp_path / "labels.fifo"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    code, _, _ = run(capsys, "predict", model_file, iris_csv, "-o", fifo)
    reader.join(timeout=60)
    assert code == 0
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert received[0].startswith("label,p0,p1,p2\n") and len(received[0].splitlines()) == 151


def test_output_to_dash_and_dev_stdout(model_file, iris_csv, tmp_path):
    for out in ("-", "/dev/stdout"):
        done = subprocess.run(
            [sys.executable, "-m", "emkit.cli", "predict", model_file, iris_csv, "-o", out],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        lines = done.stdout.splitlines()
        assert lines[0] == "label,p0,p1,p2" and len(lines) == 151
    # a model written to standard output: the summary goes to stderr
    done = subprocess.run(
        [sys.executable, "-m", "emkit.cli", "fit", iris_csv, "-k", "2", "-o", "-"],
        capture_output=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert b"model saved to -" in done.stderr
    (tmp_path / "copy.npz").write_bytes(done.stdout)
    assert model_io.load(tmp_path / "copy.npz").n_components == 2


def test_a_model_of_the_other_kind_is_refused(iris_csv, model_file, tmp_path, capsys):
    from emkit.hmm import GaussianHMM

    hmm_file = tmp_path / "hmm.npz"
    model_io.save(GaussianHMM(2, n_iter=2, random_state=0).fit(IRIS), hmm_file)
    code, _, err = run(capsys, "predict", hmm_file, iris_csv)
    assert_one_line_error(code, err, "holds a GaussianHMM model", "use 'emkit hmm decode'")
    code, _, err = run(capsys, "hmm", "decode", model_file, iris_csv)
    assert_one_line_error(code, err, "holds a GaussianMixture model", "use 'emkit predict'")


# ---------------------------------------------------------------------------- the parser
def test_family_table_options():
    from emkit.cli import common
    from emkit.cli.mixture import FAMILIES
    from emkit.engine.initialization import INIT_METHODS
    from emkit.families.covariance import COVARIANCE_TYPES, MIXTURE_COVARIANCE_TYPES

    assert common.COVARIANCE_TYPES == COVARIANCE_TYPES
    assert set(common.MIXTURE_COVARIANCE_TYPES) == set(MIXTURE_COVARIANCE_TYPES)
    assert common.INIT_METHODS == INIT_METHODS
    assert FAMILIES["gaussian"].estimator() is GaussianMixture


LAYERING = """
import contextlib, io, sys, types
stub = types.ModuleType("emkit")  # stands in for emkit/__init__.py, to test emkit.cli alone
stub.__path__ = [{src!r}]
sys.modules["emkit"] = stub
from emkit.cli import main
for argv in (["--help"], ["fit", "--help"], ["predict", "--help"], ["demo", "--help"],
             ["hmm", "fit", "--help"], ["hmm", "decode", "--help"], ["compile", "--help"]):
    with contextlib.redirect_stdout(io.StringIO()) as text:
        assert main(argv) == 0 and "usage: emkit" in text.getvalue()
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {{"numpy", "sklearn", "numba", "dask",
    "scipy", "pandas"}} or m.startswith(("emkit.kernels", "emkit.models", "emkit.engine",
    "emkit.io", "emkit.cli.data", "emkit.cli.summary")))
print(",".join(heavy))
"""


def test_building_the_parser_imports_nothing_heavy():
    src = str(Path(__file__).parents[1] / "src" / "emkit")
    done = subprocess.run(
        [sys.executable, "-c", LAYERING.format(src=src)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


def test_emkit_help_imports_no_sklearn_or_numba():
    probe = (
        "import sys; from emkit.cli import main; code = main(['--help']); "
        "print(sorted(m for m in ('sklearn', 'numba', 'dask', 'scipy') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_compile_command_builds_the_kernel_cache(monkeypatch, capsys):
    import emkit.kernels.compile as compile_module

    calls = []

    def fake_compile_all(progress=None):
        calls.append(progress)
        progress(0, 1, "Gaussian kernels, float64")
        progress(1, 1, "done")
        return 1

    monkeypatch.setattr(compile_module, "compile_all", fake_compile_all)
    code, stdout, _ = run(capsys, "compile")
    assert code == 0 and len(calls) == 1
    assert "[1/1] Gaussian kernels, float64" in stdout
    assert re.search(r"done: 1 groups of kernels in \d+\.\d s", stdout)


def test_text_columns_left_out_by_number_need_no_header(tmp_path, capsys):
    rows = [f"flower{i}," + ",".join(map(repr, row)) for i, row in enumerate(IRIS.tolist())]
    data = tmp_path / "labelled.csv"
    data.write_text("\n".join(rows) + "\n")
    oracle = SkGaussianMixture(3, random_state=0).fit(IRIS)
    for option in (["--drop", "1"], ["--columns", "2,3,4,5"]):
        code, stdout, _ = run(
            capsys, "fit", data, "-k", 3, "--random-state", 0, *option, "-o", tmp_path / "m"
        )
        assert code == 0
        assert "150 samples x 4 features" in stdout
        np.testing.assert_allclose(model_io.load(tmp_path / "m").means_, oracle.means_, rtol=1e-10)
