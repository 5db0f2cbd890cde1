"""The 14 mclust covariance structures: M-steps against numerical maximisation, monotone
M-steps, parameter counts, the scikit-learn aliases, estimator round trips."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize

import emkit
from emkit import GaussianMixture
from emkit.families.covariance import STRATEGIES
from emkit.families.parsimonious import MCLUST_NAME, MCLUST_TYPES

K, D = 2, 3


def _problem(seed, n=40):
    """Random rows, random soft responsibilities, and the statistics every layout needs."""
    rng = np.random.RandomState(seed)
    X = rng.standard_normal((n, D)) @ rng.standard_normal((D, D)) + rng.standard_normal(D)
    resp = rng.dirichlet(np.ones(K) * 0.7, size=n)
    ref = rng.standard_normal((K, D))  # statistics centred on an arbitrary point
    counts = resp.sum(axis=0)
    c = X[None, :, :] - ref[:, None, :]  # (K, n, d)
    sums = np.einsum("nk,knd->kd", resp, c)
    full = np.einsum("nk,kni,knj->kij", resp, c, c)
    means = ref + sums / counts[:, None]
    cw = X[None, :, :] - means[:, None, :]
    W = np.einsum("nk,kni,knj->kij", resp, cw, cw)
    layouts = {
        "full": full,
        "tied": full.sum(axis=0) - 0.0,
        "diag": np.einsum("kii->ki", full),
        "spherical": np.einsum("kii->k", full),
    }
    return counts, sums, layouts, W


def _mstep(name, counts, sums, layouts, reg_covar=0.0):
    strat = STRATEGIES[name]
    if strat.layout == "tied":
        # The tied layout carries the scatter summed over components.
        cov = strat.covariance(counts, sums, layouts["tied"], reg_covar, D)
    else:
        cov = strat.covariance(counts, sums, layouts[strat.layout], reg_covar, D)
    return np.stack([strat.component_covariance(cov, k, D) for k in range(K)])


def _objective(counts, W, covs):
    """Expected complete-data log-likelihood in the covariances (means at their optimum)."""
    sign, logdet = np.linalg.slogdet(covs)
    assert np.all(sign > 0)
    traces = np.einsum("kii->k", np.linalg.solve(covs, W))
    return -0.5 * float(np.sum(counts * logdet + traces))


def _rotation(v):
    """Rotation matrix of the axis-angle vector ``v`` (Rodrigues' formula, d = 3)."""
    theta = np.linalg.norm(v)
    if theta == 0:
        return np.eye(D)
    x, y, z = v / theta
    A = np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])
    return np.eye(D) + np.sin(theta) * A + (1 - np.cos(theta)) * (A @ A)


