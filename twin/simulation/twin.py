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
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

import attrs
import numpy as np
import simpy

from .._validators import non_negative, positive
from ..documents import Run, Subscriber
from ..kernels.events import clocks as KC
from ..kernels.events import devices as KD
from ..kernels.events import energy as KE
from ..kernels.events import gate as KG
from ..kernels.events import loop as KL
from ..kernels.events.state import EventLog, KernelState, Rule, State, kernel_state
from ..learning.rules import LearningRule
from ..physics.task import Task
from .clocks import Clock, SyncClock, clock_group, parse_clock
from .devices import device_group, linear_for_bounds
from .edge import BOARD_V_MAX_V, BOARD_V_MIN_V, EdgeParams, board_edge_params
from .errors import ModelError
from .network_state import (
    NetworkState,
    SolverSettings,
    circuit_group,
    circuit_structure,
    examples_group,
    solver_group,
)
from .noise import NoiseConfig, noise_group, run_keys

if TYPE_CHECKING:
    from .probes import Probe

__all__ = ["Twin", "TwinConfig", "TwinResult", "simulate", "trainer_equivalent"]

log = logging.getLogger("twin.sim")

Progress = Callable[[float, float], None]
Engine = Literal["batched", "agents"]

#: Fixed-point iterations allowed at the start for the transistor's operating point.
FIXED_POINT_ITERS = 50
FIXED_POINT_TOL = 1e-12


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


@attrs.frozen(eq=False)
class TwinResult:
    """Outcome of a twin run (single realization).

    Attributes
    ----------
    k : (E,) final conductances of the free network (example 0), siemens.
    gate_v : (E,) final gate voltages, V.
    history : sampled series: ``t_s``, ``error``, ``free_power_w``, ``clamped_power_w``,
        ``energy_j``, ``events``, ``gate_v`` ``(n_samples, E)``.
    stats : scalar outcomes (see :meth:`summary`).
    """

    k: np.ndarray
    gate_v: np.ndarray
    history: dict[str, np.ndarray]
    stats: dict[str, float]
    run_uid: str = ""

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary (the CLI's ``--json`` object)."""
        return dict(self.stats)


def build_state(
    task: Task, config: TwinConfig, rng: np.random.Generator
) -> tuple[State, KernelState]:
    """Allocate and initialise the kernel state of a twin (t = 0): groups and kernel handle.

    Each concept module fills its own group; the draws from ``rng`` come in a fixed order (run
    keys, comparator offsets, clock periods).
    """
    ends, cons, n = circuit_structure(task)
    e = ends.shape[0]
    clock = config.clock
    noise_key, clock_key = run_keys(rng)
    noise = noise_group(config.noise, e, noise_key, rng)
    if np.any(config.edges.bias_v_per_s != 0):  # the learning bias rides on the offsets
        noise.offset_v2[:] += config.edges.bias_offsets_v2(e)
    clocks = clock_group(clock, e, clock_key, rng)
    windowed = config.window_s > 0
    solver, factor = solver_group(
        config.solver, ends, cons, n, windowed or clock.kind in (KC.SYNC, KC.BERNOULLI),
        config.window_s,
    )  # fmt: skip
    transistor = config.edges.device.kind == KD.TRANSISTOR
    n_log = max(config.log_events, 0)
    st, kst = kernel_state(
        circuit=circuit_group(ends, cons, n, task.train.size, transistor, solver.sparse),
        factor=factor,
        examples=examples_group(task),
        edges=config.edges.kernel_group(e),
        device=device_group(config.edges.device, e),
        clock=clocks,
        noise=noise,
        rule=Rule(lam=config.lam, eta=config.eta, tau_feedback_s=config.tau_feedback_s,
                  n_sources=int(task.n_sources)),
        solver=solver,
        log=EventLog(t=np.zeros(n_log), edge=np.zeros(n_log, dtype=np.int64)),
    )  # fmt: skip
    iters = KL.initialise(kst, FIXED_POINT_ITERS, FIXED_POINT_TOL)
    NetworkState(st, kst).check()
    log.debug("initial operating point after %d fixed-point iteration(s)", iters)
    return st, kst


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

    def reset_gates(self, t_s: float, gates_v: np.ndarray) -> None:
        """Set every gate voltage (V, clipped to its range) at twin time ``t_s`` in place.

        ``t_s`` is at or after the last processed event (call :meth:`catch_up` first). The
        conductances, the operating point, the powers and the held drives follow the new gates
        as at the start of a run, with no rebuild: the clock, the noise streams and the energy
        books carry on. The energy up to ``t_s`` stays that of the old state (the books are
        corrected by what the kernel will book for the interval at the new powers).
        """
        t = float(t_s)
        kernel, edges = self.kernel, self.state.edges
        before = KE.pending_energy(kernel, t)  # old powers and drives up to t
        edges.v_gate[:] = np.clip(np.asarray(gates_v, dtype=float), edges.v_min_v, edges.v_max_v)
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

    def readings(self, t_s: float) -> dict[str, Any]:
        """Probe readings at twin time ``t_s`` (read-only: looking never changes the run)."""
        st = self.state
        pend = np.add(KE.pending_energy(self.kernel, float(t_s)), self._energy_adjust_j)
        gates = np.empty(st.edges.v_gate.shape[0])
        KG.gates_at(self.kernel, float(t_s), gates)
        err = float(np.mean(np.sum((st.examples.out_f - st.examples.desired) ** 2, axis=-1)))
        en = st.energy
        return {
            "error": err,
            "free_power_w": float(en.free_power_w),
            "clamped_power_w": float(en.clamped_power_w),
            "lam": self.config.lam,
            "energy_j": float(en.free_j + pend[0]),
            "clamped_energy_j": float(en.clamped_j + pend[1]),
            "gate_energy_j": float(en.gate_j + pend[2]),
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
        from .agents import start_agents
        from .batched import start_batched
        from .probes import Probe

        if not (np.isfinite(duration_s) and duration_s >= 0):
            raise ModelError(f"duration: must be a finite number >= 0 s, got {duration_s!r}")
        with Run(self.emit, source="twin", kind="simulate", params=self.params) as run:
            self.run_uid = run.uid
            probe = Probe(self, run, progress=progress)
            wall0 = time.perf_counter()
            if self.config.engine == "agents":
                start_agents(self.env, self, duration_s)
            else:
                start_batched(self.env, self, duration_s)
            self.env.run(until=probe.start(duration_s))
            wall_s = time.perf_counter() - wall0
            result = self._result(probe, duration_s, wall_s)
            run.summary = result.summary()
        log.info(
            "simulated %.3g s in %.3g s wall (%.3gx real time), %d events",
            duration_s,
            wall_s,
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
