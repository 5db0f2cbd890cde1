"""Forward-backward, Viterbi and MAP decoding against brute-force enumeration of all paths."""

import itertools

import numpy as np
import pytest
from scipy.special import logsumexp

from emkit.kernels import markov_numba, markov_numpy, markov_unrolled
from emkit.latent import markov as lm

KERNELS = ["numba", "numpy"]


def random_hmm(rng, K, lengths, scale=3.0):
    startprob = rng.dirichlet(np.ones(K))
    transmat = rng.dirichlet(np.ones(K), size=K)
    L = rng.randn(sum(lengths), K) * scale
    return startprob, transmat, L, lm.offsets_from_lengths(lengths)


def brute_force(startprob, transmat, L):
    """Log-likelihood, posteriors, expected transitions and best path of one sequence."""
    T, K = L.shape
    paths = np.array(list(itertools.product(range(K), repeat=T)))
    with np.errstate(divide="ignore"):
        log_a, log_pi = np.log(transmat), np.log(startprob)
    joint = log_pi[paths[:, 0]] + L[np.arange(T), paths].sum(axis=1)
    for t in range(1, T):
        joint = joint + log_a[paths[:, t - 1], paths[:, t]]
    ll = logsumexp(joint)
    w = np.exp(joint - ll)
    gamma = np.zeros((T, K))
    xi = np.zeros((K, K))
    for p, wp in zip(paths, w, strict=True):
        gamma[np.arange(T), p] += wp
        for t in range(1, T):
            xi[p[t - 1], p[t]] += wp
    best = paths[np.argmax(joint)]
    return ll, gamma, xi, best, joint.max(), dict(zip(map(tuple, paths), joint, strict=True))


@pytest.mark.parametrize("kernels", KERNELS)
@pytest.mark.parametrize(("K", "lengths"), [(2, [6]), (3, [5, 1, 4]), (3, [2, 6])])
def test_forward_backward_matches_enumeration(kernels, K, lengths):
    rng = np.random.RandomState(K * 10 + len(lengths))
    sp, tm, L, off = random_hmm(rng, K, lengths)
    weights = rng.uniform(0.5, 2.0, size=len(lengths))
    post = lm.forward_backward(L, off, sp, tm, weights, kernels=kernels)
    start = np.zeros(K)
    occ = np.zeros(K)
    trans = np.zeros((K, K))
    for s, w in enumerate(weights):
        a, b = off[s], off[s + 1]
        ll, gamma, xi, *_ = brute_force(sp, tm, L[a:b])
        assert post.log_prob[s] == pytest.approx(ll, rel=0, abs=1e-10)
        np.testing.assert_allclose(post.gamma[a:b], gamma, rtol=0, atol=1e-10)
        start += w * gamma[0]
        occ += w * gamma.sum(axis=0)
        trans += w * xi
    np.testing.assert_allclose(post.start, start, rtol=0, atol=1e-10)
    np.testing.assert_allclose(post.occupancy, occ, rtol=0, atol=1e-10)
    np.testing.assert_allclose(post.trans, trans, rtol=0, atol=1e-10)
    scores = lm.log_likelihood(L, off, sp, tm, kernels=kernels)
    np.testing.assert_allclose(scores, post.log_prob, rtol=0, atol=1e-10)


@pytest.mark.parametrize("kernels", KERNELS)
def test_viterbi_and_map_match_enumeration(kernels):
    rng = np.random.RandomState(7)
    sp, tm, L, off = random_hmm(rng, 3, [6, 4])
    tm[0, 2] = 0.0  # a forbidden transition
    tm /= tm.sum(axis=1, keepdims=True)
    v_lp, v_path = lm.viterbi(L, off, sp, tm, kernels=kernels)
    m_lp, m_path = lm.map_decode(L, off, sp, tm, kernels=kernels)
    for s in range(2):
        a, b = off[s], off[s + 1]
        _, gamma, _, best, best_lp, joint = brute_force(sp, tm, L[a:b])
        np.testing.assert_array_equal(v_path[a:b], best)
        assert v_lp[s] == pytest.approx(best_lp, abs=1e-10)
        np.testing.assert_array_equal(m_path[a:b], gamma.argmax(axis=1))
        assert m_lp[s] == pytest.approx(joint[tuple(m_path[a:b])], abs=1e-10)
        assert m_lp[s] <= v_lp[s] + 1e-12


