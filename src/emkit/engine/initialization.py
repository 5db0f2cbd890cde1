"""Initial mixture parameters from a hard or soft first assignment of the rows.

The four methods draw from the random state exactly as scikit-learn's ``GaussianMixture`` does,
so that the same ``random_state`` starts both libraries from the same assignment. The
assignment is turned into parameters by two passes of blocked statistics (means first, then the
scatter centred on them), never by an n x K matrix held at once.
"""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans, kmeans_plusplus

from emkit.latent import mixture as latent

INIT_METHODS = ("kmeans", "k-means++", "random", "random_from_data")


def _hard(labels_of_block, K):
    def resp(start, stop):
        labels = labels_of_block(start, stop)
        out = np.zeros((stop - start, K))
        hit = labels >= 0
        out[np.flatnonzero(hit), labels[hit]] = 1.0
        return out

    return resp


def assignment(method, X, sample_weight, K, random_state):
    """Return ``resp(start, stop)`` giving the initial responsibilities of rows start:stop.

    Parameters
    ----------
    method : {'kmeans', 'k-means++', 'random', 'random_from_data'}
    X : ndarray of shape (n, d)
    sample_weight : ndarray of shape (n,) or None
    K : int
    random_state : numpy.random.RandomState
        Advanced exactly as scikit-learn advances it.
    """
    n = X.shape[0]
    if method == "kmeans":
        km = KMeans(n_clusters=K, n_init=1, random_state=random_state)
        labels = km.fit(X, sample_weight=sample_weight).labels_
        return _hard(lambda a, b: labels[a:b], K)
    if method in ("k-means++", "random_from_data"):
        if method == "k-means++":
            _, idx = kmeans_plusplus(X, K, random_state=random_state, sample_weight=sample_weight)
        else:
            # Rows of zero weight are absent from the data: never start a component there.
            rows = np.arange(n) if sample_weight is None else np.flatnonzero(sample_weight > 0)
            idx = rows[random_state.choice(rows.size, size=K, replace=False)]
        labels = np.full(n, -1, dtype=np.intp)
        labels[idx] = np.arange(K)
        return _hard(lambda a, b: labels[a:b], K)
    if method == "random":
        # Replay the same stream for every pass; leave random_state where one draw of an
        # (n, K) matrix would have left it.
        state = random_state.get_state()
        random_state.uniform(size=(n, K))

        replay = {"rs": None, "next": 0}

        def resp(start, stop):
            # Blocks are visited in order in every pass: restart the stream at row 0.
            if start == 0 or replay["rs"] is None or replay["next"] != start:
                rs = np.random.RandomState()
                rs.set_state(state)
                rs.random_sample(size=start * K)
                replay["rs"] = rs
            u = replay["rs"].uniform(size=(stop - start, K))
            replay["next"] = stop
            return u / u.sum(axis=1, keepdims=True)

        return resp
    raise ValueError(f"init_params must be one of {INIT_METHODS}, got {method!r}")


def params_from_assignment(family, source, resp_of, K):
    """Mixture weights and component parameters from an initial assignment.

    The family sums its statistics over the blocks of ``source`` under the assignment (one
    pass, or two for centred moments) and maximises them.
    """

    def weighted_blocks():
        start = 0
        for block in source.blocks():
            stop = start + block.X.shape[0]
            r = resp_of(start, stop)
            if block.weights is not None:
                r = r * block.weights[:, None]
            yield block.X, r
            start = stop

    comps, stats = family.initial_params(weighted_blocks, K)
    return latent.weights_from_counts(stats.counts), comps
