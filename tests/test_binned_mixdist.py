"""BinnedGaussianMixture and PeakFit against R's mixdist on the pike lengths (pike65).

The reference fits (``tests/oracles/mixdist_pike.json``, made by
``tools/oracles/make_mixdist_reference.R``) are mixdist 0.5-5's ``mix(pike65, start,
"norm")`` without constraints and with equal sigmas (``consigma = "SEQ"``). The data are
mixdist's and live outside the repository: the tests look for a ``shared/research-data``
folder beside the clone and skip without it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from emkit import BinnedGaussianMixture, PeakFit, bins_from_edges

HERE = Path(__file__).resolve().parent
REFERENCE = json.loads((HERE / "oracles" / "mixdist_pike.json").read_text())
CASES = sorted(REFERENCE["cases"])
DATA_DIRS = (HERE.parent.parent / "shared" / "research-data", Path("/work/shared/research-data"))


def pike65():
    """Bins and counts of mixdist's pike65 (right edges; first and last bins open), or skip."""
    for folder in DATA_DIRS:
        path = folder / "mixdist_pike65.csv"
        if path.exists():
            raw = np.genfromtxt(path, delimiter=",", skip_header=1)
            edges = np.concatenate([[-np.inf], raw[:, 0]])
            return bins_from_edges(edges), raw[:, 1]
    pytest.skip(
        "mixdist's pike65 not found: put the shared research-data folder at "
        f"{DATA_DIRS[0]} (CI has it beside the clone)"
    )


def printed(value):
    """Half a unit in the 4th significant digit: mixdist's printed precision."""
    return 0.5 * 10.0 ** (np.floor(np.log10(np.abs(value))) - 3)


def fit_from_start(case, X, counts):
    start = case["start"]
    K = len(start["pi"])
    sigma = np.asarray(start["sigma"], dtype=float)
    tied = case["consigma"] == "SEQ"
    precisions = np.array([[1 / np.mean(sigma**2)]]) if tied else (1 / sigma**2)[:, None, None]
    model = BinnedGaussianMixture(
        K,
        covariance_type="tied" if tied else "full",
        weights_init=start["pi"],
        means_init=np.asarray(start["mu"])[:, None],
        precisions_init=precisions,
        tol=1e-14,
        max_iter=100_000,
        reg_covar=0.0,
    )
    return model.fit(X, sample_weight=counts)


@pytest.mark.parametrize("name", CASES)
def test_grouped_fit_agrees_with_mixdist(name):
    case = REFERENCE["cases"][name]
    X, counts = pike65()
    model = fit_from_start(case, X, counts)
    assert model.converged_
    for ours, theirs in (
        (model.weights_, case["pi"]),
        (model.means_[:, 0], case["mu"]),
        (model.sigmas_, case["sigma"]),
    ):
        theirs = np.asarray(theirs)
        assert np.all(np.abs(ours - theirs) <= printed(theirs)), (ours, theirs)
    # The same maximum (ours reaches it at least as closely as nlm does).
    loglik = model.score(X, sample_weight=counts) * counts.sum()
    assert loglik == pytest.approx(case["loglik"], abs=1e-6)
    assert loglik >= case["loglik"] - 1e-9


@pytest.mark.parametrize("name", CASES)
def test_standard_errors_agree_with_mixdist(name):
    case = REFERENCE["cases"][name]
    X, counts = pike65()
    model = fit_from_start(case, X, counts)
    peaks = PeakFit(model.n_components, covariance_type=model.covariance_type)
    peaks._describe(model, X, counts, 1.0)
    order = np.argsort(case["mu"])
    # mixdist inverts nlm's finite-difference Hessian of -2 log L: 0.5% apart from ours.
    np.testing.assert_allclose(peaks.centers_se_, np.asarray(case["mu_se"])[order], rtol=5e-3)
    np.testing.assert_allclose(peaks.shares_se_, np.asarray(case["pi_se"])[order], rtol=5e-3)
    sigma_se = np.asarray(case["sigma_se"], dtype=object)[order]
    known = np.array([s != "NA" for s in sigma_se])
    np.testing.assert_allclose(peaks.sigmas_se_[known], sigma_se[known].astype(float), rtol=5e-3)
    np.testing.assert_allclose(peaks.areas_, counts.sum() * peaks.shares_, rtol=1e-12)
