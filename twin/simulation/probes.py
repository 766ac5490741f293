"""Probes: sample a running twin at a fixed simulated interval and emit documents.

Every ``sample_interval_s`` of simulated time (and once at the end) the probe brings the twin up
to date (:meth:`~.twin.Twin.catch_up`), reads it without changing it and emits

- a ``sample`` document: ``error`` (V^2), ``error_normalized``, ``free_power_w``,
  ``clamped_power_w``, ``lam``, ``energy_j`` (free-network energy so far, J), ``events``, gate
  voltage statistics ``gate_v_mean``/``gate_v_min``/``gate_v_max`` (V) and, for networks of at
  most ``per_edge_samples`` edges, every gate ``gate_v_<i>`` (V); in real-time mode ``lag_s``;
- three ``energy`` documents for the interval since the previous sample, components
  ``free_network``, ``clamped_network`` and ``gate_charging`` (method ``integral``).

Energies are exact: the network powers are constant between conductance changes and are booked
at every change, the clamped power under a feedback loop is integrated in closed form, and the
gate charging energy is ``sum u^2 / R * dt`` over the hold intervals (:mod:`.edge`). The probe
adds the part since the last booking read-only, so sampling never perturbs the run.

A twin over the :class:`~twin.physics.contract.Physics` contract (:mod:`.physics_twin`: spring
networks) names its agent state (``stiffness_n_per_m`` for ``gate_v``) and its cost
(``cost_name``: ``energy_j``, so ``free_power_w`` reads ``free_energy_j`` as in the trainer's
documents, :func:`twin.learning.train_types.public_key`), and its readings hold only the energy
components it books (no ``gate_charging``).

Probe events are scheduled at a priority after every ordinary event of the same instant, so with
either engine a sample at ``t`` includes every edge event at ``t``.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import numpy as np
import simpy
from simpy.events import Event, EventPriority

from ..documents import Run
from ..learning.train_types import public_key
from .contracts import ObservedTwin
from .realtime import lag_s

__all__ = ["LATE", "LateTimeout", "Probe"]

#: SimPy priority after ``NORMAL`` (1): runs after every ordinary event of the same instant.
LATE = EventPriority(2)

ENERGY_COMPONENTS = (
    ("free_network", "energy_j"),
    ("clamped_network", "clamped_energy_j"),
    ("gate_charging", "gate_energy_j"),
)


class LateTimeout(Event):
    """A timeout processed after every ``NORMAL`` event scheduled for the same time."""

    def __init__(self, env: simpy.Environment, delay: float) -> None:
        if delay < 0:
            raise ValueError(f"negative delay {delay}")
        super().__init__(env)
        self._ok = True
        self._value = None
        env.schedule(self, LATE, delay)


class Probe:
    """Samples a twin and emits its documents.

    Parameters
    ----------
    twin
        The twin (:class:`twin.simulation.twin.Twin`).
    run
        The run whose sample and energy documents the probe sends.
    progress
        Called as ``progress(t_s, duration_s)`` after every sample.
    """

    def __init__(
        self,
        twin: ObservedTwin,
        run: Run,
        *,
        progress: Callable[[float, float], None] | None = None,
    ) -> None:
        self.twin = twin
        self.run = run
        self.progress = progress
        self.interval_s = float(twin.config.sample_interval_s)
        self.rows: list[dict[str, Any]] = []
        self.last: dict[str, Any] = dict(twin.initial)
        self.lag_max_s = 0.0
        #: The agents' state (``gate_v``, or ``stiffness_n_per_m``) and the cost's key stem.
        self.agent_key: str = getattr(twin, "agent_key", "gate_v")
        self.cost_name: str = getattr(twin, "cost_name", "power_w")

    def start(self, duration_s: float) -> simpy.Process:
        """Start sampling for ``duration_s``; the returned process ends after the last sample."""
        return self.twin.env.process(self._run(float(duration_s)))

    def _run(self, duration_s: float) -> Generator[Event, Any, None]:
        env = self.twin.env
        self.sample(0.0, previous=None)
        n = 1
        while True:
            t = min(n * self.interval_s, duration_s)
            yield LateTimeout(env, max(self.twin.t0_s + t - env.now, 0.0))
            self.sample(t, previous=self.rows[-1])
            if self.progress is not None:
                self.progress(t, duration_s)
            if t >= duration_s:
                return
            n += 1

    def sample(self, t_s: float, previous: dict[str, Any] | None) -> dict[str, Any]:
        """Bring the twin to ``t_s``, read it, record and emit the documents."""
        self.twin.catch_up(t_s)
        row = self.twin.readings(t_s) | {"t_s": t_s}
        lag = lag_s(self.twin.env)
        if lag is not None:
            row["lag_s"] = lag
            self.lag_max_s = max(self.lag_max_s, lag)
        self.rows.append(row)
        self.last = row
        if self.run.recording:
            self._emit(row, previous)
        return row

    def _emit(self, row: dict[str, Any], previous: dict[str, Any] | None) -> None:
        err0 = self.twin.initial["error"]
        name = self.agent_key
        gates = row[name]
        data: dict[str, list[float]] = {
            public_key(key, self.cost_name): [float(row[key])]
            for key in ("error", "free_power_w", "clamped_power_w", "lam", "energy_j", "events")
        }
        data["error_normalized"] = [row["error"] / err0 if err0 > 0 else 0.0]
        data[f"{name}_mean"] = [float(np.mean(gates))]
        data[f"{name}_min"] = [float(np.min(gates))]
        data[f"{name}_max"] = [float(np.max(gates))]
        if gates.size <= self.twin.config.per_edge_samples:
            data.update({f"{name}_{i}": [float(v)] for i, v in enumerate(gates)})
        if "lag_s" in row:
            data["lag_s"] = [row["lag_s"]]
        self.run.sample(row["t_s"], data)
        if previous is None or row["t_s"] <= previous["t_s"]:
            return
        for component, key in ENERGY_COMPONENTS:
            if key not in row:
                continue
            e_j = max(row[key] - previous[key], 0.0)
            self.run.energy(previous["t_s"], row["t_s"], e_j, component=component)

    def history(self) -> dict[str, np.ndarray]:
        """Sampled series as arrays (``gate_v``, or the agent state, is ``(n_samples, E)``)."""
        keys = ("t_s", "error", "free_power_w", "clamped_power_w", "energy_j", "events")
        out = {
            public_key(key, self.cost_name): np.array([r[key] for r in self.rows]) for key in keys
        }
        out[self.agent_key] = np.array([r[self.agent_key] for r in self.rows])
        if self.rows and "lag_s" in self.rows[-1]:
            out["lag_s"] = np.array([r.get("lag_s", 0.0) for r in self.rows])
        return out
