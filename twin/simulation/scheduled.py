"""A twin trained on a schedule: tasks in turn, eta over time, a stop rule (ScheduledTwin).

:class:`~twin.simulation.twin.Twin` runs one task at one eta. A lab trains on a
:class:`~twin.simulation.schedule.Schedule` (arXiv 2505.22887: two tasks alternating every
``tau / 2``, eta ramped over the first seconds). :class:`ScheduledTwin` cuts the schedule into its
segments (:func:`~twin.simulation.schedule.segments`) and runs one twin per segment, each starting
from the previous one's gate voltages at the segment's start (the capacitor voltages are the state
that carries over; energies and event counts accumulate). It satisfies the probe's
:class:`~twin.simulation.contracts.ObservedTwin`, so one run is sampled and recorded as one run.

Stop rule: at the end of every cycle through the tasks the mean training error over the tasks at
the present gates (each task's free response) is compared with ``stop_error_v2``; once at or below
it, the twin holds its gates (gains zero: idle, as a board that stopped training; a leak still
acts) for the rest of the schedule's duration. Only the batched engine runs a schedule.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import simpy

from ..documents import Run, Subscriber
from ..physics.task import Task
from .errors import ModelError
from .noise import NoiseConfig
from .probes import Probe
from .schedule import Schedule, Segment, segments
from .twin import Twin, TwinConfig, TwinResult

__all__ = ["ScheduledTwin", "schedule_error_v2"]

#: Readings that accumulate over the segments.
CUMULATIVE = ("energy_j", "clamped_energy_j", "gate_energy_j", "events")


def schedule_error_v2(schedule: Schedule, config: TwinConfig, gates_v: np.ndarray) -> float:
    """Mean over ``schedule``'s tasks of their training error (V^2) at gates ``gates_v``."""
    quiet = config.evolve(
        edges=config.edges.evolve(v_gate0_v=gates_v, bias_v_per_s=0.0), noise=NoiseConfig()
    )
    errors = [
        Twin(simpy.Environment(), task, quiet, np.random.default_rng(0)).initial["error"]
        for task in schedule.tasks
    ]
    return float(np.mean(errors))


