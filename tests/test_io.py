"""Model files: round trips, the sklearn oracle, atomic writes and every kind of bad file."""

import json
import os
import stat
import threading
import zipfile

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.mixture import GaussianMixture as SkGaussianMixture

import emkit
from emkit import GaussianMixture, ModelFileError
from emkit import hmm as ek
from emkit import io as model_io
from emkit.models.registry import ESTIMATORS

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
ARRAYS = ("weights_", "means_", "covariances_", "precisions_cholesky_", "precisions_")


def blobs(seed=0, n=120, d=3):
    rng = np.random.RandomState(seed)
    centres = np.array([[0.0] * d, [5.0] * d, [0.0] * (d - 1) + [9.0]])
    return np.vstack([rng.randn(n // 3, d) * (k + 1) * 0.5 + c for k, c in enumerate(centres)])


@pytest.fixture(scope="module")
def data():
    return blobs()


@pytest.fixture(scope="module")
def fitted(data):
    return GaussianMixture(3, random_state=0).fit(data)


@pytest.fixture
def saved(fitted, tmp_path):
    path = tmp_path / "model.npz"
    model_io.save(fitted, path)
    return path


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_round_trip_gives_identical_model(data, tmp_path, covariance_type, dtype):
    X = data.astype(dtype)
    model = GaussianMixture(3, covariance_type=covariance_type, random_state=1).fit(X)
    path = tmp_path / "m.npz"
    model_io.save(model, path)
    loaded = model_io.load(path)
    assert type(loaded) is GaussianMixture
    assert loaded.get_params() == model.get_params()
    for name in ARRAYS:
        assert getattr(loaded, name).dtype == dtype
        np.testing.assert_array_equal(getattr(loaded, name), getattr(model, name))
    for name in ("converged_", "n_iter_", "lower_bound_", "lower_bounds_", "n_features_in_"):
        assert getattr(loaded, name) == getattr(model, name)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(loaded.score_samples(X), model.score_samples(X))
    assert loaded.bic(X) == model.bic(X)
    np.testing.assert_array_equal(loaded.sample(7)[0], model.sample(7)[0])


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_loaded_model_agrees_with_sklearn_built_from_the_same_arrays(
    data, tmp_path, covariance_type
):
    model = GaussianMixture(3, covariance_type=covariance_type, random_state=2).fit(data)
    model_io.save(model, tmp_path / "m.npz")
    loaded = model_io.load(tmp_path / "m.npz")
    oracle = SkGaussianMixture(3, covariance_type=covariance_type)
    for name in ARRAYS:
        setattr(oracle, name, getattr(model, name))
    probe = data[::3] + 0.25
    np.testing.assert_allclose(
        loaded.score_samples(probe), oracle.score_samples(probe), rtol=1e-12, atol=0
    )
    np.testing.assert_allclose(
        loaded.predict_proba(probe), oracle.predict_proba(probe), rtol=1e-9, atol=1e-14
    )


def test_round_trip_keeps_special_params_and_attributes(data, tmp_path):
    means_init = data[[0, 50, 100]]
    rng = np.random.RandomState(5)
    model = GaussianMixture(
        3, means_init=means_init, weights_init=[0.2, 0.3, 0.5], random_state=rng
    )
    model.fit(data)
    model.feature_names_in_ = np.array(["a", "b", "c"], dtype=object)
    model_io.save(model, tmp_path / "m.npz")
    loaded = model_io.load(tmp_path / "m.npz")
    np.testing.assert_array_equal(loaded.means_init, means_init)
    assert loaded.weights_init == [0.2, 0.3, 0.5]
    assert loaded.feature_names_in_.dtype == object
    assert list(loaded.feature_names_in_) == ["a", "b", "c"]
    # the RandomState is restored with its exact state: sampling continues identically
    np.testing.assert_array_equal(loaded.sample(5)[0], model.sample(5)[0])
    np.testing.assert_array_equal(loaded.sample(5)[0], model.sample(5)[0])


def test_non_finite_lower_bound_round_trips(data, tmp_path):
    model = GaussianMixture(2, max_iter=0, random_state=0).fit(data)
    assert model.lower_bound_ == -np.inf
    model_io.save(model, tmp_path / "m.npz")
    loaded = model_io.load(tmp_path / "m.npz")
    assert loaded.lower_bound_ == -np.inf
    assert loaded.lower_bounds_ == []
    assert loaded.converged_ is False


def test_file_is_plain_npz_with_json_metadata(fitted, tmp_path):
    model_io.save(fitted, tmp_path / "m.npz", extra={"columns": ["a", "b", "c"]})
    with np.load(tmp_path / "m.npz", allow_pickle=False) as npz:
        np.testing.assert_array_equal(npz["means_"], fitted.means_)
    meta = model_io.read_metadata(tmp_path / "m.npz")
    assert meta["format"] == "emkit-model"
    assert meta["format_version"] == model_io.FORMAT_VERSION
    assert meta["kind"] == "GaussianMixture"
    assert meta["params"]["n_components"] == 3
    assert meta["attributes"]["n_iter_"] == fitted.n_iter_
    assert meta["arrays"]["covariances_"] == {"shape": [3, 3, 3], "dtype": "<f8"}
    assert meta["extra"] == {"columns": ["a", "b", "c"]}


def test_save_refuses_unfitted_and_foreign_models(tmp_path):
    with pytest.raises(NotFittedError):
        model_io.save(GaussianMixture(2), tmp_path / "m.npz")
    with pytest.raises(TypeError, match=r"cannot save a GaussianMixture.*: .*GaussianMixture"):
        model_io.save(SkGaussianMixture(2), tmp_path / "m.npz")
    assert os.listdir(tmp_path) == []


def test_failed_save_leaves_old_file_and_no_temporaries(fitted, saved):
    before = saved.read_bytes()
    with pytest.raises(TypeError, match="extra"):
        model_io.save(fitted, saved, extra={"bad": object()})
    with pytest.raises(FileNotFoundError, match="does not exist"):
        model_io.save(fitted, saved.parent / "no_such_dir" / "m.npz")
    assert saved.read_bytes() == before
    assert os.listdir(saved.parent) == [saved.name]


def test_atomic_write_replaces_only_on_success(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), model_io.atomic_write(target, "w") as f:
        f.write("partial")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    with model_io.atomic_write(target, "w") as f:
        f.write("new")
    assert target.read_text() == "new"
    assert os.listdir(tmp_path) == ["out.txt"]


# ---------------------------------------------------------------------------- bad files
def rewrite(path, meta=None, arrays=None, pickle_members=()):
    """Rewrite a saved model after editing its metadata and arrays in place."""
    with zipfile.ZipFile(path) as zf:
        m = json.loads(zf.read("metadata.json"))
        a = {n[:-4]: np.load(zf.open(n)) for n in zf.namelist() if n.endswith(".npy")}
    if meta:
        meta(m)
    if arrays:
        arrays(a)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("metadata.json", json.dumps(m))
        for name, arr in a.items():
            with zf.open(name + ".npy", "w") as f:
                np.lib.format.write_array(f, arr, allow_pickle=name in pickle_members)


def test_missing_directory_and_foreign_files(tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        model_io.load(tmp_path / "nope.npz")
    with pytest.raises(ModelFileError, match="is a directory"):
        model_io.load(tmp_path)
    (tmp_path / "data.csv").write_text("1,2\n3,4\n")
    with pytest.raises(ModelFileError, match="not an emkit model file"):
        model_io.load(tmp_path / "data.csv")
    np.savez(tmp_path / "plain.npz", means_=np.zeros((2, 2)))
    with pytest.raises(ModelFileError, match=r"not an emkit model file \(it has no metadata"):
        model_io.load(tmp_path / "plain.npz")


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9, 0.99])
def test_truncated_file(saved, keep):
    data = saved.read_bytes()
    saved.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ModelFileError, match=r"not an emkit model file|corrupt"):
        model_io.load(saved)


@pytest.mark.parametrize("member", ["metadata.json", "means_.npy", "covariances_.npy"])
def test_corrupted_bytes_are_detected(saved, member):
    data = bytearray(saved.read_bytes())
    with zipfile.ZipFile(saved) as zf:
        info = zf.getinfo(member)
    # the member's data starts after its 30-byte local header, name and extra field
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    middle = start + info.compress_size // 2
    data[middle] ^= 0x5A
    saved.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="corrupt"):
        model_io.load(saved)


