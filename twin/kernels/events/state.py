"""The twin's kernel state as named groups, one per concept, each filled by its own module.

Immutable settings and the arrays a concept owns are named tuples (the arrays inside are mutated
in place), built by the concept's own module. The kernels see them through one flat struct,
:class:`KernelState`, whose fields are named ``<group>_<field>`` (``st.circuit_x``,
``st.rule_lam``) and which also owns the run's mutable scalars (``st.counters_events``,
``st.energy_free_j``): one pointer per call, one reference per field read (a struct of groups
would touch every array of a group at each read; measured 3x slower). :class:`State` is the
Python-side view.

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
    "KERNEL_FIELDS",
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
    "kernel_state",
    "kernel_status",
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
    wall_v: np.ndarray  # (E,) soft-wall width, V (0: hard rails only)
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
    window_s: float  # per-edge clocks: events within this many seconds commit together (0: exact)


class EventLog(NamedTuple):
    """Times and edges of the first ``L`` edge events (``L = 0``: no log)."""

    t: np.ndarray  # (L,) s
    edge: np.ndarray  # (L,) int64


_COUNTER_FIELDS = ("tick", "events", "groups", "rank1", "refactors", "since", "check", "status")
_COUNTER_FLOATS = ("drift", "drift_max")
_ENERGY_FIELDS = ("t_s", "free_j", "clamped_j", "gate_j", "free_power_w", "clamped_power_w")

#: The groups that are named tuples, in the order of :class:`State`.
_GROUPS: tuple[tuple[str, Any], ...] = (
    ("circuit", Circuit),
    ("factor", Factor),
    ("examples", Examples),
    ("edges", Edges),
    ("device", DeviceGroup),
    ("clock", ClockGroup),
    ("noise", NoiseGroup),
    ("rule", Rule),
    ("solver", SolverGroup),
    ("log", EventLog),
)

#: Fields of the kernel's struct: ``<group>_<field>`` for every group's field, then the mutable
#: scalars ``counters_<name>`` and ``energy_<name>``. Kernels read ``st.circuit_x``,
#: ``st.counters_events``: one flat struct, so a field access costs one pointer, not a group.
KERNEL_FIELDS: tuple[str, ...] = (
    *(f"{group}_{field}" for group, cls in _GROUPS for field in cls._fields),
    *(f"counters_{name}" for name in (*_COUNTER_FIELDS, *_COUNTER_FLOATS)),
    *(f"energy_{name}" for name in _ENERGY_FIELDS),
)


@structref.register
class KernelStateType(types.StructRef):
    """Numba type of :class:`KernelState`."""

    def preprocess_fields(self, fields: Any) -> tuple[tuple[str, Any], ...]:
        return tuple((name, types.unliteral(typ)) for name, typ in fields)


if TYPE_CHECKING:
    KernelState = Any  # fields are generated (KERNEL_FIELDS): opaque to type checkers
else:

    class KernelState(structref.StructRefProxy):
        """The kernel's handle on a twin's state: one flat reference-counted struct.

        It shares the arrays of the named-tuple groups and owns the run's mutable scalars
        (counters, energy books), which Python reads through :class:`Counters` and
        :class:`Energy`. Build it with :func:`kernel_state`.
        """

    structref.define_proxy(KernelState, KernelStateType, list(KERNEL_FIELDS))


@jit
def kernel_status(st: Any) -> int:
    """The run's status code alone (``counters.status``, :mod:`twin.kernels.status`): what a
    check after every call reads, without the other counters."""
    return st.counters_status


@jit
def _counter_values(st: Any) -> tuple[Any, ...]:
    return (st.counters_tick, st.counters_events, st.counters_groups, st.counters_rank1,
            st.counters_refactors, st.counters_since, st.counters_check, st.counters_status,
            st.counters_drift, st.counters_drift_max)  # fmt: skip


@jit
def _energy_values(st: Any) -> tuple[float, ...]:
    return (st.energy_t_s, st.energy_free_j, st.energy_clamped_j, st.energy_gate_j,
            st.energy_free_power_w, st.energy_clamped_power_w)  # fmt: skip


class _View:
    """Read-only Python view of a group of the kernel's mutable scalars."""

    _names: tuple[str, ...] = ()

    def __init__(self, kernel: KernelState) -> None:
        self._kernel = kernel

    def _values(self) -> tuple[Any, ...]:
        raise NotImplementedError

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in self._names:
            raise AttributeError(name)
        return self._values()[self._names.index(name)]

    def as_dict(self) -> dict[str, Any]:
        """Every value of the group at once (one read of the kernel instead of one per name)."""
        return dict(zip(self._names, self._values(), strict=True))


class Counters(_View):
    """Run counters (``tick``, ``events``, ``groups``, ``rank1``, ``refactors``, ``since``,
    ``check``, ``status``: ints) and the solver's residuals (``drift``, ``drift_max``)."""

    _names = (*_COUNTER_FIELDS, *_COUNTER_FLOATS)

    def _values(self) -> tuple[Any, ...]:
        return _counter_values(self._kernel)


class Energy(_View):
    """Energy books (J) up to ``t_s`` and the current network powers (W): ``t_s``, ``free_j``,
    ``clamped_j``, ``gate_j``, ``free_power_w``, ``clamped_power_w``."""

    _names = _ENERGY_FIELDS

    def _values(self) -> tuple[Any, ...]:
        return _energy_values(self._kernel)


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


def _writable(value: Any) -> Any:
    """``value``, or a writable copy of a read-only array: numba types read-only arrays apart, so a
    caller's frozen array (a library task's) would compile every kernel a second time."""
    if isinstance(value, np.ndarray) and not value.flags.writeable:
        return value.copy()
    return value


def kernel_state(
    circuit: Circuit,
    factor: Factor,
    examples: Examples,
    edges: Edges,
    device: DeviceGroup,
    clock: ClockGroup,
    noise: NoiseGroup,
    rule: Rule,
    solver: SolverGroup,
    log: EventLog,
) -> tuple[State, KernelState]:
    """The kernel struct of the groups (fresh counters, the first global tick 1; empty energy
    books at ``t = 0``) and the Python-side :class:`State` view of both."""
    groups = (circuit, factor, examples, edges, device, clock, noise, rule, solver, log)
    # a read-only array is copied for the kernel only: neither side can have written it
    values: list[Any] = [_writable(value) for group in groups for value in group]
    values += [1, *([0] * (len(_COUNTER_FIELDS) - 1)), 0.0, 0.0]
    values += [0.0] * len(_ENERGY_FIELDS)
    kernel = _new_kernel_state(tuple(values))
    return State(*groups, Counters(kernel), Energy(kernel)), kernel


@jit
def _new_kernel_state(values: Any) -> Any:
    """``KernelState(*values)`` compiled with the on-disk cache (structref's own constructor is
    compiled afresh in every process: seconds for a struct of this size)."""
    return KernelState(*values)
