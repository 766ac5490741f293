"""A twin that follows a board through mode and parameter changes: :class:`TwinTrack`.

The event-driven :class:`twin.simulation.Twin` runs one configuration from one initial state.
A board changes both while it runs (training on and off, new eta or lambda, gates reset, a new
task, a resync of the shadow to the board's gates). :class:`TwinTrack` keeps a chain of twins on
board time: each change starts a new twin at the current board time from the current gate
voltages (the capacitor voltages are the state that carries over), and energies accumulate
across the chain. Only the twin's public API is used (``catch_up``, ``readings``,
``node_voltages``); the model never sees the wall clock.

Modes: ``training`` runs the edge circuits with their gains; ``idle`` and ``inference`` hold the
gates (amplifier gains zero; a leak, if any, still acts).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import simpy

from twin.physics.task import Task
from twin.simulation.clocks import SyncClock
from twin.simulation.edge import EdgeParams, gate_write_energy_j
from twin.simulation.noise import NoiseConfig
from twin.simulation.twin import Twin, TwinConfig

__all__ = ["ENERGY_KEYS", "TwinTrack"]

#: Cumulative energies a track keeps (J): free network, clamped network, gate charging.
ENERGY_KEYS = ("energy_j", "clamped_energy_j", "gate_energy_j")


class TwinTrack:
    """A chain of twins on board time.

    Parameters
    ----------
    task
        The task the network is trained on.
    edges
        Edge circuits and device (nominal for a shadow, hidden for an emulated board).
    t_s
        Board time at which the track starts, s.
    gates_v
        Initial gate voltages, V (``None``: the edges' ``v_gate0_v``).
    mode
        ``training``, ``idle`` or ``inference``.
    eta, lam, step_s
        Nudge, power weight and learning step (s) in force.
    noise
        Learning-rule noise of the circuits.
    rng
        Source of every twin's noise keys (one draw per segment).
    """

    def __init__(
        self,
        task: Task,
        edges: EdgeParams,
        *,
        t_s: float,
        gates_v: np.ndarray | None,
        mode: str,
        eta: float,
        lam: float,
        step_s: float,
        noise: NoiseConfig | None = None,
        rng: np.random.Generator,
    ) -> None:
        self.task = task
        self.edges = edges
        self.mode = mode
        self.eta = float(eta)
        self.lam = float(lam)
        self.step_s = float(step_s)
        self.noise = noise if noise is not None else NoiseConfig()
        self.rng = rng
        self.segments = 0
        self._offset = dict.fromkeys(ENERGY_KEYS, 0.0)
        gates = edges.columns(task.network.n_edges)["v_gate0_v"] if gates_v is None else gates_v
        self._start(float(t_s), np.asarray(gates, dtype=float))

    # ------------------------------------------------------------------ building

    def _config(self, gates_v: np.ndarray) -> TwinConfig:
        cols = self.edges.columns(self.task.network.n_edges)
        v0 = np.clip(gates_v, cols["v_min_v"], cols["v_max_v"])
        edges = self.edges.evolve(v_gate0_v=v0)
        if self.mode != "training":
            edges = edges.evolve(a_free_per_v=0.0, a_clamp_per_v=0.0)
        return TwinConfig(
            clock=SyncClock(rate_hz=1.0 / self.step_s),
            edges=edges,
            lam=self.lam,
            eta=self.eta,
            noise=self.noise,
            sample_interval_s=1.0,
            per_edge_samples=0,
        )

    def _start(self, t_s: float, gates_v: np.ndarray) -> None:
        env = simpy.Environment(initial_time=t_s)
        self.twin = Twin(env, self.task, self._config(gates_v), self.rng)
        self.t0_s = t_s
        self.t_s = t_s
        self.segments += 1

    def restart(self, t_s: float, gates_v: np.ndarray | None = None, **changes: Any) -> None:
        """Start a new segment at board time ``t_s`` (after changing mode, eta, lam, ...).

        ``gates_v`` replaces the gate voltages (reset or resync); by default they carry over.
        ``changes`` may set ``mode``, ``eta``, ``lam``, ``step_s``, ``task``, ``edges``.
        """
        self.advance(t_s)
        readings = self.twin.readings(self.t_s - self.t0_s)
        for key in ENERGY_KEYS:
            self._offset[key] += float(readings[key])
        gates = readings["gate_v"] if gates_v is None else np.asarray(gates_v, dtype=float)
        for name, value in changes.items():
            if name not in ("mode", "eta", "lam", "step_s", "task", "edges"):
                raise TypeError(f"restart: unknown setting {name!r}")
            setattr(self, name, float(value) if name in ("eta", "lam", "step_s") else value)
        n = self.task.network.n_edges
        gates = np.broadcast_to(np.asarray(gates, dtype=float), (n,)).copy()
        self._start(t_s, gates)

    def write_gates(self, t_s: float, gates_v: np.ndarray, **changes: Any) -> float:
        """Charge every gate to ``gates_v`` (V) at board time ``t_s``, as a board's gate write
        does, and start a new segment from them (:meth:`restart` with ``changes``).

        Each capacitor is charged through its charging resistor from a driver stepped to the new
        voltage, which dissipates ``C dV^2 / 2`` in the resistor whatever its value (``C`` the
        gate capacitance, ``dV`` the gate's move): booked as gate energy and returned (J). A
        shadow's resync (:meth:`reset_gates`) moves the model, not the board, and books nothing.
        """
        self.advance(t_s)
        n = self.task.network.n_edges
        old = self.twin.gates(self.t_s - self.t0_s)
        new = np.broadcast_to(np.asarray(gates_v, dtype=float), (n,))
        write_j = gate_write_energy_j(self.edges.columns(n)["c_gate_f"], old, new)
        self._offset["gate_energy_j"] += write_j
        self.restart(t_s, new, **changes)
        return write_j

    def reset_gates(
        self, t_s: float, gates_v: np.ndarray, *, hold: np.ndarray | None = None
    ) -> None:
        """Set the gate voltages (V) at board time ``t_s`` in place, in the same segment (no new
        twin: :meth:`twin.simulation.twin.Twin.reset_gates`); mode, eta and lambda stay.

        The twin's own clock goes on from the track's time and board time ``t_s`` is mapped onto
        it: whatever the board did since (frames lost, a silence, a reboot's new time base) is
        not simulated but replaced by the new gates. ``hold`` (one boolean per edge) keeps those
        gates where they are set until the next reset (a new segment releases them too).
        """
        n = self.task.network.n_edges
        gates = np.broadcast_to(np.asarray(gates_v, dtype=float), (n,))
        local_s = self.t_s - self.t0_s
        self.twin.reset_gates(local_s, gates, hold=hold)
        self.t0_s = float(t_s) - local_s
        self.t_s = float(t_s)

    # ------------------------------------------------------------------ running

    def advance(self, t_s: float) -> None:
        """Process every edge event up to board time ``t_s`` (never backwards)."""
        if t_s > self.t_s:
            self.twin.catch_up(t_s - self.t0_s)
            self.t_s = t_s

    def sample(self, times_s: list[float], gates_out: np.ndarray, nodes_out: np.ndarray) -> None:
        """:meth:`advance` to each board time of ``times_s`` (increasing, each after the track's
        time) in turn; row ``k`` of ``gates_out`` ``(K, E)`` gets the :meth:`gates` there and
        row ``k`` of ``nodes_out`` ``(K, 2N)`` the free then the clamped :meth:`node_voltages`
        (:meth:`twin.simulation.Twin.sample`)."""
        self.twin.sample([t - self.t0_s for t in times_s], gates_out, nodes_out)
        self.t_s = times_s[-1]

    def gates(self) -> np.ndarray:
        """Gate voltages (V) at the track's current time."""
        return self.twin.gates(self.t_s - self.t0_s)

    def gates_ahead(self, dt_s: float) -> np.ndarray:
        """Gate voltages (V) ``dt_s`` after the track's current time under the drives held now
        (read-only: nothing is advanced; the network's response to the moving gates is not
        followed, so keep ``dt_s`` short)."""
        return self.twin.gates(self.t_s - self.t0_s + float(dt_s))

    def node_voltages(self) -> tuple[np.ndarray, np.ndarray]:
        """Free and clamped node voltages (V) at the track's current time (example 0)."""
        return self.twin.node_voltages(0)

    def free_outputs_v(self, nodes: np.ndarray) -> np.ndarray:
        """Free voltages (V) of ``nodes`` for every training example, ``(m, len(nodes))``."""
        m = self.task.train.inputs.shape[0]
        return np.array([self.twin.node_voltages(e)[0][nodes] for e in range(m)])

    def readings(self) -> dict[str, Any]:
        """The twin's readings at the current time, energies cumulative over the whole track."""
        r = dict(self.twin.readings(self.t_s - self.t0_s))
        for key in ENERGY_KEYS:
            r[key] = float(r[key]) + self._offset[key]
        return r