def _set(key, value):
    def edit(meta):
        meta[key] = value

    return edit


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_set("format", "something-else"), "not an emkit model file"),
        (_set("format_version", 3), "format version 3, newer than this emkit reads"),
        (_set("format_version", 0), "invalid format version 0"),
        (_set("format_version", "1"), "invalid format version '1'"),
        (_set("kind", "NoSuchModel"), "unknown kind 'NoSuchModel'"),
        (_set("attributes", None), "metadata field 'attributes' is missing"),
        (lambda m: m["params"].update(n_components=4), r"weights_ has shape \(3,\)"),
        (lambda m: m["params"].update(covariance_type="banana"), "covariance_type"),
        (lambda m: m["params"].update(bogus=1), "unknown GaussianMixture parameters"),
        (lambda m: m["params"].update(tol=-1.0), "tol must be"),
        (lambda m: m["attributes"].pop("converged_"), "'converged_' is missing"),
        (lambda m: m["attributes"].update(n_iter_="many"), "n_iter_ must be int"),
        (lambda m: m["attributes"].update(n_features_in_=2), r"means_ has shape \(3, 3\)"),
        (lambda m: m["params"].update(random_state={"__pickle__": "x"}), "unknown tagged"),
    ],
)
def test_bad_metadata(saved, edit, message):
    rewrite(saved, meta=edit)
    with pytest.raises(ModelFileError, match=message):
        model_io.load(saved)


