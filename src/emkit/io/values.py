"""JSON encoding of the values a model file stores in its metadata (never pickle).

Parameters and non-array fitted attributes are stored as JSON. Plain values map to themselves;
the rest are tagged objects with one rule per *type* (not per estimator): non-finite floats,
NumPy scalars and arrays, ``numpy.random.RandomState`` (its full state) and the HMMs'
:class:`~emkit.engine.markov.ConvergenceMonitor` (its settings and history).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from emkit.engine.markov import ConvergenceMonitor

__all__ = ["decode_value", "encode_value"]


def encode_value(value):
    """Turn a parameter or attribute value into JSON-compatible data (see :func:`decode_value`).

    Handles None, bool, int, str, float (non-finite values tagged), lists and tuples, NumPy
    scalars and arrays (tagged ``__ndarray__``), ``numpy.random.RandomState`` (tagged
    ``__random_state__``), ``ConvergenceMonitor`` (tagged ``__convergence_monitor__``) and
    dicts with string keys (tagged ``__dict__``).

    Raises
    ------
    TypeError
        For any other type.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, (list, tuple)):
        return [encode_value(v) for v in value]
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        return {"__ndarray__": encode_value(value.tolist()), "dtype": value.dtype.str}
    if isinstance(value, np.ndarray) and all(isinstance(v, str) for v in value.flat):
        return {"__ndarray__": value.tolist(), "dtype": "object"}
    if isinstance(value, np.random.RandomState):
        name, keys, pos, has_gauss, cached = value.get_state()
        return {"__random_state__": [name, keys.tolist(), int(pos), int(has_gauss), float(cached)]}
    if isinstance(value, ConvergenceMonitor):
        return {"__convergence_monitor__": _encode_monitor(value)}
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"__dict__": {k: encode_value(v) for k, v in value.items()}}
    raise TypeError(f"cannot store a value of type {type(value).__name__} in a model file")


def decode_value(data):
    """Inverse of :func:`encode_value`; raises ValueError/TypeError on malformed data."""
    if isinstance(data, list):
        return [decode_value(v) for v in data]
    if not isinstance(data, dict):
        return data
    if set(data) == {"__float__"}:
        text = data["__float__"]
        if text not in ("inf", "-inf", "nan"):
            raise ValueError(f"bad tagged float {text!r}")
        return float(text)
    if set(data) == {"__ndarray__", "dtype"}:
        values = decode_value(data["__ndarray__"])
        if data["dtype"] == "object":  # an array of strings, such as feature names
            arr = np.array(values, dtype=object)
            if not all(isinstance(v, str) for v in arr.flat):
                raise ValueError("an object array holds something other than strings")
            return arr
        dtype = np.dtype(data["dtype"])
        if dtype.kind not in "biuf":
            raise ValueError(f"array dtype {dtype} is not numeric")
        return np.array(values, dtype=dtype)
    if set(data) == {"__random_state__"}:
        name, keys, pos, has_gauss, cached = data["__random_state__"]
        rng = np.random.RandomState()
        rng.set_state((name, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
        return rng
    if set(data) == {"__convergence_monitor__"}:
        return decode_monitor(data["__convergence_monitor__"])
    if set(data) == {"__dict__"} and isinstance(data["__dict__"], dict):
        return {str(k): decode_value(v) for k, v in data["__dict__"].items()}
    raise ValueError(f"unknown tagged value with keys {sorted(data)}")


def _encode_monitor(monitor):
    return {
        "tol": encode_value(float(monitor.tol)),
        "n_iter": int(monitor.n_iter),
        "verbose": bool(monitor.verbose),
        "history": [encode_value(float(x)) for x in monitor.history],
        "iter": int(monitor.iter),
    }


def decode_monitor(data):
    """A ConvergenceMonitor from its encoded settings and history (a dict).

    Keys ``tol``, ``n_iter``, ``history``, ``iter`` and optionally ``verbose``; raises
    ValueError/TypeError naming the first bad one.
    """
    if not isinstance(data, dict):
        raise TypeError("monitor_ must be a dictionary of its settings and history")
    tol = decode_value(data.get("tol"))
    history = decode_value(data.get("history"))
    n_iter, iteration = data.get("n_iter"), data.get("iter")
    verbose = data.get("verbose", False)
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real):
        raise TypeError(f"monitor_ tol must be a number, got {tol!r}")
    for name, value in (("n_iter", n_iter), ("iter", iteration)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise TypeError(f"monitor_ {name} must be an integer >= 0, got {value!r}")
    if not isinstance(verbose, bool):
        raise TypeError(f"monitor_ verbose must be true or false, got {verbose!r}")
    if not isinstance(history, list) or not all(
        isinstance(x, numbers.Real) and not isinstance(x, bool) for x in history
    ):
        raise TypeError("monitor_ history must be a list of numbers")
    monitor = ConvergenceMonitor(float(tol), n_iter, verbose)
    monitor.history.extend(float(x) for x in history)
    monitor.iter = iteration
    return monitor
