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
from ..kernels import events as K
from ..learning.rules import LearningRule
from ..physics.task import Task
from .clocks import Clock, ContinuousClock, PeriodicClock, SyncClock, parse_clock
from .devices import linear_for_bounds
from .edge import BOARD_V_MAX_V, BOARD_V_MIN_V, EdgeParams, board_edge_params
from .errors import ModelError
from .network_state import NetworkState, SolverSettings, circuit_structure, sparse_structure
from .noise import NoiseConfig, comparator_offsets, run_keys

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
    solver
        Incremental-solver settings.
    per_edge_samples
        Sample every edge's gate voltage (``gate_v_<i>``) when the network has at most this many
        edges.
    log_events
        Keep the times and edges of the first ``log_events`` edge events (tests, statistics).
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


def _edge_columns(config: TwinConfig, n_edges: int, rng: np.random.Generator) -> np.ndarray:
    cols = config.edges.columns(n_edges)
    epar = np.zeros((n_edges, K.N_EPAR))
    for idx, name in (
        (K.C_GATE, "c_gate_f"),
        (K.R_CHARGE, "r_charge_ohm"),
        (K.A_FREE, "a_free_per_v"),
        (K.A_CLAMP, "a_clamp_per_v"),
        (K.TAU_LEAK, "tau_leak_s"),
        (K.V_REST, "v_rest_v"),
        (K.V_MIN, "v_min_v"),
        (K.V_MAX, "v_max_v"),
    ):
        epar[:, idx] = cols[name]
    epar[:, K.DEV0 : K.DEV2 + 1] = config.edges.device.params(n_edges)
    epar[:, K.OFFSET] = comparator_offsets(config.noise, n_edges, rng)
    clock = config.clock
    if isinstance(clock, PeriodicClock):
        epar[:, K.PERIOD] = clock.periods_s(n_edges, rng)
    elif not isinstance(clock, ContinuousClock):
        epar[:, K.PERIOD] = 1.0 / clock.rate_hz
    return epar


