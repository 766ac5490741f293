"""The agents engine: one SimPy process per edge, one SimPy event per edge event (the reference).

This is the naive, literal model and the reference the batched engine is tested against
(bit-identical results). Each edge process waits for its own clock:

- global clocks (sync, Bernoulli): a tick process broadcasts every tick; each edge process wakes,
  decides whether it fires (Bernoulli: its own coin), stages its change, yields one zero delay so
  that every edge of the instant has staged, then commits (the first one to get there applies the
  whole group) and measures;
- per-edge clocks (Poisson, periodic): each process sleeps until its next event and fires;
- the continuous clock: each process sleeps until its gate will have moved ``dq`` or until any
  other edge changed the network (which changes its drive), whichever comes first.

The compiled kernel functions it calls are the ones the batched engine uses; only the scheduling
differs.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any

import simpy
from simpy.events import Event

from ..kernels.events import circuit as KCi
from ..kernels.events import clocks as KC
from ..kernels.events import energy as KE
from ..kernels.events import loop as KL
from ..kernels.status import raise_for_status
from .contracts import KernelTwin

__all__ = ["start_agents"]


def _check(twin: KernelTwin) -> None:
    """Raise :class:`twin.errors.SolverError` if the last event's solves failed."""
    raise_for_status(int(twin.state.counters.status), "the twin's network")


class _Broadcast:
    """A re-armed SimPy event: ``wait()`` returns the current one, ``fire()`` triggers it."""

    def __init__(self, env: simpy.Environment) -> None:
        self.env = env
        self.event = env.event()

    def fire(self, value: Any = None) -> None:
        old, self.event = self.event, self.env.event()
        old.succeed(value)


def _ticker(
    env: simpy.Environment, twin: KernelTwin, tick: _Broadcast, duration_s: float
) -> Generator[Event, Any, None]:
    n = 1
    while (t := float(KC.tick_time(twin.kernel, n))) <= duration_s:
        yield env.timeout(max(twin.t0_s + t - env.now, 0.0))
        KC.set_tick(twin.kernel, n + 1)
        tick.fire(n)
        n += 1


def _tick_agent(
    env: simpy.Environment, twin: KernelTwin, i: int, tick: _Broadcast
) -> Generator[Event, int, None]:
    st = twin.kernel
    while True:
        n = yield tick.event
        if not KC.fires(st, i, n):
            continue
        t = float(KC.tick_time(st, n))
        KE.prepare(st, t)
        KL.stage(st, i, t)
        yield env.timeout(0)
        KCi.commit(st)
        KL.measure(st, i, True)
        _check(twin)


def _own_clock_agent(
    env: simpy.Environment, twin: KernelTwin, i: int, duration_s: float
) -> Generator[Event, Any, None]:
    st, kst = twin.state, twin.kernel
    while (t := float(st.clock.next_t[i])) <= duration_s:
        yield env.timeout(max(twin.t0_s + t - env.now, 0.0))
        KL.fire_own(kst, i)
        _check(twin)


def _continuous_agent(
    env: simpy.Environment, twin: KernelTwin, i: int, changed: _Broadcast, duration_s: float
) -> Generator[Event, Any, None]:
    st, kst = twin.state, twin.kernel
    while True:
        t = float(st.clock.next_t[i])
        waits: list[Event] = [changed.event]
        if math.isfinite(t) and t <= duration_s:
            waits.append(env.timeout(max(twin.t0_s + t - env.now, 0.0)))
        yield env.any_of(waits)
        if float(st.clock.next_t[i]) == t and math.isfinite(t) and t <= twin.local(env.now) + 1e-15:
            KL.fire_own(kst, i)
            _check(twin)
            changed.fire()


def start_agents(
    env: simpy.Environment, twin: KernelTwin, duration_s: float
) -> list[simpy.Process]:
    """Start one process per edge (and the tick broadcaster for global clocks)."""
    st = twin.state
    clock = int(st.clock.kind)
    n_edges = st.edges.drive.shape[0]
    if clock in (KC.SYNC, KC.BERNOULLI):
        tick = _Broadcast(env)
        procs = [env.process(_tick_agent(env, twin, i, tick)) for i in range(n_edges)]
        return [*procs, env.process(_ticker(env, twin, tick, duration_s))]
    if clock == KC.CONTINUOUS:
        changed = _Broadcast(env)
        return [
            env.process(_continuous_agent(env, twin, i, changed, duration_s))
            for i in range(n_edges)
        ]
    return [env.process(_own_clock_agent(env, twin, i, duration_s)) for i in range(n_edges)]
