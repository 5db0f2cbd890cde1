"""Out-of-core (memmap / .npy), stepwise EM (partial_fit) and Dask fits of GaussianMixture."""

import os
import signal
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from emkit import GaussianMixture
from emkit.engine import dask_source
from emkit.exceptions import ValidationError

COV_TYPES = ["full", "tied", "diag", "spherical"]
CENTERS = np.array([[0.0, 0.0, 0.0], [6.0, 6.0, 0.0], [0.0, 7.0, 7.0]])
SCALES = np.array([1.0, 0.5, 1.5])
WEIGHTS = np.array([0.5, 0.3, 0.2])


def draw(n, seed):
    rng = np.random.RandomState(seed)
    z = rng.choice(3, size=n, p=WEIGHTS)
    return CENTERS[z] + rng.randn(n, 3) * SCALES[z][:, None], z


def inits(ct, d=3, K=3):
    means = CENTERS + 0.7
    prec = {
        "full": np.stack([np.eye(d) * 0.8] * K),
        "tied": np.eye(d) * 0.8,
        "diag": np.full((K, d), 0.8),
        "spherical": np.full(K, 0.8),
    }[ct]
    return {"weights_init": np.full(K, 1 / K), "means_init": means, "precisions_init": prec}


def assert_same_fit(a, b, rtol=1e-8):
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=rtol, atol=1e-12)
    assert a.lower_bound_ == pytest.approx(b.lower_bound_, rel=rtol)
    assert a.n_iter_ == b.n_iter_


@pytest.fixture(scope="module")
def data():
    return draw(6000, 0)[0]


# ----------------------------------------------------------------- out-of-core


@pytest.mark.parametrize("ct", COV_TYPES)
def test_memmap_fit_equals_in_memory(tmp_path, data, ct):
    path = tmp_path / "x.npy"
    np.save(path, data)
    kw = dict(n_components=3, covariance_type=ct, tol=1e-8, max_iter=40, chunk_size=700)
    ref = GaussianMixture(**kw, **inits(ct)).fit(data)
    mm = np.load(path, mmap_mode="r")
    streamed = GaussianMixture(**kw, **inits(ct)).fit(mm)
    assert_same_fit(streamed, ref)
    by_path = GaussianMixture(**kw, **inits(ct)).fit(str(path))
    assert_same_fit(by_path, ref)
    np.testing.assert_array_equal(by_path.predict(str(path)), ref.predict(data))
    np.testing.assert_allclose(by_path.score_samples(mm), ref.score_samples(data), rtol=1e-10)


def test_memmap_with_sample_weight_equals_in_memory(tmp_path, data):
    path = tmp_path / "x.npy"
    np.save(path, data)
    w = np.random.RandomState(1).randint(0, 4, size=data.shape[0]).astype(float)
    kw = dict(n_components=3, tol=1e-8, max_iter=30, chunk_size=1000, **inits("full"))
    ref = GaussianMixture(**kw).fit(data, sample_weight=w)
    streamed = GaussianMixture(**kw).fit(str(path), sample_weight=w)
    assert_same_fit(streamed, ref)


def test_streamed_fit_initialises_from_a_sample(tmp_path, monkeypatch):
    from emkit.models import _inputs

    monkeypatch.setattr(_inputs, "INIT_SAMPLE_ROWS", 2000)
    X = draw(20000, 3)[0]
    path = tmp_path / "x.npy"
    np.save(path, X)
    gm = GaussianMixture(3, random_state=0).fit(str(path))
    cost = np.linalg.norm(gm.means_[:, None, :] - CENTERS[None], axis=2)
    rows, cols = linear_sum_assignment(cost)
    np.testing.assert_allclose(gm.means_[rows], CENTERS[cols], atol=0.1)
    again = GaussianMixture(3, random_state=0).fit(str(path))
    assert_same_fit(again, gm, rtol=1e-12)


def test_streamed_input_errors(tmp_path):
    gm = GaussianMixture(2)
    with pytest.raises(ValidationError, match="no such file"):
        gm.fit(str(tmp_path / "missing.npy"))
    with pytest.raises(ValidationError, match=r"\.npy"):
        gm.fit(str(tmp_path / "data.csv"))
    bad = np.ones((50, 2))
    bad[17, 1] = np.inf
    np.save(tmp_path / "inf.npy", bad)
    with pytest.raises(ValidationError, match=r"infinity.*row 17"):
        gm.fit(str(tmp_path / "inf.npy"))
    np.save(tmp_path / "int.npy", np.ones((50, 2), dtype=np.int64))
    with pytest.raises(TypeError, match="float32/float64"):
        gm.fit(str(tmp_path / "int.npy"))
    np.save(tmp_path / "one.npy", np.ones(50))
    with pytest.raises(ValidationError, match="2-D"):
        gm.fit(str(tmp_path / "one.npy"))
    assert not hasattr(gm, "means_")


