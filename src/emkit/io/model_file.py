"""The model-file codec, driven by the estimator contract (one codec for every estimator).

A model file is a zip archive in the layout of ``numpy.savez``: one ``metadata.json`` member
and one ``.npy`` member per numeric array::

    {"format": "emkit-model", "format_version": 2, "emkit_version": "0.1.0",
     "kind": "GaussianMixture", "params": {...}, "attributes": {...},
     "arrays": {"means_": {"shape": [3, 4], "dtype": "<f8"}, ...}, "extra": {}}

What is stored is what the estimator contract names: ``params`` is ``get_params(deep=False)``
and the fitted state is every public fitted attribute (a name matching ``[a-z][a-z0-9_]*_`` in
``vars(model)``) plus the private attributes the class lists in ``_saved_private``; numeric
arrays become ``.npy`` members, everything else JSON (:mod:`emkit.io.values`). Loading maps
``kind`` to a class through the allow-list :data:`emkit.models.registry.ESTIMATORS`, builds
``cls(**params)``, sets the attributes and calls ``model._check_fitted_state()``, whose
ValueError/TypeError becomes :class:`~emkit.exceptions.ModelFileError`.

Arrays are read with ``allow_pickle=False`` after their ``.npy`` headers are checked against
the shape and dtype the metadata records, and every member is CRC-checked by the zip reader.
Format version 1 (emkit 0.1 HMM files stored ``covars_`` and the monitor's fields under other
names) is still read.
"""

from __future__ import annotations

import json
import os
import re
import zipfile
import zlib

import numpy as np

from emkit._version import __version__
from emkit.exceptions import ModelFileError, NotFittedError
from emkit.io.files import open_output
from emkit.io.values import decode_monitor, decode_value, encode_value
from emkit.models.registry import ESTIMATORS

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "load", "read_metadata", "save"]

FORMAT_NAME = "emkit-model"
FORMAT_VERSION = 2
METADATA_MEMBER = "metadata.json"
_MAX_METADATA_BYTES = 16 << 20
_ATTRIBUTE_NAME = re.compile(r"[a-z][a-z0-9_]*_")
# What a damaged or foreign archive raises while being read: bad CRC or truncated member
# (BadZipFile, EOFError, zlib.error), unsupported compression or encryption
# (NotImplementedError, RuntimeError), malformed JSON or .npy headers (ValueError), ...
_READ_ERRORS = (
    zipfile.BadZipFile,
    EOFError,
    zlib.error,
    NotImplementedError,
    RuntimeError,
    OSError,
    ValueError,
    TypeError,
    KeyError,
)


# ---------------------------------------------------------------------------- the contract
def _saved_names(cls):
    """Private attribute names ``cls`` asks to be saved (its ``_saved_private``)."""
    return tuple(getattr(cls, "_saved_private", ()))


def _is_state_name(cls, name):
    return bool(_ATTRIBUTE_NAME.fullmatch(name)) or name in _saved_names(cls)


def _kind(model):
    cls = type(model)
    if ESTIMATORS.get(cls.__name__) is not cls:
        raise TypeError(
            f"cannot save a {cls.__name__} ({cls.__module__}); emkit model files hold these "
            f"kinds: {', '.join(sorted(ESTIMATORS))}"
        )
    return cls.__name__


def _fitted_state(model):
    """Split the fitted state into JSON-compatible attributes and numeric arrays."""
    state = {n: v for n, v in vars(model).items() if _is_state_name(type(model), n)}
    if not any(_ATTRIBUTE_NAME.fullmatch(n) for n in state):
        raise NotFittedError(
            f"This {type(model).__name__} instance is not fitted yet; call fit before saving it."
        )
    attributes, arrays = {}, {}
    for name, value in state.items():
        if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
            arrays[name] = value
        else:
            attributes[name] = encode_value(value)
    return attributes, arrays