def test_read_metadata_checks_the_header_too(saved):
    rewrite(saved, meta=_set("format_version", 99))
    with pytest.raises(ModelFileError, match="upgrade emkit"):
        model_io.read_metadata(saved)


def _set_array(name, value):
    def edit(arrays):
        if value is None:
            arrays.pop(name)
        else:
            arrays[name] = value(arrays[name]) if callable(value) else value

    return edit


def _poke(value):
    def edit(arr):
        arr = arr.copy()
        arr.flat[0] = value
        return arr

    return edit


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_set_array("means_", None), r"arrays \['means_'\] are missing"),
        (_set_array("extra_", np.zeros(2)), r"unexpected arrays \['extra_'\]"),
        (_set_array("means_", np.zeros((3, 2))), r"means_ has shape \(3, 2\); expected \(3, 3\)"),
        (_set_array("means_", lambda a: a.astype(np.int64)), "means_ has dtype int64"),
        (_set_array("means_", lambda a: a.astype(np.float32)), "means_ has dtype float32"),
        (_set_array("means_", _poke(np.nan)), "means_ contains NaN"),
        (_set_array("weights_", _poke(0.9)), "weights_ are not"),
        (_set_array("precisions_cholesky_", _poke(-1.0)), "precisions_cholesky_ does not match"),
    ],
)
def test_bad_arrays(saved, edit, message):
    rewrite(saved, arrays=edit)
    with pytest.raises(ModelFileError, match=message):
        model_io.load(saved)


class _Exploit:
    executed = False

    def __reduce__(self):
        return (_Exploit._run, ())

    @staticmethod
    def _run():  # pragma: no cover - must never run
        _Exploit.executed = True


def test_pickled_member_is_refused_without_unpickling(saved):
    payload = np.empty(3, dtype=object)
    payload[:] = [_Exploit(), 1, 2]
    rewrite(saved, arrays=_set_array("weights_", payload), pickle_members=("weights_",))
    with pytest.raises(ModelFileError, match="weights_ has dtype object"):
        model_io.load(saved)
    assert not _Exploit.executed


