"""Where output goes: atomic replacement of regular files, streaming to anything else.

An output path names a regular file (or a new one), which is written atomically: to a
temporary file in the same directory, then ``os.replace``, so that readers see the old file or
the complete new one. A path that names something else (a FIFO, a terminal, ``/dev/stdout``,
any device or anything under ``/dev`` or ``/proc``) is opened and written in place, because
replacing it would destroy it and lose the output; ``"-"`` is standard output. A symbolic link
to a regular file is followed: its target is replaced atomically and the link is kept.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import sys

__all__ = ["STDOUT", "atomic_write", "check_destination", "is_stream", "open_output"]

#: The output path that means standard output.
STDOUT = "-"
# Paths under these directories are devices or process views, never replaced (/dev/shm holds
# ordinary files).
_SPECIAL_ROOTS = ("/dev/", "/proc/")
_ORDINARY_ROOTS = ("/dev/shm/",)


def is_stream(path):
    """Whether output to ``path`` is streamed rather than written atomically.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    bool
        True for ``"-"``, for paths under ``/dev`` (but ``/dev/shm``) or ``/proc``, and for
        existing paths (after following symbolic links) that are not regular files or
        directories.
    """
    path = os.fspath(path)
    where = os.path.abspath(path)
    if path == STDOUT or (
        where.startswith(_SPECIAL_ROOTS) and not where.startswith(_ORDINARY_ROOTS)
    ):
        return True
    try:
        mode = os.stat(path).st_mode
    except OSError:  # a new path, or a dangling link: a file will be created
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def check_destination(path):
    """Check that a file can be written at ``path``, before spending time on its content.

    Returns
    -------
    directory : str or None
        The absolute directory the file will be created in (the target's, for a symbolic
        link), or None when output to ``path`` is streamed (see :func:`is_stream`).

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
    if is_stream(path):
        return None
    if os.path.isdir(path):
        raise IsADirectoryError(f"cannot write {path}: it is a directory")
    directory = os.path.dirname(os.path.realpath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"cannot write {path}: directory {directory} does not exist")
    if not os.access(directory, os.W_OK):
        raise PermissionError(f"cannot write {path}: directory {directory} is not writable")
    return directory


@contextlib.contextmanager
def atomic_write(path, mode="wb", **open_kwargs):
    """Open a temporary file next to ``path``; on success move it onto ``path`` atomically.

    Readers of ``path`` see the old file or the complete new one, never a partial write; on
    error the temporary file is removed and ``path`` is left as it was. A symbolic link is
    followed (its target is replaced). Use :func:`open_output` for paths that may be streams.

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
    if directory is None:
        raise ValueError(f"cannot replace {path} atomically: it is not a regular file")
    target = os.path.realpath(path)
    while True:
        tmp = os.path.join(directory, f".{os.path.basename(target)}.{secrets.token_hex(6)}.tmp")
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
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def open_output(path, mode="wb", **open_kwargs):
    """Open ``path`` for output: atomically for regular files, streamed otherwise.

    Parameters
    ----------
    path : str or os.PathLike
        ``"-"`` for standard output, a FIFO or device (written in place), or a file path
        (see :func:`atomic_write`).
    mode : str, default="wb"
        ``"wb"`` or ``"w"``.
    **open_kwargs
        Passed to :func:`open` (e.g. ``encoding``, ``newline``); ignored for standard output.

    Yields
    ------
    file object
    """
    path = os.fspath(path)
    if path == STDOUT:
        out = sys.stdout.buffer if "b" in mode else sys.stdout
        yield out
        out.flush()
    elif is_stream(path):
        with open(path, mode, **open_kwargs) as f:
            yield f
    else:
        with atomic_write(path, mode, **open_kwargs) as f:
            yield f
