"""The twin's event loop: the three phases of an edge event and the time-ordered run.

An event of edge ``i`` at ``t``: (1) :func:`stage` moves the gate to ``t`` and stages the new
conductance; (2) :func:`twin.kernels.events.circuit.commit` applies every change staged at this
instant; (3) :func:`measure` reads the edge's drops and sets its held drive. Edges firing at the
same global tick all stage before the commit and all measure after it. :func:`run_until`
performs exactly the operations the one-process-per-edge engine performs, in the same order.
A failed solve (``counters.status``) stops the loop; Python raises.

Windowed commits (``solver.window_s > 0``, per-edge clocks): :func:`fire_window` commits every
event of a short window together, one factorisation per window instead of one per event. It
is an approximation of order ``window_s`` (an edge's new drive reflects the changes of the
whole window, not only those before its own event); a window holding one event performs the
same operations as :func:`fire_own`, so the windowed path reduces to the exact one as the
window shrinks.
"""

from __future__ import annotations

import numpy as np

from .._jit import jit
from ..status import OK
from .circuit import circuit_mu, clamped_only, commit, edge_mid, refactor, update_states
from .clocks import (
    BERNOULLI,
    CONTINUOUS,
    PERIODIC,
    POISSON,
    SYNC,
    fires,
    first_own_time,
    next_crossing,
    next_own_time,
    poisson_after,
    tick_time,
)
from .devices import TRANSISTOR, conductance
from .energy import prepare
from .gate import advance_gate
from .rng import S_CLOCK, S_NOISE, normal, stream_hash, stream_id
from .state import KernelState

__all__ = [
    "fire_own",
    "fire_tick",
    "fire_window",
    "initialise",
    "measure",
    "next_event_time",
    "run_until",
    "stage",
]


@jit
def _record(st: KernelState, i: int, t: float) -> None:
    """Edge ``i``'s gate moves to ``t`` under its held drive; the event is counted and logged."""
    advance_gate(st, i, t, True)
    n_log = st.counters_events
    if n_log < st.log_t.shape[0]:
        st.log_t[n_log] = t
        st.log_edge[n_log] = i
    st.edges_events[i] += 1
    st.counters_events += 1


@jit
def _stage_conductance(st: KernelState, i: int) -> None:
    """Stage edge ``i``'s conductance (S) in every circuit for its current gate voltage."""
    p = st.device_params[i]
    for q in range(st.circuit_k.shape[0]):
        v_mid = 0.0
        if st.device_kind == TRANSISTOR:
            v_mid = edge_mid(st, q, i, circuit_mu(st, q))
        st.circuit_k_new[q, i] = conductance(
            st.device_kind, p[0], p[1], p[2], st.edges_v_gate[i], v_mid
        )
    st.edges_q_gate[i] = st.edges_v_gate[i]
    st.circuit_staged[i] = True


@jit
def stage(st: KernelState, i: int, t: float) -> None:
    """Phase 1 of an event of edge ``i`` at ``t``: gate to ``t``, new conductance staged."""
    _record(st, i, t)
    _stage_conductance(st, i)