def test_registry_accepts_new_model_kinds(monkeypatch, tmp_path):
    class Wrapped(GaussianMixture):
        pass

    model = Wrapped(3, random_state=0).fit(blobs())
    with pytest.raises(TypeError, match="cannot save a Wrapped"):
        model_io.save(model, tmp_path / "w.npz")
    monkeypatch.setitem(ESTIMATORS, "Wrapped", Wrapped)
    model_io.save(model, tmp_path / "w.npz")
    assert model_io.read_metadata(tmp_path / "w.npz")["kind"] == "Wrapped"
    loaded = model_io.load(tmp_path / "w.npz")
    assert type(loaded) is Wrapped
    np.testing.assert_array_equal(loaded.means_, model.means_)


# ---------------------------------------------------------------------------- hand-edited arrays
def _scale_component(name, k, factor):
    """Scale the covariance (or precision) of component ``k`` in any layout."""

    def edit(arrays):
        arr = arrays[name].copy()
        if arr.ndim == 2 and arr.shape[0] == arr.shape[1] and name != "means_":  # tied
            arr *= factor
        else:
            arr[k] *= factor
        arrays[name] = arr

    return edit


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("name", ["covariances_", "precisions_cholesky_", "precisions_"])
def test_arrays_that_disagree_are_refused(data, tmp_path, covariance_type, name):
    model = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(data)
    path = tmp_path / "m.npz"
    model_io.save(model, path)
    rewrite(path, arrays=_scale_component(name, 1, 1.5))
    other = "precisions_cholesky_" if name == "covariances_" else name
    with pytest.raises(ModelFileError, match=f"{other} does not match covariances_"):
        model_io.load(path)


def _edit_entry(index, value=None, add=0.0):
    def edit(arr):
        arr = arr.copy()
        arr[index] = arr[index] + add if value is None else value
        return arr

    return edit


def _full_gmm(X):
    return GaussianMixture(3, covariance_type="full", random_state=0).fit(X)


def _full_hmm(X):
    return ek.GaussianHMM(2, covariance_type="full", n_iter=3, random_state=0).fit(X)


@pytest.mark.parametrize(
    ("build", "name", "edit", "message"),
    [
        (
            _full_gmm,
            "covariances_",
            _edit_entry(2, np.diag([1.0, -1.0, 1.0])),
            "component 2 is not positive",
        ),
        # the upper triangle, which a Cholesky factorisation never reads
        (
            _full_gmm,
            "covariances_",
            _edit_entry((1, 0, 2), add=0.5),
            "component 1 is not symmetric",
        ),
        (
            _full_hmm,
            "_covars_",
            _edit_entry(1, np.diag([1.0, -2.0, 1.0])),
            "covars_ of state 1 is not positive",
        ),
        (
            _full_hmm,
            "_covars_",
            _edit_entry((0, 0, 1), add=1.0),
            "covars_ matrix 0 is not symmetric",
        ),
    ],
    ids=["gmm-indefinite", "gmm-asymmetric", "hmm-indefinite", "hmm-asymmetric"],
)
def test_covariances_must_be_symmetric_positive_definite(
    data, tmp_path, build, name, edit, message
):
    path = tmp_path / "m.npz"
    model_io.save(build(data), path)
    rewrite(path, arrays=_set_array(name, edit))
    with pytest.raises(ModelFileError, match=message):
        model_io.load(path)


def test_mixed_dtypes_recorded_in_the_metadata_are_refused(saved):
    def to_float32(arrays):
        arrays["means_"] = arrays["means_"].astype(np.float32)

    def record(meta):
        meta["arrays"]["means_"]["dtype"] = "<f4"

    rewrite(saved, meta=record, arrays=to_float32)
    with pytest.raises(ModelFileError, match="mixed dtypes"):
        model_io.load(saved)