def build_state(
    task: Task, config: TwinConfig, rng: np.random.Generator
) -> tuple[K.State, K.KernelState]:
    """Allocate and initialise the kernel state of a twin (t = 0): arrays and kernel handle."""
    ends, cons, n = circuit_structure(task)
    e, c, ns = ends.shape[0], cons.shape[0], task.n_sources
    m = task.train.size
    transistor = config.edges.device.kind == K.TRANSISTOR
    q = 2 * m if transistor else 1
    keys = run_keys(rng)
    epar = _edge_columns(config, e, rng)
    clock = config.clock
    b = np.zeros((m, c))
    b[:, :ns] = task.train.inputs
    ipar = np.zeros(K.N_IPAR, dtype=np.int64)
    ipar[[K.I_NSRC, K.I_CLOCK, K.I_DEVICE]] = ns, clock.kind, config.edges.device.kind
    ipar[K.I_REFACTOR_EVERY] = config.solver.refactor_every
    ipar[K.I_CHECK_EVERY] = config.solver.check_every
    sparse = config.solver.sparse(n, clock.kind in (K.SYNC, K.BERNOULLI))
    ipar[K.I_REFACTOR_GROUP] = config.solver.group_limit(n, sparse)
    nd = 1 if sparse else n + 1  # dense inverse and Laplacian scratch: dense path only
    if sparse:
        sp = sparse_structure(ends, cons, n)
        ipar[[K.I_SPARSE, K.I_SPLIT, K.I_FIRST]] = 1, sp.pop("split"), sp.pop("first")
    else:
        i1, f1 = np.zeros(1, dtype=np.int64), np.zeros(1)
        sp = dict.fromkeys(("colptr", "rowind", "rlptr", "rlcol", "rlpos", "tstart"), i1)
        sp |= {"diagpos": i1, "ends": np.zeros((1, 2), dtype=np.int64), "offdiag": i1}
        sp |= {"cidx": np.zeros((1, 2), dtype=np.int64), "cval": np.zeros((1, 2))}
        sp |= {"perm": i1, "v": f1, "pos": i1, "x": np.zeros((1, 4))}
    fpar = np.zeros(K.N_FPAR)
    fpar[[K.F_LAM, K.F_ETA, K.F_TAU_FB]] = config.lam, config.eta, config.tau_feedback_s
    fpar[[K.F_SIG_GATE, K.F_SIG_MEAS]] = config.noise.signal_sigma, config.noise.meas_sigma_v
    fpar[K.F_RATE] = getattr(clock, "rate_hz", 0.0)
    fpar[K.F_P] = getattr(clock, "p", 1.0)
    fpar[K.F_JITTER] = getattr(clock, "jitter", 0.0)
    fpar[K.F_DQ] = getattr(clock, "dq_v", 0.0)
    fpar[K.F_DRIFT_TOL] = config.solver.drift_tol
    icnt = np.zeros(K.N_ICNT, dtype=np.int64)
    icnt[K.C_TICK] = 1
    v0 = config.edges.columns(e)["v_gate0_v"]
    st = K.State(
        ends=ends,
        cons=cons,
        free_q=np.arange(m, dtype=np.int64) if transistor else np.zeros(m, dtype=np.int64),
        clamp_q=np.arange(m, 2 * m, dtype=np.int64) if transistor else np.zeros(m, np.int64),
        k=np.zeros((q, e)),
        k_new=np.zeros((q, e)),
        staged=np.zeros(e, dtype=np.bool_),
        linv=np.zeros((q, nd, nd)),
        x=np.zeros((q, n + 1, c)),
        s=np.zeros((q, c, c)),
        b=b,
        desired=np.ascontiguousarray(task.train.outputs, dtype=float),
        c_inf=np.zeros((m, c - ns)),
        out_f=np.zeros((m, c - ns)),
        mu_f=np.zeros((m, c)),
        mu_c=np.zeros((m, c)),
        epar=epar,
        v_gate=v0.copy(),
        t_gate=np.zeros(e),
        t_noise=np.zeros(e),
        drive=np.zeros(e),
        q_gate=v0.copy(),
        next_t=np.full(e, np.inf),
        n_noise=np.zeros(e, dtype=np.int64),
        n_clock=np.zeros(e, dtype=np.int64),
        edge_events=np.zeros(e, dtype=np.int64),
        ipar=ipar,
        icnt=icnt,
        fpar=fpar,
        acc=np.zeros(K.N_ACC),
        keys=np.array(keys, dtype=np.uint64),
        group=np.zeros(e, dtype=np.int64),
        linv_ok=np.zeros(q, dtype=np.bool_),
        w=np.zeros(n + 1),
        gx=np.zeros(c),
        sm=np.zeros((c, c + 1)),
        lap=np.zeros((nd, nd)),
        log_t=np.zeros(max(config.log_events, 0)),
        log_e=np.zeros(max(config.log_events, 0), dtype=np.int64),
        **{f"sp_{name}": value for name, value in sp.items()},
    )
    kst = K.KernelState(*st)
    iters = K.initialise(kst, FIXED_POINT_ITERS, FIXED_POINT_TOL)
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
        self.initial = self.readings(self.t0_s)
        self.run_uid = ""

    # ------------------------------------------------------------------ time

    @property
    def clock_key(self) -> int:
        """The run's clock key (for :func:`twin.simulation.clocks.event_times`)."""
        return int(self.state.keys[1])

    def local(self, t_s: float) -> float:
        """Twin time (s since the run started) of environment time ``t_s``."""
        return t_s - self.t0_s

    def catch_up(self, t_s: float) -> int:
        """Process every event up to twin time ``t_s`` (inclusive); returns event groups done.

        With the agents engine events are processed by their own processes and this is a no-op.
        """
        if self.config.engine == "agents":
            return 0
        return int(K.run_until(self.kernel, float(t_s), 2**62))

    def next_event_s(self) -> float:
        """Twin time of the next edge event (``inf`` if none)."""
        return float(K.next_event_time(self.kernel))

    # ------------------------------------------------------------------ readings

    def readings(self, t_s: float) -> dict[str, Any]:
        """Probe readings at twin time ``t_s`` (read-only: looking never changes the run)."""
        st = self.state
        pend = K.pending_energy(self.kernel, float(t_s))
        gates = np.empty(st.v_gate.shape[0])
        K.gates_at(self.kernel, float(t_s), gates)
        err = float(np.mean(np.sum((st.out_f - st.desired) ** 2, axis=-1)))
        return {
            "error": err,
            "free_power_w": float(st.acc[K.A_P_FREE]),
            "clamped_power_w": float(st.acc[K.A_P_CLAMPED]),
            "lam": self.config.lam,
            "energy_j": float(st.acc[K.A_E_FREE] + pend[0]),
            "clamped_energy_j": float(st.acc[K.A_E_CLAMPED] + pend[1]),
            "gate_energy_j": float(st.acc[K.A_E_GATE] + pend[2]),
            "events": int(st.icnt[K.C_EVENTS]),
            "gate_v": gates,
        }

    def node_voltages(self, example: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Free and clamped node voltages (V, each ``(N,)``) of training example ``example``.

        The electrical state as of the last processed event (call :meth:`catch_up` first): the
        network's conductances are held between edge events, so this is the state at any time
        up to the next event. Grounded nodes read 0 V. Read-only.
        """
        st = self.state
        if not 0 <= example < st.mu_f.shape[0]:
            raise ModelError(f"example: expected 0..{st.mu_f.shape[0] - 1}, got {example}")
        n = st.x.shape[1] - 1
        out = []
        circuits = ((st.free_q[example], st.mu_f[example]), (st.clamp_q[example], st.mu_c[example]))
        for q, mu in circuits:
            v = np.zeros(n + 1)
            v[:n] = st.x[int(q), :n] @ mu
            out.append(v[self._node_index])
        return out[0], out[1]

    @property
    def conductance(self) -> np.ndarray:
        """Conductances of the free network of example 0, siemens ``(E,)``."""
        return self.state.k[int(self.state.free_q[0])].copy()

    def event_log(self) -> tuple[np.ndarray, np.ndarray]:
        """Times (s) and edges of the logged events (``config.log_events``), in order."""
        n = min(int(self.state.icnt[K.C_EVENTS]), self.state.log_t.shape[0])
        return self.state.log_t[:n].copy(), self.state.log_e[:n].copy()

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
            "events": int(st.icnt[K.C_EVENTS]),
            "event_groups": int(st.icnt[K.C_GROUPS]),
            "rank1_updates": int(st.icnt[K.C_RANK1]),
            "refactorisations": int(st.icnt[K.C_REFACTORS]),
            "drift_max": float(st.acc[K.A_DRIFT_MAX]),
            "wall_s": wall_s,
            "realtime_factor": float(duration_s) / wall_s if wall_s > 0 else float("inf"),
            "lag_max_s": probe.lag_max_s,
            "clock": self.config.clock.spec,
            "model": self.config.edges.device.name,
            "engine": self.config.engine,
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
