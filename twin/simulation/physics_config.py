"""Settings of the event-driven twin over the Physics contract (:mod:`.physics_twin`).

Each edge is an agent holding its learning degree of freedom ``k_i`` (a spring's stiffness, N/m)
and integrating its held drive in continuous time,

    dk_i/dt = (alpha / (eta step_s)) u_i,   u_i = -(contrast_i + lam free_i) + offset_i

with the rule's two terms of :mod:`twin.physics.contract` measured at the agent's last event
(for springs ``contrast_i = mean((s^C)^2 - (s^F)^2) / 2`` and ``free_i = mean((s^F)^2) / 2``,
m^2; seed Eq. D3). ``alpha`` is the learning rate per reference step ``step_s`` (the trainer's
``alpha`` at its ``step_s``): a sync clock at ``1 / step_s`` makes every tick the trainer's step
``dk = -(alpha / eta)(contrast + lam free)``, bounds by clipping
(:func:`physics_trainer_equivalent`).

Noise (:class:`~.noise.NoiseConfig`, in the substrate's units): ``delta_v2`` is the rule's white
noise on ``u`` per reference step (m^2 for springs), ``offset_sigma_v2`` the spread of fixed
per-agent offsets; measurement noise on read extensions is not modelled here (``meas_sigma_v``
must be 0).
"""

from __future__ import annotations

from typing import Any, Literal

import attrs
import numpy as np

from .._validators import non_negative, positive
from ..kernels.events import clocks as KC
from .clocks import Clock, SyncClock, parse_clock
from .errors import ModelError
from .noise import REFERENCE_STEP_S, NoiseConfig
from .spring_terms import Backend

__all__ = ["PhysicsTwinConfig", "physics_trainer_equivalent"]

#: Clocks the contract twin runs (the continuous clock quantises a gate voltage: resistors only).
CLOCK_KINDS = (KC.SYNC, KC.BERNOULLI, KC.POISSON, KC.PERIODIC)


def _clock(value: Clock | str) -> Clock:
    clock = parse_clock(value) if isinstance(value, str) else value
    if clock.kind not in CLOCK_KINDS:
        raise ModelError(
            f"clock: {clock.spec} quantises a gate voltage (resistor twin only); expected sync, "
            "bernoulli, poisson or periodic"
        )
    return clock


def _noise(_inst: object, _attr: object, value: NoiseConfig) -> None:
    if value.meas_sigma_v != 0:
        raise ModelError("meas_noise: not modelled for spring agents; expected 0")


def _backend(_inst: object, _attr: object, value: str) -> None:
    if value not in ("auto", "numpy", "compiled"):
        raise ModelError(f"backend: expected auto, numpy or compiled, got {value!r}")


def _bound(_inst: object, attr: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and not (np.isfinite(value) and value > 0):
        raise ModelError(f"{attr.name}: expected a finite number > 0, got {value!r}")


@attrs.frozen(kw_only=True)
class PhysicsTwinConfig:
    """Settings of a contract twin (defaults: the spring trainer's, on the board's 0.1 ms clock).

    Parameters
    ----------
    clock
        Clock config or spec (``sync``, ``bernoulli``, ``poisson`` or ``periodic``).
    alpha
        Learning rate per reference step ``step_s`` (as the trainer's ``--alpha``).
    step_s
        Reference step of ``alpha`` and of the rule noise, s.
    lam, eta
        Power-minimisation weight and nudge.
    kappa
        Initial learning DOF (N/m for springs), clipped to the bounds.
    k_min, k_max
        Bounds (``None``: the network's).
    noise
        Rule noise and offsets (see the module docstring).
    sample_interval_s, batch_s, per_edge_samples
        As :class:`~.config.TwinConfig`'s.
    backend
        The state solve after each event group: ``compiled`` (the spring trainer's kernel; spring
        physics on the linear path), ``numpy`` (the Physics contract: any substrate and solver),
        ``auto`` (compiled where it applies).
    """

    clock: Clock = attrs.field(factory=lambda: SyncClock(rate_hz=1e4), converter=_clock)
    alpha: float = attrs.field(default=10.0, converter=float, validator=positive(ModelError))
    step_s: float = attrs.field(
        default=REFERENCE_STEP_S, converter=float, validator=positive(ModelError)
    )
    lam: float = attrs.field(default=0.0, converter=float, validator=non_negative(ModelError))
    eta: float = attrs.field(default=1e-3, converter=float, validator=positive(ModelError))
    kappa: float = attrs.field(default=1.0, converter=float, validator=positive(ModelError))
    k_min: float | None = attrs.field(default=None, validator=_bound)
    k_max: float | None = attrs.field(default=None, validator=_bound)
    noise: NoiseConfig = attrs.field(factory=NoiseConfig, validator=_noise)
    sample_interval_s: float = attrs.field(
        default=0.1, converter=float, validator=positive(ModelError)
    )
    batch_s: float = attrs.field(default=1e-2, converter=float, validator=non_negative(ModelError))
    per_edge_samples: int = attrs.field(default=64, converter=int)
    backend: Backend = attrs.field(default="auto", validator=_backend)
    #: The only engine: agents' events in time order, a wake-up every ``batch_s``.
    engine: Literal["batched"] = "batched"

    def __attrs_post_init__(self) -> None:
        if self.k_min is not None and self.k_max is not None and self.k_min >= self.k_max:
            raise ModelError(f"k_max: must be > k_min ({self.k_min:g}), got {self.k_max:g}")

    @property
    def rate_per_s(self) -> float:
        """``alpha / (eta step_s)``: dk/dt per unit drive."""
        return self.alpha / (self.eta * self.step_s)

    def evolve(self, **changes: Any) -> PhysicsTwinConfig:
        return attrs.evolve(self, **changes)

    def params(self) -> dict[str, Any]:
        """Provenance for the start document."""
        return {
            "clock": self.clock.spec,
            "alpha": self.alpha,
            "step_s": self.step_s,
            "lam": self.lam,
            "eta": self.eta,
            "kappa": self.kappa,
            "k_min": self.k_min,
            "k_max": self.k_max,
            "noise": attrs.asdict(self.noise),
            "sample_interval_s": self.sample_interval_s,
            "batch_s": self.batch_s,
            "engine": self.engine,
            "backend": self.backend,
        }


def physics_trainer_equivalent(
    *,
    alpha: float,
    eta: float,
    lam: float = 0.0,
    step_s: float = REFERENCE_STEP_S,
    kappa: float = 1.0,
    clock: Clock | str | None = None,
) -> PhysicsTwinConfig:
    """The noise-free contract twin that performs the synchronous trainer's steps: a sync clock
    at ``1 / step_s`` (default; a faster sync clock approaches the continuous-time limit)."""
    return PhysicsTwinConfig(
        clock=SyncClock(rate_hz=1.0 / step_s) if clock is None else clock,
        alpha=alpha,
        step_s=step_s,
        lam=lam,
        eta=eta,
        kappa=kappa,
    )