# ---------------------------------------------------------------------------- every kind
def _hmm_data(model, rng):
    if isinstance(model, emkit.PoissonMixture):
        return rng.poisson(2.0, size=(80, 3)) + rng.randint(0, 2, size=(80, 1)) * 5
    if isinstance(model, emkit.BernoulliMixture):
        return (rng.rand(80, 4) < 0.3 + 0.4 * rng.randint(0, 2, size=(80, 1))).astype(float)
    if isinstance(model, emkit.CategoricalMixture):
        return np.array(["a", "b", "c"], dtype=object)[rng.randint(0, 3, size=(80, 3))]
    if isinstance(model, emkit.BinnedGaussianMixture):
        lower = np.sort(rng.randn(80) + rng.randint(0, 2, size=80) * 4)
        return np.column_stack([lower, lower + rng.uniform(0.1, 1.0, 80)])
    if isinstance(model, emkit.MixedMixture):
        X = np.empty((80, 3), dtype=object)
        X[:, 0] = rng.randn(80)
        X[:, 1] = np.array(["x", "y"], dtype=object)[rng.randint(0, 2, 80)]
        X[:, 2] = rng.poisson(3.0, 80)
        return X
    if isinstance(model, ek.CategoricalHMM):
        return rng.randint(0, 3, size=(80, 1))
    if isinstance(model, ek.PoissonHMM):
        return rng.poisson(2.0, size=(80, 2))
    return rng.randn(80, 2) + rng.randint(0, 2, size=(80, 1)) * 4


ALL_KINDS = [
    *(GaussianMixture(2, covariance_type=ct, random_state=0) for ct in COVARIANCE_TYPES),
    *(ek.GaussianHMM(2, covariance_type=ct, n_iter=3, random_state=0) for ct in COVARIANCE_TYPES),
    *(
        ek.GMMHMM(2, n_mix=2, covariance_type=ct, n_iter=3, random_state=0)
        for ct in COVARIANCE_TYPES
    ),
    ek.CategoricalHMM(2, n_iter=3, random_state=0),
    ek.PoissonHMM(2, n_iter=3, random_state=0),
    emkit.PoissonMixture(2, random_state=0),
    emkit.BernoulliMixture(2, random_state=0),
    emkit.CategoricalMixture(2, random_state=0),
    emkit.MixedMixture(
        2, families={"gaussian": [0], "categorical": [1], "poisson": [2]}, random_state=0
    ),
    emkit.BinnedGaussianMixture(2, truncate=True, background=True, random_state=0),
]


def _assert_same(loaded, value, name):
    if isinstance(value, dict):
        assert loaded.keys() == value.keys(), name
        for key in value:
            _assert_same(loaded[key], value[key], f"{name}[{key!r}]")
    elif isinstance(value, (list, tuple)) and any(isinstance(v, np.ndarray) for v in value):
        assert len(loaded) == len(value), name
        for i, (a, b) in enumerate(zip(loaded, value, strict=True)):
            _assert_same(a, b, f"{name}[{i}]")
    elif isinstance(value, np.ndarray):
        np.testing.assert_array_equal(loaded, value, err_msg=name)
    else:
        assert loaded == value, name


@pytest.mark.parametrize(
    "model",
    ALL_KINDS,
    ids=[f"{type(m).__name__}-{getattr(m, 'covariance_type', '')}" for m in ALL_KINDS],
)
def test_every_estimator_kind_round_trips(model, tmp_path):
    assert set(ESTIMATORS) == {type(m).__name__ for m in ALL_KINDS}
    X = _hmm_data(model, np.random.RandomState(3))
    model = clone(model).fit(X)
    model_io.save(model, tmp_path / "m.npz")
    loaded = model_io.load(tmp_path / "m.npz")
    assert type(loaded) is type(model)
    assert loaded.get_params().keys() == model.get_params().keys()
    state = {n: v for n, v in vars(model).items() if n.endswith("_")}
    assert {n for n in vars(loaded) if n.endswith("_")} == set(state)
    for name, value in state.items():
        if name == "monitor_":
            assert list(loaded.monitor_.history) == list(value.history)
            assert (loaded.monitor_.iter, loaded.monitor_.tol) == (value.iter, value.tol)
        else:
            _assert_same(getattr(loaded, name), value, name)
    assert loaded.score(X) == model.score(X)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_unknown_attribute_names_are_refused(saved):
    rewrite(saved, meta=lambda m: m["attributes"].update(__class__="os.system"))
    with pytest.raises(ModelFileError, match="'__class__' is not a fitted-attribute name"):
        model_io.load(saved)


