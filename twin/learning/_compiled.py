"""Tasks turned into the plain arrays of the compiled trainer (:mod:`twin.kernels`).

The kernels sit below the physics layer and know nothing of tasks or networks; this module
reduces a task to node indices (ground eliminated, index ``n`` for ground) and constraint terms
and lets :func:`twin.kernels.ordering.factor_layout` do the rest.
"""

from __future__ import annotations

import weakref
from collections import Counter
from collections.abc import Sequence

import numpy as np

from ..kernels.ordering import FactorLayout, factor_layout
from ..kernels.train_arrays import Realizations
from ..kernels.train_lanes import LANE_COLUMNS
from ..physics.task import Task

__all__ = ["constraint_terms", "realizations", "task_layout"]


def constraint_terms(task: Task, fi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``C`` as up to two (reduced node, coefficient) terms; ``fi`` maps node -> index.

    Sources first, then targets; node ``-1`` for none (a grounded end of an edge constraint).
    """
    c = task.n_sources + task.n_targets
    idx = np.full((c, 2), -1, dtype=np.int64)
    val = np.zeros((c, 2))
    rows = [(task.source_kind, i) for i in task.sources]
    rows += [(task.target_kind, i) for i in task.targets]
    for j, (kind, i) in enumerate(rows):
        if kind == "nodes":
            idx[j, 0], val[j, 0] = fi[i], 1.0
            continue
        u, v = task.network.edges[i]
        for slot, (node, sign) in enumerate(((u, 1.0), (v, -1.0))):
            if fi[node] >= 0:
                idx[j, slot], val[j, slot] = fi[node], sign
    return idx, val


def task_layout(task: Task, *, lanes: bool = False) -> FactorLayout:
    """Ordering, symbolic factorization and storage layout of one task's reduced Laplacian.

    ``lanes``: the layout of the lane kernels (:func:`twin.kernels.ordering.factor_layout`).
    """
    net = task.network
    free = np.ones(net.n_nodes, dtype=bool)
    free[task.ground] = False
    n = int(free.sum())
    fi = np.full(net.n_nodes, -1, dtype=np.int64)
    fi[free] = np.arange(n)
    cidx, cval = constraint_terms(task, fi)
    ends = np.where(fi[net.edges] >= 0, fi[net.edges], n)
    return factor_layout(n, ends, cidx, cval, lanes=lanes)


#: Layouts of the task objects alive in this process (weak keys: a layout lives as long as its
#: task). A sweep worker trains the same (immutable) tasks in many cells; their ordering and
#: symbolic factorization are computed once.
_LAYOUTS: weakref.WeakKeyDictionary[Task, dict[bool, FactorLayout]] = weakref.WeakKeyDictionary()


def _cached_layout(task: Task, lanes: bool) -> FactorLayout:
    """:func:`task_layout`, once per task object and lane flag."""
    per_task = _LAYOUTS.setdefault(task, {})
    if lanes not in per_task:
        per_task[lanes] = task_layout(task, lanes=lanes)
    return per_task[lanes]


def _shared(tasks: Sequence[Task]) -> list[bool]:
    """Which tasks share their circuit (network and constrained edges or nodes) with another."""
    keys = [
        (t.network.n_nodes, t.network.edges.tobytes(), t.ground.tobytes(), t.source_kind,
         t.sources.tobytes(), t.target_kind, t.targets.tobytes())
        for t in tasks
    ]  # fmt: skip
    count = Counter(keys)
    return [count[key] > 1 for key in keys]


def realizations(tasks: Sequence[Task], *, runs_of: int | None = None) -> Realizations:
    """Structures of ``tasks`` (same numbers of sources, targets and training examples).

    Tasks that share a circuit with another get the lane layout (their steps are computed
    together in lanes, :mod:`twin.kernels.train_lanes`) when they have at most
    :data:`~twin.kernels.train_lanes.LANE_COLUMNS` constraint rows.

    ``runs_of``: ``tasks`` are runs of this many, one sweep cell's realizations each (a batch of
    cells, :class:`twin.learning.trainer.RealizationSettings`): each task gets the layout it
    has in its own cell's run, so its numbers are that run's bit for bit (the lanes compute any
    layout exactly as one realization does; only the split of the dense block differs).
    """
    few = bool(tasks) and tasks[0].n_sources + tasks[0].n_targets <= LANE_COLUMNS
    if few and runs_of:
        if len(tasks) % runs_of:
            raise ValueError(f"runs_of: {len(tasks)} tasks are not runs of {runs_of}")
        shared = [s for i in range(0, len(tasks), runs_of)
                  for s in _shared(tasks[i : i + runs_of])]  # fmt: skip
    else:
        shared = _shared(tasks) if few else [False] * len(tasks)
    layouts = [_cached_layout(t, s) for t, s in zip(tasks, shared, strict=True)]
    inputs = np.stack([t.train.inputs for t in tasks]).astype(float)
    desired = np.stack([t.train.outputs for t in tasks]).astype(float)
    return Realizations.from_layouts(layouts, inputs, desired)
