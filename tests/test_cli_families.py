"""``emkit fit --family`` for the count, binary and categorical mixtures, and their predict."""

import csv

import numpy as np
import pytest

from emkit import CategoricalMixture, PoissonMixture
from emkit import io as model_io
from emkit.cli import main


@pytest.fixture
def answers(tmp_path):
    rng = np.random.default_rng(0)
    group = rng.random(300) < 0.4
    p = np.where(group[:, None], [0.9, 0.8, 0.7], [0.2, 0.1, 0.3])
    values = np.where(rng.random((300, 3)) < p, "yes", "no").astype(object)
    values[rng.random((300, 3)) < 0.05] = None
    path = tmp_path / "answers.csv"
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["q1", "q2", "q3"])
        out.writerows([["" if v is None else v for v in row] for row in values])
    return path, values


def test_categorical_fit_equals_the_python_fit(answers, tmp_path, capsys):
    path, values = answers
    out = tmp_path / "lca.npz"
    args = ["fit", str(path), "--family", "categorical", "-k", "2", "--n-init", "3"]
    assert main([*args, "--random-state", "0", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Latent class model: 2 components, 300 samples x 3 features" in text
    model = model_io.load(out)
    expected = CategoricalMixture(2, n_init=3, random_state=0).fit(values)
    np.testing.assert_allclose(model.weights_, expected.weights_, rtol=1e-12)
    for a, b in zip(model.probabilities_, expected.probabilities_, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    assert [list(c) for c in model.categories_] == [["no", "yes"]] * 3
    assert main(["predict", str(out), str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "label,p0,p1" and len(lines) == 301
    proba = np.array([[float(x) for x in line.split(",")[1:]] for line in lines[1:]])
    np.testing.assert_allclose(proba, expected.predict_proba(values), atol=1e-6)


def test_poisson_fit_equals_the_python_fit(tmp_path, capsys):
    rng = np.random.default_rng(1)
    X = np.vstack([rng.poisson([1, 7], (100, 2)), rng.poisson([6, 1], (80, 2))])
    path = tmp_path / "counts.csv"
    np.savetxt(path, X, fmt="%d", delimiter=",")
    out = tmp_path / "p.npz"
    assert (
        main(
            [
                "fit",
                str(path),
                "--family",
                "poisson",
                "-k",
                "2",
                "--random-state",
                "0",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    assert "rates (mean counts)" in capsys.readouterr().out
    expected = PoissonMixture(2, random_state=0).fit(X.astype(float))
    np.testing.assert_allclose(model_io.load(out).rates_, expected.rates_, rtol=1e-12)


def test_bad_values_for_a_family_are_one_line_errors(tmp_path, capsys):
    path = tmp_path / "counts.csv"
    np.savetxt(path, [[0, 2], [1, 0], [1, 1]], fmt="%d", delimiter=",")
    assert main(["fit", str(path), "--family", "bernoulli", "-k", "1"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("emkit: error: X must hold binary values (0 or 1); found 2.0")


def test_a_family_option_of_another_family_is_refused(tmp_path, capsys):
    path = tmp_path / "counts.csv"
    np.savetxt(path, [[0, 2], [1, 0], [1, 1]], fmt="%d", delimiter=",")
    assert main(["fit", str(path), "--family", "poisson", "-k", "1", "--covariance", "diag"]) == 1
    assert "--covariance does not apply to --family poisson" in capsys.readouterr().err