MEMORY_SCRIPT = textwrap.dedent(
    """
    import sys, numpy as np
    from emkit import GaussianMixture
    path = sys.argv[1]
    GaussianMixture(2, max_iter=2).fit(np.random.RandomState(0).randn(500, 8))  # compile
    print("ready", flush=True)
    sys.stdin.readline()
    gm = GaussianMixture(4, covariance_type="diag", max_iter=3, tol=0, random_state=0)
    gm.fit(path)
    print("done", gm.n_iter_, flush=True)
    """
)


def _rss_anon_kb(pid):
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    raise RuntimeError("no RssAnon")


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc")
def test_out_of_core_memory_is_bounded(tmp_path):
    n, d = 3_000_000, 8  # 192 MB of float64
    path = tmp_path / "big.npy"
    mm = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(n, d))
    rng = np.random.RandomState(0)
    for start in range(0, n, 500_000):
        mm[start : start + 500_000] = rng.randn(min(500_000, n - start), d)
    mm.flush()
    del mm
    proc = subprocess.Popen(
        [sys.executable, "-c", MEMORY_SCRIPT, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "ready"
    baseline = _rss_anon_kb(proc.pid)
    peak = baseline
    done = threading.Event()

    def watch():
        nonlocal peak
        while not done.is_set():
            try:
                peak = max(peak, _rss_anon_kb(proc.pid))
            except (FileNotFoundError, ProcessLookupError, RuntimeError):
                return
            done.wait(0.005)

    watcher = threading.Thread(target=watch)
    watcher.start()
    proc.stdin.write("go\n")
    proc.stdin.flush()
    out = proc.stdout.read()
    proc.wait(timeout=300)
    done.set()
    watcher.join()
    assert proc.returncode == 0 and out.startswith("done")
    file_kb = n * d * 8 // 1024
    growth = peak - baseline
    # The file is 192 MB; the fit may add block temporaries and the init sample, not the data.
    print("rss growth MB", growth // 1024, "file MB", file_kb // 1024)
    assert growth < 0.4 * file_kb, (growth, file_kb)


# ----------------------------------------------------------------- stepwise EM


def test_partial_fit_matches_batch_fit():
    X, _ = draw(40000, 5)
    batch = GaussianMixture(3, random_state=0, tol=1e-6).fit(X)
    online = GaussianMixture(3, random_state=0)
    for block in np.array_split(X, 40):
        online.partial_fit(block)
    assert online.n_steps_ == 40
    held_out = draw(20000, 6)[0]
    assert online.score(held_out) == pytest.approx(batch.score(held_out), rel=0.01)
    cost = np.linalg.norm(online.means_[:, None, :] - CENTERS[None], axis=2)
    rows, cols = linear_sum_assignment(cost)
    np.testing.assert_allclose(online.means_[rows], CENTERS[cols], atol=0.1)
    np.testing.assert_allclose(online.weights_[rows], WEIGHTS[cols], atol=0.02)
    variances = online.covariances_[rows].diagonal(axis1=1, axis2=2)
    np.testing.assert_allclose(variances, (SCALES[cols] ** 2)[:, None].repeat(3, 1), rtol=0.1)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("ct", COV_TYPES)
def test_partial_fit_first_block_is_one_em_step(ct, data):
    kw = dict(n_components=3, covariance_type=ct, **inits(ct))
    a = GaussianMixture(**kw).partial_fit(data)
    b = GaussianMixture(**kw, max_iter=1, tol=0).fit(data)
    for name in ("weights_", "means_", "covariances_"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-10)


def test_partial_fit_checks_features_and_schedule(data):
    gm = GaussianMixture(3, random_state=0).partial_fit(data[:1000])
    with pytest.raises(ValueError, match="features"):
        gm.partial_fit(data[:100, :2])
    assert gm.n_steps_ == 1
    with pytest.raises(ValidationError, match="learning_decay"):
        GaussianMixture(3, learning_decay=0.3).partial_fit(data)


# ----------------------------------------------------------------- Dask


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=50,
    )
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


@pytest.mark.parametrize("ct", COV_TYPES)
def test_dask_fit_equals_in_memory(client, data, ct):
    da = pytest.importorskip("dask.array")
    kw = dict(n_components=3, covariance_type=ct, tol=1e-8, max_iter=30, **inits(ct))
    ref = GaussianMixture(**kw).fit(data)
    gm = GaussianMixture(**kw).fit(da.from_array(data, chunks=(1000, 3)))
    assert_same_fit(gm, ref)


def test_dask_predict_returns_dask_arrays(client, data):
    da = pytest.importorskip("dask.array")
    dX = da.from_array(data, chunks=(1500, 3))
    w = np.random.RandomState(2).rand(data.shape[0])
    kw = dict(n_components=3, tol=1e-8, max_iter=30, **inits("full"))
    ref = GaussianMixture(**kw).fit(data, sample_weight=w)
    gm = GaussianMixture(**kw).fit(dX, sample_weight=da.from_array(w, chunks=700))
    assert_same_fit(gm, ref)
    labels, proba, scores = gm.predict(dX), gm.predict_proba(dX), gm.score_samples(dX)
    for out in (labels, proba, scores):
        assert isinstance(out, da.Array)
    np.testing.assert_array_equal(labels.compute(), ref.predict(data))
    np.testing.assert_allclose(proba.compute(), ref.predict_proba(data), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(scores.compute(), ref.score_samples(data), rtol=1e-10)


def test_dask_fit_initialises_from_a_sample(client):
    da = pytest.importorskip("dask.array")
    X, _ = draw(9000, 8)
    gm = GaussianMixture(3, random_state=1).fit(da.from_array(X, chunks=(2000, 3)))
    cost = np.linalg.norm(gm.means_[:, None, :] - CENTERS[None], axis=2)
    rows, cols = linear_sum_assignment(cost)
    np.testing.assert_allclose(gm.means_[rows], CENTERS[cols], atol=0.1)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_dask_fit_survives_a_killed_worker(client, data, monkeypatch):
    da = pytest.importorskip("dask.array")
    from emkit.engine import progress

    kw = dict(n_components=3, tol=0, max_iter=12, **inits("diag"), covariance_type="diag")
    ref = GaussianMixture(**kw).fit(data)
    pids = client.run(os.getpid)
    victim = sorted(pids.values())[0]
    original = progress.Progress.iteration

    def kill_at_third(self, n_iter, change):
        if n_iter == 3:
            os.kill(victim, signal.SIGKILL)
        return original(self, n_iter, change)

    monkeypatch.setattr(progress.Progress, "iteration", kill_at_third)
    gm = GaussianMixture(**kw).fit(da.from_array(data, chunks=(500, 3)))
    assert_same_fit(gm, ref)
    client.wait_for_workers(2, timeout=60)
    assert victim not in client.run(os.getpid).values()  # the worker really died


def test_missing_dask_gives_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "dask", None)
    monkeypatch.setitem(sys.modules, "dask.array", None)
    with pytest.raises(ImportError, match=r"emkit\[dask\]"):
        dask_source.require_dask()


def test_import_emkit_does_not_import_dask():
    code = "import sys, emkit; emkit.GaussianMixture(2); print('dask' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("ct", ["full", "diag"])
def test_dask_gaussian_hmm_over_many_sequences_equals_in_memory(client, ct, monkeypatch):
    da = pytest.importorskip("dask.array")
    from emkit.hmm import GaussianHMM

    truth = GaussianHMM(3, covariance_type="diag", random_state=0, init_params="")
    truth.startprob_ = np.array([0.6, 0.3, 0.1])
    truth.transmat_ = np.array([[0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]])
    truth.means_ = CENTERS
    truth.covars_ = np.ones((3, 3)) * 0.5
    rng = np.random.RandomState(4)
    lengths = rng.randint(20, 120, size=80)
    X = np.vstack([truth.sample(int(t), random_state=rng)[0] for t in lengths])

    def model():
        m = GaussianHMM(3, covariance_type=ct, n_iter=15, tol=0, init_params="")
        m.startprob_ = np.full(3, 1 / 3)
        m.transmat_ = np.full((3, 3), 1 / 3)
        m.means_ = CENTERS + 0.5
        m.covars_ = {"full": np.stack([np.eye(3)] * 3), "diag": np.ones((3, 3))}[ct]
        return m

    ref = model().fit(X, lengths)
    dX = da.from_array(X, chunks=(1000, 3))
    got = model().fit(dX, lengths)
    sources = []
    original = dask_source.DaskBlockSource.__init__

    def spy(self, pairs, check=None):
        original(self, pairs, check)
        sources.append(self)

    monkeypatch.setattr(dask_source.DaskBlockSource, "__init__", spy)
    model().fit(dX, lengths)
    assert len(sources[0]._rows) >= 5  # the sequences really are spread in several blocks
    for name in ("startprob_", "transmat_", "means_", "covars_"):
        np.testing.assert_allclose(getattr(got, name), getattr(ref, name), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(got.monitor_.history, ref.monitor_.history, rtol=1e-10)
    assert got.score(X, lengths) == pytest.approx(ref.score(X, lengths), rel=1e-10)


def test_dask_hmm_on_the_threaded_scheduler_equals_in_memory():
    # Blocks run at once in Dask's threads, each with buffers of its own.
    dask = pytest.importorskip("dask")
    da = pytest.importorskip("dask.array")
    from emkit.hmm import GaussianHMM

    rng = np.random.RandomState(7)
    lengths = [500] * 120
    X = rng.normal(size=(60_000, 3)) + (rng.rand(60_000, 1) < 0.5) * 3.0

    def fit(data):
        m = GaussianHMM(3, covariance_type="diag", n_iter=5, tol=0, init_params="")
        m.startprob_, m.transmat_ = np.full(3, 1 / 3), np.full((3, 3), 1 / 3)
        m.means_, m.covars_ = np.array([[0.0] * 3, [1.5] * 3, [3.0] * 3]), np.ones((3, 3))
        return m.fit(data, lengths)

    ref = fit(X)
    with dask.config.set(scheduler="threads", num_workers=4):
        got = fit(da.from_array(X, chunks=(12_000, 3)))
    np.testing.assert_allclose(got.monitor_.history, ref.monitor_.history, rtol=1e-12)
    np.testing.assert_allclose(got.means_, ref.means_, rtol=1e-10, atol=1e-12)
