"""
Sample weights
==============

``fit(X, sample_weight=w)`` gives row ``i`` the weight ``w[i]``: integer weights fit the same
model as repeated rows, a zero weight the same as the row removed. Here survey-like data where
one group was under-sampled: weighting its rows restores the population's mixing weights.
"""

import matplotlib.pyplot as plt
import numpy as np

from emkit import GaussianMixture
from emkit.plot import plot_weights

rng = np.random.default_rng(0)
common = rng.normal([0.0, 0.0], 1.0, (400, 2))
rare = rng.normal([4.0, 4.0], 0.8, (100, 2))  # 50% of the population, 20% of the sample
X = np.vstack([common, rare])
weights = np.concatenate([np.ones(400), np.full(100, 4.0)])

unweighted = GaussianMixture(2, random_state=0).fit(X)
weighted = GaussianMixture(2, random_state=0).fit(X, sample_weight=weights)
repeated = GaussianMixture(2, random_state=0).fit(np.vstack([common, np.repeat(rare, 4, axis=0)]))
print("unweighted:", np.sort(unweighted.weights_).round(3))
print("weighted:  ", np.sort(weighted.weights_).round(3))
print("repeated:  ", np.sort(repeated.weights_).round(3))

fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5), sharey=True)
plot_weights(unweighted, ax=left)
left.set_title("without weights")
plot_weights(weighted, ax=right)
right.set_title("with sample_weight")
fig.tight_layout()
