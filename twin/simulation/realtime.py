"""Real-time mode: a SimPy ``RealtimeEnvironment`` for live use, with lag reported, not fatal.

``simpy.rt.RealtimeEnvironment(strict=True)`` raises when the simulation falls behind the wall
clock. A twin shadowing live hardware must keep running through jitter (a slow batch, a garbage
collection), so :func:`realtime_environment` uses ``strict=False`` and the probes report the lag
(:func:`lag_s`: seconds the simulation is behind the wall clock, 0 when on time) as a metric in
every sample document (``lag_s``) and its maximum in the run summary (``lag_max_s``).

The batched engine waits for the wall clock once per ``batch_s`` of simulated time, so a
real-time run of the board costs the same compute as a plain one and sleeps the rest.
"""

from __future__ import annotations

from time import monotonic

import simpy
import simpy.rt

__all__ = ["lag_s", "realtime_environment"]


def realtime_environment(
    factor: float = 1.0, *, initial_time: float = 0.0
) -> simpy.rt.RealtimeEnvironment:
    """A non-strict real-time environment: ``factor`` wall seconds per simulated second."""
    if not factor > 0:
        raise ValueError(f"factor: must be > 0, got {factor}")
    return simpy.rt.RealtimeEnvironment(initial_time=initial_time, factor=factor, strict=False)


def lag_s(env: simpy.Environment) -> float | None:
    """Seconds a real-time ``env`` is behind the wall clock (>= 0); ``None`` for a plain one."""
    if not isinstance(env, simpy.rt.RealtimeEnvironment):
        return None
    due = env.real_start + (env.now - env.env_start) * env.factor
    return max(monotonic() - due, 0.0)
