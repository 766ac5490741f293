"""Clocks: when each edge agent updates, in continuous simulated time (seconds).

Spec strings (``--clock``) parse into frozen configs:

``sync:RATE_HZ``
    One global clock; every edge updates at ticks ``t_n = n / RATE_HZ``, ``n = 1, 2, ...``.
``bernoulli:RATE_HZ:P``
    The same global ticks; at each tick each edge updates with probability ``P``, independently
    (Wycoff et al. 2022 desynchronous learning).
``poisson:RATE_HZ``
    Every edge has its own Poisson clock of rate ``RATE_HZ``: exponential intervals.
``periodic:RATE_HZ:JITTER[:SPREAD]``
    Every edge has its own periodic clock: a fixed period ``(1 + SPREAD z_i) / RATE_HZ``
    (component spread, ``z_i ~ N(0, 1)`` drawn once; ``SPREAD`` defaults to ``JITTER``), a random
    phase, and a cycle-to-cycle relative jitter ``JITTER`` (intervals ``T_i (1 + JITTER zeta)``).
``continuous:DQ_V``
    Quantized-state clock: an edge updates whenever its gate voltage has moved ``DQ_V`` volts
    since the network last saw it (or it reaches a rail). Busy edges update often, settled edges
    rarely. Its drive is the edge's analog contrast signal, always current.

Draws are counter-based (:mod:`twin.kernels.events.rng`): edge ``i``'s ``n``-th clock draw depends
only on the run's clock key, ``i`` and ``n``. :func:`event_times` returns the exact times the twin
uses, for inspection and statistics.

Clocks with a global tick are "clock groups": all edges due at a tick update together (one
vectorised step). Clocks with per-edge times fire edges one at a time, in time order.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from ..kernels.events import clocks as KC
from ..kernels.events.state import ClockGroup
from .errors import ClockError

__all__ = [
    "BernoulliClock",
    "Clock",
    "ContinuousClock",
    "PeriodicClock",
    "PoissonClock",
    "SyncClock",
    "clock_group",
    "event_times",
    "parse_clock",
]

_FORMS = (
    "sync:RATE_HZ, bernoulli:RATE_HZ:P, poisson:RATE_HZ, periodic:RATE_HZ:JITTER[:SPREAD] "
    "or continuous:DQ_V"
)


def _rate(_inst: object, attr: attrs.Attribute[Any], value: float) -> None:
    if not (np.isfinite(value) and value > 0):
        raise ClockError(f"clock: {attr.name} must be a finite number > 0, got {value!r}")


def _fraction(_inst: object, attr: attrs.Attribute[Any], value: float) -> None:
    if not (0 < value <= 1):
        raise ClockError(f"clock: {attr.name} must be in (0, 1], got {value!r}")


def _spread(_inst: object, attr: attrs.Attribute[Any], value: float) -> None:
    if not (0 <= value < 1):
        raise ClockError(f"clock: {attr.name} must be in [0, 1), got {value!r}")


@attrs.frozen(kw_only=True)
class SyncClock:
    """One global clock at ``rate_hz``; every edge updates at every tick."""

    rate_hz: float = attrs.field(converter=float, validator=_rate)
    kind = KC.SYNC

    @property
    def spec(self) -> str:
        return f"sync:{self.rate_hz:g}"

    def edge_rate_hz(self) -> float:
        """Mean updates per second of one edge."""
        return self.rate_hz


@attrs.frozen(kw_only=True)
class BernoulliClock:
    """Global ticks at ``rate_hz``; each edge updates with probability ``p`` per tick."""

    rate_hz: float = attrs.field(converter=float, validator=_rate)
    p: float = attrs.field(converter=float, validator=_fraction)
    kind = KC.BERNOULLI

    @property
    def spec(self) -> str:
        return f"bernoulli:{self.rate_hz:g}:{self.p:g}"

    def edge_rate_hz(self) -> float:
        return self.rate_hz * self.p


@attrs.frozen(kw_only=True)
class PoissonClock:
    """Independent Poisson clocks of rate ``rate_hz`` per edge."""

    rate_hz: float = attrs.field(converter=float, validator=_rate)
    kind = KC.POISSON

    @property
    def spec(self) -> str:
        return f"poisson:{self.rate_hz:g}"

    def edge_rate_hz(self) -> float:
        return self.rate_hz


@attrs.frozen(kw_only=True)
class PeriodicClock:
    """Per-edge periodic clocks: frequency spread ``spread``, cycle jitter ``jitter`` (relative)."""

    rate_hz: float = attrs.field(converter=float, validator=_rate)
    jitter: float = attrs.field(converter=float, validator=_spread)
    spread: float | None = attrs.field(default=None)
    kind = KC.PERIODIC

    def __attrs_post_init__(self) -> None:
        if self.spread is not None:
            _spread(self, attrs.fields(PeriodicClock).spread, self.spread)

    @property
    def spec(self) -> str:
        tail = "" if self.spread is None else f":{self.spread:g}"
        return f"periodic:{self.rate_hz:g}:{self.jitter:g}{tail}"

    def edge_rate_hz(self) -> float:
        return self.rate_hz

    def periods_s(self, n_edges: int, rng: np.random.Generator) -> np.ndarray:
        """Each edge's own mean period (s): ``(1 + spread z_i) / rate_hz``, kept > 0."""
        spread = self.jitter if self.spread is None else self.spread
        z = rng.standard_normal(n_edges)
        return np.maximum(1.0 + spread * z, 0.05) / self.rate_hz