def test_map_log_prob_is_minus_inf_for_forbidden_path():
    # Frame-wise most probable states 0 then 1, but 0 -> 1 is forbidden.
    sp = np.array([0.5, 0.5])
    tm = np.array([[1.0, 0.0], [0.0, 1.0]])
    L = np.log(np.array([[0.9, 0.1], [0.2, 0.8]]))
    off = lm.offsets_from_lengths([2])
    lp, path = lm.map_decode(L, off, sp, tm)
    post = lm.forward_backward(L, off, sp, tm)
    np.testing.assert_array_equal(path, post.gamma.argmax(axis=1))
    if path[0] != path[1]:
        assert lp[0] == -np.inf
    assert lp[0] <= lm.viterbi(L, off, sp, tm)[0][0]


def test_numba_matches_numpy_reference():
    rng = np.random.RandomState(3)
    sp, tm, L, off = random_hmm(rng, 5, [40, 1, 17, 60])
    w = rng.uniform(0.1, 3.0, size=4)
    a = lm.forward_backward(L, off, sp, tm, w, kernels="numba")
    b = lm.forward_backward(L, off, sp, tm, w, kernels="numpy")
    for name in ("log_prob", "gamma", "start", "occupancy", "trans"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-12, atol=1e-12)
    va, pa = lm.viterbi(L, off, sp, tm, kernels="numba")
    vb, pb = lm.viterbi(L, off, sp, tm, kernels="numpy")
    np.testing.assert_array_equal(pa, pb)
    np.testing.assert_allclose(va, vb, rtol=1e-13)


