"""What the steerer reads off a board's frames: its error and its training energy.

The error is the task's (PHYSICS.md section 2) on the reported free node voltages of the
training example the board applies, averaged over the last few frames outside inference (the
node ADC's noise averages down). The energy is the shadow's board estimate: the power
``k dV^2`` of the reported voltages under the twin's device model
(:class:`~twin.board.circuit.BoardCircuit`), integrated frame to frame and booked per board mode
and component.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Sequence

import numpy as np

from twin.board.circuit import BoardCircuit, EdgeModel
from twin.board.contract import BoardState
from twin.physics.task import Task
from twin.simulation.edge import EdgeParams, gate_write_energy_j

__all__ = ["COMPONENTS", "BoardMeter"]

COMPONENTS = ("free_network", "clamped_network", "gate_charging")


class BoardMeter:
    """Error and energy of a board from its frames (see the module docstring).

    Parameters
    ----------
    task
        The board's task.
    edges
        The twin's edges (their device model turns reported voltages into conductances).
    window
        Frames the error is averaged over.
    """

    def __init__(self, task: Task, edges: EdgeParams, *, window: int = 10) -> None:
        self.task = task
        self.circuit = BoardCircuit(task)
        self.model = EdgeModel(edges, task.network.n_edges)
        self.window = int(window)
        self._recent: deque[np.ndarray] = deque(maxlen=self.window)
        self._last: BoardState | None = None
        self.energy_j: dict[tuple[str, str], float] = defaultdict(float)
        self.training_s = 0.0
        self.latest: BoardState | None = None
        self.gate_write_j = 0.0

    def outputs(self, v_free_v: np.ndarray) -> np.ndarray:
        """The task's outputs (V) of free node voltages: target nodes or target edge drops."""
        v = np.asarray(v_free_v)
        if self.task.target_kind == "nodes":
            return v[self.task.targets]
        return self.circuit.drops(v)[self.task.targets]

    def error_of(self, outputs_v: np.ndarray) -> float:
        """Error (V^2) of outputs against the desired values of the applied example."""
        desired = np.asarray(self.task.train.outputs[0])
        return float(np.sum((np.asarray(outputs_v) - desired) ** 2))

    def book_gate_write(self, before_v: np.ndarray, after_v: np.ndarray) -> float:
        """Book a write of every gate from ``before_v`` to ``after_v`` (V) on a held board
        (``reset_gates``): ``C dV^2 / 2`` per gate
        (:func:`~twin.simulation.edge.gate_write_energy_j`), booked as idle gate charging (and
        in ``gate_write_j``); the frames cannot show it (the gates jump between two frames).
        Returns the energy, J."""
        write_j = gate_write_energy_j(self.model.c_gate_f, before_v, after_v)
        self.energy_j[("idle", "gate_charging")] += write_j
        self.gate_write_j += write_j
        return write_j

    def restart(self) -> None:
        """A new epoch: forget the window and the last frame (energy totals are kept)."""
        self._recent.clear()
        self._last = None

    def add(self, states: Sequence[BoardState]) -> None:
        """Book frames (in order, one epoch)."""
        if not states:
            return
        chain = ([self._last] if self._last is not None else []) + list(states)
        if len(chain) > 1:
            head = chain[:-1]
            dt = np.maximum(np.diff([s.t_s for s in chain]), 0.0)
            powers = self.circuit.powers_many(
                self.model,
                np.array([s.gate_v for s in head]),
                np.array([s.v_free_v for s in head]),
                np.array([s.v_clamped_v for s in head]),
                lam=np.array([s.lam for s in head]),
                training=np.array([s.mode == "training" for s in head]),
            )
            energy = powers * dt[:, None]
            for i, s in enumerate(head):
                for c, component in enumerate(COMPONENTS):
                    self.energy_j[(s.mode, component)] += float(energy[i, c])
                if s.mode == "training":
                    self.training_s += float(dt[i])
        for s in states:
            if s.mode != "inference":  # inference frames hold other inputs' voltages
                self._recent.append(np.asarray(s.v_free_v))
        self._last = states[-1]
        self.latest = states[-1]

    @property
    def ready(self) -> bool:
        """Whether a full window of frames has been seen since the last restart."""
        return len(self._recent) >= self.window

    def error(self) -> float:
        """Error (V^2) of the mean reported free voltages over the window (``nan``: none)."""
        if not self._recent:
            return float("nan")
        return self.error_of(self.outputs(np.mean(np.array(self._recent), axis=0)))

    def noise_floor_v2(self) -> float:
        """The readings' contribution to :meth:`error`, V^2: the summed variance of the task's
        outputs over the window's frames (sample variance) over the window's length, the
        expected excess of the window-mean error over the true error. Meaningful on a held
        board (gates still); ``nan`` under two frames."""
        if len(self._recent) < 2:
            return float("nan")
        outs = np.array([self.outputs(v) for v in self._recent])
        return float(np.sum(np.var(outs, axis=0, ddof=1)) / len(self._recent))

    def clear_window(self) -> None:
        """Drop the window (after a change the old frames no longer describe the board)."""
        self._recent.clear()

    @property
    def training_energy_j(self) -> float:
        """Free-network energy dissipated while training, J (PHYSICS.md section 5)."""
        return self.energy_j[("training", "free_network")]
