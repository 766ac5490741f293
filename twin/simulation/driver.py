"""Running a twin: the run's documents, its probe and its engine around ``env.run``.

Shared by every twin kind (:class:`~.twin.Twin`, :class:`~.physics_twin.PhysicsTwin`): one
:class:`~twin.documents.Run` (start, samples, energy entries, stop with the summary), one
:class:`~.probes.Probe` sampling every ``sample_interval_s``, and the engine that processes the
events (batched, or one SimPy process per edge for a kernel twin's ``agents`` engine).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ..documents import Run, Subscriber
from .errors import ModelError
from .probes import Probe
from .result import TwinResult

__all__ = ["run_twin"]


def run_twin(
    twin: Any,
    duration_s: float,
    *,
    emit: Subscriber | None,
    params: dict[str, Any],
    progress: Callable[[float, float], None] | None,
    finish: Callable[[Probe, float], TwinResult],
    agents: bool = False,
) -> TwinResult:
    """Drive ``twin`` for ``duration_s`` simulated seconds and return ``finish(probe, wall_s)``.

    ``twin.run_uid`` is set to the run's uid before anything runs; the result's summary is the
    stop document's.
    """
    from .agents import start_agents
    from .batched import start_batched

    if not (np.isfinite(duration_s) and duration_s >= 0):
        raise ModelError(f"duration: must be a finite number >= 0 s, got {duration_s!r}")
    with Run(emit, source="twin", kind="simulate", params=params) as run:
        twin.run_uid = run.uid
        probe = Probe(twin, run, progress=progress)
        wall0 = time.perf_counter()
        if agents:
            start_agents(twin.env, twin, duration_s)
        else:
            start_batched(twin.env, twin, duration_s)
        twin.env.run(until=probe.start(duration_s))
        result = finish(probe, time.perf_counter() - wall0)
        run.summary = result.summary()
    return result
