"""The event-driven twin over the Physics contract: asynchronous spring agents in continuous time.

``PhysicsTwin(env, task, config, rng)`` is :class:`~.twin.Twin`'s counterpart for a substrate
given by the :class:`~twin.physics.contract.Physics` contract (spring networks, seed App. D):
each edge is an agent holding its stiffness (N/m), integrating its held contrast between its own
clock events (:mod:`.physics_agents`, settings :class:`~.physics_config.PhysicsTwinConfig`). It
satisfies :class:`~.contracts.ObservedTwin`, so the resistor twin's probe, batched engine,
real-time environment and documents run it unchanged (:func:`.driver.run_twin`).

Reported names follow the trainer's (:func:`twin.learning.train_types.public_key`): a substrate
whose cost is the elastic energy reports ``free_energy_*_j`` where the resistor twin reports
``free_power_*_w``, ``k_min_n_per_m``, and samples ``stiffness_n_per_m_<i>`` where it samples
``gate_v_<i>``. ``training_energy_j`` and ``clamped_energy_j`` are the free and clamped elastic
energies summed over the event groups (one actuation of the network per group: a sync tick, or
one event of a per-edge clock), ledger components ``free_network`` and ``clamped_network``.
There is no gate-charging component (no charging circuit is modelled).

With a sync clock at ``1 / step_s`` and no noise, a run performs the synchronous trainer's steps
(``tests/simulation/test_springs_twin.py`` checks it against both trainer backends).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import simpy

from ..documents import Subscriber
from ..learning.train_types import public_key
from ..physics.contract import Physics
from ..physics.substrates import physics_for
from .physics_agents import ContractAgents
from .physics_config import PhysicsTwinConfig
from .result import TwinResult

if TYPE_CHECKING:
    from .probes import Probe

__all__ = ["AGENT_KEYS", "PhysicsTwin", "simulate_physics"]

log = logging.getLogger("twin.sim")

Progress = Callable[[float, float], None]

#: Name of the agents' state in samples and history, by substrate.
AGENT_KEYS = {"springs": "stiffness_n_per_m", "resistors": "conductance_s"}


def _physics(task: Any) -> Physics:
    if isinstance(task, Physics):
        return task
    return physics_for(list(task) if isinstance(task, Sequence) else [task])


class PhysicsTwin:
    """The event-driven twin of one network of a contract substrate on a SimPy environment.

    Parameters
    ----------
    env
        SimPy environment (plain, or real-time).
    task
        A spring (or resistor) task, or a one-realization :class:`~twin.physics.contract.Physics`
        (e.g. spring physics in its ``nonlinear`` mode).
    config
        Clock, rule, bounds and noise.
    rng
        Source of the run's keys, offsets and clock spreads.
    emit
        Subscriber for the run documents.
    params
        Extra provenance for the start document.
    """

    def __init__(
        self,
        env: simpy.Environment,
        task: Any,
        config: PhysicsTwinConfig,
        rng: np.random.Generator,
        *,
        emit: Subscriber | None = None,
        params: dict[str, Any] | None = None,
    ) -> None:
        self.env = env
        self.config = config
        self.physics = _physics(task)
        self.agents = ContractAgents(self.physics, config, rng)
        self.cost_name = self.physics.cost.name
        self.agent_key = AGENT_KEYS.get(self.physics.name, "k")
        self.emit = emit
        self.params = config.params() | {"physics": self.physics.name} | (params or {})
        self.t0_s = float(env.now)
        self.initial = self.readings(0.0)
        self.run_uid = ""

    # ------------------------------------------------------------------ ObservedTwin

    def local(self, t_s: float) -> float:
        """Twin time (s since the run started) of environment time ``t_s``."""
        return t_s - self.t0_s

    def catch_up(self, t_s: float) -> int:
        """Process every event up to twin time ``t_s`` (inclusive); returns event groups done."""
        return self.agents.run_until(float(t_s))

    def next_event_s(self) -> float:
        """Twin time of the next agent event (``inf`` if none)."""
        return self.agents.next_event_s()

    def readings(self, t_s: float) -> dict[str, Any]:
        """Probe readings at twin time ``t_s`` (read-only). ``free_power_w`` and
        ``clamped_power_w`` hold the substrate's cost (J for springs; reported renamed)."""
        a = self.agents
        free_j, clamped_j = a.pending_j(float(t_s))
        return {
            "error": a.error,
            "free_power_w": a.free_cost,
            "clamped_power_w": a.clamped_cost,
            "lam": self.config.lam,
            "energy_j": a.free_j + free_j,
            "clamped_energy_j": a.clamped_j + clamped_j,
            "events": int(a.events),
            self.agent_key: a.k_at(float(t_s)),
        }

    @property
    def k(self) -> np.ndarray:
        """The agents' learning DOF as the network last saw them (N/m for springs; a copy)."""
        return self.agents.k.copy()

    # ------------------------------------------------------------------ running

    def run(self, duration_s: float, *, progress: Progress | None = None) -> TwinResult:
        """Drive the twin for ``duration_s`` simulated seconds (batched engine)."""
        from .driver import run_twin

        result = run_twin(
            self, duration_s, emit=self.emit, params=self.params, progress=progress,
            finish=lambda probe, wall_s: self._result(probe, duration_s, wall_s),
        )  # fmt: skip
        log.info("simulated %.3g s (%s) in %.3g s wall, %d events", duration_s,
                 self.physics.name, result.stats["wall_s"], result.stats["events"])  # fmt: skip
        return result

    def _result(self, probe: Probe, duration_s: float, wall_s: float) -> TwinResult:
        a, cfg, last = self.agents, self.config, probe.last
        named = {
            "error_initial": self.initial["error"],
            "error_final": last["error"],
            "free_power_initial_w": self.initial["free_power_w"],
            "free_power_final_w": last["free_power_w"],
            "clamped_power_final_w": last["clamped_power_w"],
            "training_energy_j": last["energy_j"],
            "clamped_energy_j": last["clamped_energy_j"],
        }
        stats: dict[str, Any] = {public_key(key, self.cost_name): v for key, v in named.items()}
        stats |= {
            "sim_time_s": float(duration_s),
            "events": int(a.events),
            "event_groups": int(a.groups),
            "refactorisations": int(a.groups) + 1,  # one solve per group and the initial one
            "wall_s": wall_s,
            "realtime_factor": float(duration_s) / wall_s if wall_s > 0 else float("inf"),
            "lag_max_s": probe.lag_max_s,
            "physics": self.physics.name,
            "clock": cfg.clock.spec,
            "engine": cfg.engine,
            "backend": a.solve.name,
            "lam": cfg.lam,
            "eta": cfg.eta,
            "alpha": cfg.alpha,
            public_key("k_min_siemens", self.cost_name): a.k_min,
            public_key("k_max_siemens", self.cost_name): a.k_max,
        }
        mode = getattr(self.physics, "mode", None)
        if mode is not None:
            stats["spring_solver"] = mode
        return TwinResult(
            k=self.k, gate_v=np.zeros(0), history=probe.history(), stats=stats,
            run_uid=self.run_uid,
        )  # fmt: skip


def simulate_physics(
    task: Any,
    config: PhysicsTwinConfig,
    duration_s: float,
    *,
    rng: np.random.Generator,
    env: simpy.Environment | None = None,
    emit: Subscriber | None = None,
    progress: Progress | None = None,
    params: dict[str, Any] | None = None,
) -> TwinResult:
    """Build a :class:`PhysicsTwin` on ``env`` (a fresh ``simpy.Environment`` if none) and run
    it; arguments as :func:`twin.simulation.twin.simulate`'s."""
    env = simpy.Environment() if env is None else env
    twin = PhysicsTwin(env, task, config, rng, emit=emit, params=params)
    return twin.run(duration_s, progress=progress)
