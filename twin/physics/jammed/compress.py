"""FIRE energy minimisation and compression of a packing to the target pressure."""

from __future__ import annotations

import logging
import math

import numpy as np

from ...errors import NetworkError
from .config import JammingConfig
from .packing import _SKIN, _box_for, _candidate_pairs, _forces, _Packing, _wrap

__all__: list[str] = []

_log = logging.getLogger("twin.jammed")

#: FIRE parameters (Bitzek et al. 2006; times in units of sqrt(m d**2 / eps)).
_FIRE_DT0 = 0.05
_FIRE_DT_MAX = 0.5
_FIRE_N_MIN = 5
_FIRE_F_INC = 1.1
_FIRE_F_DEC = 0.5
_FIRE_ALPHA0 = 0.1
_FIRE_F_ALPHA = 0.99
#: Initial guess of dP/dphi above jamming (eps / d**2), refined by secant steps.
_SLOPE_GUESS = 0.5


def _fire_minimise(
    pos: np.ndarray, radii: np.ndarray, box: float, config: JammingConfig
) -> tuple[np.ndarray, float, float, int]:
    """Minimise the energy from ``pos`` with FIRE.

    Returns
    -------
    positions, energy, pressure, steps
        Wrapped positions at the minimum, its energy (``eps``) and pressure (``eps / d**2``),
        and the number of FIRE steps taken.

    Raises
    ------
    NetworkError
        If the largest net force is still above ``config.force_tolerance`` after
        ``config.max_fire_steps`` steps.
    """
    x = _wrap(pos, box)
    pairs = _candidate_pairs(x, radii, box, _SKIN)
    moved = 0.0
    v = np.zeros_like(x)
    dt, alpha, n_pos = _FIRE_DT0, _FIRE_ALPHA0, 0
    f, energy, pressure = _forces(x, radii, box, pairs)
    tol2 = config.force_tolerance**2
    for step in range(config.max_fire_steps):
        if float(np.max(np.einsum("ij,ij->i", f, f))) < tol2:
            return _wrap(x, box), energy, pressure, step
        if float(np.vdot(f, v)) > 0.0:
            n_pos += 1
            if n_pos > _FIRE_N_MIN:
                dt = min(dt * _FIRE_F_INC, _FIRE_DT_MAX)
                alpha *= _FIRE_F_ALPHA
        else:
            n_pos = 0
            dt *= _FIRE_F_DEC
            alpha = _FIRE_ALPHA0
            x -= 0.5 * dt * v
            v[:] = 0.0
        v += dt * f
        f_norm = float(np.sqrt(np.vdot(f, f)))
        if f_norm > 0.0:
            v = (1.0 - alpha) * v + (alpha * float(np.sqrt(np.vdot(v, v))) / f_norm) * f
        dx = dt * v
        x += dx
        moved += 2.0 * float(np.sqrt(np.max(np.einsum("ij,ij->i", dx, dx))))
        if moved > _SKIN:
            x = _wrap(x, box)
            pairs = _candidate_pairs(x, radii, box, _SKIN)
            moved = 0.0
        f, energy, pressure = _forces(x, radii, box, pairs)
    raise NetworkError(
        f"jammed: FIRE did not converge in max_fire_steps={config.max_fire_steps} steps "
        f"(largest force {math.sqrt(float(np.max(np.einsum('ij,ij->i', f, f)))):.3g} "
        f"> force_tolerance={config.force_tolerance:g})"
    )


# --------------------------------------------------------------------------- compression


def _next_phi(
    phi: float,
    pressure: float,
    lo: tuple[float, float] | None,
    hi: tuple[float, float] | None,
    jammed: list[tuple[float, float]],
    target: float,
) -> float:
    """Next packing fraction: secant on the last two jammed states, kept inside the bracket."""
    if len(jammed) >= 2 and jammed[-1][0] != jammed[-2][0]:
        (p1, q1), (p2, q2) = jammed[-2], jammed[-1]
        slope = (q2 - q1) / (p2 - p1)
        guess = p2 + (target - q2) / slope if slope > 0 else math.nan
    elif pressure > 0.0:
        guess = phi + (target - pressure) / _SLOPE_GUESS
    else:
        guess = phi + 0.01
    if lo is not None and hi is not None:
        width = hi[0] - lo[0]
        if not (lo[0] + 0.01 * width < guess < hi[0] - 0.01 * width):
            guess = 0.5 * (lo[0] + hi[0])
    elif not math.isfinite(guess):
        guess = phi + (0.01 if pressure < target else -0.01)
    return min(max(guess, 0.05), 0.99)


def _jam(positions: np.ndarray, radii: np.ndarray, phi: float, config: JammingConfig) -> _Packing:
    """Jam disks of ``radii`` to ``config.target_pressure``, starting from ``positions``.

    Parameters
    ----------
    positions
        ``(n, 2)`` initial positions, in a box of the side giving packing fraction ``phi``.
    radii
        ``(n,)`` radii, units of the mean diameter ``d``.
    phi
        Initial packing fraction.
    config
        Generator parameters (pressure target and tolerances, FIRE caps).

    Returns
    -------
    _Packing
        The force-balanced packing whose pressure is within ``pressure_rtol`` of the target.

    Raises
    ------
    NetworkError
        If the target pressure is not reached in ``config.max_pressure_steps`` rescalings.
    """
    target = config.target_pressure
    box = _box_for(radii, phi)
    pos = np.asarray(positions, dtype=float)
    lo: tuple[float, float] | None = None
    hi: tuple[float, float] | None = None
    jammed: list[tuple[float, float]] = []
    for _ in range(config.max_pressure_steps):
        if box <= 4.0 * float(radii.max()):
            raise NetworkError(
                f"n_nodes: {radii.size} disks are too few: the box side {box:.3g} is not above "
                "twice the largest contact distance, so the minimum-image convention fails"
            )
        pos, energy, pressure, steps = _fire_minimise(pos, radii, box, config)
        _log.debug("phi=%.6f P=%.4g E=%.3g (%d FIRE steps)", phi, pressure, energy, steps)
        if abs(pressure - target) <= config.pressure_rtol * target:
            return _Packing(positions=pos, radii=radii, box=box, pressure=pressure, energy=energy)
        if pressure > target:
            hi = (phi, pressure) if hi is None or phi < hi[0] else hi
        else:
            lo = (phi, pressure) if lo is None or phi > lo[0] else lo
        if pressure > 1e-3 * target:
            jammed.append((phi, pressure))
        new_phi = _next_phi(phi, pressure, lo, hi, jammed, target)
        new_box = _box_for(radii, new_phi)
        pos = pos * (new_box / box)
        phi, box = new_phi, new_box
    raise NetworkError(
        f"jammed: pressure did not reach target_pressure={target:g} within "
        f"max_pressure_steps={config.max_pressure_steps} rescalings"
    )
