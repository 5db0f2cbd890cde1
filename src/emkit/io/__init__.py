"""Save and load fitted models in a safe, versioned file format (never pickle).

:func:`save` and :func:`load` handle every estimator listed in
:data:`emkit.models.registry.ESTIMATORS` with one codec driven by the estimator contract
(:mod:`emkit.io.model_file`): arrays as ``.npy`` members plus JSON metadata with a format
version, CRC-checked, read without pickle, validated by the estimator's
``_check_fitted_state``; a corrupt, truncated or foreign file fails with
:class:`~emkit.exceptions.ModelFileError`. Files are written atomically, and streamed to
standard output, FIFOs and devices (:mod:`emkit.io.files`).
"""

from __future__ import annotations

from emkit.exceptions import ModelFileError
from emkit.io.files import STDOUT, atomic_write, check_destination, is_stream, open_output
from emkit.io.model_file import FORMAT_NAME, FORMAT_VERSION, load, read_metadata, save
from emkit.io.values import decode_value, encode_value

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "STDOUT",
    "ModelFileError",
    "atomic_write",
    "check_destination",
    "decode_value",
    "encode_value",
    "is_stream",
    "load",
    "open_output",
    "read_metadata",
    "save",
]
