"""The twin: a task's network, one agent per edge, a clock, noise and probes, on a SimPy ``env``.

``Twin(env, task, config, rng)`` builds the model; :meth:`Twin.run` drives it for a duration of
simulated seconds and returns a :class:`TwinResult`. Documents (start, samples, energy entries,
stop) go to the subscriber passed as ``emit``.

Each edge is an agent with its own capacitor (:mod:`.edge`), conductance curve (:mod:`.devices`),
clock (:mod:`.clocks`) and noise (:mod:`.noise`). An event of edge ``i`` at time ``t`` has three
phases: (1) *stage*: move the capacitor to ``t`` under the held drive (closed form), evaluate the
new conductance; (2) *commit*: apply every change staged at this instant to the electrical state
(:mod:`.network_state`), which also books the energy dissipated since the last change (the power
is constant between changes) and recomputes the nudged targets ``V_F + eta (V~ - V_F)``; (3)
*measure*: the edge reads its free and clamped drops and holds its new drive. Edges firing at the
same instant (a sync or Bernoulli tick) all stage before the commit and all measure after it.

Finite eta: the clamped network's targets are ``V_F + eta (V~ - V_F)``, either instantly
(``tau_feedback_s = 0``) or through a first-order feedback loop of time constant
``tau_feedback_s``, evolved in closed form between events (the clamped energy likewise).

Engines (how events reach SimPy; :mod:`.agents`, :mod:`.batched`):

``agents``
    The naive reference: one SimPy process per edge, one SimPy event per edge event (plus a
    broadcast tick process for global clocks). Exact.
``batched``
    One SimPy process for the clock group. Every ``batch_s`` of simulated time it processes all
    events due since its last wake-up, in time order, in one compiled call (``batch_s = 0``:
    wake at every event instant). This is not an approximation: the compiled loop performs the
    same operations in the same order as the agents engine, so the two agree bit for bit
    (``tests/simulation/test_engines.py``). Observers (probes) first bring the state up to their
    time, so whoever looks sees a current state; ``batch_s`` only sets how often the twin yields to
    other SimPy processes and, in real-time mode, how often it waits for the wall clock.

Windowed commits (``window_s > 0``; Poisson and periodic clocks, batched engine): the events
of per-edge clocks that fall within ``window_s`` seconds of the first pending one are committed
together: each edge's gate moves to its own event times (exact clock and noise draws), one
factorisation per circuit applies every change of the window, and each fired edge then measures
and holds its new drive from its own last event. The difference to the exact path is that an
edge's new drive also sees the changes made later in its window: an approximation of order
``window_s`` (``tests/simulation/test_window.py`` measures the order), exact when a window holds
one event. A window is also cut where an observer looks (every ``batch_s`` and probe sample), so
the result depends on those times to the same order; the default ``window_s = 0`` is exact.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import simpy

from ..documents import Subscriber
from ..kernels.events import energy as KE
from ..kernels.events import gate as KG
from ..kernels.events import loop as KL
from ..physics.task import Task
from .build import FIXED_POINT_ITERS, FIXED_POINT_TOL, build_state
from .config import TwinConfig, trainer_equivalent
from .errors import ModelError
from .network_state import NetworkState
from .result import TwinResult

if TYPE_CHECKING:
    from .probes import Probe

__all__ = ["Twin", "TwinConfig", "TwinResult", "simulate", "trainer_equivalent"]

log = logging.getLogger("twin.sim")

Progress = Callable[[float, float], None]


class Twin:
    """The event-driven twin of one board (or network) on a SimPy environment.

    Parameters
    ----------
    env
        SimPy environment (a plain ``Environment`` for replay and tests, or a real-time one).
    task
        The learning task (network, boundary conditions, training examples).
    config
        Model, clock, noise and engine settings.
    rng
        Source of the run's random keys, comparator offsets and clock spreads.
    emit
        Subscriber for the run documents.
    params
        Extra provenance for the start document.
    """

    def __init__(
        self,
        env: simpy.Environment,
        task: Task,
        config: TwinConfig,
        rng: np.random.Generator,
        *,
        emit: Subscriber | None = None,
        params: dict[str, Any] | None = None,
    ) -> None:
        self.env = env
        self.task = task
        self.config = config
        self.state, self.kernel = build_state(task, config, rng)
        ground = np.zeros(task.network.n_nodes, dtype=bool)
        ground[task.ground] = True
        #: Reduced index of every node (``n`` for ground), as in :func:`circuit_structure`.
        self._node_index = np.where(ground, ground.size - int(ground.sum()), np.cumsum(~ground) - 1)
        self.network = NetworkState(self.state, self.kernel)
        self.emit = emit
        self.params = config.params() | (params or {})
        self.t0_s = float(env.now)
        #: Energies (J: free, clamped, gate) the books owe after :meth:`reset_gates`.
        self._energy_adjust_j = np.zeros(3)
        #: Each edge's own rails (V); :meth:`reset_gates` may narrow them to hold a gate.
        self._rails_v = (self.state.edges.v_min_v.copy(), self.state.edges.v_max_v.copy())
        self.initial = self.readings(self.t0_s)
        self.run_uid = ""

    # ------------------------------------------------------------------ time

    @property
    def clock_key(self) -> int:
        """The run's clock key (for :func:`twin.simulation.clocks.event_times`)."""
        return int(self.state.clock.key)

    def local(self, t_s: float) -> float:
        """Twin time (s since the run started) of environment time ``t_s``."""
        return t_s - self.t0_s

    def catch_up(self, t_s: float) -> int:
        """Process every event up to twin time ``t_s`` (inclusive); returns event groups done.

        With the agents engine events are processed by their own processes and this is a no-op.
        """
        if self.config.engine == "agents":
            return 0
        done = int(KL.run_until(self.kernel, float(t_s), 2**62))
        self.network.check()
        return done

    def reset_gates(
        self, t_s: float, gates_v: np.ndarray, *, hold: np.ndarray | None = None
    ) -> None:
        """Set every gate voltage (V, clipped to its range) at twin time ``t_s`` in place.

        ``t_s`` is at or after the last processed event (call :meth:`catch_up` first). The
        conductances, the operating point, the powers and the held drives follow the new gates
        as at the start of a run, with no rebuild: the clock, the noise streams and the energy
        books carry on. The energy up to ``t_s`` stays that of the old state (the books are
        corrected by what the kernel will book for the interval at the new powers).

        ``hold`` (boolean, one per edge) keeps those gates at their new voltage until the next
        reset: their rails are narrowed to it, so they do not move whatever their drive (a
        shadow holds a gate the board reports pinned at a rail where the twin cannot tell
        which way its drive points). Every other gate, and every gate at the next reset, has
        its own rails again.
        """
        t = float(t_s)
        kernel, edges = self.kernel, self.state.edges
        if self.config.engine == "agents" and hold is not None:
            raise ModelError("reset_gates: hold needs the kernel engine, not agents")
        before = KE.pending_energy(kernel, t)  # old powers and drives up to t
        edges.v_min_v[:], edges.v_max_v[:] = self._rails_v
        edges.v_gate[:] = np.clip(np.asarray(gates_v, dtype=float), edges.v_min_v, edges.v_max_v)
        if hold is not None:
            held = np.asarray(hold, dtype=bool)
            edges.v_min_v[held] = edges.v_gate[held]
            edges.v_max_v[held] = edges.v_gate[held]
        edges.t_gate[:] = t  # the charging resistors' energy to t is in ``before``
        self.state.noise.t_noise[:] = t  # the gates are set: no noise accumulated before t
        KL.initialise(kernel, FIXED_POINT_ITERS, FIXED_POINT_TOL)
        after = KE.pending_energy(kernel, t)  # what the kernel will book to t at the new state
        self._energy_adjust_j += np.subtract(before, after)
        self.network.check()

    def next_event_s(self) -> float:
        """Twin time of the next edge event (``inf`` if none)."""
        return float(KL.next_event_time(self.kernel))

    # ------------------------------------------------------------------ readings

    def gates(self, t_s: float) -> np.ndarray:
        """Gate voltages (V) at twin time ``t_s``: the ``gate_v`` of :meth:`readings` alone
        (read-only; no energies, error or powers)."""
        gates = np.empty(self.state.edges.v_gate.shape[0])
        KG.gates_at(self.kernel, float(t_s), gates)
        return gates

    def readings(self, t_s: float) -> dict[str, Any]:
        """Probe readings at twin time ``t_s`` (read-only: looking never changes the run)."""
        st = self.state
        pend = np.add(KE.pending_energy(self.kernel, float(t_s)), self._energy_adjust_j)
        gates = self.gates(t_s)
        err = float(np.mean(np.sum((st.examples.out_f - st.examples.desired) ** 2, axis=-1)))
        en = st.energy.as_dict()
        return {
            "error": err,
            "free_power_w": float(en["free_power_w"]),
            "clamped_power_w": float(en["clamped_power_w"]),
            "lam": self.config.lam,
            "energy_j": float(en["free_j"] + pend[0]),
            "clamped_energy_j": float(en["clamped_j"] + pend[1]),
            "gate_energy_j": float(en["gate_j"] + pend[2]),
            "events": int(st.counters.events),
            "gate_v": gates,
        }

    def node_voltages(self, example: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Free and clamped node voltages (V, each ``(N,)``) of training example ``example``.

        The electrical state as of the last processed event (call :meth:`catch_up` first): the
        network's conductances are held between edge events, so this is the state at any time
        up to the next event. Grounded nodes read 0 V. Read-only.
        """
        cir, ex = self.state.circuit, self.state.examples
        if not 0 <= example < ex.mu_f.shape[0]:
            raise ModelError(f"example: expected 0..{ex.mu_f.shape[0] - 1}, got {example}")
        n = cir.x.shape[1] - 1
        out = []
        circuits = (
            (cir.free_q[example], ex.mu_f[example]),
            (cir.clamp_q[example], ex.mu_c[example]),
        )
        for q, mu in circuits:
            v = np.zeros(n + 1)
            v[:n] = cir.x[int(q), :n] @ mu
            out.append(v[self._node_index])
        return out[0], out[1]

    def sample(self, times_s: list[float], gates_out: np.ndarray, nodes_out: np.ndarray) -> None:
        """At each twin time of ``times_s`` (increasing) in turn: :meth:`catch_up` to it, then
        row ``k`` of ``gates_out`` ``(K, E)`` gets :meth:`gates` and row ``k`` of ``nodes_out``
        ``(K, 2N)`` the free then the clamped :meth:`node_voltages` of example 0 (V): the same
        numbers as those calls, with one call per frame group instead of four per frame."""
        if self.config.engine == "agents":
            for k, t in enumerate(times_s):
                self.catch_up(t)
                gates_out[k] = self.gates(t)
                nodes_out[k] = np.concatenate(self.node_voltages(0))
            return
        kernel, cir, ex, index = (
            self.kernel,
            self.state.circuit,
            self.state.examples,
            self._node_index,
        )
        n, nn = cir.x.shape[1] - 1, index.size
        v = np.zeros((len(times_s), 2, n + 1))  # reduced voltages, then ground's 0
        # the example's circuits are fixed when the twin is built; their state changes in place
        x_f, x_c = cir.x[int(cir.free_q[0]), :n], cir.x[int(cir.clamp_q[0]), :n]
        mu_f, mu_c, check = ex.mu_f[0], ex.mu_c[0], self.network.check
        for k, t in enumerate(times_s):
            KL.run_until(kernel, t, 2**62)
            check()
            KG.gates_at(kernel, t, gates_out[k])
            v[k, 0, :n] = x_f @ mu_f
            v[k, 1, :n] = x_c @ mu_c
        nodes_out[:, :nn] = v[:, 0, index]
        nodes_out[:, nn:] = v[:, 1, index]

    @property
    def conductance(self) -> np.ndarray:
        """Conductances of the free network of example 0, siemens ``(E,)``."""
        cir = self.state.circuit
        return cir.k[int(cir.free_q[0])].copy()

    def event_log(self) -> tuple[np.ndarray, np.ndarray]:
        """Times (s) and edges of the logged events (``config.log_events``), in order (with
        ``config.window_s > 0``: window by window, edge by edge within a window)."""
        ev = self.state.log
        n = min(int(self.state.counters.events), ev.t.shape[0])
        return ev.t[:n].copy(), ev.edge[:n].copy()

    # ------------------------------------------------------------------ running

    def run(self, duration_s: float, *, progress: Progress | None = None) -> TwinResult:
        """Drive the twin for ``duration_s`` simulated seconds; see :func:`simulate`."""
        from .driver import run_twin

        result = run_twin(
            self, duration_s, emit=self.emit, params=self.params, progress=progress,
            finish=lambda probe, wall_s: self._result(probe, duration_s, wall_s),
            agents=self.config.engine == "agents",
        )  # fmt: skip
        log.info(
            "simulated %.3g s in %.3g s wall (%.3gx real time), %d events",
            duration_s,
            result.stats["wall_s"],
            result.stats["realtime_factor"],
            result.stats["events"],
        )
        return result

    def _result(self, probe: Probe, duration_s: float, wall_s: float) -> TwinResult:
        st = self.state
        last = probe.last
        stats: dict[str, Any] = {
            "error_initial": self.initial["error"],
            "error_final": last["error"],
            "free_power_initial_w": self.initial["free_power_w"],
            "free_power_final_w": last["free_power_w"],
            "clamped_power_final_w": last["clamped_power_w"],
            "training_energy_j": last["energy_j"],
            "clamped_energy_j": last["clamped_energy_j"],
            "gate_charging_energy_j": last["gate_energy_j"],
            "sim_time_s": float(duration_s),
            "events": int(st.counters.events),
            "event_groups": int(st.counters.groups),
            "rank1_updates": int(st.counters.rank1),
            "refactorisations": int(st.counters.refactors),
            "drift_max": float(st.counters.drift_max),
            "wall_s": wall_s,
            "realtime_factor": float(duration_s) / wall_s if wall_s > 0 else float("inf"),
            "lag_max_s": probe.lag_max_s,
            "clock": self.config.clock.spec,
            "model": self.config.edges.device.name,
            "engine": self.config.engine,
            "window_s": self.config.window_s,
            "lam": self.config.lam,
            "eta": self.config.eta,
        }
        return TwinResult(
            k=self.conductance,
            gate_v=last["gate_v"].copy(),
            history=probe.history(),
            stats=stats,
            run_uid=self.run_uid,
        )


def simulate(
    task: Task,
    config: TwinConfig,
    duration_s: float,
    *,
    rng: np.random.Generator,
    env: simpy.Environment | None = None,
    emit: Subscriber | None = None,
    progress: Progress | None = None,
    params: dict[str, Any] | None = None,
) -> TwinResult:
    """Build a twin on ``env`` (a fresh ``simpy.Environment`` if none) and run it.

    Parameters
    ----------
    task
        The learning task.
    config
        Twin settings.
    duration_s
        Simulated seconds to run.
    rng
        Source of all randomness of the run.
    env
        SimPy environment; pass a real-time one for live use (:mod:`.realtime`).
    emit
        Subscriber for the run documents.
    progress
        Called as ``progress(t_s, duration_s)`` at every sample.
    params
        Extra provenance for the start document.
    """
    env = simpy.Environment() if env is None else env
    twin = Twin(env, task, config, rng, emit=emit, params=params)
    return twin.run(duration_s, progress=progress)
