"""Parameters of the jammed-packing generator (units: :mod:`twin.physics.jammed`)."""

from __future__ import annotations

import math
from typing import Any, Literal

import attrs
import numpy as np

from ...errors import ConfigError

__all__ = ["JammingConfig"]


def _number(lo: float, hi: float, *, lo_open: bool = False, hi_open: bool = False) -> Any:
    """An attrs validator: a finite real number in ``[lo, hi]`` (open ends as requested)."""

    def check(_inst: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        name = attribute.name
        if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
            raise ConfigError(f"{name}: expected a number, got {value!r}")
        v = float(value)
        too_low = v <= lo if lo_open else v < lo
        too_high = v >= hi if hi_open else v > hi
        if not math.isfinite(v) or too_low or too_high:
            lb = "(" if lo_open else "["
            rb = ")" if hi_open else "]"
            raise ConfigError(f"{name}: expected a value in {lb}{lo:g}, {hi:g}{rb}, got {value!r}")

    return check


def _count(lo: int) -> Any:
    """An attrs validator: an integer ``>= lo``."""

    def check(_inst: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < lo:
            raise ConfigError(f"{attribute.name}: expected an integer >= {lo}, got {value!r}")

    return check


def _distribution(_inst: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value not in ("bidisperse", "uniform"):
        raise ConfigError(f"{attribute.name}: expected 'bidisperse' or 'uniform', got {value!r}")


@attrs.frozen(kw_only=True)
class JammingConfig:
    """Parameters of the jammed-packing generator (units: see the module docstring).

    Parameters
    ----------
    size_distribution
        ``"bidisperse"`` (default; a ``large_fraction`` of the disks is ``diameter_ratio`` times
        larger than the rest) or ``"uniform"`` (diameters uniform between ``d_min`` and
        ``diameter_ratio * d_min``).
    diameter_ratio
        Largest over smallest diameter, in ``[1, 10]``; default 1.4.
    large_fraction
        Bidisperse only: fraction of large disks, in ``[0, 1]``; default 0.5. The count of large
        disks is the nearest integer.
    target_pressure
        Pressure at which the packing is considered jammed, in ``eps / d**2``, in ``(0, 1]``;
        default 0.01 (the authors' ``Lp0.0100``).
    pressure_rtol
        Relative tolerance on the pressure, in ``(0, 0.5]``; default 0.02.
    initial_packing_fraction
        Packing fraction of the random initial state, in ``(0, 0.95]``; default 0.86 (just above
        jamming, so the first minimisation already yields a jammed state).
    force_tolerance
        FIRE stops when the largest net force on any disk is below this, in ``eps / d``, in
        ``(0, 1e-3]``; default 1e-11 (contact forces at the default pressure are ~1e-2).
    max_fire_steps
        Cap on FIRE steps per minimisation (>= 1); default 50000 (typically 300-3000 are used).
    max_pressure_steps
        Cap on box rescalings per packing (>= 1); default 60.
    max_attempts
        Cap on packings tried to hit the exact node count (>= 1); default 60. About one
        attempt in four succeeds for N = 256 (fewer for larger N, more for smaller N).
    rattler_guess
        Prior expected fraction of rattlers, used to size the packings, in ``[0, 0.5]``;
        default 0.01 (what the default pressure gives).
    """

    size_distribution: Literal["bidisperse", "uniform"] = attrs.field(
        default="bidisperse", validator=_distribution
    )
    diameter_ratio: float = attrs.field(default=1.4, validator=_number(1.0, 10.0))
    large_fraction: float = attrs.field(default=0.5, validator=_number(0.0, 1.0))
    target_pressure: float = attrs.field(default=0.01, validator=_number(0.0, 1.0, lo_open=True))
    pressure_rtol: float = attrs.field(default=0.02, validator=_number(0.0, 0.5, lo_open=True))
    initial_packing_fraction: float = attrs.field(
        default=0.86, validator=_number(0.0, 0.95, lo_open=True)
    )
    force_tolerance: float = attrs.field(default=1e-11, validator=_number(0.0, 1e-3, lo_open=True))
    max_fire_steps: int = attrs.field(default=50_000, validator=_count(1))
    max_pressure_steps: int = attrs.field(default=60, validator=_count(1))
    max_attempts: int = attrs.field(default=60, validator=_count(1))
    rattler_guess: float = attrs.field(default=0.01, validator=_number(0.0, 0.5))