# ---------------------------------------------------------------------------- format 1
def test_format_1_files_still_load(fitted, tmp_path):
    path = tmp_path / "gm.npz"
    model_io.save(fitted, path)
    rewrite(path, meta=_set("format_version", 1))  # the mixture layout did not change
    np.testing.assert_array_equal(model_io.load(path).means_, fitted.means_)

    X = _hmm_data(ek.GaussianHMM(2), np.random.RandomState(0))
    hmm = ek.GaussianHMM(2, covariance_type="diag", n_iter=4, random_state=0).fit(X)
    path = tmp_path / "hmm.npz"
    model_io.save(hmm, path)

    def v1_meta(meta):  # format 1: covars_ without underscore, monitor fields, n_features
        meta["format_version"] = 1
        meta["arrays"]["covars_"] = meta["arrays"].pop("_covars_")
        monitor = meta["attributes"].pop("monitor_")["__convergence_monitor__"]
        meta["attributes"].update(
            monitor_tol=monitor["tol"],
            monitor_n_iter=monitor["n_iter"],
            monitor_history=monitor["history"],
            monitor_iter=monitor["iter"],
            n_features=2,
        )

    def v1_arrays(arrays):
        arrays["covars_"] = arrays.pop("_covars_")

    rewrite(path, meta=v1_meta, arrays=v1_arrays)
    loaded = model_io.load(path)
    np.testing.assert_array_equal(loaded.covars_, hmm.covars_)
    assert list(loaded.monitor_.history) == list(hmm.monitor_.history)
    assert loaded.score(X) == hmm.score(X)


# ---------------------------------------------------------------------------- destinations
def test_save_follows_a_symlink_and_keeps_it(fitted, tmp_path):
    target = tmp_path / "real.npz"
    target.write_bytes(b"old")
    link = tmp_path / "link.npz"
    link.symlink_to(target)
    model_io.save(fitted, link)
    assert link.is_symlink() and os.readlink(link) == str(target)
    np.testing.assert_array_equal(model_io.load(target).means_, fitted.means_)
    assert sorted(os.listdir(tmp_path)) == ["link.npz", "real.npz"]


def test_save_streams_to_a_fifo(fitted, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    model_io.save(fitted, fifo)
    reader.join(timeout=60)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    (tmp_path / "copy.npz").write_bytes(received[0])
    np.testing.assert_array_equal(model_io.load(tmp_path / "copy.npz").means_, fitted.means_)


def test_save_to_dash_writes_standard_output(fitted, tmp_path, capsysbinary):
    model_io.save(fitted, "-")
    (tmp_path / "copy.npz").write_bytes(capsysbinary.readouterr().out)
    np.testing.assert_array_equal(model_io.load(tmp_path / "copy.npz").means_, fitted.means_)


def test_is_stream(tmp_path):
    (tmp_path / "f").write_text("x")
    assert not model_io.is_stream(tmp_path / "f")
    assert not model_io.is_stream(tmp_path / "new")
    assert model_io.is_stream("-") and model_io.is_stream("/dev/stdout")
    assert model_io.is_stream("/dev/null")


def test_files_in_dev_shm_are_written_atomically(fitted):
    if not os.path.isdir("/dev/shm") or not os.access("/dev/shm", os.W_OK):
        pytest.skip("no writable /dev/shm")
    path = f"/dev/shm/emkit-test-{os.getpid()}.npz"
    try:
        assert not model_io.is_stream(path)
        model_io.save(fitted, path)
        np.testing.assert_array_equal(model_io.load(path).means_, fitted.means_)
    finally:
        if os.path.exists(path):
            os.unlink(path)
