"""Overclamping: the lab's bias-robust training mode of a classifier board (arXiv 2505.22887).

A board with a learning bias ``B`` (V/s per edge while it learns) never rests at a task's
solution under standard clamping: the nudge that pulls it back vanishes at the solution while the
bias does not, so the gates settle ``M^-1 B`` away. Overclamping makes the nudge large and
learning rare: the targets of a misclassified point are clamped at the rails (the correct output
high, the other low: about 25x the hinge margin), the board learns only while points are
misclassified, for a time scaled by their number, and stops after one perfect round. The bias
then acts only during the few short rounds that still have errors.

Classification on a board: two target nodes read as a difference, ``out_0 - out_1 > 0`` for class
0, ``< 0`` for class 1. :func:`train_rounds` runs either mode as rounds on a
:class:`~twin.board.emulator.BoardEmulator`:

- each round evaluates every training point at the board's current gates (free response);
- the points to learn are the misclassified ones (``overclamp``) or those inside the hinge
  margin (``standard``: ``sign * (out_0 - out_1) < margin_v``);
- none: a perfect round, stop. Else the board trains on those points only (a task holding them,
  their targets at the rails or at the hinge, ``eta`` of the policy) for ``round_s_per_point``
  times their number: the twin averages the contrast over a task's examples, so this is the sum
  over the points, as the lab scales learning by their number.

:func:`circle_task` is the lab's benchmark: 8 points on a circle of diameter ``epsilon_v`` (4
inputs in push-pull pairs, 2 outputs), two classes split by a line through the centre.
"""

from __future__ import annotations

import attrs
import numpy as np

from twin._validators import positive
from twin.board.circuit import BoardCircuit
from twin.board.emulator import BoardEmulator
from twin.board.errors import BridgeConfigError
from twin.board.variation import NODE_FULL_SCALE_V
from twin.physics.network import Network
from twin.physics.task import Examples, Task
from twin.simulation.schedule import EtaRamp, Schedule

__all__ = [
    "ClampPolicy",
    "RoundsResult",
    "circle_task",
    "free_outputs_v",
    "learning_targets_v",
    "output_differences_v",
    "train_rounds",
]


@attrs.frozen(kw_only=True)
class ClampPolicy:
    """How a classifier board is trained, round by round.

    Parameters
    ----------
    overclamp
        Targets at the rails, learning only misclassified points (else standard clamping: hinge
        targets ``margin_v`` apart, learning every point inside the margin).
    eta
        Nudge while learning (the lab's overclamping: 32/129).
    margin_v
        Hinge margin of the output difference, V.
    rails_v
        Low and high rail the overclamped targets sit at, V (the node range).
    round_s_per_point
        Learning time of a round per point learnt, s.
    max_rounds
        Rounds at most (a round without points to learn ends training before).
    """

    overclamp: bool = True
    eta: float = attrs.field(default=32 / 129, validator=positive(BridgeConfigError))
    margin_v: float = attrs.field(default=0.018, validator=positive(BridgeConfigError))
    rails_v: tuple[float, float] = (0.0, NODE_FULL_SCALE_V)
    round_s_per_point: float = attrs.field(default=0.01, validator=positive(BridgeConfigError))
    max_rounds: int = attrs.field(default=100, validator=positive(BridgeConfigError))

    def __attrs_post_init__(self) -> None:
        lo, hi = self.rails_v
        if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
            raise BridgeConfigError(f"rails_v: expected low < high, got {self.rails_v}")


@attrs.frozen(kw_only=True)
class RoundsResult:
    """Outcome of :func:`train_rounds`.

    ``error_fraction``: misclassified fraction of the training points before each round and once
    at the end (``rounds + 1`` values); ``learnt``: points learnt in each round; ``learning_s``:
    total learning time, s; ``perfect``: training ended on a round with nothing to learn.
    """

    error_fraction: list[float]
    learnt: list[int]
    learning_s: float
    perfect: bool

    @property
    def rounds(self) -> int:
        return len(self.learnt)


def _check_classifier(task: Task) -> np.ndarray:
    labels = task.train.labels
    if labels is None or task.targets.size != 2:
        raise BridgeConfigError("task: a classifier needs labels and exactly two targets")
    labels = np.asarray(labels, dtype=int)
    if not np.all((labels == 0) | (labels == 1)):
        raise BridgeConfigError("task: class labels must be 0 or 1")
    return labels


def _signs(labels: np.ndarray) -> np.ndarray:
    """+1 for class 0 (``out_0 > out_1``), -1 for class 1."""
    return np.where(labels == 0, 1.0, -1.0)


def free_outputs_v(emulator: BoardEmulator, task: Task) -> np.ndarray:
    """Free target voltages ``(m, 2)`` (V) of ``task``'s training points at the current gates."""
    circuit = BoardCircuit(task)
    gates = emulator.track.gates()
    return np.array(
        [
            circuit.free_response(emulator.edges.device, gates, x)[0][task.targets]
            for x in task.train.inputs
        ]
    )


