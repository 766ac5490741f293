"""The twin's kernel state as named groups, one per concept, each filled by its own module.

Immutable settings and the arrays a concept owns are named tuples (the arrays inside are mutated
in place); the run's mutable scalars (counters, energy books) are structrefs. :class:`State` is
the Python-side view of the groups and :class:`KernelState` the kernel's handle on the same
objects (one reference-counted pointer per call instead of one per array).

Conventions: reduced node indices ``0..n-1``; index ``n`` is "ground / none" and every
node-indexed array has ``n + 1`` rows whose last one stays zero, so an edge to ground needs no
branch. ``Q`` circuits: the linear model shares one circuit between free and clamped states; the
transistor model has one per state and example.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from numba.core import types
from numba.experimental import structref

from .._jit import jit

__all__ = [
    "Circuit",
    "ClockGroup",
    "Counters",
    "DeviceGroup",
    "Edges",
    "Energy",
    "EventLog",
    "Examples",
    "Factor",
    "KernelState",
    "NoiseGroup",
    "Rule",
    "SolverGroup",
    "State",
    "new_counters",
    "new_energy",
]


class Circuit(NamedTuple):
    """Electrical state of the ``Q`` circuits (:mod:`twin.simulation.network_state`)."""

    ends: np.ndarray  # (E, 2) int64 reduced node indices, n = ground
    cons: np.ndarray  # (c, 2) int64 constraint rows as (+node, -node), n = none
    free_q: np.ndarray  # (m,) int64 circuit of the free state of each example
    clamp_q: np.ndarray  # (m,) int64 circuit of the clamped state of each example
    k: np.ndarray  # (Q, E) conductances, S
    k_new: np.ndarray  # (Q, E) staged conductances, S
    staged: np.ndarray  # (E,) bool
    linv: np.ndarray  # (Q, n+1, n+1); (Q, 1, 1) on the sparse path (no rank-1 updates)
    linv_ok: np.ndarray  # (Q,) bool: linv[q] is current (refactor computes it lazily)
    x: np.ndarray  # (Q, n+1, c) basis L^-1 C^T, V/A
    s: np.ndarray  # (Q, c, c) Schur complement C L^-1 C^T, ohm
    lap: np.ndarray  # (n+1, n+1) scratch: Laplacian, then its Cholesky factor; (1, 1) if sparse
    w: np.ndarray  # (n+1,) scratch
    gx: np.ndarray  # (c,) scratch
    group: np.ndarray  # (E,) int64 scratch: edges of the current group


class Factor(NamedTuple):
    """Sparse-path layout (:class:`twin.kernels.ordering.FactorLayout`) and its scratch.

    Placeholders of length 1 on the dense path.
    """

    colptr: np.ndarray  # (split + 1,) int64
    rowind: np.ndarray  # (nnz,) int64
    rlptr: np.ndarray  # (split + 1,) int64 row lists of the sparse columns
    rlcol: np.ndarray  # int64
    rlpos: np.ndarray  # int64
    tstart: np.ndarray  # (split,) int64
    diagpos: np.ndarray  # (n,) int64
    ends: np.ndarray  # (E, 2) int64 edge ends in elimination order, n = ground
    offdiag: np.ndarray  # (E,) int64
    cidx: np.ndarray  # (c, 2) int64 constraint terms in elimination order, -1 = none
    cval: np.ndarray  # (c, 2) their coefficients
    perm: np.ndarray  # (n,) int64 perm[new] = old reduced node index
    v: np.ndarray  # (values,) scratch: factor values
    pos: np.ndarray  # (n,) int64 scratch
    x: np.ndarray  # (n + 1, cw) scratch: basis in elimination order, cw = 4 ceil(c / 4)


class Examples(NamedTuple):
    """Boundary values and constraint currents of the ``m`` training examples."""

    b: np.ndarray  # (m, c) constraint values: sources, then current clamp values, V
    desired: np.ndarray  # (m, t) desired target values, V
    c_inf: np.ndarray  # (m, t) nudged targets V_F + eta (V~ - V_F), V
    out_f: np.ndarray  # (m, t) free-state target values, V
    mu_f: np.ndarray  # (m, c) free constraint currents (target slots zero), A
    mu_c: np.ndarray  # (m, c) clamped constraint currents, A
    mu_d: np.ndarray  # (m, c) clamped minus free currents (shared circuit: solved directly), A
    rhs: np.ndarray  # (c,) scratch right-hand side
    sm: np.ndarray  # (c, c+1) scratch for small solves


class Edges(NamedTuple):
    """Per-edge circuit parameters and gate state (:mod:`twin.simulation.edge`)."""

    c_gate_f: np.ndarray  # (E,)
    r_charge_ohm: np.ndarray
    a_free_per_v: np.ndarray
    a_clamp_per_v: np.ndarray
    tau_leak_s: np.ndarray
    v_rest_v: np.ndarray
    v_min_v: np.ndarray
    v_max_v: np.ndarray
    v_gate: np.ndarray  # (E,) gate voltage at t_gate, V
    t_gate: np.ndarray  # (E,) time the gate was last advanced, s
    drive: np.ndarray  # (E,) held charging drive (voltage across R_charge), V
    q_gate: np.ndarray  # (E,) gate voltage the network last saw (continuous clock), V
    events: np.ndarray  # (E,) int64 events per edge


class DeviceGroup(NamedTuple):
    """Conductance curve (:mod:`twin.simulation.devices`)."""

    kind: int  # LINEAR or TRANSISTOR
    params: np.ndarray  # (E, 3)


class ClockGroup(NamedTuple):
    """When edges update (:mod:`twin.simulation.clocks`)."""

    kind: int  # SYNC, BERNOULLI, POISSON, PERIODIC or CONTINUOUS
    key: np.uint64  # counter-based random key of the clock draws
    rate_hz: float
    p: float  # Bernoulli probability
    jitter: float  # periodic cycle jitter (relative)
    dq_v: float  # continuous clock quantum, V
    period_s: np.ndarray  # (E,) periodic clock's mean period per edge, s
    next_t: np.ndarray  # (E,) next event time per edge (poisson/periodic/continuous), s
    draws: np.ndarray  # (E,) int64 clock draws made per edge


class NoiseGroup(NamedTuple):
    """Noise sources (:mod:`twin.simulation.noise`)."""

    key: np.uint64
    sig_gate: float  # white-noise amplitude of the contrast signal, V^2 sqrt(s)
    sig_meas_v: float  # measurement noise per read drop, V
    offset_v2: np.ndarray  # (E,) comparator offsets, V^2
    t_noise: np.ndarray  # (E,) time of the last noise increment, s
    draws: np.ndarray  # (E,) int64 noise draws made per edge


class Rule(NamedTuple):
    """The learning rule as the board realises it."""

    lam: float
    eta: float
    tau_feedback_s: float  # clamp feedback loop, s (0: instantaneous)
    n_sources: int


class SolverGroup(NamedTuple):
    """Incremental-solver settings (:class:`twin.simulation.network_state.SolverSettings`)."""

    refactor_every: int
    check_every: int
    refactor_group: int
    sparse: bool
    split: int  # sparse path: dense block start
    first: int  # sparse path: first row of the constraint block
    drift_tol: float


class EventLog(NamedTuple):
    """Times and edges of the first ``L`` edge events (``L = 0``: no log)."""

    t: np.ndarray  # (L,) s
    edge: np.ndarray  # (L,) int64


_COUNTER_FIELDS = ("tick", "events", "groups", "rank1", "refactors", "since", "check", "status")
_COUNTER_FLOATS = ("drift", "drift_max")
_ENERGY_FIELDS = ("t_s", "free_j", "clamped_j", "gate_j", "free_power_w", "clamped_power_w")


@structref.register
class CountersType(types.StructRef):
    """Numba type of :class:`Counters`."""

    def preprocess_fields(self, fields: Any) -> tuple[tuple[str, Any], ...]:
        return tuple((name, types.unliteral(typ)) for name, typ in fields)


@structref.register
class EnergyType(types.StructRef):
    """Numba type of :class:`Energy`."""

    def preprocess_fields(self, fields: Any) -> tuple[tuple[str, Any], ...]:
        return tuple((name, types.unliteral(typ)) for name, typ in fields)


@structref.register
class KernelStateType(types.StructRef):
    """Numba type of :class:`KernelState`."""

    def preprocess_fields(self, fields: Any) -> tuple[tuple[str, Any], ...]:
        return tuple((name, types.unliteral(typ)) for name, typ in fields)


if TYPE_CHECKING:

    class Counters:
        """Run counters (ints) and the incremental solver's residuals (floats)."""

        tick: int  # next global tick (sync, Bernoulli)
        events: int  # edge events
        groups: int  # event groups committed
        rank1: int  # rank-1 updates
        refactors: int  # refactorisations
        since: int  # rank-1 updates since the last refactorisation
        check: int  # rank-1 updates since the last residual check
        status: int  # twin.kernels.status code of the last failure (0: none)
        drift: float  # last residual checked
        drift_max: float  # largest residual seen

    class Energy:
        """Energy books (J) up to ``t_s`` and the current network powers (W)."""

        t_s: float
        free_j: float
        clamped_j: float
        gate_j: float
        free_power_w: float
        clamped_power_w: float

