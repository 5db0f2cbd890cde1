"""Save and load fitted models in a safe, versioned file format (never pickle).

A model file is a zip archive in the layout of ``numpy.savez``: one ``metadata.json`` member
and one ``.npy`` member per array. The metadata holds the format name and version, the model
kind, the constructor parameters, the fitted scalar attributes, the name, shape and dtype of
every array, and an optional user ``extra`` dictionary::

    {"format": "emkit-model", "format_version": 1, "emkit_version": "0.1.0",
     "kind": "GaussianMixture", "params": {...}, "attributes": {...},
     "arrays": {"means_": {"shape": [3, 4], "dtype": "<f8"}, ...}, "extra": {}}

Arrays are read with ``allow_pickle=False`` after their headers are checked against the shapes
the metadata implies, and every member is CRC-checked by the zip reader, so a corrupt,
truncated or foreign file fails with :class:`~emkit.exceptions.ModelFileError` before a model
is built. Files are written atomically: to a temporary file in the same directory, then
``os.replace``.

Each model kind has a :class:`ModelCodec`; :func:`register_codec` adds kinds (hidden Markov
models register theirs the same way as :class:`GaussianMixtureCodec`).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import secrets
import zipfile
import zlib

import numpy as np
from sklearn.utils.validation import check_is_fitted

from emkit.exceptions import ModelFileError
from emkit.families.covariance import COVARIANCE_TYPES, STRATEGIES
from emkit.models.gaussian_mixture import GaussianMixture

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "GaussianMixtureCodec",
    "ModelCodec",
    "atomic_write",
    "check_destination",
    "load",
    "read_metadata",
    "register_codec",
    "save",
]

FORMAT_NAME = "emkit-model"
FORMAT_VERSION = 1
METADATA_MEMBER = "metadata.json"
_MAX_METADATA_BYTES = 16 << 20
_FLOAT_DTYPES = (np.dtype(np.float64), np.dtype(np.float32))
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


# ---------------------------------------------------------------------------- atomic writes
def check_destination(path):
    """Check that a file can be created at ``path``, before spending time on its content.

    Returns
    -------
    directory : str
        The absolute directory ``path`` will be written in.

    Raises
    ------
    FileNotFoundError
        If the directory does not exist.
    IsADirectoryError
        If ``path`` is a directory.
    PermissionError
        If the directory is not writable.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"cannot write {path}: directory {directory} does not exist")
    if os.path.isdir(path):
        raise IsADirectoryError(f"cannot write {path}: it is a directory")
    if not os.access(directory, os.W_OK):
        raise PermissionError(f"cannot write {path}: directory {directory} is not writable")
    return directory


