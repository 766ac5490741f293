"""The twin's kernel state at ``t = 0``: every concept module fills its own group.

:func:`build_state` allocates the groups of :mod:`twin.kernels.events.state` for a task and a
:class:`~.config.TwinConfig` and runs the kernel's initialisation (operating point, states,
first drives and clock times).
"""

from __future__ import annotations

import logging

import numpy as np

from ..kernels.events import clocks as KC
from ..kernels.events import devices as KD
from ..kernels.events import loop as KL
from ..kernels.events.state import EventLog, KernelState, Rule, State, kernel_state
from ..physics.task import Task
from .clocks import clock_group
from .config import TwinConfig
from .devices import device_group
from .network_state import (
    NetworkState,
    circuit_group,
    circuit_structure,
    examples_group,
    solver_group,
)
from .noise import noise_group, run_keys

__all__ = ["FIXED_POINT_ITERS", "FIXED_POINT_TOL", "build_state"]

log = logging.getLogger("twin.sim")

#: Fixed-point iterations allowed at the start for the transistor's operating point.
FIXED_POINT_ITERS = 50
FIXED_POINT_TOL = 1e-12


def build_state(
    task: Task, config: TwinConfig, rng: np.random.Generator
) -> tuple[State, KernelState]:
    """Allocate and initialise the kernel state of a twin (t = 0): groups and kernel handle.

    Each concept module fills its own group; the draws from ``rng`` come in a fixed order (run
    keys, comparator offsets, clock periods).
    """
    ends, cons, n = circuit_structure(task)
    e = ends.shape[0]
    clock = config.clock
    noise_key, clock_key = run_keys(rng)
    noise = noise_group(config.noise, e, noise_key, rng)
    if np.any(config.edges.bias_v_per_s != 0):  # the learning bias rides on the offsets
        noise.offset_v2[:] += config.edges.bias_offsets_v2(e)
    clocks = clock_group(clock, e, clock_key, rng)
    windowed = config.window_s > 0
    solver, factor = solver_group(
        config.solver, ends, cons, n, windowed or clock.kind in (KC.SYNC, KC.BERNOULLI),
        config.window_s,
    )  # fmt: skip
    transistor = config.edges.device.kind == KD.TRANSISTOR
    n_log = max(config.log_events, 0)
    st, kst = kernel_state(
        circuit=circuit_group(ends, cons, n, task.train.size, transistor, solver.sparse),
        factor=factor,
        examples=examples_group(task),
        edges=config.edges.kernel_group(e),
        device=device_group(config.edges.device, e),
        clock=clocks,
        noise=noise,
        rule=Rule(lam=config.lam, eta=config.eta, tau_feedback_s=config.tau_feedback_s,
                  n_sources=int(task.n_sources)),
        solver=solver,
        log=EventLog(t=np.zeros(n_log), edge=np.zeros(n_log, dtype=np.int64)),
    )  # fmt: skip
    iters = KL.initialise(kst, FIXED_POINT_ITERS, FIXED_POINT_TOL)
    NetworkState(st, kst).check()
    log.debug("initial operating point after %d fixed-point iteration(s)", iters)
    return st, kst
