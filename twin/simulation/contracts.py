"""What the engines and probes need of a twin: small Protocols instead of ``Any``.

:class:`twin.simulation.twin.Twin` satisfies both. The probe and the batched engine only drive and
read the twin through its public methods (:class:`ObservedTwin`); the agents engine also calls the
compiled event functions on the twin's kernel state (:class:`KernelTwin`), because it schedules
each edge's events itself.
"""

from __future__ import annotations

from typing import Any, Protocol

import simpy

__all__ = ["EngineConfig", "KernelTwin", "ObservedTwin"]


class EngineConfig(Protocol):
    """The settings engines and probes read (:class:`twin.simulation.twin.TwinConfig`)."""

    @property
    def sample_interval_s(self) -> float:
        """Simulated time between probe samples, s."""
        ...

    @property
    def batch_s(self) -> float:
        """Batched engine: simulated time between wake-ups, s (0: every event instant)."""
        ...

    @property
    def per_edge_samples(self) -> int:
        """Sample every gate when the network has at most this many edges."""
        ...


class ObservedTwin(Protocol):
    """A twin that can be brought up to a time and read (probes, the batched engine)."""

    @property
    def env(self) -> simpy.Environment:
        """The SimPy environment the twin runs on."""
        ...

    @property
    def config(self) -> EngineConfig:
        """The twin's settings."""
        ...

    @property
    def t0_s(self) -> float:
        """Environment time at which the run started, s."""
        ...

    @property
    def initial(self) -> dict[str, Any]:
        """Readings at the start of the run."""
        ...

    def catch_up(self, t_s: float) -> int:
        """Process every event up to twin time ``t_s``; returns the event groups done."""
        ...

    def next_event_s(self) -> float:
        """Twin time of the next edge event, s (``inf`` if none)."""
        ...

    def readings(self, t_s: float) -> dict[str, Any]:
        """Probe readings at twin time ``t_s`` (read-only)."""
        ...


class KernelTwin(ObservedTwin, Protocol):
    """A twin whose compiled state the agents engine steps edge by edge.

    ``state`` and ``kernel`` are the compiled kernel's own types (:mod:`twin.kernels.events`);
    they are opaque here so that this contract does not depend on the kernel's internal layout.
    """

    @property
    def state(self) -> Any:
        """The kernel's arrays (read by the agents engine: clock kind, next event times)."""
        ...

    @property
    def kernel(self) -> Any:
        """The compiled kernel state handle passed to the event functions."""
        ...

    def local(self, t_s: float) -> float:
        """Twin time (s since the run started) of environment time ``t_s``."""
        ...