# ---------------------------------------------------------------------------- save
def save(model, path, *, extra=None):
    """Write a fitted model to ``path`` (the exact path, no suffix is added).

    A regular file (or a new path) is replaced atomically, only once the new file is complete;
    ``"-"``, a FIFO or a device such as ``/dev/stdout`` receives the file as a stream.

    Parameters
    ----------
    model : estimator
        A fitted model of a kind listed in :data:`emkit.models.registry.ESTIMATORS`
        (GaussianMixture, GaussianHMM, GMMHMM, CategoricalHMM, PoissonHMM).
    path : str or os.PathLike
        Destination.
    extra : dict, optional
        JSON-compatible user data stored with the model (see :func:`read_metadata`).

    Raises
    ------
    TypeError
        If the model kind cannot be saved or ``extra`` is not JSON-compatible.
    NotFittedError
        If the model is not fitted.
    """
    kind = _kind(model)
    params = {k: encode_value(v) for k, v in model.get_params(deep=False).items()}
    attributes, arrays = _fitted_state(model)
    if extra is not None and not isinstance(extra, dict):
        raise TypeError(f"extra must be a dict or None, got {type(extra).__name__}")
    meta = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "emkit_version": __version__,
        "kind": kind,
        "params": params,
        "attributes": attributes,
        "arrays": {n: {"shape": list(a.shape), "dtype": a.dtype.str} for n, a in arrays.items()},
        "extra": extra or {},
    }
    try:
        text = json.dumps(meta, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise TypeError(f"extra must hold JSON-compatible finite values only ({err})") from None
    with open_output(path) as f, zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(METADATA_MEMBER, text)
        for name, arr in arrays.items():
            with zf.open(name + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.ascontiguousarray(arr), allow_pickle=False)


# ---------------------------------------------------------------------------- load
def _open_zip(path):
    try:
        return zipfile.ZipFile(path)
    except FileNotFoundError:
        raise ModelFileError(f"model file {path} does not exist") from None
    except IsADirectoryError:
        raise ModelFileError(f"model file {path} is a directory, not a file") from None
    except zipfile.BadZipFile:
        raise ModelFileError(
            f"{path} is not an emkit model file (not a zip archive, or truncated)"
        ) from None
    except OSError as err:
        raise ModelFileError(f"cannot read model file {path}: {err.strerror or err}") from None


def _check_header(meta, path):
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise ModelFileError(f"{path} is not an emkit model file (no '{FORMAT_NAME}' marker)")
    version = meta.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ModelFileError(f"{path} has an invalid format version {version!r}")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path} has format version {version}, newer than this emkit reads "
            f"(up to {FORMAT_VERSION}); upgrade emkit to load it"
        )
    kind = meta.get("kind")
    if not isinstance(kind, str) or kind not in ESTIMATORS:
        raise ModelFileError(
            f"{path} holds a model of unknown kind {kind!r}; this emkit reads: "
            f"{', '.join(sorted(ESTIMATORS))}"
        )
    for key in ("params", "attributes", "arrays", "extra"):
        if not isinstance(meta.get(key), dict):
            raise ModelFileError(f"{path} is corrupt: metadata field '{key}' is missing")


def _read_metadata(zf, path):
    try:
        info = zf.getinfo(METADATA_MEMBER)
    except KeyError:
        raise ModelFileError(
            f"{path} is not an emkit model file (it has no {METADATA_MEMBER})"
        ) from None
    if info.file_size > _MAX_METADATA_BYTES:
        raise ModelFileError(f"{path} is corrupt: {METADATA_MEMBER} is too large")
    meta = json.loads(zf.read(info).decode("utf-8"))
    _check_header(meta, path)
    return meta


def _array_spec(name, spec):
    """Shape and dtype the metadata records for array ``name``."""
    if not isinstance(spec, dict) or not isinstance(spec.get("shape"), list):
        raise ValueError(f"the metadata of array {name} has no shape")
    shape = spec["shape"]
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape):
        raise ValueError(f"array {name} has an invalid shape {shape!r} in the metadata")
    dtype = np.dtype(spec.get("dtype"))
    if dtype.kind not in "biuf":
        raise ValueError(f"array {name} has dtype {dtype} in the metadata; expected numbers")
    return tuple(shape), dtype


