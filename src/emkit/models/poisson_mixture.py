"""PoissonMixture: mixtures of independent Poisson counts (one rate per component and feature)."""

from __future__ import annotations

import numpy as np

from emkit import _validation as v
from emkit.exceptions import ValidationError
from emkit.families.poisson import PoissonFamily, PoissonParams
from emkit.models.mixture_base import BaseMixture, check_state_array, common_arguments


class PoissonMixture(BaseMixture):
    """Mixture of products of independent Poisson distributions, fitted by EM.

    For count data (events per interval, reads per gene, visits per user): each component
    has one rate per feature. ``X`` holds non-negative whole numbers.

    Parameters
    ----------
    n_components, tol, max_iter, n_init, init_params, weights_init, random_state, \
    warm_start, verbose, verbose_interval, chunk_size, learning_decay, learning_offset
        As in :class:`~emkit.GaussianMixture`.
    rates_init : array-like of shape (n_components, n_features), default=None
        Initial rates (non-negative).

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
    rates_ : ndarray of shape (n_components, n_features)
        Mean count of each feature in each component.
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
        rates_init=None,
        random_state=None,
        warm_start=False,
        verbose=0,
        verbose_interval=10,
        chunk_size=None,
        learning_decay=0.6,
        learning_offset=2.0,
    ):
        super().__init__(**common_arguments(locals()))
        self.rates_init = rates_init

    def _make_family(self):
        return PoissonFamily()

    def _check_inits(self, d):
        rates = None
        if self.rates_init is not None:
            rates = v.check_array_param(self.rates_init, "rates_init", (self.n_components, d))
            if np.any(rates < 0):
                raise ValidationError("rates_init must be non-negative (mean counts)")
        return self._check_weights_init(), rates

    def _init_components(self, given, assigned):
        return assigned if given is None else PoissonParams(given)

    def _set_components(self, c, dtype):
        self.rates_ = c.lambdas.astype(np.float64)

    def _get_components(self):
        return PoissonParams(np.asarray(self.rates_, dtype=np.float64))

    def _check_component_state(self, K, d):
        check_state_array(vars(self), "rates_", (K, d), low=0.0)
