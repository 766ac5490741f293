"""Each edge's learning bias, estimated from board data (arXiv 2505.22887).

A learning bias ``B`` (V/s per edge) drives a gate while its edge learns, even at a task's
solution. The lab measured it by training one task and reading the drift along its solution. On a
board whose free and clamped amplifier gains differ (every real board), training *at* a solution
(desired outputs equal to the free ones, so the clamped state is the free state) still leaves a
drive ``(a_F - a_C) dV^2 / (R C)`` on every edge with a drop ``dV``: the drift at a solution is
``B + m dV^2`` per edge, with ``m`` the edge's gain mismatch. And a leak (with the comparator
offsets it carries) drifts the gates whether the board learns or not.

The protocol (:func:`measure_bias`), at a few input scales ``s`` (the board's first training
input times ``s``; ``s = 0`` grounds every source, so every drop vanishes):

1. load the task at those inputs (the board resets its gates) and hold idle for ``hold_s``: the
   idle drift (leak and offsets) and the free node voltages;
2. load the task again with the measured free outputs as its desired outputs (the gates reset to
   the same values: the board is at that task's solution) and train for ``hold_s``: the learning
   drift.

Per edge, learning drift minus idle drift against the squared drop is a straight line
(:func:`estimate_bias`): its intercept is ``B``, its slope ``m``. Drifts are least-squares slopes
of the gate readings over time with a quadratic term (the restoring pull that builds up as the
gates leave the solution). Everything is read from :class:`~twin.board.contract.BoardState`
frames and sent as protocol commands, so the protocol runs on any board that can also be
advanced in time (the emulator; a real board by waiting).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import attrs
import numpy as np

from twin.board.contract import Ack, BoardState, Command
from twin.board.errors import BridgeConfigError
from twin.physics.task import Examples, Task, task_to_dict

__all__ = [
    "BiasEstimate",
    "DriftBoard",
    "OperatingPoint",
    "drift_rates",
    "edge_drops_v",
    "estimate_bias",
    "measure_bias",
]


class DriftBoard(Protocol):
    """What the protocol needs of a board (:class:`~twin.board.emulator.BoardEmulator`)."""

    @property
    def t_s(self) -> float:
        """Board time, s."""
        ...

    @property
    def task(self) -> Task:
        """The board's task."""
        ...

    def command(self, command: Command) -> Ack:
        """Apply a protocol command."""
        ...

    def advance(self, t_s: float) -> list[BoardState]:
        """Run to board time ``t_s``; the frames published on the way."""
        ...


def drift_rates(frames: Sequence[BoardState]) -> tuple[np.ndarray, np.ndarray]:
    """Gate drift per edge (V/s, at the first frame) and its standard error, from ``frames``.

    A least-squares fit ``G(t) = a + b t + c t^2`` per edge (``t`` from the first frame); ``b``
    and its standard error from the residuals. Needs at least 5 frames.
    """
    if len(frames) < 5:
        raise BridgeConfigError(f"frames: need at least 5 to fit a drift, got {len(frames)}")
    t = np.array([f.t_s for f in frames])
    t = t - t[0]
    g = np.array([f.gate_v for f in frames])
    design = np.vander(t, 3, increasing=True)
    coef, *_ = np.linalg.lstsq(design, g, rcond=None)
    resid = g - design @ coef
    dof = t.size - 3
    sigma2 = np.sum(resid**2, axis=0) / dof
    cov = np.linalg.inv(design.T @ design)
    return coef[1], np.sqrt(sigma2 * cov[1, 1])


def edge_drops_v(task: Task, nodes_v: np.ndarray) -> np.ndarray:
    """Drop ``V[u] - V[v]`` (V) across every edge of ``task``'s network at node voltages."""
    edges = task.network.edges
    return nodes_v[edges[:, 0]] - nodes_v[edges[:, 1]]


@attrs.frozen(kw_only=True, eq=False)
class OperatingPoint:
    """One input scale of the protocol: the idle and the learning frames, and the task."""

    task: Task
    idle: Sequence[BoardState]
    learning: Sequence[BoardState]

    def drops_v(self) -> np.ndarray:
        """Mean measured drop across every edge over the idle hold, V."""
        nodes = np.mean([f.v_free_v for f in self.idle], axis=0)
        return edge_drops_v(self.task, nodes)


