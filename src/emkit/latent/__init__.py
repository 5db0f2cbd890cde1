"""Latent structure: mixtures and Markov chains. Sees only log-likelihood arrays."""