else:

    class Counters(structref.StructRefProxy):
        """Run counters (ints) and the incremental solver's residuals (floats)."""

    class Energy(structref.StructRefProxy):
        """Energy books (J) up to ``t_s`` and the current network powers (W)."""

    structref.define_proxy(Counters, CountersType, [*_COUNTER_FIELDS, *_COUNTER_FLOATS])
    structref.define_proxy(Energy, EnergyType, list(_ENERGY_FIELDS))

    @jit
    def _counter_values(c: Any) -> tuple[Any, ...]:
        return (c.tick, c.events, c.groups, c.rank1, c.refactors, c.since, c.check, c.status,
                c.drift, c.drift_max)  # fmt: skip

    @jit
    def _energy_values(en: Any) -> tuple[float, ...]:
        return (en.t_s, en.free_j, en.clamped_j, en.gate_j, en.free_power_w, en.clamped_power_w)

    def _read_only(cls: type, values: Any, names: tuple[str, ...]) -> None:
        """Python-side properties of a structref proxy (one compiled read of every field)."""
        for idx, name in enumerate(names):
            setattr(cls, name, property(lambda self, i=idx: values(self)[i], doc=f"``{name}``"))

    _read_only(Counters, _counter_values, (*_COUNTER_FIELDS, *_COUNTER_FLOATS))
    _read_only(Energy, _energy_values, _ENERGY_FIELDS)


def new_counters() -> Counters:
    """Counters of a fresh run (the first global tick is 1)."""
    ints = [1] + [0] * (len(_COUNTER_FIELDS) - 1)
    return Counters(*ints, 0.0, 0.0)  # type: ignore[call-arg]


def new_energy() -> Energy:
    """Empty energy books at ``t = 0``."""
    return Energy(*([0.0] * len(_ENERGY_FIELDS)))


class State(NamedTuple):
    """The groups of a twin's kernel state (Python-side view; shares every array)."""

    circuit: Circuit
    factor: Factor
    examples: Examples
    edges: Edges
    device: DeviceGroup
    clock: ClockGroup
    noise: NoiseGroup
    rule: Rule
    solver: SolverGroup
    log: EventLog
    counters: Counters
    energy: Energy


if TYPE_CHECKING:
    KernelState = State  # to type checkers the handle has the named tuple's fields
else:

    class KernelState(structref.StructRefProxy):
        """The kernel's handle on a :class:`State`: one reference-counted struct of its groups.

        Build it as ``KernelState(*state)``: it shares the groups, so the named tuple stays the
        Python-side view.
        """

    structref.define_proxy(KernelState, KernelStateType, list(State._fields))
