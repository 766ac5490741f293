"""Lazy package attributes (PEP 562): a package names its public objects without importing them.

``twin`` and ``twin.ledger`` use it so that ``import twin`` (and ``twin --help``) does not import
numpy, numba or SQLAlchemy until a name that needs them is used.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["lazy_attributes"]


def lazy_attributes(
    package: str, where: Mapping[str, str], public: Iterable[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package`` importing each name of ``where`` on use.

    Parameters
    ----------
    package
        The package's ``__name__``.
    where
        Name -> module (relative to the package) that defines it.
    public
        The package's ``__all__`` (listed by ``dir()``).
    """
    names = sorted(set(public))

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        setattr(sys.modules[package], name, value)  # later lookups skip __getattr__
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(names))

    return __getattr__, __dir__
