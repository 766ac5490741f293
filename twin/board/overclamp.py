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

from typing import TYPE_CHECKING

import attrs
import numpy as np

from twin._validators import positive
from twin.board.circuit import BoardCircuit
from twin.board.errors import BridgeConfigError
from twin.board.variation import NODE_FULL_SCALE_V
from twin.physics.network import Network
from twin.physics.task import Examples, Task
from twin.simulation.devices import Device
from twin.simulation.schedule import EtaRamp, Schedule

if TYPE_CHECKING:  # the emulator runs rounds (RoundsState): no import at run time
    from twin.board.emulator import BoardEmulator

__all__ = [
    "ClampPolicy",
    "RoundsResult",
    "RoundsState",
    "circle_task",
    "free_outputs_v",
    "lab_circle_task",
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


def _free_outputs_v(device: Device, gates_v: np.ndarray, task: Task) -> np.ndarray:
    circuit = BoardCircuit(task)
    return np.array(
        [circuit.free_response(device, gates_v, x)[0][task.targets] for x in task.train.inputs]
    )


def free_outputs_v(emulator: BoardEmulator, task: Task) -> np.ndarray:
    """Free target voltages ``(m, 2)`` (V) of ``task``'s training points at the current gates."""
    return _free_outputs_v(emulator.edges.device, emulator.track.gates(), task)


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


@attrs.define
class RoundsState:
    """A board's training in rounds under way: the classifier ``task``, its ``policy``, progress.

    The emulator runs it (:meth:`~twin.board.emulator.BoardEmulator.start_rounds`, the wire's
    ``start_training`` with ``rounds``): at the start of each round :meth:`next_task` evaluates
    every training point at the board's gates and returns the task of the points to learn, or
    ``None`` when training ends (a perfect round, or ``max_rounds`` rounds done).
    """

    task: Task
    policy: ClampPolicy
    labels: np.ndarray
    errors: list[float] = attrs.field(factory=list)
    learnt: list[int] = attrs.field(factory=list)
    learning_s: float = 0.0
    perfect: bool = False

    @classmethod
    def start(cls, task: Task, policy: ClampPolicy) -> RoundsState:
        """Rounds on ``task`` (raises :class:`BridgeConfigError` unless it is a classifier)."""
        return cls(task=task, policy=policy, labels=_check_classifier(task))

    @property
    def done(self) -> bool:
        """Training has ended (a perfect round or the last round)."""
        return self.perfect or len(self.errors) > len(self.learnt)

    def next_task(self, device: Device, gates_v: np.ndarray) -> Task | None:
        """The task of the next round at gates ``gates_v`` (V), or ``None``: training has ended.

        Records the misclassified fraction at these gates (before the round, or the final one).
        """
        if self.done:
            return None
        signs = _signs(self.labels)
        outputs = _free_outputs_v(device, gates_v, self.task)
        margins = signs * (outputs[:, 0] - outputs[:, 1])
        self.errors.append(float(np.mean(margins <= 0.0)))
        learn = margins <= 0.0 if self.policy.overclamp else margins < self.policy.margin_v
        if not learn.any():
            self.perfect = True
            return None
        if len(self.learnt) >= self.policy.max_rounds:
            return None
        idx = np.flatnonzero(learn)
        self.learnt.append(int(idx.size))
        self.learning_s += self.round_s
        return attrs.evolve(
            self.task,
            train=Examples(
                inputs=self.task.train.inputs[idx],
                outputs=learning_targets_v(self.policy, self.labels[idx], outputs[idx]),
                labels=self.labels[idx],
            ),
            test=None,
            extra={},
        )

    @property
    def round_s(self) -> float:
        """Learning time of the round under way, s (``round_s_per_point`` x its points)."""
        return self.policy.round_s_per_point * (self.learnt[-1] if self.learnt else 0)

    def schedule(self, sub: Task) -> Schedule:
        """The schedule of one round: ``sub`` at the policy's eta for :attr:`round_s`."""
        return Schedule(tasks=[sub], eta=EtaRamp.constant(self.policy.eta), duration_s=self.round_s)

    def result(self) -> RoundsResult:
        """The outcome so far."""
        return RoundsResult(error_fraction=list(self.errors), learnt=list(self.learnt),
                            learning_s=self.learning_s, perfect=self.perfect)  # fmt: skip


def train_rounds(emulator: BoardEmulator, task: Task, policy: ClampPolicy) -> RoundsResult:
    """Train ``emulator`` on the classification ``task`` round by round under ``policy``.

    The board must be on ``task``'s network with its source count. It is left idle at the end
    (each round is a :class:`~twin.simulation.schedule.Schedule` the board follows:
    :meth:`~twin.board.emulator.BoardEmulator.start_rounds`).
    """
    emulator.start_rounds(task, policy)
    while emulator.rounds is not None:
        emulator.advance(emulator.schedule_end_s)
    result = emulator.rounds_result
    assert isinstance(result, RoundsResult)
    return result


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


def lab_circle_task(
    network: Network,
    epsilon_v: float,
    *,
    full_scale_v: float = NODE_FULL_SCALE_V,
    nodes: tuple[int, ...] = (0, 15, 13, 7, 5, 10, 8),
) -> Task:
    """The lab's own 8-point circle (its overclamping runs, arXiv 2505.22887), single-ended.

    Point ``j`` at ``phi_j = -2 pi j / 8`` drives two inputs ``full_scale_v (0.5 + r cos phi_j,
    0.5 + r sin phi_j)``, ``r = epsilon_v / (2 full_scale_v)``, and two fixed sources at 0.04 and
    0.5 of ``full_scale_v``; points 0-3 are class 1, points 4-7 class 0 (a line through the
    centre between points). ``nodes``: ground (the lab's board has none; ours needs one), the
    four sources and the two targets, at the lab's places on the 4 x 4 board. Unlike
    :func:`circle_task` (push-pull, twice the differential drive), this is the task the lab's
    table was measured on.
    """
    if not (np.isfinite(epsilon_v) and 0 < epsilon_v < full_scale_v):
        raise BridgeConfigError(f"epsilon_v: expected 0 < epsilon < {full_scale_v:g} V")
    if len(set(nodes)) != 7 or max(nodes) >= network.n_nodes:
        raise BridgeConfigError("nodes: expected 7 distinct nodes of the network")
    r = epsilon_v / (2 * full_scale_v)
    phi = -2 * np.pi * np.arange(8) / 8
    ones = np.ones(8)
    fractions = np.stack([0.5 + r * np.cos(phi), 0.5 + r * np.sin(phi), 0.04 * ones, 0.5 * ones], 1)
    return Task(
        kind="custom",
        network=network,
        ground=[nodes[0]],
        source_kind="nodes",
        sources=list(nodes[1:5]),
        target_kind="nodes",
        targets=list(nodes[5:7]),
        train=Examples(
            inputs=full_scale_v * fractions,
            outputs=np.full((8, 2), full_scale_v / 2),
            labels=np.array([1, 1, 1, 1, 0, 0, 0, 0]),
        ),
        description=f"the lab's 8 points on a circle of diameter {epsilon_v:g} V, single-ended",
    )
