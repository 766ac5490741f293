"""Continuous hinge training of a classifier board, the lab's classification (arXiv 2505.22887).

The lab's board learns a two-class task with a hinge: every training point is presented, but only
a point that is misclassified or inside the margin is nudged (its outputs clamped towards the
class's target); a point classified beyond the margin is clamped at its own free outputs, so it
adds no nudge. Learning stays engaged throughout, so the learning bias (and any free/clamped gain
mismatch) keeps driving the gates even when every point is right: with nothing to pull back, the
board drifts until points fall inside the margin again. (The lab's control code: ``UPD``, update
only when incorrectly classified, with a buffer ``BUF`` beyond the classification line; its hinge
error ``(out - label)^2`` for the points inside the buffer, zero for the others.)

Classification on a board: two target nodes read as a difference ``d = out_0 - out_1``, ``d > 0``
for class 0 (sign ``s = +1``), ``< 0`` for class 1 (``s = -1``), as in :mod:`twin.board.overclamp`.

- :class:`HingePolicy`: the margin ``margin_v`` (a point is nudged while ``s d < margin_v``), the
  output difference a nudged point aims at (``label_v``, default the margin), and how often the
  board decides again which points to nudge (``check_s``).
- :func:`hinge_targets_v`: each point's clamping targets from its free outputs.
- :func:`hinge_error_v2`: the lab's hinge error, mean over points of ``(d - s label)^2`` for the
  points inside the margin (V^2).
- :func:`regression_cycle_tasks`, :func:`difference_error_v2`: the lab's regression cycle (two
  points of one regression, the targets read as a difference) and its error.
- :func:`retarget`: what a board following a schedule with a hinge does at the start of each
  segment and every ``check_s`` (:meth:`~twin.board.emulator.BoardEmulator.follow_schedule`):
  reads every point's free outputs at its gates and clamps the task's points at their hinge
  targets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs
import numpy as np

from twin._validators import positive
from twin.board.circuit import BoardCircuit
from twin.board.errors import BridgeConfigError
from twin.board.variation import NODE_FULL_SCALE_V
from twin.physics.network import Network
from twin.physics.task import Examples, Task

if TYPE_CHECKING:  # the emulator calls retarget: no import at run time
    from twin.board.emulator import BoardEmulator
    from twin.board.following import Following
    from twin.simulation.devices import Device

__all__ = [
    "LAB_MARGIN_V",
    "HingePolicy",
    "check_classifier",
    "check_hinge",
    "difference_error_v2",
    "free_outputs_at_v",
    "grid_classifier_tasks",
    "hinge_error_v2",
    "hinge_targets_v",
    "regression_cycle_tasks",
    "retarget",
]


#: The lab's hinge in its classification cycles (buffer ``BUF`` 280 and class targets ``HOT`` 56
#: with target feedback, x 1.25, on the 0-1 node scale): margin and label both 0.14 of the
#: node range, 63 mV.
LAB_MARGIN_V = 0.14 * NODE_FULL_SCALE_V


@attrs.frozen(kw_only=True)
class HingePolicy:
    """How a classifier board is trained with a hinge.

    Parameters
    ----------
    margin_v
        A point is nudged while its signed output difference ``s (out_0 - out_1)`` is below this,
        V (the lab's buffer).
    label_v
        Output difference a nudged point's targets ask for, V (``None``: ``margin_v``).
    check_s
        Interval at which the board decides again which points to nudge, s (the lab decides at
        every learning step; between checks a point keeps its targets).
    """

    margin_v: float = attrs.field(default=0.018, validator=positive(BridgeConfigError))
    label_v: float | None = None
    check_s: float = attrs.field(default=2e-3, validator=positive(BridgeConfigError))

    def __attrs_post_init__(self) -> None:
        if self.label_v is not None and not (np.isfinite(self.label_v) and self.label_v > 0):
            raise BridgeConfigError(f"label_v: expected a difference > 0 V, got {self.label_v}")

    @property
    def label(self) -> float:
        """Output difference a nudged point aims at, V."""
        return self.margin_v if self.label_v is None else self.label_v


def check_classifier(task: Task) -> np.ndarray:
    """Signs ``s`` (+1 class 0, -1 class 1) of ``task``'s points; raises unless a classifier."""
    labels = task.train.labels
    if labels is None or task.targets.size != 2:
        raise BridgeConfigError("task: a hinge classifier needs labels and exactly two targets")
    labels = np.asarray(labels, dtype=int)
    if not np.all((labels == 0) | (labels == 1)):
        raise BridgeConfigError("task: class labels must be 0 or 1")
    return np.where(labels == 0, 1.0, -1.0)


def hinge_targets_v(
    signs: np.ndarray, outputs_v: np.ndarray, policy: HingePolicy
) -> tuple[np.ndarray, np.ndarray]:
    """Clamping targets ``(m, 2)`` (V) of points with ``signs`` and free outputs ``outputs_v``.

    A point inside the margin (``s d < margin_v``) aims at the two outputs ``label`` apart about
    their present mean, in its class's order; any other point at its own free outputs (no nudge).
    Also returns which points are nudged.
    """
    outputs_v = np.asarray(outputs_v, dtype=float)
    d = outputs_v[:, 0] - outputs_v[:, 1]
    nudged = signs * d < policy.margin_v
    mean = outputs_v.mean(axis=1, keepdims=True)
    hinge = mean + 0.5 * policy.label * signs[:, None] * np.array([1.0, -1.0])
    return np.where(nudged[:, None], hinge, outputs_v), nudged


def free_outputs_at_v(device: Device, gates_v: np.ndarray, task: Task) -> np.ndarray:
    """Free target voltages ``(m, n_targets)`` (V) of ``task``'s points at gates ``gates_v`` (V)."""
    circuit = BoardCircuit(task)
    return np.array(
        [circuit.free_response(device, gates_v, x)[0][task.targets] for x in task.train.inputs]
    )


def hinge_error_v2(signs: np.ndarray, outputs_v: np.ndarray, policy: HingePolicy) -> float:
    """Mean over points of ``(d - s label)^2`` for the points inside the margin, else 0 (V^2)."""
    outputs_v = np.asarray(outputs_v, dtype=float)
    d = outputs_v[:, 0] - outputs_v[:, 1]
    inside = signs * d < policy.margin_v
    return float(np.mean(np.where(inside, (d - signs * policy.label) ** 2, 0.0)))


def _same_points(a: Task, b: Task) -> bool:
    """``a`` and ``b`` drive the same nodes with the same inputs and read the same targets."""
    return (
        np.array_equal(a.ground, b.ground)
        and np.array_equal(a.sources, b.sources)
        and np.array_equal(a.targets, b.targets)
        and np.array_equal(a.train.inputs, b.train.inputs)
    )


def retarget(emu: BoardEmulator, base: Task, policy: HingePolicy) -> None:
    """Clamp ``base``'s points at their hinge targets from the board's free outputs now.

    ``base`` is the classifier the board's schedule trains in this segment; the board trains on
    a copy whose outputs are the hinge targets (:func:`hinge_targets_v`), until the next check.
    """
    if not _same_points(emu.track.task, base):
        emu.track.restart(emu.t_s, task=base)  # the free outputs of base's points
    free = emu.track.free_outputs_v(base.targets)
    targets, _ = hinge_targets_v(check_classifier(base), free, policy)
    task = attrs.evolve(base, train=attrs.evolve(base.train, outputs=targets), test=None)
    emu.task = task
    emu.track.restart(emu.t_s, task=task, mode="training")


def check_hinge(emu: BoardEmulator, following: Following) -> None:
    """Decide again which points of the segment's classifier to nudge; the next check's time."""
    assert following.hinge is not None
    assert following.segment is not None
    retarget(emu, following.schedule.tasks[following.segment.task], following.hinge)
    following.next_check_s = emu.t_s + following.hinge.check_s


#: The lab's classification cycle: 12 points on a 4 x 3 grid of two inputs (fractions of the node
#: range) and their classes (a pattern no single line splits).
GRID_V1 = (0.086, 0.362, 0.638, 0.914)
GRID_V2 = (0.132, 0.5, 0.868)
GRID_CLASSES = (0, 1, 1, 0, 1, 1, 0, 0, 1, 0, 0, 1)


def grid_classifier_tasks(
    network: Network,
    *,
    full_scale_v: float = NODE_FULL_SCALE_V,
    sources: tuple[int, ...] = (15, 13, 7, 5, 2, 8),
    targets: tuple[int, int] = (10, 0),
    ground: int = 12,
) -> tuple[Task, Task]:
    """The lab's classification cycle on the 4 x 4 board: its class-0 points, its class-1 points.

    Point ``(v1, v2)`` of the grid drives six sources with ``(v1, v2, 1 - v1, 1 - v2, 0.316,
    0.684)`` x ``full_scale_v``; class 0 when ``out_0 - out_1 > 0`` at ``targets``. The lab
    alternates the two classes' points as two tasks (its training groups). Its board has no
    grounded node; ours needs one (``ground``, a node the lab leaves free).
    """
    _check_nodes(network, sources, targets, ground)
    points = np.array([(v1, v2) for v1 in GRID_V1 for v2 in GRID_V2])
    v1, v2 = points[:, 0], points[:, 1]
    inputs = full_scale_v * np.stack([v1, v2, 1 - v1, 1 - v2, 0.316 + 0 * v1, 0.684 + 0 * v1], 1)
    labels = np.array(GRID_CLASSES)
    tasks = []
    for cls in (0, 1):
        idx = np.flatnonzero(labels == cls)
        train = Examples(
            inputs=inputs[idx], outputs=np.full((idx.size, 2), full_scale_v / 2), labels=labels[idx]
        )
        what = f"arXiv 2505.22887 classification cycle, class {cls} points"
        tasks.append(_board_task(network, sources, targets, ground, train, what))
    return tasks[0], tasks[1]


def _check_nodes(
    network: Network, sources: tuple[int, ...], targets: tuple[int, int], ground: int
) -> None:
    if len({*sources, *targets, ground}) != 9 or max(*sources, *targets, ground) >= network.n_nodes:
        raise BridgeConfigError("nodes: expected 9 distinct nodes of the network")


def _board_task(
    network: Network,
    sources: tuple[int, ...],
    targets: tuple[int, int],
    ground: int,
    train: Examples,
    description: str,
) -> Task:
    """A task of the lab's cycles: node sources and targets, one grounded node."""
    return Task(
        kind="custom",
        network=network,
        ground=[ground],
        source_kind="nodes",
        sources=list(sources),
        target_kind="nodes",
        targets=list(targets),
        train=train,
        description=description,
    )


#: The lab's regression cycle (``memorycyclewhole_A_06``, its ``makeFig1.m``): two training points,
#: each the six sources' values and the two targets' values on the 0-1 node scale, the targets read
#: as a difference. From its run files (``TRAIN``, ``SLOC``, ``TLOC``; every one of the 39 runs
#: with data holds the same), ``twin/data/clln/lab-regression-cycle.json``: the classification
#: cycle's layout ``(v1, v2, 1 - v1, 1 - v2)`` with ``v2`` 0.96 at both points, both bias sources at
#: 0.5, and target 0 fixed at mid-range.
REGRESSION_POINTS: tuple[tuple[tuple[float, ...], tuple[float, float]], ...] = (
    ((0.04, 0.96, 0.96, 0.04, 0.5, 0.5), (0.5, 0.362)),
    ((0.96, 0.96, 0.04, 0.04, 0.5, 0.5), (0.5, 0.546)),
)


def regression_cycle_tasks(
    network: Network,
    *,
    full_scale_v: float = NODE_FULL_SCALE_V,
    points: tuple[tuple[tuple[float, ...], tuple[float, float]], ...] = REGRESSION_POINTS,
    sources: tuple[int, ...] = (15, 13, 7, 5, 2, 8),
    targets: tuple[int, int] = (10, 0),
    ground: int = 12,
) -> tuple[Task, ...]:
    """The lab's regression cycle on the 4 x 4 board: one task per point of one regression.

    Point ``(s, t)`` (0-1 node scale) drives the six ``sources`` with ``s`` x ``full_scale_v``
    and clamps the two ``targets`` towards ``t`` x ``full_scale_v``; only their difference
    ``out_0 - out_1`` counts (the lab's ``DEL``; 0.138 and -0.046 of the range at its two points).
    The lab alternates the points every tau/2 (two training points, no training groups); its
    error is the difference's squared error (:func:`difference_error_v2`). Its board has no
    grounded node; ours needs one (``ground``, a node the lab leaves free).
    """
    _check_nodes(network, sources, targets, ground)
    tasks = []
    for k, (src, tgt) in enumerate(points):
        if len(src) != len(sources) or len(tgt) != 2:
            raise BridgeConfigError(
                f"points: expected {len(sources)} source and 2 target values per point"
            )
        inputs = full_scale_v * np.array([src], dtype=float)
        outputs = full_scale_v * np.array([tgt], dtype=float)
        train = Examples(inputs=inputs, outputs=outputs)
        what = f"arXiv 2505.22887 regression cycle, point {k + 1}"
        tasks.append(_board_task(network, sources, targets, ground, train, what))
    return tuple(tasks)


def difference_error_v2(outputs_v: np.ndarray, targets_v: np.ndarray) -> float:
    """The lab's error with outputs read as a difference (its ``TrainMSE`` with ``DEL`` > 0):
    mean over points of ``((out_0 - out_1) - (target_0 - target_1))^2`` (V^2)."""
    outputs_v, targets_v = np.asarray(outputs_v, dtype=float), np.asarray(targets_v, dtype=float)
    d = (outputs_v[:, 0] - outputs_v[:, 1]) - (targets_v[:, 0] - targets_v[:, 1])
    return float(np.mean(d**2))
