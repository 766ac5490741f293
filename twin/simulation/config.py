"""The twin's settings: :class:`TwinConfig` (clock, edge circuits, rule, noise, engine) and
:func:`trainer_equivalent` (the linear, noise-free twin that performs the synchronous trainer's
rule). See :mod:`.twin` for what the settings mean in a run.
"""

from __future__ import annotations

from typing import Any, Literal

import attrs
import numpy as np

from .._validators import non_negative, positive
from ..kernels.events import clocks as KC
from ..learning.rules import LearningRule
from .clocks import Clock, SyncClock, parse_clock
from .devices import linear_for_bounds
from .edge import BOARD_V_MAX_V, BOARD_V_MIN_V, EdgeParams, board_edge_params
from .errors import ModelError
from .network_state import SolverSettings
from .noise import NoiseConfig

__all__ = ["Engine", "TwinConfig", "trainer_equivalent"]

Engine = Literal["batched", "agents"]


def _clock(value: Clock | str) -> Clock:
    return parse_clock(value) if isinstance(value, str) else value


def _engine(_inst: object, _attr: object, value: str) -> None:
    if value not in ("batched", "agents"):
        raise ModelError(f"engine: expected batched or agents, got {value!r}")


def _window(inst: TwinConfig, _attr: object, value: float) -> None:
    if not (np.isfinite(value) and value >= 0):
        raise ModelError(f"window_s: expected a finite number >= 0 s, got {value!r}")
    if value > 0 and inst.clock.kind not in (KC.POISSON, KC.PERIODIC):
        raise ModelError(
            f"window_s: applies to poisson and periodic clocks; got clock {inst.clock.spec}"
        )
    if value > 0 and inst.engine != "batched":
        raise ModelError(f"window_s: needs the batched engine; got engine {inst.engine}")


@attrs.frozen(kw_only=True)
class TwinConfig:
    """Settings of an event-driven twin (board defaults).

    Parameters
    ----------
    clock
        Clock config or spec string (``sync:10000``: the board's 0.1 ms learning step).
    edges
        Per-edge circuit parameters and conductance curve (board transistor).
    lam
        Power-minimisation weight lambda (the free measurement is weighted ``1 - lam``).
    eta
        Nudge amplitude of the clamped targets (0.22 on the board).
    tau_feedback_s
        Time constant of the clamp feedback loop, s (0: the targets follow instantly).
    noise
        Noise sources.
    sample_interval_s
        Simulated time between probe samples, s.
    batch_s
        Batched engine: simulated time between wake-ups, s (0: every event instant).
    engine
        ``batched`` (fast) or ``agents`` (one SimPy process per edge; the reference).
    window_s
        Commit window of per-edge clocks (Poisson, periodic), s: events within ``window_s`` of
        the first pending one are committed together, one factorisation per window (see the
        module docstring; an approximation of order ``window_s``). 0: every event on its own
        (exact). Windows are also cut at every wake-up (``batch_s``; 0 wakes at each event, so
        every window holds one instant) and probe sample.
    solver
        Incremental-solver settings.
    per_edge_samples
        Sample every edge's gate voltage (``gate_v_<i>``) when the network has at most this many
        edges.
    log_events
        Keep the times and edges of the first ``log_events`` edge events (tests, statistics;
        with ``window_s > 0`` a window's events are logged edge by edge).
    """

    clock: Clock = attrs.field(factory=lambda: SyncClock(rate_hz=1e4), converter=_clock)
    edges: EdgeParams = attrs.field(factory=lambda: board_edge_params("transistor"))
    lam: float = attrs.field(default=0.0, converter=float, validator=non_negative(ModelError))
    eta: float = attrs.field(default=0.22, converter=float, validator=positive(ModelError))
    tau_feedback_s: float = attrs.field(
        default=0.0, converter=float, validator=non_negative(ModelError)
    )
    noise: NoiseConfig = attrs.field(factory=NoiseConfig)
    sample_interval_s: float = attrs.field(
        default=0.1, converter=float, validator=positive(ModelError)
    )
    batch_s: float = attrs.field(default=1e-2, converter=float, validator=non_negative(ModelError))
    engine: Engine = attrs.field(default="batched", validator=_engine)
    solver: SolverSettings = attrs.field(factory=SolverSettings)
    per_edge_samples: int = attrs.field(default=64, converter=int)
    log_events: int = attrs.field(default=0, converter=int)
    window_s: float = attrs.field(default=0.0, converter=float, validator=_window)

    def evolve(self, **changes: Any) -> TwinConfig:
        return attrs.evolve(self, **changes)

    def params(self) -> dict[str, Any]:
        """Provenance for the start document."""
        return {
            "clock": self.clock.spec,
            "model": self.edges.device.name,
            "lam": self.lam,
            "eta": self.eta,
            "tau_feedback_s": self.tau_feedback_s,
            "noise": attrs.asdict(self.noise),
            "sample_interval_s": self.sample_interval_s,
            "batch_s": self.batch_s,
            "engine": self.engine,
            "window_s": self.window_s,
        }


def trainer_equivalent(
    rule: LearningRule,
    *,
    step_s: float = 1e-4,
    k_min_siemens: float = 1e-3,
    k_max_siemens: float = 1e1,
    kappa_siemens: float = 1.0,
    clock: Clock | str | None = None,
) -> TwinConfig:
    """The linear, noise-free twin that performs the synchronous trainer's rule.

    The linear device maps the board's gate rails onto ``[k_min_siemens, k_max_siemens]``
    (slope ``m``, S/V) and the gates start where ``k = kappa_siemens``. A sync tick of ``dt``
    moves a gate by ``a * contrast * dt / (R C)``, so ``dk = m a dt / (R C) * contrast``; the
    gains are chosen so that at ``dt = step_s`` this is the trainer's ``dk = (alpha / eta) *
    ((1 - lam) dV_F^2 - dV_C^2)`` with the same eta and lambda. ``clock`` defaults to
    ``sync:1/step_s`` (the same steps); a faster sync clock approaches the continuous-time limit
    of the same dynamics.
    """
    device = linear_for_bounds(k_min_siemens, k_max_siemens, BOARD_V_MIN_V, BOARD_V_MAX_V)
    slope = float(device.slope_siemens_per_v)
    v0 = (
        float(device.v_zero_v) + float(np.clip(kappa_siemens, k_min_siemens, k_max_siemens)) / slope
    )
    base = EdgeParams(device=device, v_gate0_v=min(max(v0, BOARD_V_MIN_V), BOARD_V_MAX_V))
    gain = (rule.alpha / rule.eta) * float(base.rc_s) / (slope * step_s)
    edges = base.evolve(a_free_per_v=gain, a_clamp_per_v=gain)
    return TwinConfig(
        clock=SyncClock(rate_hz=1.0 / step_s) if clock is None else _clock(clock),
        edges=edges,
        lam=rule.lam,
        eta=rule.eta,
    )