@attrs.frozen(kw_only=True)
class ContinuousClock:
    """Quantized-state clock: an edge fires when its gate has moved ``dq_v`` volts."""

    dq_v: float = attrs.field(converter=float, validator=_rate)
    kind = KC.CONTINUOUS

    @property
    def spec(self) -> str:
        return f"continuous:{self.dq_v:g}"

    def edge_rate_hz(self) -> float:
        return float("nan")  # depends on the dynamics


Clock = SyncClock | BernoulliClock | PoissonClock | PeriodicClock | ContinuousClock


def _number(text: str, spec: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ClockError(f"clock: {spec!r}: {text!r} is not a number; expected {_FORMS}") from None
    return value


def parse_clock(spec: str) -> Clock:
    """Parse a clock spec string (see the module docstring); raises :class:`ClockError`."""
    parts = spec.strip().split(":")
    name, args = parts[0].lower(), [_number(p, spec) for p in parts[1:]]
    arity = {
        "sync": (1,),
        "bernoulli": (2,),
        "poisson": (1,),
        "periodic": (2, 3),
        "continuous": (1,),
    }
    if name not in arity:
        raise ClockError(f"clock: unknown clock {spec!r}; expected {_FORMS}")
    if len(args) not in arity[name]:
        raise ClockError(f"clock: {spec!r} has {len(args)} number(s); expected {_FORMS}")
    if name == "sync":
        return SyncClock(rate_hz=args[0])
    if name == "bernoulli":
        return BernoulliClock(rate_hz=args[0], p=args[1])
    if name == "poisson":
        return PoissonClock(rate_hz=args[0])
    if name == "periodic":
        return PeriodicClock(
            rate_hz=args[0], jitter=args[1], spread=args[2] if len(args) == 3 else None
        )
    return ContinuousClock(dq_v=args[0])


def event_times(
    clock: Clock,
    n_edges: int,
    duration_s: float,
    *,
    key: int,
    periods_s: np.ndarray | None = None,
    cap: int = 10_000_000,
) -> list[np.ndarray]:
    """Event times (s) of each edge on ``[0, duration_s]``, exactly as the twin draws them.

    Parameters
    ----------
    clock
        A sync, Bernoulli, Poisson or periodic clock (the continuous clock depends on the run).
    n_edges
        Number of edges.
    duration_s
        End of the window, seconds.
    key
        The run's clock key (:attr:`twin.simulation.twin.Twin.clock_key`).
    periods_s
        Per-edge periods of a periodic clock (:meth:`PeriodicClock.periods_s`).
    cap
        Maximum number of events returned in total.
    """
    if isinstance(clock, ContinuousClock):
        raise ClockError("clock: continuous clock times depend on the run; use a twin's log")
    periods = np.full(n_edges, 1.0 / clock.rate_hz) if periods_s is None else periods_s
    times, edges = KC.clock_times(
        clock.kind,
        np.uint64(key),
        n_edges,
        float(duration_s),
        clock.rate_hz,
        getattr(clock, "p", 1.0),
        getattr(clock, "jitter", 0.0),
        np.asarray(periods, dtype=float),
        cap,
    )
    return [times[edges == i] for i in range(n_edges)]


def clock_group(clock: Clock, n_edges: int, key: int, rng: np.random.Generator) -> ClockGroup:
    """The clock's kernel group; a periodic clock draws its per-edge periods from ``rng``."""
    if isinstance(clock, PeriodicClock):
        period_s = clock.periods_s(n_edges, rng)
    elif isinstance(clock, ContinuousClock):
        period_s = np.zeros(n_edges)
    else:
        period_s = np.full(n_edges, 1.0 / clock.rate_hz)
    return ClockGroup(
        kind=int(clock.kind),
        key=np.uint64(key),
        rate_hz=float(getattr(clock, "rate_hz", 0.0)),
        p=float(getattr(clock, "p", 1.0)),
        jitter=float(getattr(clock, "jitter", 0.0)),
        dq_v=float(getattr(clock, "dq_v", 0.0)),
        period_s=period_s,
        next_t=np.full(n_edges, np.inf),
        draws=np.zeros(n_edges, dtype=np.int64),
    )