def output_differences_v(emulator: BoardEmulator, task: Task) -> np.ndarray:
    """``out_0 - out_1`` (V) of every training point of ``task`` at the board's current gates."""
    out = free_outputs_v(emulator, task)
    return out[:, 0] - out[:, 1]


def learning_targets_v(
    policy: ClampPolicy, labels: np.ndarray, outputs_v: np.ndarray
) -> np.ndarray:
    """Desired outputs ``(m, 2)`` (V) of points with ``labels`` and free outputs ``outputs_v``.

    Overclamping: the correct output at the high rail, the other at the low one. Standard: the
    hinge, the two outputs ``margin_v`` apart about their present mean, in the right order.
    """
    s = _signs(labels)[:, None]
    if policy.overclamp:
        lo, hi = policy.rails_v
        mid, half = (lo + hi) / 2.0, (hi - lo) / 2.0
        return mid + half * s * np.array([1.0, -1.0])
    mean = outputs_v.mean(axis=1, keepdims=True)
    return mean + 0.5 * policy.margin_v * s * np.array([1.0, -1.0])


def train_rounds(emulator: BoardEmulator, task: Task, policy: ClampPolicy) -> RoundsResult:
    """Train ``emulator`` on the classification ``task`` round by round under ``policy``.

    The board must be on ``task``'s network with its source count. It is left idle at the end
    (each round is a :class:`~twin.simulation.schedule.Schedule` the board follows).
    """
    labels = _check_classifier(task)
    signs = _signs(labels)
    errors: list[float] = []
    learnt: list[int] = []
    learning_s = 0.0
    perfect = False
    for _ in range(policy.max_rounds):
        margins = signs * output_differences_v(emulator, task)
        errors.append(float(np.mean(margins <= 0.0)))
        learn = margins <= 0.0 if policy.overclamp else margins < policy.margin_v
        if not learn.any():
            perfect = True
            break
        idx = np.flatnonzero(learn)
        outputs = free_outputs_v(emulator, task)[idx]
        sub = attrs.evolve(
            task,
            train=Examples(
                inputs=task.train.inputs[idx],
                outputs=learning_targets_v(policy, labels[idx], outputs),
                labels=labels[idx],
            ),
            test=None,
            extra={},
        )
        duration = policy.round_s_per_point * idx.size
        emulator.follow_schedule(
            Schedule(tasks=[sub], eta=EtaRamp.constant(policy.eta), duration_s=duration)
        )
        emulator.advance(emulator.t_s + duration)
        learnt.append(int(idx.size))
        learning_s += duration
    if not perfect:
        errors.append(float(np.mean(signs * output_differences_v(emulator, task) <= 0.0)))
    return RoundsResult(
        error_fraction=errors, learnt=learnt, learning_s=learning_s, perfect=perfect
    )


def circle_task(
    network: Network,
    epsilon_v: float,
    *,
    center_v: float = NODE_FULL_SCALE_V / 2,
    n_points: int = 8,
    angle_rad: float = 0.0,
    nodes: tuple[int, ...] = (0, 5, 10, 15, 3, 12, 6),
) -> Task:
    """``n_points`` points on a circle of diameter ``epsilon_v``, two classes (arXiv 2505.22887).

    Point ``j`` at angle ``phi_j = 2 pi (j + 1/2) / n_points`` has ``(x, y) = (epsilon_v / 2)
    (cos phi_j, sin phi_j)`` and drives four source nodes in push-pull, ``center_v + (x, -x, y,
    -y)``; class 0 when ``cos(phi_j - angle_rad) > 0`` (a line through the centre splits them).
    ``nodes``: ground, four sources, two targets (distinct nodes of ``network``).
    """
    if not (np.isfinite(epsilon_v) and 0 < epsilon_v < 2 * center_v):
        raise BridgeConfigError(f"epsilon_v: expected 0 < epsilon < {2 * center_v:g} V")
    if len(set(nodes)) != 7 or max(nodes) >= network.n_nodes:
        raise BridgeConfigError("nodes: expected 7 distinct nodes of the network")
    phi = 2 * np.pi * (np.arange(n_points) + 0.5) / n_points
    x, y = 0.5 * epsilon_v * np.cos(phi), 0.5 * epsilon_v * np.sin(phi)
    inputs = center_v + np.stack([x, -x, y, -y], axis=1)
    labels = np.where(np.cos(phi - angle_rad) > 0, 0, 1)
    return Task(
        kind="custom",
        network=network,
        ground=[nodes[0]],
        source_kind="nodes",
        sources=list(nodes[1:5]),
        target_kind="nodes",
        targets=list(nodes[5:7]),
        train=Examples(inputs=inputs, outputs=np.full((n_points, 2), center_v), labels=labels),
        description=f"{n_points} points on a circle of diameter {epsilon_v:g} V, two classes",
    )
