"""BernoulliMixture: mixtures of independent binary features (latent classes of 0/1 items)."""

from __future__ import annotations

import numpy as np

from emkit import _validation as v
from emkit.exceptions import ValidationError
from emkit.families.bernoulli import BernoulliFamily, BernoulliParams
from emkit.models.mixture_base import BaseMixture, check_state_array, common_arguments


class BernoulliMixture(BaseMixture):
    """Mixture of products of independent Bernoulli distributions, fitted by EM.

    For binary data (presence/absence, yes/no answers, binarised images): each component has
    one probability of a 1 per feature. ``X`` holds 0/1 values (or booleans).

    Parameters
    ----------
    n_components, tol, max_iter, n_init, init_params, weights_init, random_state, \
    warm_start, verbose, verbose_interval, chunk_size, learning_decay, learning_offset
        As in :class:`~emkit.GaussianMixture`.
    probabilities_init : array-like of shape (n_components, n_features), default=None
        Initial probabilities of a 1, in [0, 1].

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
    probabilities_ : ndarray of shape (n_components, n_features)
        ``P(x_f = 1 | component k)``; a boundary solution (0 or 1) is kept as estimated.
    converged_, n_iter_, lower_bound_, lower_bounds_, n_features_in_
        As in :class:`GaussianMixture`.
    """

    def __init__(
        self,
        n_components=1,
        *,
        tol=1e-3,
        max_iter=100,
        n_init=1,
        init_params="kmeans",
        weights_init=None,
        probabilities_init=None,
        random_state=None,
        warm_start=False,
        verbose=0,
        verbose_interval=10,
        chunk_size=None,
        learning_decay=0.6,
        learning_offset=2.0,
    ):
        super().__init__(**common_arguments(locals()))
        self.probabilities_init = probabilities_init

    def _make_family(self):
        return BernoulliFamily()

    def _check_inits(self, d):
        p = None
        if self.probabilities_init is not None:
            shape = (self.n_components, d)
            p = v.check_array_param(self.probabilities_init, "probabilities_init", shape)
            if np.any(p < 0) or np.any(p > 1):
                raise ValidationError("probabilities_init must lie in [0, 1]")
        return self._check_weights_init(), p

    def _init_components(self, given, assigned):
        return assigned if given is None else BernoulliParams(given)

    def _set_components(self, c, dtype):
        self.probabilities_ = c.probabilities.astype(np.float64)

    def _get_components(self):
        return BernoulliParams(np.asarray(self.probabilities_, dtype=np.float64))

    def _check_component_state(self, K, d):
        check_state_array(vars(self), "probabilities_", (K, d), low=0.0, high=1.0)
