"""attrs validators shared by the frozen configuration classes.

Each factory returns a validator that checks scalars and arrays alike and raises ``error`` (a
:class:`twin.errors.TwinError` subclass) with a message naming the field and the expected form.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .errors import ConfigError

__all__ = ["finite", "non_negative", "positive"]

Validator = Callable[[object, Any, Any], None]


def _validator(
    ok: Callable[[np.ndarray], bool],
    expected: str,
    error: type[Exception],
    label: str | None,
    optional: bool,
) -> Validator:
    def check(_inst: object, attr: Any, value: Any) -> None:
        if value is None and optional:
            return
        try:
            good = ok(np.asarray(value, dtype=float))
        except (TypeError, ValueError):
            good = False
        if not good:
            raise error(f"{label or attr.name}: must be {expected}, got {value!r}")

    return check


def positive(
    error: type[Exception] = ConfigError,
    *,
    label: str | None = None,
    optional: bool = False,
    allow_inf: bool = False,
) -> Validator:
    """Every value ``> 0`` and finite (``allow_inf``: ``+inf`` allowed, e.g. "no leak")."""
    if allow_inf:
        return _validator(lambda v: bool(np.all(v > 0)), "> 0", error, label, optional)
    return _validator(
        lambda v: bool(np.all(np.isfinite(v)) and np.all(v > 0)),
        "a finite number > 0",
        error,
        label,
        optional,
    )


def non_negative(
    error: type[Exception] = ConfigError, *, label: str | None = None, optional: bool = False
) -> Validator:
    """Every value ``>= 0`` and finite."""
    return _validator(
        lambda v: bool(np.all(np.isfinite(v)) and np.all(v >= 0)),
        "a finite number >= 0",
        error,
        label,
        optional,
    )


def finite(error: type[Exception] = ConfigError, *, label: str | None = None) -> Validator:
    """Every value finite."""
    return _validator(lambda v: bool(np.all(np.isfinite(v))), "finite", error, label, False)
