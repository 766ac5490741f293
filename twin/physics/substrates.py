"""The :class:`~twin.physics.contract.Physics` of a list of tasks, by the tasks' type."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import TaskError
from .contract import Physics
from .task import Task

__all__ = ["physics_for"]


def physics_for(tasks: Sequence[object]) -> Physics:
    """Resistor or spring physics (its linear-response path) for ``tasks`` (one substrate)."""
    if not tasks:
        raise TaskError("realizations: need at least one task")
    if all(isinstance(t, Task) for t in tasks):
        from .resistors import ResistorPhysics

        return ResistorPhysics(tasks)  # type: ignore[arg-type]
    from .springs.task import SpringTask

    if all(isinstance(t, SpringTask) for t in tasks):
        from .springs.physics import SpringPhysics

        return SpringPhysics(tasks)  # type: ignore[arg-type]
    raise TaskError(
        "tasks: expected resistor (twin.physics.task.Task) or spring tasks "
        "(twin.physics.springs.task.SpringTask), all of one kind, got "
        + ", ".join(sorted({type(t).__name__ for t in tasks}))
    )