@contextlib.contextmanager
def atomic_write(path, mode="wb", **open_kwargs):
    """Open a temporary file next to ``path``; on success move it onto ``path`` atomically.

    Readers of ``path`` see the old file or the complete new one, never a partial write; on
    error the temporary file is removed and ``path`` is left as it was.

    Parameters
    ----------
    path : str or os.PathLike
        Destination file.
    mode : str, default="wb"
        A write mode for :func:`os.fdopen` (``"wb"`` or ``"w"``).
    **open_kwargs
        Passed to :func:`os.fdopen` (e.g. ``encoding``, ``newline``).

    Yields
    ------
    file object
    """
    path = os.fspath(path)
    directory = check_destination(path)
    while True:
        tmp = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:  # pragma: no cover - 48 random bits collided
            continue
    try:
        with os.fdopen(fd, mode, **open_kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# ---------------------------------------------------------------------------- JSON values
def encode_value(value):
    """Turn a parameter value into JSON-compatible data (see :func:`decode_value`).

    Handles None, bool, int, str, float (non-finite values tagged), lists, NumPy scalars and
    arrays (tagged ``__ndarray__``) and ``numpy.random.RandomState`` (its full state, tagged
    ``__random_state__``).

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
    raise ValueError(f"unknown tagged value with keys {sorted(data)}")


# ---------------------------------------------------------------------------- codecs
class ModelCodec:
    """How one model kind maps to metadata and arrays.

    Subclasses set ``kind`` (the name stored in the file) and ``model_class``, and implement
    :meth:`encode`, :meth:`array_shapes` and :meth:`decode`. Messages of ``ValueError`` or
    ``TypeError`` raised by :meth:`array_shapes` or :meth:`decode` become
    :class:`~emkit.exceptions.ModelFileError` messages.
    """

    kind: str = ""
    model_class: type = object

    def encode(self, model):
        """Split a fitted model into JSON-compatible dicts and named arrays.

        Returns
        -------
        params : dict
            Constructor parameters, JSON-compatible (see :func:`encode_value`).
        attributes : dict
            Fitted non-array attributes, JSON-compatible.
        arrays : dict of str to ndarray
        """
        raise NotImplementedError

    def array_shapes(self, params, attributes):
        """Expected shape of every array, from the decoded ``params`` and ``attributes``.

        Returns
        -------
        dict of str to tuple of int
        """
        raise NotImplementedError

    def decode(self, params, attributes, arrays):
        """Rebuild the fitted model from decoded ``params``, ``attributes`` and arrays."""
        raise NotImplementedError


_CODECS = {}


def register_codec(codec):
    """Make ``codec`` (a :class:`ModelCodec` instance) handle its ``kind`` in save and load.

    Returns
    -------
    codec : ModelCodec
    """
    if not codec.kind:
        raise ValueError("codec.kind must be a non-empty string")
    _CODECS[codec.kind] = codec
    return codec


def _load_builtin_codecs():
    """Register the codecs of emkit's other model modules (imported on first need)."""
    import emkit.hmm_io  # noqa: F401  (registers the HMM codecs)


def _codec_for_model(model):
    _load_builtin_codecs()
    for codec in _CODECS.values():
        if type(model) is codec.model_class:
            return codec
    kinds = ", ".join(sorted(_CODECS))
    raise TypeError(
        f"cannot save a {type(model).__name__}; emkit model files hold these kinds: {kinds}"
    )


def _check_type(value, types, name):
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        raise TypeError(f"{name} must be {types[0].__name__}, got {value!r}")
    return value


# Fitted attributes every GaussianMixture file has, with their JSON types.
_GMM_REQUIRED = {
    "n_features_in_": (int,),
    "converged_": (bool,),
    "n_iter_": (int,),
    "lower_bound_": (float, int),
    "lower_bounds_": (list,),
}
_ATTRIBUTE_NAME = re.compile(r"[a-z][a-z0-9_]*_")


class GaussianMixtureCodec(ModelCodec):
    """Codec of :class:`emkit.GaussianMixture`.

    The five parameter arrays go to ``.npy`` members; every other public fitted attribute
    (a name ending in ``_``: ``converged_``, ``n_iter_``, ``lower_bounds_``,
    ``feature_names_in_``, ...) goes to the metadata.
    """

    kind = "GaussianMixture"
    model_class = GaussianMixture
    arrays = ("weights_", "means_", "covariances_", "precisions_cholesky_", "precisions_")

    def encode(self, model):
        """Constructor parameters, fitted attributes and the five parameter arrays."""
        check_is_fitted(model)
        params = {k: encode_value(v) for k, v in model.get_params(deep=False).items()}
        attributes = {
            name: encode_value(value)
            for name, value in vars(model).items()
            if _ATTRIBUTE_NAME.fullmatch(name) and name not in self.arrays
        }
        arrays = {name: np.asarray(getattr(model, name)) for name in self.arrays}
        return params, attributes, arrays

    def array_shapes(self, params, attributes):
        """Shapes implied by ``n_components``, ``n_features_in_`` and ``covariance_type``."""
        K = _check_type(params.get("n_components"), (int,), "params.n_components")
        d = _check_type(attributes.get("n_features_in_"), (int,), "attributes.n_features_in_")
        ct = params.get("covariance_type")
        if ct not in COVARIANCE_TYPES:
            raise ValueError(f"params.covariance_type must be one of {COVARIANCE_TYPES}")
        if K < 1 or d < 1:
            raise ValueError("n_components and n_features_in_ must be >= 1")
        cov = STRATEGIES[ct].shape(K, d)
        return {
            "weights_": (K,),
            "means_": (K, d),
            "covariances_": cov,
            "precisions_cholesky_": cov,
            "precisions_": cov,
        }

    def decode(self, params, attributes, arrays):
        """A fitted GaussianMixture; checks parameter values and array contents."""
        try:
            model = GaussianMixture(**params)
        except TypeError as err:
            raise ValueError(f"unknown GaussianMixture parameters ({err})") from None
        model._check_params()
        self._check_arrays(model.covariance_type, arrays)
        for name, types in _GMM_REQUIRED.items():
            _check_type(attributes[name], types, name)
        if not all(isinstance(b, (float, int)) for b in attributes["lower_bounds_"]):
            raise TypeError("lower_bounds_ must be a list of numbers")
        names = attributes.get("feature_names_in_")
        if names is not None and (
            not isinstance(names, np.ndarray) or names.shape != (attributes["n_features_in_"],)
        ):
            raise ValueError("feature_names_in_ must hold n_features_in_ strings")
        for name, value in attributes.items():
            if not _ATTRIBUTE_NAME.fullmatch(name):
                raise ValueError(f"{name!r} is not a fitted-attribute name")
            setattr(model, name, value)
        for name, arr in arrays.items():
            setattr(model, name, arr)
        return model

    @staticmethod
    def _check_arrays(covariance_type, arrays):
        if len({a.dtype for a in arrays.values()}) != 1:
            raise ValueError("the parameter arrays have mixed dtypes")
        for name, arr in arrays.items():
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"array {name} contains NaN or infinity")
        weights = arrays["weights_"]
        if np.any(weights < 0) or not math.isclose(weights.sum(), 1.0, abs_tol=1e-4):
            raise ValueError("weights_ are not non-negative numbers summing to 1")
        pc = arrays["precisions_cholesky_"]
        if covariance_type in ("full", "tied"):
            pc = np.diagonal(pc, axis1=-2, axis2=-1)
        if not np.all(pc > 0):
            raise ValueError("precisions_cholesky_ has a non-positive diagonal")


