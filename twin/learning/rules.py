"""Local learning rules (PHYSICS.md sections 3-4) as small, pure functions over arrays.

All rules are local: edge ``i`` uses only its own free and clamped drops. Arrays carry a leading
realization axis ``R`` and an edge axis ``E``.
"""

from __future__ import annotations

import attrs
import numpy as np

from .._validators import non_negative, positive
from ..errors import ConfigError
from ..physics.contract import local_terms

__all__ = [
    "CONTROL_RANGES",
    "LambdaControl",
    "LearningRule",
    "clip_conductance",
    "contrast",
    "contrast_update",
    "coupled_update",
]


@attrs.frozen(kw_only=True)
class LearningRule:
    """Coupled learning with a power-minimising weight ``lam`` (seed Eq. 9).

    ``dk_i = -(alpha/eta) * mean((dV_i^C)^2 - (1 - lam) * (dV_i^F)^2)``, in siemens per step
    (conductance and voltage in the units of the network: ``alpha`` has units S/V^2 per step).
    ``lam = 0`` is coupled learning, ``0 < lam < 1`` power-minimising, ``lam = 1`` directed aging.
    """

    alpha: float = attrs.field(default=0.5, validator=positive())
    eta: float = attrs.field(default=1e-3, validator=positive())
    lam: float = attrs.field(default=0.0, validator=non_negative())


def coupled_update(
    rule: LearningRule,
    sq_clamped: np.ndarray,
    sq_free: np.ndarray,
    lam: np.ndarray | float | None = None,
) -> np.ndarray:
    """Conductance change ``dk`` (siemens) from mean squared drops (V^2) over the examples.

    ``lam`` overrides ``rule.lam`` (per realization, shape ``(R, 1)``, for dynamic control).
    """
    weight = 1.0 - (rule.lam if lam is None else lam)
    return -(rule.alpha / rule.eta) * (sq_clamped - weight * sq_free)


def contrast(
    drops_free: np.ndarray, drops_delta: np.ndarray, lam: np.ndarray | float
) -> np.ndarray:
    """``mean((dV^C)^2 - (1 - lam) (dV^F)^2)`` over the examples (last axis), V^2, factored.

    Computed as ``mean((dV^C - dV^F)(dV^C + dV^F) + lam (dV^F)^2)`` from the free drops and the
    clamped-minus-free drops ``drops_delta`` themselves (solved for directly, e.g. from the
    nudge ``eta (V~ - V_F)``), so the small difference of two nearly equal squares is never formed
    by subtraction. ``lam`` broadcasts against the result (``(R, 1)`` per realization).
    """
    delta_term, free_term = local_terms(drops_free, drops_delta)
    return delta_term + lam * free_term


def contrast_update(rule: LearningRule, contrast_v2: np.ndarray) -> np.ndarray:
    """Conductance change ``dk = -(alpha / eta) * contrast`` (siemens) from :func:`contrast`."""
    return -(rule.alpha / rule.eta) * contrast_v2


def clip_conductance(
    k: np.ndarray, k_min: float | np.ndarray, k_max: float | np.ndarray
) -> np.ndarray:
    """Conductances held to their bounds (siemens)."""
    return np.clip(k, k_min, k_max)


#: Accepted ``(low, high]`` of the control's settings: ``rho`` (per 1/alpha epoch), ``p``
#: (dimensionless exponent) and ``lam0`` (starting lambda). Wider values are not physics errors,
#: but outside these the multiplicative dynamics overflow or never move within 10^9 steps.
CONTROL_RANGES: dict[str, tuple[float, float]] = {
    "rho": (0.0, 1e3),
    "p": (0.0, 10.0),
    "lam0": (0.0, 1.0),
}


def _in_control_range(inst: object, attr: attrs.Attribute[float], value: float) -> None:
    low, high = CONTROL_RANGES[attr.name]
    if not (low < value <= high):
        raise ConfigError(f"{attr.name}: must be in ({low:g}, {high:g}], got {value!r}")


@attrs.frozen(kw_only=True)
class LambdaControl:
    """Dynamic lambda control (seed Eq. 18, reconstructed in PHYSICS.md section 4).

    ``d lam / dt = rho * lam * ((tol / L)^p - 1)``, integrated exactly over a step during which the
    error ``L`` is constant: ``lam <- lam * exp(rho * dt * ((tol / L)^p - 1))``. Time ``dt`` is in
    units of ``1/alpha`` epochs (one step is ``dt = alpha``). ``lam0`` starts the multiplicative
    dynamics (lambda = 0 would stay 0). Defaults are the seed's Fig. 4 settings (``rho = 1``,
    ``p = 0.02``); ranges in :data:`CONTROL_RANGES`.
    """

    tol: float = attrs.field(validator=positive(label="control tolerance"))
    rho: float = attrs.field(default=1.0, validator=_in_control_range)
    p: float = attrs.field(default=0.02, validator=_in_control_range)
    lam0: float = attrs.field(default=1e-8, validator=_in_control_range)
    lam_max: float = attrs.field(default=1.0, validator=positive())

    def step(self, lam: np.ndarray, error: np.ndarray, dt: float) -> np.ndarray:
        """Next lambda for errors ``error`` (V^2) after a step of ``dt`` (1/alpha epochs)."""
        ratio = self.tol / np.maximum(error, np.finfo(float).tiny)
        growth = self.rho * dt * (ratio**self.p - 1.0)
        return np.minimum(lam * np.exp(growth), self.lam_max)