@jit
def measure(st: KernelState, i: int, noisy: bool) -> None:
    """Phase 3: edge ``i`` reads its free and clamped drops and sets its held drive (V).

    Drive ``= mean over examples of (1 - lam) a_F dV_F^2 - a_C dV_C^2`` plus the edge's fixed
    comparator offset times the mean gain; with ``noisy``, measurement noise on every drop read.
    The contrast is formed as ``-(a_C (dV_C - dV_F)(dV_C + dV_F) + (a_C - a_F + lam a_F) dV_F^2)``
    (equal gains: ``-a ((dV_C - dV_F)(dV_C + dV_F) + lam dV_F^2)``), so the small difference of
    the free and clamped squares is never formed by subtracting them.
    """
    a_free = st.edges_a_free_per_v[i]
    a_clamp = st.edges_a_clamp_per_v[i]
    lam = st.rule_lam
    sig = st.noise_sig_meas_v if noisy else 0.0
    m = st.examples_b.shape[0]
    total = 0.0
    ea = st.circuit_ends[i, 0]
    eb = st.circuit_ends[i, 1]
    x = st.circuit_x
    mu_f = st.examples_mu_f
    mu_c = st.examples_mu_c
    mu_d = st.examples_mu_d
    c = mu_f.shape[1]
    for e in range(m):  # drops x[q, a] - x[q, b] times the currents, on whole arrays (no slices)
        qf = st.circuit_free_q[e]
        qc = st.circuit_clamp_q[e]
        d_f = 0.0
        for j in range(c):
            d_f += (x[qf, ea, j] - x[qf, eb, j]) * mu_f[e, j]
        diff = 0.0
        if qc == qf:  # shared circuit: the clamped-free difference from its own currents
            for j in range(c):
                diff += (x[qc, ea, j] - x[qc, eb, j]) * mu_d[e, j]
        else:
            d_c = 0.0
            for j in range(c):
                d_c += (x[qc, ea, j] - x[qc, eb, j]) * mu_c[e, j]
            diff = d_c - d_f
        if sig > 0.0:
            n_f = sig * normal(st.noise_key, stream_id(S_NOISE, i), st.noise_draws[i])
            n_c = sig * normal(st.noise_key, stream_id(S_NOISE, i), st.noise_draws[i] + 1)
            st.noise_draws[i] += 2
            d_f += n_f
            diff += n_c - n_f
        # (1 - lam) a_F dF^2 - a_C dC^2 in factored form: no digits lost to cancellation
        total -= a_clamp * diff * (2.0 * d_f + diff) + (a_clamp - a_free + lam * a_free) * d_f * d_f
    st.edges_drive[i] = total / m + 0.5 * (a_free + a_clamp) * st.noise_offset_v2[i]


@jit
def _remeasure_all(st: KernelState, t: float) -> None:
    """Continuous clock: every edge's analog drive follows the new state; next crossings."""
    for i in range(st.edges_drive.shape[0]):
        advance_gate(st, i, t, False)
        measure(st, i, False)
        st.clock_next_t[i] = next_crossing(st, i)


@jit
def fire_tick(st: KernelState, n: int) -> int:
    """All edges due at global tick ``n`` update together; returns how many fired."""
    t = tick_time(st, n)
    g = 0
    for i in range(st.edges_drive.shape[0]):
        if fires(st, i, n):
            if g == 0:
                prepare(st, t)
            stage(st, i, t)
            g += 1
    commit(st)  # fills circuit.group with the staged edges, in index order
    for gi in range(g):
        measure(st, st.circuit_group[gi], True)
    st.counters_tick = n + 1
    return g


@jit
def fire_own(st: KernelState, i: int) -> None:
    """Edge ``i``'s own clock fires at ``next_t[i]``: stage, commit, measure, reschedule."""
    t = st.clock_next_t[i]
    prepare(st, t)
    stage(st, i, t)
    commit(st)
    if st.clock_kind == CONTINUOUS:
        _remeasure_all(st, t)
    else:
        measure(st, i, True)
        st.clock_next_t[i] = next_own_time(st, i, t)


@jit
def _merged_events(st: KernelState, i: int, t: float, w_end: float) -> int:
    """Edge ``i``'s events from ``t`` to ``w_end``: the same clock draws as one by one, one gate
    step (noise-free: exact up to rounding) to the last; returns how many."""
    last = t
    n_ev = 0
    if st.clock_kind == POISSON:  # the stream hash once, then one hash and one log per event
        h = stream_hash(st.clock_key, stream_id(S_CLOCK, i))
        cnt = st.clock_draws[i]
        rate_hz = st.clock_rate_hz
        while t <= w_end:
            last = t
            t = poisson_after(h, cnt + n_ev, t, rate_hz)
            n_ev += 1
        st.clock_draws[i] = cnt + n_ev
    else:
        while t <= w_end:
            last = t
            t = next_own_time(st, i, t)
            n_ev += 1
    st.clock_next_t[i] = t
    advance_gate(st, i, last, True)
    st.edges_events[i] += n_ev
    st.counters_events += n_ev
    return n_ev