@pytest.mark.parametrize("kernels", KERNELS)
def test_no_underflow_with_huge_log_likelihood_ranges(kernels):
    # Emission log-likelihoods spread over thousands of nats (high-dimensional emissions):
    # the scaled messages agree with exact log-space recursions.
    rng = np.random.RandomState(11)
    sp, tm, L, off = random_hmm(rng, 4, [200, 50], scale=800.0)
    L -= 5000.0
    post = lm.forward_backward(L, off, sp, tm, kernels=kernels)
    k = lm.get_kernels(kernels)
    g = np.empty_like(L)
    lp, *_ = k.forward_backward_log(L, off, np.log(sp), np.log(tm), np.ones(2), g)
    assert np.all(np.isfinite(post.log_prob))
    np.testing.assert_allclose(post.log_prob, lp, rtol=1e-12)
    # Posteriors do not change when each frame is shifted by a constant; the log-space
    # recursions are accurate on the shifted frames (small magnitudes).
    shift = L.max(axis=1, keepdims=True)
    lp0, _, _, tr = k.forward_backward_log(L - shift, off, np.log(sp), np.log(tm), np.ones(2), g)
    np.testing.assert_allclose(post.log_prob, lp0 + np.add.reduceat(shift[:, 0], off[:-1]))
    np.testing.assert_allclose(post.gamma, g, rtol=0, atol=1e-12)
    np.testing.assert_allclose(post.trans, tr, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kernels", KERNELS)
def test_log_space_fallback_when_scaled_messages_underflow(kernels):
    # Left-right model: the state that explains frame 1 overwhelmingly cannot be reached, so
    # the shifted likelihoods of the reachable states underflow and the sequence is redone
    # in log space.
    sp = np.array([1.0, 0.0, 0.0])
    tm = np.array([[0.5, 0.5, 0.0], [0.0, 0.5, 0.5], [0.0, 0.0, 1.0]])
    L = np.array([[0.0, -1.0, -2.0], [-2000.0, -2100.0, 0.0], [-1.0, 0.0, -1.0]])
    off = lm.offsets_from_lengths([3])
    post = lm.forward_backward(L, off, sp, tm, kernels=kernels)
    ll, gamma, xi, *_ = brute_force(sp, tm, L)
    assert post.log_prob[0] == pytest.approx(ll, abs=1e-9)
    np.testing.assert_allclose(post.gamma, gamma, rtol=0, atol=1e-10)
    np.testing.assert_allclose(post.trans, xi, rtol=0, atol=1e-10)
    assert lm.log_likelihood(L, off, sp, tm, kernels=kernels)[0] == pytest.approx(ll, abs=1e-9)


def test_impossible_sequence_has_minus_inf_log_likelihood():
    sp = np.array([1.0, 0.0])
    tm = np.array([[1.0, 0.0], [0.0, 1.0]])
    L = np.array([[0.0, 0.0], [-np.inf, 0.0]])
    off = lm.offsets_from_lengths([2])
    assert lm.log_likelihood(L, off, sp, tm)[0] == -np.inf
    assert lm.forward_backward(L, off, sp, tm).log_prob[0] == -np.inf


def test_threaded_split_matches_single_thread(monkeypatch):
    rng = np.random.RandomState(5)
    sp, tm, L, off = random_hmm(rng, 4, [300])
    one = lm.forward_backward(L, off, sp, tm)
    monkeypatch.setattr(lm, "MIN_WORK_PER_THREAD", 16)
    monkeypatch.setattr(lm, "n_threads", lambda: 3)
    assert [t[2] for t in lm._message_tasks(off, 4)] == [1, 2]
    split = lm.forward_backward(L, off, sp, tm)
    for name in ("log_prob", "gamma", "start", "occupancy", "trans"):
        np.testing.assert_allclose(getattr(split, name), getattr(one, name), rtol=1e-12, atol=1e-13)
    sp, tm, L, off = random_hmm(rng, 3, [50, 70, 20, 90])
    w = rng.rand(4)
    many = lm.forward_backward(L, off, sp, tm, w)
    monkeypatch.setattr(lm, "n_threads", lambda: 1)
    ref = lm.forward_backward(L, off, sp, tm, w)
    for name in ("log_prob", "gamma", "start", "occupancy", "trans"):
        np.testing.assert_allclose(getattr(many, name), getattr(ref, name), rtol=1e-12, atol=1e-13)


def test_statistics_add_over_sequences():
    rng = np.random.RandomState(2)
    sp, tm, L, off = random_hmm(rng, 3, [30, 20, 25])
    whole = lm.forward_backward(L, off, sp, tm)
    first = lm.forward_backward(L[:50], off[:3], sp, tm)
    rest = lm.forward_backward(L[50:], off[2:] - 50, sp, tm)
    for name in ("start", "occupancy", "trans"):
        np.testing.assert_allclose(
            getattr(first, name) + getattr(rest, name), getattr(whole, name), rtol=1e-12
        )


def test_sample_states_twins_and_frequencies():
    sp = np.array([0.2, 0.8])
    tm = np.array([[0.9, 0.1], [0.3, 0.7]])
    u = np.random.RandomState(0).random_sample(20000)
    cdf_s, cdf_t = lm._cdf(sp), lm._cdf(tm)
    a = markov_numba.sample_states(cdf_s, cdf_t, u, -1)
    b = markov_numpy.sample_states(cdf_s, cdf_t, u, -1)
    np.testing.assert_array_equal(a, b)
    counts = np.zeros((2, 2))
    np.add.at(counts, (a[:-1], a[1:]), 1)
    np.testing.assert_allclose(counts / counts.sum(axis=1, keepdims=True), tm, atol=0.02)
    path = lm.sample_states(sp, tm, 5, np.random.RandomState(1), currstate=1)
    assert path[0] == 1 and path.shape == (5,)


def test_stationary_distribution():
    tm = np.array([[0.9, 0.1], [0.3, 0.7]])
    pi = lm.stationary_distribution(tm)
    np.testing.assert_allclose(pi @ tm, pi, atol=1e-14)
    np.testing.assert_allclose(pi, [0.75, 0.25], atol=1e-14)


@pytest.mark.parametrize("K", [3, 8])
def test_unrolled_kernels_match_generic(K):
    rng = np.random.RandomState(K)
    lengths = [700, 1, 2, 300]
    sp, tm, L, off = random_hmm(rng, K, lengths, scale=40.0)
    tm[0, 1] = 0.0
    tm /= tm.sum(axis=1, keepdims=True)
    frames = lm.Frames.from_log(L)
    n = L.shape[0]
    out = [np.empty((n, K)), np.empty((n, K)), np.empty(n)]
    ref = [np.empty((n, K)), np.empty((n, K)), np.empty(n)]
    got = markov_unrolled.messages(K)(frames.prob, off, sp, tm, *out, 0)
    want = markov_numba.messages(frames.prob, off, sp, tm, *ref, 0)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-13)
    for a, b in zip(out, ref, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-300)
    if K <= markov_unrolled.MAX_POSTERIOR_STATES:
        w = rng.rand(4)
        skip = np.zeros(4, dtype=bool)
        g1, g2 = np.empty((n, K)), np.empty((n, K))
        args = (frames.prob, off, 5, n - 3, w, skip, *ref)
        got = markov_unrolled.posteriors(K)(*args, g1)
        want = markov_numba.posteriors(*args, g2)
        np.testing.assert_allclose(g1[5 : n - 3], g2[5 : n - 3], rtol=1e-13, atol=1e-15)
        for a, b in zip(got, want, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_long_inputs_use_unrolled_kernels(monkeypatch):
    rng = np.random.RandomState(8)
    sp, tm, L, off = random_hmm(rng, 3, [400, 250])
    generic = lm.forward_backward(L, off, sp, tm)
    assert lm._phase_kernels(markov_numba, 650, 3)[0] is markov_numba.messages
    assert lm._smooth_kernel(markov_numba, 650, 3) is None
    monkeypatch.setattr(lm, "UNROLL_MIN_ROWS", 100)
    assert lm._phase_kernels(markov_numba, 650, 3)[0] is markov_unrolled.messages(3)
    assert lm._smooth_kernel(markov_numba, 650, 3) is markov_unrolled.smooth(3)
    unrolled = lm.forward_backward(L, off, sp, tm)
    for name in ("log_prob", "gamma", "start", "occupancy", "trans"):
        np.testing.assert_allclose(
            getattr(unrolled, name), getattr(generic, name), rtol=1e-12, atol=1e-13
        )


def _generic_posteriors(prob, off, sp, tm, w):
    """Posteriors and counts from the generic two-phase kernels (no blocks, no unrolling)."""
    n, K = prob.shape
    alpha, beta, rescale, gamma = np.empty((n, K)), np.empty((n, K)), np.empty(n), np.empty((n, K))
    log_norm, ok = markov_numba.messages(prob, off, sp, tm, alpha, beta, rescale, 0)
    skip = np.zeros(len(w), dtype=bool)
    start, occ, trans, _ = markov_numba.posteriors(
        prob, off, 0, n, w, skip, alpha, beta, rescale, gamma
    )
    return log_norm, ok, start, occ, trans, gamma


@pytest.mark.parametrize("K", [3, 8])
def test_blocked_smooth_matches_generic(K):
    # Sequences shorter than, equal to and several times one block of the message buffer.
    B = markov_unrolled.BLOCK
    lengths = [2 * B + 300, 1, B + 1, B, 700]
    rng = np.random.RandomState(10 + K)
    sp, tm, L, off = random_hmm(rng, K, lengths, scale=40.0)
    tm[0, 1] = 0.0
    tm /= tm.sum(axis=1, keepdims=True)
    prob = lm.Frames.from_log(L).prob
    w = rng.uniform(0.5, 2.0, size=len(lengths))
    want = _generic_posteriors(prob, off, sp, tm, w)
    smooth = markov_unrolled.smooth(K)
    for from_log in (False, True):  # frames given, or made from the log-likelihoods
        gamma = np.empty_like(prob)
        if from_log:
            made, log_scale = np.full_like(prob, np.nan), np.full(prob.shape[0], np.nan)
            got = smooth(L, log_scale, made, off, sp, tm, w, gamma)
            frames = lm.Frames.from_log(L, "numpy")
            np.testing.assert_allclose(made, frames.prob, rtol=1e-14, atol=1e-300)
            np.testing.assert_array_equal(log_scale, frames.log_scale)
        else:
            got = smooth(np.empty((0, K)), np.empty(0), prob, off, sp, tm, w, gamma)
        np.testing.assert_array_equal(got[1], want[1])
        np.testing.assert_allclose(got[0], want[0], rtol=1e-13)
        np.testing.assert_allclose(gamma, want[5], rtol=1e-12, atol=1e-14)
        for a, b in zip(got[2:], want[2:5], strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    # The same likelihoods as rows of a table: per-row posterior mass instead of gamma.
    index = np.arange(prob.shape[0], dtype=np.int64)[::-1].copy()
    table = prob[::-1].copy()
    skip = np.zeros(len(lengths), dtype=bool)
    skip[2] = True
    got = markov_unrolled.table_kernels(K).smooth(table, index, off, sp, tm, w, skip)
    keep = ~skip
    assert not got[1][2] and got[1][keep].all()
    np.testing.assert_allclose(got[0][keep], want[0][keep], rtol=1e-13)
    wk = np.where(keep, w, 0.0)
    ref = _generic_posteriors(prob, off, sp, tm, wk)
    for a, b in zip(got[2:5], ref[2:5], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    row_w = np.repeat(wk, lengths)
    np.testing.assert_allclose(got[5][index], ref[5] * row_w[:, None], rtol=1e-12, atol=1e-14)


def test_table_frames_give_the_posterior_mass_of_each_row(monkeypatch):
    # A left-right model where symbol 1 is all but impossible in the reachable states: the
    # scaled messages of the second sequence underflow and it is redone in log space.
    monkeypatch.setattr(lm, "UNROLL_MIN_ROWS", 10)
    rng = np.random.RandomState(4)
    sp = np.array([1.0, 0.0, 0.0])
    tm = np.array([[0.6, 0.4, 0.0], [0.0, 0.7, 0.3], [0.0, 0.0, 1.0]])
    table = np.array([[0.5, 0.2, 0.1], [1e-300, 1e-300, 0.6], [0.5, 0.8, 0.3]])
    index = rng.randint(0, 3, size=60).astype(np.int64)
    index[index == 1] = 2
    index[[40, 41, 50]] = 1
    lengths = [40, 7, 13]
    off = lm.offsets_from_lengths(lengths)
    w = np.array([1.0, 2.5, 0.5])
    frames = lm.TableFrames(table, index)
    post = lm.forward_backward(frames, off, sp, tm, w, need_gamma=False)
    ref = lm.forward_backward(frames.frames(), off, sp, tm, w)
    assert post.gamma is None
    mass = np.zeros_like(table)
    np.add.at(mass, index, ref.gamma * np.repeat(w, lengths)[:, None])
    np.testing.assert_allclose(post.table_mass, mass, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(post.log_prob, ref.log_prob, rtol=1e-12)
    for name in ("start", "occupancy", "trans"):
        np.testing.assert_allclose(getattr(post, name), getattr(ref, name), rtol=1e-12, atol=1e-14)
    # Brute force on the sequence that needed the log-space pass.
    a, b = off[1], off[2]
    ll, gamma, *_ = brute_force(sp, tm, np.log(table)[index[a:b]])
    assert post.log_prob[1] == pytest.approx(ll, abs=1e-9)
    np.testing.assert_allclose(ref.gamma[a:b], gamma, rtol=0, atol=1e-10)


@pytest.mark.parametrize("K", [2, 8])
def test_one_long_sequence_in_two_threads_matches_one_thread(monkeypatch, K):
    # Forward and backward recursions at once; for a table, each thread then walks back
    # through half of the blocks.
    monkeypatch.setattr(lm, "UNROLL_MIN_ROWS", 100)
    rng = np.random.RandomState(20 + K)
    n = 3 * markov_unrolled.BLOCK + 77
    sp, tm, L, off = random_hmm(rng, K, [n], scale=40.0)
    w = np.array([1.7])
    prob = lm.Frames.from_log(L).prob
    want = _generic_posteriors(prob, off, sp, tm, w)
    monkeypatch.setattr(lm, "n_threads", lambda: 2)
    monkeypatch.setattr(lm, "MIN_WORK_PER_THREAD", 16)
    assert [t[2] for t in lm._message_tasks(off, K)] == [1, 2]
    post = lm.forward_backward(L, off, sp, tm, w)
    np.testing.assert_allclose(post.gamma, want[5], rtol=1e-12, atol=1e-14)
    for got, ref in zip((post.start, post.occupancy), want[2:4], strict=True):
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(post.trans, want[4] * tm, rtol=1e-12, atol=1e-12)
    ll = want[0] + np.add.reduceat(lm.Frames.from_log(L).log_scale, off[:-1])
    np.testing.assert_allclose(post.log_prob, ll, rtol=1e-13)
    # The same likelihoods as rows of a table.
    index = np.arange(n, dtype=np.int64)
    table_post = lm.forward_backward(lm.TableFrames(prob, index), off, sp, tm, w, need_gamma=False)
    np.testing.assert_allclose(table_post.table_mass, w * want[5], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(table_post.trans, post.trans, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(table_post.log_prob, want[0], rtol=1e-13)


@pytest.mark.parametrize("lengths", [None, [700, 1, 1500, 399]])
def test_fits_through_the_fused_kernels_match_hmmlearn(monkeypatch, lengths):
    # Long-input paths on short data: the unrolled kernels, a categorical emission read from
    # its table, one sequence of two blocks of frames split over two threads.
    hl = pytest.importorskip("hmmlearn.hmm")
    from emkit import hmm as ek

    monkeypatch.setattr(lm, "UNROLL_MIN_ROWS", 100)
    monkeypatch.setattr(lm, "MIN_WORK_PER_THREAD", 64)
    monkeypatch.setattr(lm, "n_threads", lambda: 2)
    rng = np.random.RandomState(3)
    K, M, n = 3, 6, 2600
    markov = {
        "startprob_": rng.dirichlet(np.ones(K)),
        "transmat_": rng.dirichlet(np.ones(K) * 3, K),
    }
    kw = {"init_params": "", "n_iter": 8, "tol": -np.inf}
    X = rng.randint(0, M, size=(n, 1))
    emission = rng.dirichlet(np.ones(M), size=K)
    Y = rng.randn(n, 2) + rng.randint(0, 3, size=(n, 1)) * 2.0
    gauss = {"means_": rng.randn(K, 2) * 2, "covars_": np.ones((K, 2))}
    pairs = [
        (ek.CategoricalHMM(K, n_features=M, **kw), hl.CategoricalHMM(K, n_features=M, **kw), X),
        (
            ek.GaussianHMM(K, covariance_type="diag", **kw),
            hl.GaussianHMM(K, covariance_type="diag", implementation="scaling", **kw),
            Y,
        ),
    ]
    for (ours, theirs, data), extra in zip(
        pairs, [{"emissionprob_": emission}, gauss], strict=True
    ):
        for model in (ours, theirs):
            for name, value in {**markov, **extra}.items():
                setattr(model, name, np.array(value, copy=True))
            model.fit(data, lengths)
        np.testing.assert_allclose(ours.monitor_.history, theirs.monitor_.history, rtol=1e-10)
        for name in ("startprob_", "transmat_", *extra):
            np.testing.assert_allclose(
                getattr(ours, name), getattr(theirs, name), rtol=1e-8, atol=1e-10
            )


def test_workspace_reuses_its_buffers_small_and_large():
    ws = lm.Workspace()
    for name, shape in (("small", (10, 3)), ("large", (lm.Workspace.MAP_BYTES // 8 + 5, 2))):
        a = ws.get(name, shape)
        assert a.shape == shape and a.dtype == np.float64 and a.flags.c_contiguous
        a[...] = 1.5
        b = ws.get(name, (shape[0] - 1, shape[1]))  # a smaller request reuses the buffer
        assert np.shares_memory(a, b) and np.all(b == 1.5)
        c = ws.get(name, (shape[0] + 1, shape[1]))  # a larger one replaces it
        assert c.shape == (shape[0] + 1, shape[1]) and not np.shares_memory(a, c)
        c[-1] = 2.0


def test_weighted_fit_through_the_table_equals_repeated_sequences(monkeypatch):
    from emkit import hmm as ek

    monkeypatch.setattr(lm, "UNROLL_MIN_ROWS", 100)
    rng = np.random.RandomState(6)
    K, M = 3, 5
    lengths = [300, 1, 250]
    X = rng.randint(0, M, size=(sum(lengths), 1))
    start = {
        "startprob_": rng.dirichlet(np.ones(K)),
        "transmat_": rng.dirichlet(np.ones(K) * 3, K),
        "emissionprob_": rng.dirichlet(np.ones(M), size=K),
    }
    fits = []
    for data, lens, weights in (
        (X, lengths, [3.0, 1.0, 1.0]),
        (np.vstack([X[:300]] * 3 + [X[300:]]), [300, 300, 300, 1, 250], None),
    ):
        model = ek.CategoricalHMM(K, n_features=M, init_params="", n_iter=5, tol=-np.inf)
        for name, value in start.items():
            setattr(model, name, value.copy())
        fits.append(model.fit(data, lens, sample_weight=weights))
    np.testing.assert_allclose(fits[0].monitor_.history, fits[1].monitor_.history, rtol=1e-11)
    for name in start:
        np.testing.assert_allclose(getattr(fits[0], name), getattr(fits[1], name), rtol=1e-10)


def test_borrowed_workspace_is_kept_for_the_next_fit_unless_large():
    with lm.Workspace.borrowed() as first:
        first.get("prob", (10, 3))
    with lm.Workspace.borrowed() as again:
        assert again is first
        with lm.Workspace.borrowed() as other:  # borrowed meanwhile: a different one
            assert other is not first
            other.get("prob", (lm.Workspace.KEEP_BYTES // 8 + 1,))
    with lm.Workspace.borrowed() as after:  # the large one was not kept
        assert after is first


def test_successive_fits_sharing_a_workspace_give_identical_models(monkeypatch):
    from emkit.hmm import GaussianHMM

    monkeypatch.setattr(lm, "UNROLL_MIN_ROWS", 50)
    rng = np.random.RandomState(0)
    X = np.concatenate([rng.randn(120, 2), rng.randn(80, 2) + 3])
    fits = []
    for n in (200, 150, 200):  # a smaller fit in between leaves other values in the buffers
        model = GaussianHMM(2, n_iter=5, random_state=0).fit(X[:n])
        fits.append((model.means_, model.covars_, model.transmat_, model.score(X[:n])))
    for got, want in zip(fits[2], fits[0], strict=True):
        np.testing.assert_array_equal(got, want)


def test_exp_rows_twins_scale_each_frame_by_its_maximum():
    rng = np.random.RandomState(3)
    L = rng.normal(scale=300.0, size=(40, 5))
    L[3] = -np.inf  # impossible under every state: scale 0, likelihoods 0
    L[4, :2] = -np.inf
    for k in (markov_numba, markov_numpy):
        prob, log_scale = np.full_like(L, np.nan), np.full(40, np.nan)
        k.exp_rows(L, prob, log_scale, 2, 30)  # only the rows asked for are written
        assert np.isnan(prob[:2]).all() and np.isnan(log_scale[30:]).all()
        want = np.where(np.isfinite(L.max(axis=1)), L.max(axis=1), 0.0)
        np.testing.assert_array_equal(log_scale[2:30], want[2:30])
        np.testing.assert_allclose(
            prob[2:30], np.exp(L[2:30] - want[2:30, None]), rtol=1e-14, atol=1e-300
        )
        assert prob[3].max() == 0.0 and (prob[2:30].max(axis=1)[[0, 2, 3]] == 1.0).all()
