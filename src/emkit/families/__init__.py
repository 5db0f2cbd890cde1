"""Component and emission families: densities, sufficient statistics, M-steps.

A family knows nothing of EM loops or latent structure: it maps parameters and rows to
log-likelihoods, rows and posterior weights to additive statistics, and statistics to new
parameters.
"""