class _Structure:
    """``Sigma_k = lambda_k D_k diag(a_k) D_k^T`` from an unconstrained vector."""

    def __init__(self, name):
        self.volume, self.shape, self.orientation = name
        self.sizes = {
            "volume": K if self.volume == "V" else 1,
            "shape": {"I": 0, "E": D - 1, "V": K * (D - 1)}[self.shape],
            "orientation": {"I": 0, "E": D * (D - 1) // 2, "V": K * D * (D - 1) // 2}[
                self.orientation
            ],
        }
        self.size = sum(self.sizes.values())

    def covariances(self, theta):
        parts, at = {}, 0
        for key, size in self.sizes.items():
            parts[key] = theta[at : at + size]
            at += size
        volumes = np.broadcast_to(np.exp(parts["volume"]), (K,))
        if self.shape == "I":
            shapes = np.ones((K, D))
        else:
            logs = np.zeros((K if self.shape == "V" else 1, D))
            logs[:, :-1] = parts["shape"].reshape(-1, D - 1)
            logs[:, -1] = -logs[:, :-1].sum(axis=1)
            shapes = np.broadcast_to(np.exp(logs), (K, D))
        if self.orientation == "I":
            rotations = np.broadcast_to(np.eye(D), (K, D, D))
        else:
            blocks = parts["orientation"].reshape(-1, D * (D - 1) // 2)
            rotations = np.broadcast_to(np.stack([_rotation(b) for b in blocks]), (K, D, D))
        return np.einsum("k,kij,kj,klj->kil", volumes, rotations, shapes, rotations)


@pytest.mark.parametrize("name", MCLUST_TYPES)
def test_parameter_count_is_mclusts(name):
    # Our parametrisation has exactly mclust's count of free covariance parameters.
    assert STRATEGIES[name].n_parameters(K, D) == _Structure(name).size


def test_parameter_counts_table():
    # mclust 6.0.0's nVarParams(model, d = 5, G = 4), printed by R.
    expected = dict(
        EII=1, VII=4, EEI=5, VEI=8, EVI=17, VVI=20, EEE=15, VEE=18, EVE=27,
        VVE=30, EEV=45, VEV=48, EVV=57, VVV=60,
    )  # fmt: skip
    assert {n: STRATEGIES[n].n_parameters(4, 5) for n in MCLUST_TYPES} == expected


@pytest.mark.parametrize("name", MCLUST_TYPES)
def test_mstep_equals_numerical_maximum(name):
    counts, sums, layouts, W = _problem(1)
    ours = _mstep(name, counts, sums, layouts)
    best = _objective(counts, W, ours)
    structure = _Structure(name)
    rng = np.random.RandomState(2)

    def negative(theta):
        return -_objective(counts, W, structure.covariances(theta))

    found = -np.inf
    for _ in range(2):
        start = 0.3 * rng.standard_normal(structure.size)
        res = optimize.minimize(negative, start, method="BFGS", options={"gtol": 1e-8})
        if -res.fun > found:
            found, theta = -res.fun, res.x
    # Nothing in the structure does better, and the optimiser's best is our covariances (to
    # the optimiser's own accuracy on this flat maximum: its objective agrees to 1e-10).
    assert best >= found - 1e-10 * abs(found)
    np.testing.assert_allclose(structure.covariances(theta), ours, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", MCLUST_TYPES)
@pytest.mark.parametrize("seed", [3, 4])
def test_mstep_never_decreases_expected_loglikelihood(name, seed):
    counts, sums, layouts, W = _problem(seed)
    ours = _objective(counts, W, _mstep(name, counts, sums, layouts))
    for trial in range(4):
        # Random previous parameters of the same structure: its M-step on other weights.
        other = _problem(100 * seed + trial)
        previous = _mstep(name, other[0], other[1], other[2])
        assert ours >= _objective(counts, W, previous) - 1e-9 * abs(ours)


@pytest.mark.parametrize("name", MCLUST_TYPES)
def test_mstep_adds_reg_covar_like_sklearn_layouts(name):
    # reg_covar regularises the within scatter as W_k + n_k reg I: for a structure whose
    # shape is free in every direction this is reg on the diagonal; always positive definite.
    counts, sums, layouts, _ = _problem(5, n=4)  # fewer rows than d + 1 per component
    covs = _mstep(name, counts, sums, layouts, reg_covar=1e-3)
    assert np.all(np.linalg.eigvalsh(covs) > 0)


@pytest.mark.parametrize("sklearn_name", sorted(MCLUST_NAME))
def test_sklearn_aliases_give_the_same_fit_bitwise(sklearn_name):
    rng = np.random.RandomState(0)
    X = np.concatenate([rng.standard_normal((60, 2)), rng.standard_normal((60, 2)) + 4])
    a = GaussianMixture(2, covariance_type=sklearn_name, random_state=1).fit(X)
    b = GaussianMixture(2, covariance_type=MCLUST_NAME[sklearn_name], random_state=1).fit(X)
    for attr in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        np.testing.assert_array_equal(getattr(a, attr), getattr(b, attr))
    assert a.n_iter_ == b.n_iter_ and a.bic(X) == b.bic(X)


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.RandomState(7)
    A = np.array([[2.0, 0.6, 0.0], [0.6, 1.0, 0.3], [0.0, 0.3, 0.5]])
    return np.concatenate(
        [rng.multivariate_normal(m, s * A, 80) for m, s in (((0, 0, 0), 1.0), ((5, 5, 0), 2.0))]
    )


@pytest.mark.parametrize("name", MCLUST_TYPES)
def test_fit_is_monotone_and_round_trips(name, blobs, tmp_path):
    model = GaussianMixture(2, covariance_type=name, tol=1e-8, max_iter=300, random_state=0)
    model.fit(blobs)
    bounds = np.array(model.lower_bounds_)
    assert np.all(np.diff(bounds) >= -1e-10 * np.abs(bounds[1:]))
    strat = STRATEGIES[name]
    assert model.covariances_.shape == strat.shape(2, 3)
    n_par = strat.n_parameters(2, 3) + 2 * 3 + 1
    assert model._n_parameters() == n_par
    path = tmp_path / f"{name}.emkit"
    emkit.save(model, path)
    loaded = emkit.load(path)
    assert loaded.covariance_type == name
    np.testing.assert_array_equal(loaded.predict_proba(blobs), model.predict_proba(blobs))


def test_hmms_keep_the_four_sklearn_names():
    from emkit.exceptions import ValidationError
    from emkit.hmm import GaussianHMM

    with pytest.raises(ValidationError, match="covariance_type"):
        GaussianHMM(2, covariance_type="VEV").fit(np.zeros((10, 2)) + np.arange(10)[:, None])


def test_unknown_covariance_type_names_the_choices():
    from emkit.exceptions import ValidationError

    with pytest.raises(ValidationError, match=r"covariance_type.*VVV"):
        GaussianMixture(2, covariance_type="VVX").fit(np.arange(20.0).reshape(10, 2))


@pytest.mark.parametrize("name", ["EII", "VEI", "EVE", "VEV"])
def test_stepwise_and_chunked_fits(name, blobs):
    # partial_fit recentres statistics in the strategy's layout; chunks change nothing.
    model = GaussianMixture(2, covariance_type=name, random_state=0)
    for block in np.array_split(blobs, 4):
        model.partial_fit(block)
    assert model.n_steps_ == 4 and np.all(np.isfinite(model.covariances_))
    whole = GaussianMixture(2, covariance_type=name, random_state=0, tol=1e-6).fit(blobs)
    chunked = GaussianMixture(2, covariance_type=name, random_state=0, tol=1e-6, chunk_size=7)
    chunked.fit(blobs)
    np.testing.assert_allclose(chunked.covariances_, whole.covariances_, rtol=1e-8, atol=1e-10)
