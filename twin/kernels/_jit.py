"""The one decorator of the compiled core, with an on-disk cache keyed on the whole package.

numba's own cache (``cache=True``) stamps each function's entry with the file the function is
defined in, and a caller's entry holds its callees' machine code: an edit to a callee in another
file leaves the caller's cached code stale (numba issues #1833, #9483). Here every function of the
package is stamped with one hash of *all* the package's ``*.py`` sources, so any edit anywhere in
the package recompiles every kernel once, and an unchanged package loads every kernel from the
cache.

The stamp is computed once, when this module is imported (the sources the process runs are the
ones it imported). The locator claims only functions defined below this module's directory;
other numba code keeps numba's own locators. Where the cache lives: ``NUMBA_CACHE_DIR`` when set,
else ``__pycache__`` beside the sources, else the user's cache directory; in each, a directory
``kernels-<stamp>`` per version of the package, so that no process ever unpickles an index
written by another version (whose types may be gone). Old version directories are left for the
user to delete (``find twin/kernels -name 'kernels-*' -prune -exec rm -r {} +``).

This module imports nothing from the project, so it can be copied into another package (the
cache test does exactly that).
"""

from __future__ import annotations

import hashlib
import inspect
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numba
import numpy as np
from numba.core import caching, config

__all__ = ["Arr", "jit", "package_stamp"]

Arr = np.ndarray
F = TypeVar("F", bound=Callable[..., Any])

_ROOT = Path(__file__).resolve().parent


def package_stamp(root: Path) -> str:
    """SHA-256 (hex) of every ``*.py`` file below ``root``: relative paths and contents."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


_STAMP = package_stamp(_ROOT)


def _user_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "numba-package-cache"


class _PackageLocator(caching._CacheLocator):
    """Cache locator of the functions defined below ``_ROOT``, stamped with the package hash."""

    def __init__(self, py_func: Any, py_file: str, cache_path: str) -> None:
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno
        self._cache_path = cache_path

    def get_cache_path(self) -> str:
        return self._cache_path

    def get_source_stamp(self) -> str:
        return _STAMP

    def get_disambiguator(self) -> str:
        return str(self._lineno)

    @classmethod
    def from_function(cls, py_func: Any, py_file: str) -> _PackageLocator | None:
        path = Path(py_file).resolve()
        if not path.is_file() or _ROOT not in path.parents:
            return None
        sub = cls.get_suitable_cache_subpath(py_file)
        candidates = [str(path.parent / "__pycache__"), str(_user_cache_dir() / sub)]
        cache_dir = getattr(config, "CACHE_DIR", "")
        if cache_dir:
            candidates.insert(0, os.path.join(cache_dir, sub))
        for where in candidates:
            # one directory per package version: an index written by another version is never
            # unpickled (its types may no longer exist)
            self = cls(py_func, py_file, os.path.join(where, f"kernels-{_STAMP[:16]}"))
            try:
                self.ensure_cache_path()
            except OSError:
                continue
            return self
        return None


def _register() -> None:
    """Put the package locator first in numba's list (once per copy of this module)."""
    impl = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl")  # noqa: B009
    classes = impl._locator_classes
    if _PackageLocator not in classes:
        classes.insert(0, _PackageLocator)


_register()


def jit(fn: F) -> F:
    """``numba.njit(cache=True, nogil=True)`` with the package-wide cache stamp."""
    if not inspect.isfunction(fn):  # pragma: no cover - a programming error
        raise TypeError(f"jit: expected a function, got {fn!r}")
    compiled: Any = numba.njit(cache=True, nogil=True)(fn)
    return compiled