def _read_array(zf, member, name, spec):
    shape, dtype = _array_spec(name, spec)
    with zf.open(member) as fp:
        version = np.lib.format.read_magic(fp)
        if version == (1, 0):
            header = np.lib.format.read_array_header_1_0(fp)
        elif version == (2, 0):
            header = np.lib.format.read_array_header_2_0(fp)
        else:
            raise ValueError(f"array {name} has unsupported .npy version {version}")
    found_shape, _, found_dtype = header
    if found_dtype != dtype:
        raise ValueError(f"array {name} has dtype {found_dtype}; expected {dtype}")
    if tuple(found_shape) != shape:
        raise ValueError(f"array {name} has shape {found_shape}; expected {shape}")
    with zf.open(member) as fp:
        return np.lib.format.read_array(fp, allow_pickle=False)


def _upgrade_v1(cls, attributes, members):
    """Format 1 names: private arrays without their leading underscore, monitor fields apart."""
    for name in list(members):
        if "_" + name in _saved_names(cls):
            members["_" + name] = members.pop(name)
    fields = {k: attributes.pop(k) for k in list(attributes) if k.startswith("monitor_")}
    if fields:
        attributes["monitor_"] = decode_monitor(
            {k[len("monitor_") :]: v for k, v in fields.items() if k != "monitor_"}
        )
    attributes.pop("n_features", None)  # version 1 repeated the feature count; derived now


def _read(path):
    """Class, decoded params and attributes, and arrays of a model file (ModelFileError)."""
    path = os.fspath(path)
    with _open_zip(path) as zf:
        try:
            meta = _read_metadata(zf, path)
            cls = ESTIMATORS[meta["kind"]]
            params = {k: decode_value(v) for k, v in meta["params"].items()}
            attributes = {k: decode_value(v) for k, v in meta["attributes"].items()}
            stored = {n[: -len(".npy")] for n in zf.namelist() if n.endswith(".npy")}
            missing = sorted(set(meta["arrays"]) - stored)
            if missing:
                raise ValueError(f"arrays {missing} are missing")
            unexpected = sorted(stored - set(meta["arrays"]))
            if unexpected:
                raise ValueError(f"unexpected arrays {unexpected}")
            members = {n: n for n in stored}
            if meta["format_version"] == 1:
                _upgrade_v1(cls, attributes, members)
            for name in (*attributes, *members):
                if not _is_state_name(cls, name):
                    raise ValueError(f"{name!r} is not a fitted-attribute name of {cls.__name__}")
            arrays = {
                name: _read_array(zf, member + ".npy", member, meta["arrays"][member])
                for name, member in members.items()
            }
        except ModelFileError:
            raise
        except _READ_ERRORS as err:
            raise _corrupt(path, err) from None
    return cls, params, {**attributes, **arrays}


def read_metadata(path):
    """The metadata dictionary of a model file, after checking its format, version and kind.

    Reads ``metadata.json`` only, not the arrays (use :func:`load` to check everything).

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    dict
        Keys ``format``, ``format_version``, ``emkit_version``, ``kind``, ``params``,
        ``attributes``, ``arrays`` and ``extra`` (what :func:`save` got as ``extra``).

    Raises
    ------
    ModelFileError
    """
    path = os.fspath(path)
    with _open_zip(path) as zf:
        try:
            return _read_metadata(zf, path)
        except ModelFileError:
            raise
        except _READ_ERRORS as err:
            raise _corrupt(path, err) from None


def _corrupt(path, err):
    if isinstance(err, zlib.error):
        err = f"damaged compressed data ({err})"
    return ModelFileError(f"{path} is corrupt or not a valid emkit model: {err}")


def load(path):
    """Read a model written by :func:`save`.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    model : estimator
        A fitted model, ready to ``predict``, ``score_samples``, ``sample``...

    Raises
    ------
    ModelFileError
        If the file is missing, unreadable, truncated, corrupt, of a newer format version,
        of an unknown kind, if its arrays do not have the shapes and dtypes its metadata
        records, or if the model's ``_check_fitted_state`` finds its state inconsistent
        (shapes that do not fit the parameters, non-finite values, covariances that are not
        symmetric positive definite or disagree with the stored precision factors, ...).
    """
    cls, params, state = _read(path)
    where = os.fspath(path)
    try:
        try:
            model = cls(**params)
        except TypeError as err:
            raise ValueError(f"unknown {cls.__name__} parameters ({err})") from None
        for name, value in state.items():
            setattr(model, name, value)
        model._check_fitted_state()
    except (ValueError, TypeError) as err:
        raise ModelFileError(f"{where} is corrupt or not a valid emkit model: {err}") from None
    return model