@jit
def fire_window(st: KernelState, t0: float, t_end: float) -> int:
    """Commit every per-edge clock event in ``[t0, min(t0 + window_s, t_end)]`` together.

    ``t0`` is the first pending event. The energy is booked up to ``t0`` (old powers). Each
    edge with events in the window moves its gate to each of them in turn under its held drive
    (drawing its clock and gate noise as the exact path does) and stages the conductance of its
    last one; one commit applies every staged change (a sparse refactorisation per circuit on
    the sparse path); each fired edge then measures the new state, and its drive holds from its
    last event. Returns the number of events.
    """
    w_end = min(t0 + st.solver_window_s, t_end)
    prepare(st, t0)
    count = 0
    g = 0
    # noise-free and not logging: the gate's closed form composes, one step to the last event
    merge = st.noise_sig_gate <= 0.0 and st.counters_events >= st.log_t.shape[0]
    for i in range(st.clock_next_t.shape[0]):
        t = st.clock_next_t[i]
        if not t <= w_end:
            continue
        if merge:
            count += _merged_events(st, i, t, w_end)
        else:
            while t <= w_end:
                _record(st, i, t)
                t = next_own_time(st, i, t)
                count += 1
            st.clock_next_t[i] = t
        _stage_conductance(st, i)
        g += 1
    commit(st)  # fills circuit.group with the staged edges, in index order
    for gi in range(g):
        measure(st, st.circuit_group[gi], True)
    return count


@jit
def next_event_time(st: KernelState) -> float:
    """Time (s) of the next event of any edge (``inf`` if none will happen)."""
    if st.clock_kind in (SYNC, BERNOULLI):
        return tick_time(st, st.counters_tick)
    return np.min(st.clock_next_t)


@jit
def run_until(st: KernelState, t_end: float, max_groups: int) -> int:
    """Process every event at time <= ``t_end`` in time order (at most ``max_groups`` groups).

    Exactly the sequence of operations the one-process-per-edge path performs, so the result
    does not depend on how a run is cut into calls. With ``solver.window_s > 0`` (per-edge
    clocks) a group is a window (:func:`fire_window`), cut at ``t_end``: every event up to
    ``t_end`` is committed when it returns, and where a run is cut moves window boundaries.
    Stops after a group whose solves failed (``counters.status``). Returns the number of groups
    processed.
    """
    done = 0
    if st.clock_kind in (SYNC, BERNOULLI):
        n = st.counters_tick
        while done < max_groups and tick_time(st, n) <= t_end and st.counters_status == OK:
            fire_tick(st, n)
            n += 1
            done += 1
        return done
    windowed = st.solver_window_s > 0.0 and st.clock_kind in (POISSON, PERIODIC)
    while done < max_groups and st.counters_status == OK:
        i = int(np.argmin(st.clock_next_t))
        if not st.clock_next_t[i] <= t_end:
            break
        if windowed:
            fire_window(st, st.clock_next_t[i], t_end)
        else:
            fire_own(st, i)
        done += 1
    return done


@jit
def initialise(st: KernelState, fixed_point_iters: int, fixed_point_tol: float) -> int:
    """Conductances from the initial gates (fixed point for the transistor), states, drives.

    Returns the number of fixed-point iterations used.
    """
    used = 0
    for it in range(max(fixed_point_iters, 1)):
        change = 0.0
        for q in range(st.circuit_k.shape[0]):
            for i in range(st.edges_drive.shape[0]):
                p = st.device_params[i]
                v_mid = 0.0
                if st.device_kind == TRANSISTOR and it > 0:
                    v_mid = edge_mid(st, q, i, circuit_mu(st, q))
                new = conductance(st.device_kind, p[0], p[1], p[2], st.edges_v_gate[i], v_mid)
                if it > 0:
                    change = max(change, abs(new - st.circuit_k[q, i]) / abs(new))
                st.circuit_k[q, i] = new
            refactor(st, q)
        update_states(st)
        if st.rule_tau_feedback_s > 0.0:  # the feedback loop starts settled on the nudged targets
            ns = st.rule_n_sources
            for e in range(st.examples_b.shape[0]):
                for j in range(st.examples_c_inf.shape[1]):
                    st.examples_b[e, ns + j] = st.examples_c_inf[e, j]
            clamped_only(st)
        used = it + 1
        if st.device_kind != TRANSISTOR or (it > 0 and change < fixed_point_tol):
            break
    kind = st.clock_kind
    for i in range(st.edges_drive.shape[0]):
        st.edges_q_gate[i] = st.edges_v_gate[i]
        measure(st, i, kind != CONTINUOUS)
        if kind in (POISSON, PERIODIC):
            st.clock_next_t[i] = first_own_time(st, i)
        elif kind == CONTINUOUS:
            st.clock_next_t[i] = next_crossing(st, i)
    return used
