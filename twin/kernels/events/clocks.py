"""Clocks: when each edge updates (:mod:`twin.simulation.clocks`).

Scalar draws of each clock kind from the counter-based generator (:mod:`.rng`), the schedule of
a run's clock (:func:`clock_times`) and the state-level queries of the event loop.
"""

from __future__ import annotations

import math

import numpy as np

from .._jit import jit
from .gate import crossing_time
from .rng import S_CLOCK, normal, stream_hash, stream_id, uniform, uniform_at
from .state import KernelState

__all__ = [
    "BERNOULLI",
    "CONTINUOUS",
    "PERIODIC",
    "POISSON",
    "SYNC",
    "bernoulli_fires",
    "clock_times",
    "fires",
    "first_own_time",
    "next_crossing",
    "next_own_time",
    "periodic_first",
    "periodic_next",
    "poisson_after",
    "poisson_next",
    "set_tick",
    "tick_time",
]

# clock kinds
SYNC, BERNOULLI, POISSON, PERIODIC, CONTINUOUS = 0, 1, 2, 3, 4


@jit
def bernoulli_fires(key: np.uint64, i: int, n: int, p: float) -> bool:
    """Whether edge ``i`` updates at global tick ``n`` (probability ``p``)."""
    return uniform(key, stream_id(S_CLOCK, i), n) < p


@jit
def poisson_after(h: np.uint64, cnt: int, t: float, rate_hz: float) -> float:
    """Event after ``t`` of a Poisson clock of stream hash ``h`` (its ``cnt``-th draw)."""
    return t - math.log(uniform_at(h, cnt)) / rate_hz


@jit
def poisson_next(key: np.uint64, i: int, cnt: int, t: float, rate_hz: float) -> float:
    """Event after ``t`` of edge ``i``'s Poisson clock (``cnt``-th draw of its stream)."""
    return poisson_after(stream_hash(key, stream_id(S_CLOCK, i)), cnt, t, rate_hz)


@jit
def periodic_next(
    key: np.uint64, i: int, cnt: int, t: float, period_s: float, jitter: float
) -> float:
    """Event after ``t`` of edge ``i``'s periodic clock: one period with relative jitter."""
    z = normal(key, stream_id(S_CLOCK, i), cnt)
    return t + period_s * max(1.0 + jitter * z, 1e-3)


@jit
def periodic_first(key: np.uint64, i: int, cnt: int, period_s: float) -> float:
    """First event of a periodic clock: a uniformly random phase within one period."""
    return period_s * uniform(key, stream_id(S_CLOCK, i), cnt)


@jit
def clock_times(
    kind: int,
    key: np.uint64,
    n_edges: int,
    t_end: float,
    rate_hz: float,
    p: float,
    jitter: float,
    periods_s: np.ndarray,
    cap: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Event times (s) and edges of a clock on ``[0, t_end]``, as the twin draws them.

    At most ``cap`` events, in per-edge order (not sorted by time).
    """
    times = np.empty(cap)
    edges = np.empty(cap, dtype=np.int64)
    cnt = 0
    for i in range(n_edges):
        if kind in (SYNC, BERNOULLI):
            n = 1
            while n / rate_hz <= t_end and cnt < cap:
                if kind == SYNC or bernoulli_fires(key, i, n, p):
                    times[cnt] = n / rate_hz
                    edges[cnt] = i
                    cnt += 1
                n += 1
            continue
        draws = 0
        if kind == POISSON:
            t = poisson_next(key, i, draws, 0.0, rate_hz)
        else:
            t = periodic_first(key, i, draws, periods_s[i])
        draws += 1
        while t <= t_end and cnt < cap:
            times[cnt] = t
            edges[cnt] = i
            cnt += 1
            if kind == POISSON:
                t = poisson_next(key, i, draws, t, rate_hz)
            else:
                t = periodic_next(key, i, draws, t, periods_s[i], jitter)
            draws += 1
    return times[:cnt], edges[:cnt]


@jit
def tick_time(st: KernelState, n: int) -> float:
    """Time (s) of global tick ``n`` of a sync or Bernoulli clock."""
    return n / st.clock_rate_hz


@jit
def set_tick(st: KernelState, n: int) -> None:
    """The next global tick is ``n`` (the agents engine's ticker advances it)."""
    st.counters_tick = n


@jit
def fires(st: KernelState, i: int, n: int) -> bool:
    """Whether edge ``i`` updates at global tick ``n``."""
    if st.clock_kind == SYNC:
        return True
    return bernoulli_fires(st.clock_key, i, n, st.clock_p)


@jit
def next_own_time(st: KernelState, i: int, t: float) -> float:
    """Next event of edge ``i``'s own (Poisson or periodic) clock after its event at ``t``."""
    cnt = st.clock_draws[i]
    st.clock_draws[i] += 1
    if st.clock_kind == POISSON:
        return poisson_next(st.clock_key, i, cnt, t, st.clock_rate_hz)
    return periodic_next(st.clock_key, i, cnt, t, st.clock_period_s[i], st.clock_jitter)


@jit
def first_own_time(st: KernelState, i: int) -> float:
    """First event of edge ``i``'s own (Poisson or periodic) clock."""
    cnt = st.clock_draws[i]
    st.clock_draws[i] += 1
    if st.clock_kind == POISSON:
        return poisson_next(st.clock_key, i, cnt, 0.0, st.clock_rate_hz)
    return periodic_first(st.clock_key, i, cnt, st.clock_period_s[i])


@jit
def next_crossing(st: KernelState, i: int) -> float:
    """Continuous clock: absolute time edge ``i``'s gate will have moved ``dq`` volts."""
    dt = crossing_time(
        st.edges_v_gate[i],
        st.edges_q_gate[i],
        st.clock_dq_v,
        st.edges_drive[i],
        st.edges_c_gate_f[i],
        st.edges_r_charge_ohm[i],
        st.edges_tau_leak_s[i],
        st.edges_v_rest_v[i],
        st.edges_v_min_v[i],
        st.edges_v_max_v[i],
    )
    return st.edges_t_gate[i] + dt