class ScheduledTwin:
    """The event-driven twin trained on ``schedule``.

    Parameters
    ----------
    env
        SimPy environment of the run (probes and the batched engine run on it).
    schedule
        What to train, when; the run lasts ``schedule.duration_s``.
    config
        Twin settings; each segment uses them with the segment's eta (``config.eta`` unused).
    rng
        Source of every segment twin's random keys (drawn segment by segment).
    emit, params
        Subscriber for the run documents and extra provenance, as :class:`Twin`.
    """

    def __init__(
        self,
        env: simpy.Environment,
        schedule: Schedule,
        config: TwinConfig,
        rng: np.random.Generator,
        *,
        emit: Subscriber | None = None,
        params: dict[str, Any] | None = None,
    ) -> None:
        if config.engine != "batched":
            raise ModelError("engine: a schedule runs on the batched engine")
        self.env = env
        self.schedule = schedule
        self.config = config
        self.rng = rng
        self.emit = emit
        self.params = config.params() | (params or {})
        self.t0_s = float(env.now)
        self.stopped_s: float | None = None
        self.run_uid = ""
        self._segments = segments(schedule)
        self._offset = dict.fromkeys(CUMULATIVE, 0.0)
        self._n_segments = 0
        first = next(self._segments)
        self._start(first, config.edges.columns(schedule.tasks[0].network.n_edges)["v_gate0_v"])
        self.initial = self.readings(0.0)

    # ------------------------------------------------------------------ segments

    def _start(self, segment: Segment, gates_v: np.ndarray, *, idle: bool = False) -> None:
        task: Task = self.schedule.tasks[segment.task]
        cols = self.config.edges.columns(task.network.n_edges)
        edges = self.config.edges.evolve(
            v_gate0_v=np.clip(gates_v, cols["v_min_v"], cols["v_max_v"])
        )
        if idle:
            edges = edges.evolve(a_free_per_v=0.0, a_clamp_per_v=0.0)
        config = self.config.evolve(eta=segment.eta, edges=edges)
        env = simpy.Environment(initial_time=self.t0_s + segment.t0_s)
        self.segment = segment
        self.twin = Twin(env, task, config, self.rng)
        self._n_segments += 1

    def _next(self) -> bool:
        """Close the current segment at its end and start the next; False at the schedule's end."""
        seg = self.segment
        self.twin.catch_up(seg.t1_s - seg.t0_s)
        last = self.twin.readings(seg.t1_s - seg.t0_s)
        gates = np.asarray(last["gate_v"], dtype=float)
        tol = self.schedule.stop_error_v2
        nxt: Segment | None
        if (
            self.stopped_s is None
            and seg.cycle_end
            and tol is not None
            and schedule_error_v2(self.schedule, self.config, gates) <= tol
        ):
            self.stopped_s = seg.t1_s
            self._segments = iter(())
            nxt = None
            if seg.t1_s < self.schedule.duration_s:
                nxt = Segment(
                    t0_s=seg.t1_s, t1_s=self.schedule.duration_s, task=seg.task, eta=seg.eta,
                    cycle_end=False,
                )  # fmt: skip
        else:
            nxt = next(self._segments, None)
        if nxt is None:
            return False
        for key in CUMULATIVE:
            self._offset[key] += float(last[key])
        self._start(nxt, gates, idle=self.stopped_s is not None)
        return True

    # ------------------------------------------------------------------ ObservedTwin

    def catch_up(self, t_s: float) -> int:
        """Process every event up to run time ``t_s`` (across segment changes)."""
        while t_s > self.segment.t1_s and self._next():
            pass
        return self.twin.catch_up(min(t_s, self.segment.t1_s) - self.segment.t0_s)

    def next_event_s(self) -> float:
        """Run time of the next edge event or segment change (``inf`` if none)."""
        return min(self.twin.next_event_s() + self.segment.t0_s, self.segment.t1_s)

    def readings(self, t_s: float) -> dict[str, Any]:
        """Probe readings at run time ``t_s`` (the current segment's task and error)."""
        local = min(t_s, self.segment.t1_s) - self.segment.t0_s
        r = dict(self.twin.readings(local))
        for key in CUMULATIVE:
            r[key] = type(r[key])(r[key] + self._offset[key])
        r["lam"] = self.config.lam
        return r

    # ------------------------------------------------------------------ running

    def run(self, *, progress: Any = None) -> TwinResult:
        """Train on the schedule for its whole duration; the result as :meth:`Twin.run`'s."""
        from .batched import start_batched

        duration_s = self.schedule.duration_s
        with Run(self.emit, source="twin", kind="simulate", params=self.params) as run:
            self.run_uid = run.uid
            probe = Probe(self, run, progress=progress)
            wall0 = time.perf_counter()
            start_batched(self.env, self, duration_s)
            self.env.run(until=probe.start(duration_s))
            wall_s = time.perf_counter() - wall0
            last = probe.last
            gates = np.asarray(last["gate_v"], dtype=float)
            stats: dict[str, Any] = {
                "error_initial": self.initial["error"],
                "error_final": last["error"],
                "schedule_error_final_v2": schedule_error_v2(self.schedule, self.config, gates),
                "free_power_initial_w": self.initial["free_power_w"],
                "free_power_final_w": last["free_power_w"],
                "clamped_power_final_w": last["clamped_power_w"],
                "training_energy_j": last["energy_j"],
                "clamped_energy_j": last["clamped_energy_j"],
                "gate_charging_energy_j": last["gate_energy_j"],
                "sim_time_s": float(duration_s),
                "segments": self._n_segments,
                "events": int(last["events"]),
                "wall_s": wall_s,
                "realtime_factor": duration_s / wall_s if wall_s > 0 else float("inf"),
                "lag_max_s": probe.lag_max_s,
                "clock": self.config.clock.spec,
                "model": self.config.edges.device.name,
                "engine": self.config.engine,
                "lam": self.config.lam,
                "eta": self.segment.eta,
            }
            if self.stopped_s is not None:
                stats["stopped_s"] = self.stopped_s
            run.summary = dict(stats)
        return TwinResult(
            k=self.twin.conductance,
            gate_v=gates.copy(),
            history=probe.history(),
            stats=stats,
            run_uid=self.run_uid,
        )
