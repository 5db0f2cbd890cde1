"""numba's ``njit`` for emkit's kernels, with a cache that works on any install.

numba caches a compiled function next to its source (``__pycache__``), else in the user-wide
folder (``$XDG_CACHE_HOME/numba`` or ``~/.cache/numba``), else refuses to decorate it at all
("cannot cache function ... no locator available"), which on a read-only install with no
writable home would make ``import emkit.hmm`` fail. Importing this module registers one more
cache locator, for emkit's own source files only, tried right after numba's in-tree one:

1. ``NUMBA_CACHE_DIR`` and a writable package folder keep numba's behaviour;
2. otherwise a private per-user folder, ``$XDG_CACHE_HOME/emkit`` or ``~/.cache/emkit``,
   created with mode 0700 and used only while it is a real directory owned by the user and
   not writable by group or others (its parent likewise, unless sticky): numba reads its
   index back with pickle, so a folder another user could write is never used;
3. otherwise no persistent cache: a fresh private temporary folder for this process (removed
   at exit), announced once by a :class:`CacheWarning`.

Every kernel module imports ``njit`` from here, so the locator is in place before the first
decoration.
"""

from __future__ import annotations

import atexit
import os
import shutil
import stat
import tempfile
import warnings

import numba
from numba.core import caching

__all__ = ["CacheWarning", "cache_root", "njit", "private_cache_dir"]

njit = numba.njit

#: The package folder (``emkit``): only functions defined below it use the fallback locator.
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_state = {}


class CacheWarning(UserWarning):
    """No private folder could hold the compiled kernels: they are compiled in every process."""


def _safe_dir(path, uid):
    """Whether ``path`` is a real directory owned by ``uid`` that nobody else can write."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return (
        stat.S_ISDIR(st.st_mode)
        and st.st_uid == uid
        and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
        and os.access(path, os.W_OK | os.X_OK)
    )


def _safe_parent(path, uid):
    """Whether no other user can replace entries of ``path`` (owned by us or root, or sticky)."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    if st.st_uid not in (uid, 0):
        return False
    return not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH) or bool(st.st_mode & stat.S_ISVTX)


def private_cache_dir():
    """The private per-user cache folder for emkit's kernels, or None when none is usable.

    ``$XDG_CACHE_HOME/emkit`` (an absolute ``XDG_CACHE_HOME``) or ``~/.cache/emkit``, created
    with mode 0700 when missing. A folder that is a symbolic link, belongs to another user or
    is writable by group or others is refused, as is one whose parent another user could
    write (unless the parent is sticky).
    """
    if not hasattr(os, "getuid"):
        return None
    uid = os.getuid()
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):
        home = os.path.expanduser("~")
        if not os.path.isabs(home):
            return None
        base = os.path.join(home, ".cache")
    path = os.path.join(base, "emkit")
    try:
        os.makedirs(base, mode=0o700, exist_ok=True)
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError:
        return None
    if _safe_parent(base, uid) and _safe_dir(path, uid):
        return path
    return None


def _throwaway_dir():
    """A fresh private temporary folder for this process, removed at exit."""
    path = tempfile.mkdtemp(prefix="emkit-kernels-")
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    warnings.warn_explicit(
        "no private cache folder is writable ($XDG_CACHE_HOME/emkit or ~/.cache/emkit): "
        "emkit compiles its kernels anew in each process; set XDG_CACHE_HOME or "
        "NUMBA_CACHE_DIR to a folder of yours to keep them",
        CacheWarning,
        "emkit",
        0,
    )
    return path


def cache_root():
    """The folder the fallback locator caches emkit's kernels in (decided once per process)."""
    if "root" not in _state:
        _state["root"] = private_cache_dir() or _throwaway_dir()
    return _state["root"]


_UserWide = getattr(caching, "UserWideCacheLocator", None) or caching._UserWideCacheLocator
_InTree = getattr(caching, "InTreeCacheLocator", None) or caching._InTreeCacheLocator
_Impl = getattr(caching, "CacheImpl", None) or caching._CacheImpl


class PrivateCacheLocator(_UserWide):
    """Caches emkit's kernels under :func:`cache_root` when numba's own locators cannot."""

    def __init__(self, py_func, py_file):
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno
        subpath = self.get_suitable_cache_subpath(py_file)
        self._cache_path = os.path.join(cache_root(), subpath)

    def ensure_cache_path(self):
        """Create this file's subfolder with mode 0700 and check that it is ours and writable."""
        path = self.get_cache_path()
        os.makedirs(path, mode=0o700, exist_ok=True)
        if not _safe_dir(path, os.getuid()):
            raise OSError(f"unsafe cache folder {path}")

    @classmethod
    def from_function(cls, py_func, py_file):
        """A locator for functions of emkit's own source files, else None."""
        try:
            inside = os.path.commonpath([_PACKAGE, os.path.abspath(py_file)]) == _PACKAGE
        except ValueError:  # another drive, say
            inside = False
        return super().from_function(py_func, py_file) if inside else None


def _register():
    classes = _Impl._locator_classes
    if any(cls.__name__ == PrivateCacheLocator.__name__ for cls in classes):
        return
    at = classes.index(_InTree) + 1 if _InTree in classes else 0
    classes.insert(at, PrivateCacheLocator)


_register()
