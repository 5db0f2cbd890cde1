"""Model files for hidden Markov models: codecs for :mod:`emkit.io`.

Importing this module registers one :class:`~emkit.io.ModelCodec` per HMM kind, so
:func:`emkit.io.save` and :func:`emkit.io.load` handle them like any model: arrays plus JSON
metadata with a format version, no pickle, atomic writes, and
:class:`~emkit.exceptions.ModelFileError` for anything corrupt or foreign. ``save_hmm`` and
``load_hmm`` are those two functions (with the registration guaranteed).

Stored: the constructor parameters, the fitted arrays (``covars_`` of a GaussianHMM in the
layout of its ``covariance_type``), ``n_features`` and the convergence monitor's history.
"""

from __future__ import annotations

import numpy as np

from emkit import io
from emkit.families.covariance import STRATEGIES
from emkit.hmm import GMMHMM, CategoricalHMM, ConvergenceMonitor, GaussianHMM, PoissonHMM
from emkit.models.hmm_gmm import gmm_covariance_shape

__all__ = ["HMMCodec", "load_hmm", "save_hmm"]


class HMMCodec(io.ModelCodec):
    """Codec of one HMM estimator class.

    Parameters
    ----------
    model_class : type
        One of GaussianHMM, GMMHMM, CategoricalHMM, PoissonHMM.
    """

    def __init__(self, model_class):
        self.model_class = model_class
        self.kind = model_class.__name__

    def _arrays(self):
        """Attributes holding the fitted arrays (a GaussianHMM's compact ``_covars_``)."""
        if self.model_class is GaussianHMM:
            return ["startprob_", "transmat_", "means_", "_covars_"]
        return ["startprob_", "transmat_", *self.model_class._emission_attributes]

    def encode(self, model):
        """Constructor parameters, ``n_features``/monitor attributes and the fitted arrays."""
        model._check_fitted()
        params = {k: io.encode_value(v) for k, v in model.get_params(deep=False).items()}
        attributes = {}
        for name in ("n_features", "n_features_in_"):
            value = vars(model).get(name)
            if value is not None and name not in params:
                attributes[name] = int(value)
        monitor = getattr(model, "monitor_", None)
        if monitor is not None:
            attributes["monitor_tol"] = io.encode_value(float(monitor.tol))
            attributes["monitor_n_iter"] = int(monitor.n_iter)
            attributes["monitor_history"] = [io.encode_value(float(x)) for x in monitor.history]
            attributes["monitor_iter"] = int(monitor.iter)
        arrays = {
            n.lstrip("_"): np.asarray(getattr(model, n), dtype=np.float64) for n in self._arrays()
        }
        return params, attributes, arrays

    def array_shapes(self, params, attributes):
        """Shapes implied by ``n_components``, ``n_features`` (and ``n_mix``, covariance type)."""
        K = io._check_type(params.get("n_components"), (int,), "params.n_components")
        d = attributes.get("n_features", params.get("n_features"))
        d = io._check_type(d, (int,), "n_features")
        if K < 1 or d < 1:
            raise ValueError("n_components and n_features must be >= 1")
        shapes = {"startprob_": (K,), "transmat_": (K, K)}
        ct = params.get("covariance_type")
        if self.model_class in (GaussianHMM, GMMHMM) and ct not in STRATEGIES:
            raise ValueError(f"params.covariance_type must be one of {sorted(STRATEGIES)}")
        if self.model_class is GaussianHMM:
            shapes.update(means_=(K, d), covars_=STRATEGIES[ct].shape(K, d))
        elif self.model_class is GMMHMM:
            M = io._check_type(params.get("n_mix"), (int,), "params.n_mix")
            cov = gmm_covariance_shape(ct, K, M, d)
            shapes.update(weights_=(K, M), means_=(K, M, d), covars_=cov)
        elif self.model_class is CategoricalHMM:
            shapes["emissionprob_"] = (K, d)
        else:
            shapes["lambdas_"] = (K, d)
        return shapes

    def decode(self, params, attributes, arrays):
        """A fitted HMM; its parameters are validated like hand-set ones."""
        try:
            model = self.model_class(**params)
        except TypeError as err:
            raise ValueError(f"unknown {self.kind} parameters ({err})") from None
        for name in ("n_features", "n_features_in_"):
            if name in attributes:
                setattr(model, name, io._check_type(attributes[name], (int,), name))
        for name, arr in arrays.items():
            setattr(model, name, arr)
        if "monitor_history" in attributes:
            history = attributes["monitor_history"]
            if not isinstance(history, list):
                raise TypeError("monitor_history must be a list of numbers")
            monitor = ConvergenceMonitor(
                float(attributes["monitor_tol"]), int(attributes["monitor_n_iter"]), False
            )
            monitor.history.extend(float(x) for x in history)
            monitor.iter = io._check_type(attributes["monitor_iter"], (int,), "monitor_iter")
            model.monitor_ = monitor
        model._check_hyperparams()
        model._params()
        return model


CODECS = {
    cls.__name__: io.register_codec(HMMCodec(cls))
    for cls in (GaussianHMM, GMMHMM, CategoricalHMM, PoissonHMM)
}


#: :func:`emkit.io.save` and :func:`emkit.io.load`, which know the HMM kinds registered here.
save_hmm = io.save
load_hmm = io.load