@attrs.frozen(kw_only=True, eq=False)
class BiasEstimate:
    """Per-edge learning bias estimated from board data.

    ``bias_v_per_s`` and its standard error ``stderr_v_per_s`` (from the drift fits, propagated
    through the line fit); ``mismatch_per_v2_s``: the slope of the drift at a solution against the
    squared drop (the gain mismatch, 1/(V s)); ``points``: operating points used.
    """

    bias_v_per_s: np.ndarray
    stderr_v_per_s: np.ndarray
    mismatch_per_v2_s: np.ndarray
    points: int


def estimate_bias(points: Sequence[OperatingPoint]) -> BiasEstimate:
    """Per-edge intercept of (learning drift - idle drift) against the squared drop.

    One point gives the drift difference itself (no mismatch correction); two or more fit the
    line by weighted least squares per edge.
    """
    if not points:
        raise BridgeConfigError("points: need at least one operating point")
    rates, errs, x = [], [], []
    for p in points:
        r_learn, e_learn = drift_rates(p.learning)
        r_idle, e_idle = drift_rates(p.idle)
        rates.append(r_learn - r_idle)
        errs.append(np.hypot(e_learn, e_idle))
        x.append(p.drops_v() ** 2)
    y, s, xx = np.array(rates), np.maximum(np.array(errs), 1e-12), np.array(x)
    n_edges = y.shape[1]
    if len(points) == 1:
        return BiasEstimate(
            bias_v_per_s=y[0], stderr_v_per_s=s[0], mismatch_per_v2_s=np.zeros(n_edges), points=1
        )
    bias, stderr, slope = np.empty(n_edges), np.empty(n_edges), np.empty(n_edges)
    for e in range(n_edges):
        w = 1.0 / s[:, e] ** 2
        design = np.stack([np.ones(len(points)), xx[:, e]], axis=1)
        normal = design.T @ (w[:, None] * design)
        if np.linalg.cond(normal) > 1e12:  # one drop for every point: no slope to fit
            bias[e] = float(np.sum(w * y[:, e]) / np.sum(w))
            stderr[e], slope[e] = float(1.0 / np.sqrt(np.sum(w))), 0.0
            continue
        cov = np.linalg.inv(normal)
        coef = cov @ (design.T @ (w * y[:, e]))
        bias[e], slope[e] = coef
        stderr[e] = float(np.sqrt(cov[0, 0]))
    return BiasEstimate(
        bias_v_per_s=bias, stderr_v_per_s=stderr, mismatch_per_v2_s=slope, points=len(points)
    )


class _Commander:
    def __init__(self, board: DriftBoard, prefix: str) -> None:
        self.board, self.prefix, self.n = board, prefix, 0

    def __call__(self, name: str, **args: object) -> None:
        self.n += 1
        ack = self.board.command(Command(key=f"{self.prefix}-{self.n}", name=name, args=args))
        if not ack.ok:
            raise BridgeConfigError(f"{name}: the board refused ({ack.code}: {ack.message})")


def _at(task: Task, inputs_v: np.ndarray, outputs_v: np.ndarray) -> Task:
    train = Examples(inputs=inputs_v[None, :], outputs=outputs_v[None, :])
    return attrs.evolve(task, train=train, test=None, extra={})


def measure_bias(
    board: DriftBoard,
    *,
    scales: Sequence[float] = (0.0, 0.5, 1.0),
    hold_s: float = 0.02,
    key_prefix: str = "bias",
) -> tuple[BiasEstimate, list[OperatingPoint]]:
    """Run the protocol (module docstring) on ``board``; the estimate and its operating points.

    The board ends idle on its original task, its gates at their reset value.
    """
    if not (np.isfinite(hold_s) and hold_s > 0):
        raise BridgeConfigError(f"hold_s: expected a time > 0 s, got {hold_s!r}")
    original = board.task
    if original.target_kind != "nodes":
        raise BridgeConfigError("task: the protocol reads node targets (target_kind nodes)")
    send = _Commander(board, key_prefix)
    x0 = np.asarray(original.train.inputs[0], dtype=float)
    y0 = np.asarray(original.train.outputs[0], dtype=float)
    points = []
    for s in scales:
        task = _at(original, float(s) * x0, y0)
        send("load_task", task=task_to_dict(task))
        idle = board.advance(board.t_s + hold_s)
        free = np.mean([f.v_free_v for f in idle], axis=0)[task.targets]
        at_solution = _at(original, float(s) * x0, free)
        send("load_task", task=task_to_dict(at_solution))
        send("start_training", duration_s=hold_s)
        learning = board.advance(board.t_s + hold_s)
        points.append(OperatingPoint(task=at_solution, idle=idle, learning=learning))
    send("load_task", task=task_to_dict(original))
    return estimate_bias(points), points