register_codec(GaussianMixtureCodec())


# ---------------------------------------------------------------------------- save
def save(model, path, *, extra=None):
    """Write a fitted model to ``path`` (atomically; the exact path, no suffix is added).

    Parameters
    ----------
    model : GaussianMixture
        A fitted model of a registered kind.
    path : str or os.PathLike
        Destination file; an existing file is replaced only once the new one is complete.
    extra : dict, optional
        JSON-compatible user data stored with the model (see :func:`read_metadata`).

    Raises
    ------
    TypeError
        If the model kind cannot be saved or ``extra`` is not JSON-compatible.
    NotFittedError
        If the model is not fitted.
    """
    import emkit  # at call time: emkit/__init__ may import this module

    codec = _codec_for_model(model)
    params, attributes, arrays = codec.encode(model)
    if extra is not None and not isinstance(extra, dict):
        raise TypeError(f"extra must be a dict or None, got {type(extra).__name__}")
    meta = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "emkit_version": emkit.__version__,
        "kind": codec.kind,
        "params": params,
        "attributes": attributes,
        "arrays": {n: {"shape": list(a.shape), "dtype": a.dtype.str} for n, a in arrays.items()},
        "extra": extra or {},
    }
    try:
        text = json.dumps(meta, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise TypeError(f"extra must hold JSON-compatible finite values only ({err})") from None
    with atomic_write(path) as f, zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as zf:
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
    _load_builtin_codecs()
    if kind not in _CODECS:
        raise ModelFileError(
            f"{path} holds a model of unknown kind {kind!r}; this emkit reads: "
            f"{', '.join(sorted(_CODECS))}"
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


def _read_array(zf, name, shape):
    member = name + ".npy"
    with zf.open(member) as fp:
        version = np.lib.format.read_magic(fp)
        if version == (1, 0):
            header = np.lib.format.read_array_header_1_0(fp)
        elif version == (2, 0):
            header = np.lib.format.read_array_header_2_0(fp)
        else:
            raise ValueError(f"array {name} has unsupported .npy version {version}")
    found_shape, _, dtype = header
    if dtype not in _FLOAT_DTYPES:
        raise ValueError(f"array {name} has dtype {dtype}; expected float64 or float32")
    if tuple(found_shape) != tuple(shape):
        raise ValueError(f"array {name} has shape {found_shape}; expected {tuple(shape)}")
    with zf.open(member) as fp:
        return np.lib.format.read_array(fp, allow_pickle=False)


def _read(path):
    """Codec, decoded params and attributes, and arrays of a model file.

    Every failure is a ModelFileError.
    """
    path = os.fspath(path)
    with _open_zip(path) as zf:
        try:
            meta = _read_metadata(zf, path)
            codec = _CODECS[meta["kind"]]
            params = {k: decode_value(v) for k, v in meta["params"].items()}
            attributes = {k: decode_value(v) for k, v in meta["attributes"].items()}
            shapes = codec.array_shapes(params, attributes)
            stored = {n[: -len(".npy")] for n in zf.namelist() if n.endswith(".npy")}
            missing = sorted(set(shapes) - stored)
            if missing:
                raise ValueError(f"arrays {missing} are missing")
            unexpected = sorted((stored | set(meta["arrays"])) - set(shapes))
            if unexpected:
                raise ValueError(f"unexpected arrays {unexpected}")
            arrays = {n: _read_array(zf, n, s) for n, s in shapes.items()}
        except ModelFileError:
            raise
        except _READ_ERRORS as err:
            raise _corrupt(path, err) from None
    return codec, params, attributes, arrays


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
    model : GaussianMixture
        A fitted model, ready to ``predict``, ``score_samples``, ``sample``...

    Raises
    ------
    ModelFileError
        If the file is missing, unreadable, truncated, corrupt, of a newer format version,
        of an unknown kind, or its arrays do not have the shapes and dtypes its metadata
        implies.
    """
    codec, params, attributes, arrays = _read(path)
    try:
        return codec.decode(params, attributes, arrays)
    except KeyError as err:
        raise ModelFileError(f"{os.fspath(path)} is corrupt: attribute {err} is missing") from None
    except (ValueError, TypeError) as err:
        raise ModelFileError(
            f"{os.fspath(path)} is corrupt or not a valid emkit model: {err}"
        ) from None
