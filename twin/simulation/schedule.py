"""Training schedules as data: tasks alternating every ``period / n``, eta ramps, stop rules.

A lab trains a board on a schedule, not a single setting: two tasks alternating every ``tau/2``
(arXiv 2505.22887), eta ramped from 32/129 to 128/129 over the first seconds, stop after a time or
once the error is low enough. :class:`Schedule` is that schedule; :func:`segments` cuts it into
stretches of constant task and eta (what a board or a twin runs between two changes). The file
form is ``twin.schedule/1`` (``schemas/schedule.schema.json``), read by :func:`schedule_from_dict`.

Eta ramps move in steps of the board's 8-bit setting (``eta = ETA / 129``) when ``quantise`` is
set, as the board does; otherwise in ``steps`` equal steps.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from ..physics.file_checks import check_document, read_json
from ..physics.task import Task, load_task, task_from_dict
from .errors import ModelError

__all__ = ["EtaRamp", "Schedule", "Segment", "load_schedule", "schedule_from_dict", "segments"]

#: The board's eta denominator (eta = ETA / 129, ETA an 8-bit setting).
ETA_DENOMINATOR = 129


@attrs.frozen(kw_only=True)
class EtaRamp:
    """Eta from ``start`` to ``end`` linearly over ``ramp_s`` seconds, then ``end``.

    ``quantise``: steps of ``1/129`` (the board's ETA setting); else ``steps`` equal steps.
    """

    start: float
    end: float
    ramp_s: float = 0.0
    quantise: bool = True
    steps: int = 32

    def __attrs_post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if not (np.isfinite(value) and 0 < value <= 1):
                raise ModelError(f"eta.{name}: expected a number in (0, 1], got {value!r}")
        if not (np.isfinite(self.ramp_s) and self.ramp_s >= 0):
            raise ModelError(f"eta.ramp_s: expected a time >= 0 s, got {self.ramp_s!r}")
        if self.steps < 1:
            raise ModelError(f"eta.steps: expected an integer >= 1, got {self.steps!r}")

    @classmethod
    def constant(cls, eta: float) -> EtaRamp:
        return cls(start=eta, end=eta, quantise=False)

    def levels(self) -> list[tuple[float, float]]:
        """``(from_s, eta)`` of each level, in time order (the last holds for ever)."""
        if self.ramp_s == 0 or self.start == self.end:
            return [(0.0, self.end)]
        if self.quantise:
            a, b = (round(x * ETA_DENOMINATOR) for x in (self.start, self.end))
            codes = range(a, b + (1 if b > a else -1), 1 if b > a else -1)
            values = [c / ETA_DENOMINATOR for c in codes]
        else:
            values = list(np.linspace(self.start, self.end, self.steps + 1))
        dt = self.ramp_s / max(len(values) - 1, 1)
        return [(i * dt, float(v)) for i, v in enumerate(values)]


def _task_tuple(value: Iterable[Task]) -> tuple[Task, ...]:
    return tuple(value)


@attrs.frozen(kw_only=True, eq=False)
class Schedule:
    """What to train, when: tasks in turn, eta over time, when to stop.

    Parameters
    ----------
    tasks
        The tasks, in order (all on one network).
    period_s
        One cycle through every task, s: each task trains for ``period_s / len(tasks)``
        (``None``: the first task only, no alternation).
    eta
        Eta over time.
    duration_s
        Stop after this long, s.
    stop_error_v2
        Also stop once the mean error over the tasks is at or below this (V^2), checked at the
        end of every cycle (``None``: no error rule).
    """

    tasks: tuple[Task, ...] = attrs.field(converter=_task_tuple)
    period_s: float | None = None
    eta: EtaRamp = attrs.field(factory=lambda: EtaRamp.constant(0.22))
    duration_s: float = 20.0
    stop_error_v2: float | None = None

    def __attrs_post_init__(self) -> None:
        if not self.tasks:
            raise ModelError("tasks: need at least one task")
        net = self.tasks[0].network
        for i, task in enumerate(self.tasks[1:], 1):
            if task.network.n_nodes != net.n_nodes or not np.array_equal(
                task.network.edges, net.edges
            ):
                raise ModelError(f"tasks[{i}]: every task must be on the first task's network")
        if self.period_s is not None and not (np.isfinite(self.period_s) and self.period_s > 0):
            raise ModelError(f"period_s: expected a period > 0 s, got {self.period_s!r}")
        if not (np.isfinite(self.duration_s) and self.duration_s > 0):
            raise ModelError(f"duration_s: expected a time > 0 s, got {self.duration_s!r}")
        if self.stop_error_v2 is not None and not self.stop_error_v2 > 0:
            raise ModelError(f"stop_error_v2: expected an error > 0 V^2, got {self.stop_error_v2}")

    @property
    def phase_s(self) -> float:
        """Time each task trains before the next one, s (``inf`` without alternation)."""
        return np.inf if self.period_s is None else self.period_s / len(self.tasks)

    def task_at(self, t_s: float) -> int:
        """Index of the task trained at schedule time ``t_s``."""
        if self.period_s is None:
            return 0
        return int(np.floor(t_s / self.phase_s + 1e-9)) % len(self.tasks)


@attrs.frozen(kw_only=True)
class Segment:
    """A stretch ``[t0_s, t1_s)`` of schedule time with one task and one eta."""

    t0_s: float
    t1_s: float
    task: int
    eta: float
    cycle_end: bool  # t1_s closes a cycle through every task (where error rules are checked)


def segments(schedule: Schedule) -> Iterator[Segment]:
    """The schedule as stretches of constant task and eta, in time order, up to its duration."""
    phase = schedule.phase_s
    levels = schedule.eta.levels()
    level_times = [t for t, _ in levels[1:]]
    n_tasks = len(schedule.tasks)
    t, k, li = 0.0, 0, 0
    while t < schedule.duration_s:
        next_switch = (k + 1) * phase
        next_level = level_times[li] if li < len(level_times) else np.inf
        t1 = min(next_switch, next_level, schedule.duration_s)
        task = k % n_tasks if np.isfinite(phase) else 0
        yield Segment(
            t0_s=t,
            t1_s=float(t1),
            task=task,
            eta=levels[li][1],
            cycle_end=bool(t1 == next_switch and task == n_tasks - 1),
        )
        if t1 == next_switch:
            k += 1
        if t1 == next_level:
            li += 1
        t = float(t1)


def _eta_from_doc(doc: Any) -> EtaRamp:
    if isinstance(doc, int | float):
        return EtaRamp.constant(float(doc))
    return EtaRamp(
        start=float(doc["start"]),
        end=float(doc["end"]),
        ramp_s=float(doc.get("ramp_s", 0.0)),
        quantise=bool(doc.get("quantise", True)),
        steps=int(doc.get("steps", 32)),
    )


def schedule_from_dict(
    doc: dict[str, Any], *, tasks: Sequence[Task] | None = None, base_dir: Path | None = None
) -> Schedule:
    """A :class:`Schedule` from a validated ``twin.schedule/1`` document.

    ``tasks`` replaces the document's task list (a caller that already holds the tasks); else
    each entry is an inline ``twin.task/1`` object or a path relative to ``base_dir``.
    """
    if tasks is None:
        loaded: list[Task] = []
        for i, entry in enumerate(doc["tasks"]):
            if isinstance(entry, str):
                path = Path(entry) if base_dir is None else base_dir / entry
                loaded.append(load_task(path))
            else:
                loaded.append(task_from_dict(entry, base_dir=base_dir, source=f"tasks[{i}]"))
        tasks = loaded
    stop = doc.get("stop", {})
    return Schedule(
        tasks=tuple(tasks),
        period_s=doc.get("period_s"),
        eta=_eta_from_doc(doc.get("eta", 0.22)),
        duration_s=float(stop.get("after_s", 20.0)),
        stop_error_v2=stop.get("error_below_v2"),
    )


def load_schedule(path: str | Path) -> Schedule:
    """Read and check a ``twin.schedule/1`` file (errors name the file and the field)."""
    path = Path(path)
    doc = read_json(path, ModelError, what="schedule")
    check_document(doc, "twin.schedule/1", ModelError, source=str(path))
    return schedule_from_dict(doc, base_dir=path.parent)
