"""Event-driven twin of a self-learning board: asynchronous edge agents in continuous time.

Modules, one concept each: :mod:`.clocks` (when edges update), :mod:`.edge` (the gate capacitor
circuit), :mod:`.devices` (conductance curves), :mod:`.noise`, :mod:`.network_state` (the
electrical state under rank-1 updates), :mod:`.probes` (sample and energy documents),
:mod:`.agents` / :mod:`.batched` (the two engines), :mod:`.realtime`, :mod:`.config` (settings),
:mod:`.build` (the kernel state at t = 0), :mod:`.result` (a run's outcome), :mod:`.twin`
(assembly), :mod:`.scheduled` (a twin trained on a schedule), :mod:`.driver` (documents, probe
and engine around a run) and the spring agents over the Physics contract: :mod:`.physics_config`,
:mod:`.physics_agents`, :mod:`.spring_terms` (their state solve) and :mod:`.physics_twin`. The
core takes a SimPy ``env`` and a ``numpy.random.Generator``; it imports no zmq, sqlalchemy or
matplotlib and keeps no module-level state.
"""

from .clocks import (
    BernoulliClock,
    Clock,
    ContinuousClock,
    PeriodicClock,
    PoissonClock,
    SyncClock,
    event_times,
    parse_clock,
)
from .devices import LinearDevice, TransistorDevice, linear_for_bounds
from .edge import EdgeParams, board_edge_params, gate_voltage
from .errors import ClockError, ModelError, SimError
from .network_state import NetworkState, SolverSettings
from .noise import NoiseConfig
from .physics_config import PhysicsTwinConfig, physics_trainer_equivalent
from .physics_twin import PhysicsTwin, simulate_physics
from .realtime import lag_s, realtime_environment
from .twin import Twin, TwinConfig, TwinResult, simulate, trainer_equivalent

__all__ = [
    "BernoulliClock",
    "Clock",
    "ClockError",
    "ContinuousClock",
    "EdgeParams",
    "LinearDevice",
    "ModelError",
    "NetworkState",
    "NoiseConfig",
    "PeriodicClock",
    "PhysicsTwin",
    "PhysicsTwinConfig",
    "PoissonClock",
    "SimError",
    "SolverSettings",
    "SyncClock",
    "TransistorDevice",
    "Twin",
    "TwinConfig",
    "TwinResult",
    "board_edge_params",
    "event_times",
    "gate_voltage",
    "lag_s",
    "linear_for_bounds",
    "parse_clock",
    "physics_trainer_equivalent",
    "realtime_environment",
    "simulate",
    "simulate_physics",
    "trainer_equivalent",
]
