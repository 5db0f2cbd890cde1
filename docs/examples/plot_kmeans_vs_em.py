"""
k-means against EM on anisotropic clusters
==========================================

k-means assigns every point to its nearest centre, so it cuts space into convex cells of
equal "size": stretched, tilted or unequally spread clusters are split wrongly. A Gaussian
mixture fitted by EM learns each cluster's covariance and gives every point a probability of
belonging to each component (soft clustering).
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score

from emkit import GaussianMixture
from emkit.plot import plot_classification, plot_uncertainty

rng = np.random.default_rng(3)
stretch = np.array([[0.6, -0.64], [-0.41, 0.85]])
X = np.vstack(
    [
        rng.normal(size=(250, 2)) @ stretch * 2.0,
        rng.normal(size=(250, 2)) @ stretch * 2.0 + [3.5, 0.0],
        rng.normal(size=(250, 2)) @ stretch * 2.0 + [7.0, 0.0],
    ]
)
truth = np.repeat([0, 1, 2], 250)

kmeans = KMeans(3, n_init=10, random_state=0).fit(X)
gm = GaussianMixture(3, covariance_type="full", n_init=5, random_state=0).fit(X)
print(f"k-means: adjusted Rand index {adjusted_rand_score(truth, kmeans.labels_):.3f}")
print(f"EM:      adjusted Rand index {adjusted_rand_score(truth, gm.predict(X)):.3f}")

# %%
# Left: k-means' partition. Right: the mixture's components with their 1, 2 and 3 sigma
# ellipses.
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)
for k in range(3):
    left.scatter(*X[kmeans.labels_ == k].T, s=4, label=f"cluster {k}")
left.scatter(*kmeans.cluster_centers_.T, marker="X", s=80, color="black")
left.set_title("k-means")
plot_classification(gm, X, ax=right)
right.set_title("Gaussian mixture (EM)")
fig.tight_layout()

# %%
# Points between components get probabilities near 1/2: the bigger the point, the less
# certain its component.
plot_uncertainty(gm, X)
print(gm.summary(X))
