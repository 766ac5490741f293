"""An emulated board following a training schedule (:class:`Following`), and its checks.

Moved out of :mod:`twin.board.emulator`: the schedule a board follows (its segments from the
board time it started), the check that a schedule's tasks are on the board's network, and the
schedule's mean training error at given gates (its stop rule).
"""

from __future__ import annotations

from collections.abc import Iterator

import attrs
import numpy as np

from twin.board.circuit import BoardCircuit
from twin.board.errors import BridgeConfigError
from twin.board.hinge import HingePolicy
from twin.physics.network import Network
from twin.simulation.edge import EdgeParams
from twin.simulation.schedule import Schedule, Segment, segments

__all__ = ["Following", "check_schedule_network", "schedule_error_v2"]


@attrs.define
class Following:
    """A schedule the emulator follows: its segments from board time ``t0_s`` on.

    ``hinge``: its tasks are classifiers trained with a hinge (:mod:`twin.board.hinge`), the
    points to nudge decided again at ``next_check_s``.
    """

    schedule: Schedule
    t0_s: float
    segments: Iterator[Segment]
    segment: Segment | None = None
    hinge: HingePolicy | None = None
    next_check_s: float = np.inf

    @classmethod
    def start(cls, schedule: Schedule, t0_s: float, hinge: HingePolicy | None = None) -> Following:
        """Follow ``schedule`` from board time ``t0_s`` (no segment entered yet)."""
        return cls(schedule=schedule, t0_s=t0_s, segments=segments(schedule), hinge=hinge)

    @property
    def end_s(self) -> float:
        """Board time the current segment ends, s."""
        return np.inf if self.segment is None else self.t0_s + self.segment.t1_s


def check_schedule_network(schedule: Schedule, network: Network) -> None:
    """Raise :class:`BridgeConfigError` unless every task of ``schedule`` is on ``network``."""
    for i, task in enumerate(schedule.tasks):
        if task.network.n_nodes != network.n_nodes or not np.array_equal(
            task.network.edges, network.edges
        ):
            raise BridgeConfigError(f"schedule.tasks[{i}]: must be on the board's network")


def schedule_error_v2(schedule: Schedule, edges: EdgeParams, gates_v: np.ndarray) -> float:
    """Mean over ``schedule``'s tasks of their training error (V^2) at gates ``gates_v``."""
    errors = []
    for task in schedule.tasks:
        circuit = BoardCircuit(task)
        for inputs, desired in zip(task.train.inputs, task.train.outputs, strict=True):
            nodes, _ = circuit.free_response(edges.device, gates_v, inputs)
            errors.append(float(np.sum((nodes[task.targets] - desired) ** 2)))
    return float(np.mean(errors))
