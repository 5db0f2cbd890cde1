"""
Regime detection with a hidden Markov model
===========================================

A series that switches between calm, normal and turbulent regimes: a Gaussian HMM learns the
regimes' levels and the switching probabilities, and Viterbi decoding labels every time step.
"""

import numpy as np

from emkit.hmm import GaussianHMM
from emkit.plot import plot_durations, plot_states, plot_transitions

truth = GaussianHMM(3, covariance_type="diag", random_state=0)
truth.startprob_ = np.array([0.5, 0.3, 0.2])
truth.transmat_ = np.array([[0.97, 0.02, 0.01], [0.03, 0.94, 0.03], [0.02, 0.06, 0.92]])
truth.means_ = np.array([[0.0], [3.0], [7.0]])
truth.covars_ = np.array([[0.3], [1.0], [2.5]])
X, states = truth.sample(800, random_state=1)

model = GaussianHMM(3, covariance_type="diag", n_iter=100, random_state=3).fit(X)
print(model.summary(X))

# %%
# The series coloured by the decoded regime, and below it the posterior probability of each.
plot_states(model, X)

# %%
plot_transitions(model)

# %%
# Runs of each regime: an HMM's durations are geometric (dashed), with mean
# ``1 / (1 - a_kk)``.
plot_durations(model, X)
