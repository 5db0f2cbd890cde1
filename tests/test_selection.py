"""MixtureSelection: the table, the choice, delegation, weights, reproducibility, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from emkit import GaussianMixture, MixtureSelection
from emkit.engine.hierarchical import agglomerate
from emkit.exceptions import ValidationError

TYPES = ["EII", "VVI", "EEE", "VEV"]


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(3)
    return np.concatenate(
        [
            rng.multivariate_normal([0, 0], [[1.0, 0.8], [0.8, 1.0]], 70),
            rng.multivariate_normal([6, 0], [[1.0, -0.5], [-0.5, 1.0]], 50),
        ]
    )


@pytest.fixture(scope="module")
def selection(data):
    return MixtureSelection(range(1, 5), TYPES, random_state=0).fit(data)


def test_attributes_and_table(selection, data):
    s = selection
    assert s.covariance_types_ == tuple(TYPES)
    assert s.n_components_range_ == (1, 2, 3, 4)
    assert s.scores_.shape == (4, 4) and s.scores_.dtype == np.float64
    assert s.criterion_ == "bic" and not s.greater_is_better_
    assert (s.best_covariance_type_, s.best_n_components_) == ("VEV", 2)
    assert isinstance(s.best_estimator_, GaussianMixture)
    i, j = TYPES.index("VEV"), 1
    assert s.scores_[i, j] == s.best_score_ == np.nanmin(s.scores_)
    # Every score is the estimator's own criterion; NaN exactly where skipped.
    assert s.best_score_ == pytest.approx(s.best_estimator_.bic(data), rel=1e-12)
    assert set(s.skipped_) == {
        (ct, K) for a, ct in enumerate(TYPES) for b, K in enumerate((1, 2, 3, 4))
        if np.isnan(s.scores_[a, b])
    }  # fmt: skip


def test_delegates_to_the_best(selection, data):
    best = selection.best_estimator_
    np.testing.assert_array_equal(selection.predict(data), best.predict(data))
    np.testing.assert_array_equal(selection.predict_proba(data), best.predict_proba(data))
    assert selection.score(data) == best.score(data)
    np.testing.assert_array_equal(selection.score_samples(data), best.score_samples(data))


def test_summary_table_and_pandas(selection):
    text = selection.summary(top=3)
    assert "Best: VEV with 2 components" in text and "Top 3 models by BIC" in text
    top = selection.top(3)
    assert top[0] == ("VEV", 2, selection.best_score_)
    assert [t[2] for t in top] == sorted(t[2] for t in top)
    assert selection.table().splitlines()[1].startswith("EII")
    pd = pytest.importorskip("pandas")
    frame = selection.to_pandas()
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.index) == TYPES and list(frame.columns) == [1, 2, 3, 4]
    np.testing.assert_array_equal(frame.to_numpy(), selection.scores_)


def test_mclust_convention_is_the_negative(data, selection):
    m = MixtureSelection(range(1, 5), TYPES, bic_convention="mclust", random_state=0).fit(data)
    np.testing.assert_array_equal(m.scores_, -selection.scores_)
    assert m.greater_is_better_
    assert (m.best_covariance_type_, m.best_n_components_) == ("VEV", 2)


@pytest.mark.parametrize("criterion", ["icl", "aic"])
def test_other_criteria(data, criterion):
    s = MixtureSelection([1, 2, 3], ["VVV"], criterion=criterion).fit(data)
    model = s.best_estimator_
    assert s.best_score_ == pytest.approx(getattr(model, criterion)(data), rel=1e-12)
    assert s.criterion_ == criterion


def test_integer_weights_equal_repeated_rows(data):
    rng = np.random.RandomState(0)
    w = rng.randint(1, 4, size=len(data)).astype(float)
    kwargs = dict(n_components=[1, 2, 3], covariance_types=["EEI", "VVV"], init="kmeans")
    # The same starting partition for both (k-means on the distinct rows, weighted).
    weighted = MixtureSelection(**kwargs, random_state=5).fit(data, sample_weight=w)
    repeated = MixtureSelection(**kwargs, random_state=5)
    rows = np.repeat(np.arange(len(data)), w.astype(int))
    repeated.fit(data[rows])
    np.testing.assert_allclose(weighted.scores_, repeated.scores_, rtol=1e-6)


def test_zero_weight_rows_are_absent(data):
    w = np.ones(len(data))
    w[::7] = 0.0
    a = MixtureSelection([1, 2], ["VVV", "EII"]).fit(data, sample_weight=w)
    b = MixtureSelection([1, 2], ["VVV", "EII"]).fit(data[w > 0])
    np.testing.assert_allclose(a.scores_, b.scores_, rtol=1e-9)


def test_threads_do_not_change_the_table(data):
    a = MixtureSelection([2, 3], ["EEE", "VVV"], init="kmeans", random_state=1, n_jobs=1)
    b = MixtureSelection([2, 3], ["EEE", "VVV"], init="kmeans", random_state=1, n_jobs=2)
    np.testing.assert_array_equal(a.fit(data).scores_, b.fit(data).scores_)


def test_fits_side_by_side_give_the_table_of_one_at_a_time(data):
    # Default (n_jobs=None): fits run concurrently on the kernels' threads, each serial.
    grid = dict(n_components=[1, 2, 3], covariance_types=["EVE", "VEE", "VVV"], random_state=1)
    a = MixtureSelection(**grid).fit(data)
    b = MixtureSelection(**grid, n_jobs=1).fit(data)
    np.testing.assert_array_equal(a.scores_, b.scores_)
    assert a.skipped_ == b.skipped_


def test_hierarchy_is_sampled_for_large_n(data):
    s = MixtureSelection([2], ["VVV"], hc_max_rows=50, random_state=0).fit(data)
    assert s.hc_rows_.shape == (50,) and np.all(np.diff(s.hc_rows_) > 0)
    again = MixtureSelection([2], ["VVV"], hc_max_rows=50, random_state=0).fit(data)
    np.testing.assert_array_equal(s.hc_rows_, again.hc_rows_)
    np.testing.assert_array_equal(s.scores_, again.scores_)
    assert "random sample of 50 rows" in s.summary()
    assert MixtureSelection([2], ["VVV"]).fit(data).hc_rows_ is None


@pytest.mark.parametrize("n_jobs", [1, 3])
def test_degenerate_fits_are_skipped_with_a_reason(n_jobs):
    # A cluster and a few exact duplicates: with more components some collapse. Concurrent
    # fits keep their own warnings.
    rng = np.random.RandomState(0)
    X = np.concatenate([rng.standard_normal((30, 2)), np.tile([[8.0, 8.0]], (4, 1))])
    s = MixtureSelection([1, 2, 3], ["VVV", "EII", "VEV"], n_jobs=n_jobs).fit(X)
    assert set(s.skipped_) == {("VVV", 2), ("VVV", 3), ("VEV", 2), ("VEV", 3)}
    assert ("VVV", 2) in s.skipped_ and "collapsed" in s.skipped_["VVV", 2]
    assert np.isnan(s.scores_[0, 1]) and not np.isnan(s.scores_[1, 1])


def test_all_degenerate_grid_is_an_error():
    X = np.tile([[0.0, 0.0], [1.0, 1.0], [2.0, 0.5]], (5, 1))
    with pytest.raises(ValidationError, match="every fit of the grid was degenerate or skipped"):
        MixtureSelection([3], ["VVV"]).fit(X)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_components=[]), "n_components is empty"),
        (dict(n_components=[0, 2]), "n_components must be >= 1"),
        (dict(n_components="three"), "n_components must be an int"),
        (dict(covariance_types=[]), "covariance_types is empty"),
        (dict(covariance_types=["VVV", "XYZ"]), r"unknown name\(s\) \['XYZ'\]"),
        (dict(covariance_types=["VVV", "VVV"]), "names a structure twice"),
        (dict(criterion="bicc"), "criterion"),
        (dict(bic_convention="R"), "bic_convention"),
        (dict(init="random"), "init"),
        (dict(prior="flat"), "prior must be None, 'default'"),
        (dict(n_jobs=0), "n_jobs"),
        (dict(convergence="hmmlearn"), "convergence"),
    ],
)
def test_bad_arguments(data, kwargs, match):
    with pytest.raises(ValidationError, match=match):
        MixtureSelection(**kwargs).fit(data)


@pytest.mark.parametrize("tol", [1e-5, 1e-3])
def test_mclust_rule_stops_at_the_first_small_relative_change(data, tol):
    # mclust's rule on the total log-likelihood L_t: |L_t - L_(t-1)| / (1 + |L_t|) < tol.
    sel = MixtureSelection([2], ["VVV"], tol=tol).fit(data)
    model = sel.best_estimator_
    total = np.array(model.lower_bounds_) * data.shape[0]
    change = np.abs(np.diff(total)) / (1.0 + np.abs(total[1:]))
    assert model.converged_ and model.n_iter_ == len(total) >= 3
    assert change[-1] < tol
    assert np.all(change[:-1] >= tol)


def test_sklearn_rule_on_request_and_in_gaussian_mixture(data):
    # convergence='sklearn': the change of the mean log-likelihood, as GaussianMixture's own.
    sel = MixtureSelection([2], ["VVV"], tol=1e-5, convergence="sklearn").fit(data)
    model = sel.best_estimator_
    change = np.abs(np.diff(model.lower_bounds_))
    assert change[-1] < 1e-5 and np.all(change[:-1] >= 1e-5)
    init = dict(weights_init=model.weights_, means_init=model.means_)
    plain = GaussianMixture(2, tol=1e-3, **init).fit(data)
    change = np.abs(np.diff(plain.lower_bounds_))
    assert change[-1] < 1e-3 and np.all(change[:-1] >= 1e-3)


def test_more_components_than_rows():
    with pytest.raises(ValidationError, match="n_components goes up to 9 but X has only 5 rows"):
        MixtureSelection(range(1, 10)).fit(np.arange(10.0).reshape(5, 2))


def test_failed_fit_keeps_the_earlier_result(selection, data):
    before = selection.scores_.copy()
    with pytest.raises(ValidationError):
        selection.set_params(criterion="nope").fit(data)
    selection.set_params(criterion="bic")
    with pytest.raises(ValidationError, match="n_components goes up to"):
        selection.set_params(n_components=[1, 200]).fit(data[:, :1])
    selection.set_params(n_components=range(1, 5))
    np.testing.assert_array_equal(selection.scores_, before)
    assert selection.n_features_in_ == 2


def test_unfitted_raises():
    from emkit.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        MixtureSelection().predict(np.zeros((2, 2)))


def test_agglomeration_merges_the_closest_pair_first():
    X = np.array([[0.0], [0.1], [5.0], [5.3], [20.0]])
    h = agglomerate(X)
    assert h.labels(3).tolist() == [0, 0, 1, 1, 2]
    assert h.labels(5).tolist() == [0, 1, 2, 3, 4]
    assert h.labels(1).tolist() == [0] * 5
    assert tuple(h.merges[0]) == (0, 1)


def _prior(d, scalar=False):
    scale = 0.5 if scalar else (0.5 * np.eye(d)).tolist()
    return {"shrinkage": 0.01, "mean": [0.0] * d, "dof": d + 2.0, "scale": scale}


@pytest.mark.parametrize(
    "prior, covariance_type, match",
    [
        ("default", "VVV", "prior must be None or a dict"),
        ({"shrinkage": 0.01}, "VVV", "prior must be None or a dict"),
        (_prior(2), "EVE", "prior is available for covariance_type in"),
        (_prior(2, scalar=True), "EEV", r"scale of shape \(2, 2\)"),
        (_prior(2), "VII", r"scale of shape \(\)"),
        ({**_prior(2), "dof": -1.0}, "VVV", "dof > 0"),
        (_prior(3), "VVV", "prior\\['mean'\\] has 3 values but X has 2 features"),
    ],
)
def test_bad_priors(data, prior, covariance_type, match):
    with pytest.raises(ValidationError, match=match):
        GaussianMixture(2, covariance_type=covariance_type, prior=prior).fit(data)


@pytest.mark.parametrize("covariance_type", ["VVV", "EEE", "VII", "EII", "VEI", "EEV"])
def test_prior_model_round_trips(data, covariance_type, tmp_path):
    import emkit

    prior = _prior(2, scalar=covariance_type in ("VII", "EII", "VEI"))
    model = GaussianMixture(2, covariance_type=covariance_type, prior=prior, random_state=0)
    model.fit(data)
    emkit.save(model, tmp_path / "m.npz")
    loaded = emkit.load(tmp_path / "m.npz")
    assert loaded.get_params()["prior"] == prior
    np.testing.assert_array_equal(loaded.predict_proba(data), model.predict_proba(data))


def test_prior_shrinks_the_means_towards_the_prior_mean(data):
    # One component: the MAP mean is (n xbar + kappa m) / (n + kappa), exactly.
    prior = {"shrinkage": 5.0, "mean": [10.0, -10.0], "dof": 4.0, "scale": np.eye(2).tolist()}
    model = GaussianMixture(1, covariance_type="VVV", prior=prior).fit(data)
    n = len(data)
    expected = (n * data.mean(axis=0) + 5.0 * np.array([10.0, -10.0])) / (n + 5.0)
    np.testing.assert_allclose(model.means_[0], expected, rtol=1e-12)
    # and the covariance is (scale + W + kappa n / (n + kappa) gap gap^T) / (dof + n + d + 2).
    gap = data.mean(axis=0) - np.array([10.0, -10.0])
    W = (data - data.mean(axis=0)).T @ (data - data.mean(axis=0))
    cov = (np.eye(2) + W + 5.0 * n / (n + 5.0) * np.outer(gap, gap)) / (4.0 + n + 2 + 2)
    np.testing.assert_allclose(model.covariances_[0], cov + 1e-6 * np.eye(2), rtol=1e-10)


@pytest.mark.parametrize("fraction", [0.05, 0.6])
def test_missing_values_start_from_complete_or_filled_rows(data, fraction):
    # 5%: enough complete rows for the starting partitions; 60% of the entries of a 2-D
    # table: too few, so the partitions come from mean-filled rows. Either way every fit is
    # the exact missing-value EM, scored on the observed values.
    X = data.copy()
    rng = np.random.default_rng(4)
    gaps = rng.random(X.shape) < fraction
    gaps[gaps.all(axis=1), 0] = False
    X[gaps] = np.nan
    complete = np.count_nonzero(~gaps.any(axis=1))
    assert (complete >= 30) == (fraction < 0.5)  # 10 complete rows per component or not
    sel = MixtureSelection(n_components=range(1, 4), covariance_types=["VII", "EEE", "VVV"])
    sel.fit(X)
    skipped = np.array(
        [[(ct, K) in sel.skipped_ for K in range(1, 4)] for ct in ["VII", "EEE", "VVV"]]
    )
    assert np.array_equal(np.isnan(sel.scores_), skipped) and not skipped[:, :2].any()
    best = sel.best_estimator_
    assert np.isfinite(best.means_).all() and np.isfinite(best.covariances_).all()
    assert sel.best_score_ == pytest.approx(best.bic(X), rel=1e-12)
    assert np.all(np.diff(best.lower_bounds_) >= -1e-10)
