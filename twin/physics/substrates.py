"""The :class:`~twin.physics.contract.Physics` of a list of tasks, by the tasks' type."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import TaskError
from .contract import Physics
from .task import Task

__all__ = ["physics_for"]


def physics_for(tasks: Sequence[object]) -> Physics:
    """Resistor or spring physics for ``tasks`` (all of one substrate)."""
    if not tasks:
        raise TaskError("realizations: need at least one task")
    if all(isinstance(t, Task) for t in tasks):
        from .resistors import ResistorPhysics

        return ResistorPhysics(tasks)  # type: ignore[arg-type]
    raise TaskError(
        "tasks: expected resistor tasks (twin.physics.task.Task) for every realization, got "
        + ", ".join(sorted({type(t).__name__ for t in tasks}))
    )
