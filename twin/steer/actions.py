"""A steering run's side of the board: joining, the board's clock, and the commands it sends.

:class:`BoardActions` joins a :class:`~twin.board.contract.Board` (snapshot, hold, first
frames), books its frames in a :class:`~twin.steer.meter.BoardMeter` and keeps steering's board
time across epochs. Its actions go through the
:class:`~twin.steer.client.CommandClient`: set lambda, start, hold and stop training, and the
verifying inference (whose outcome the twin predicts first). ``stop_training`` leaves the board
in :data:`SAFE_MODE`.

A reboot (a :class:`~twin.board.contract.Resync` of reason ``restart``) starts a new epoch: the
client adopts the board's version and the meter restarts. Silences and reconnects are counted
as lost connections; the link itself recovers (the ZeroMQ client re-joins). The decision loop
built on these actions is :class:`~twin.steer.steerer.Steerer`.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from twin.board.contract import Board, BoardState, Resync, Snapshot
from twin.board.errors import BridgeError
from twin.documents import Dispatcher, Subscriber, sample_doc
from twin.physics.task import Task, task_from_dict
from twin.simulation.edge import EdgeParams

from .client import CommandClient
from .config import SteerConfig
from .errors import CommandUnanswered, SteerError
from .meter import BoardMeter
from .observation import Observation

__all__ = ["RESET_TOL_V", "SAFE_MODE", "BoardActions"]

log = logging.getLogger("twin.steer")

#: The state a steering run leaves the board in, whatever ended it.
SAFE_MODE = "idle: training stopped, gates held"

#: A reported gate within this of the board's reset value counts as reset (gate ADC noise), V.
RESET_TOL_V = 0.02


class BoardActions:
    """The board side of a steering run (see the module docstring).

    Parameters
    ----------
    board
        The board.
    config
        Tolerance, budget and limits.
    edges
        The twin's edges: the device model of the energy estimate and of the inference
        prediction.
    emit
        Receives the run's documents.
    dry_run
        Send nothing.
    """

    def __init__(
        self,
        board: Board,
        config: SteerConfig,
        *,
        edges: EdgeParams,
        emit: Subscriber | None = None,
        dry_run: bool = False,
    ) -> None:
        self.board = board
        self.config = config
        self.edges = edges
        self.dispatch = Dispatcher([emit] if emit is not None else [])
        self.dry_run = dry_run
        self.uid = uuid.uuid4().hex
        self.t_s = 0.0  # board time since steering began, summed over epochs
        self._t_base_s = 0.0
        self._t0_epoch_s = 0.0
        self.client = CommandClient(
            board,
            run=self.uid,
            key_prefix=self.uid[:12],
            limits=config.limits,
            emit=self._emit_command,
            dry_run=dry_run,
            timeout_s=config.command_timeout_s,
            clock=lambda: self.t_s,
        )
        self.counts = {
            "reboots": 0,
            "lost_connections": 0,
            "gaps": 0,
            "verifications": 0,
            "gate_restores": 0,
        }
        self.lam_acked: float | None = None
        #: The eta the board was found at (its own), and the one steering set (None: its own).
        self.board_eta: float | None = None
        self.eta_acked: float | None = None
        self.eta_highest: float | None = None  # the highest eta steering set (None: none)
        #: The board's measurement floor (V^2) put in every observation (0: unknown).
        self.floor_v2 = 0.0
        self.training = False
        self._samples = 0
        self._e_join_j = 0.0
        self._meter: BoardMeter | None = None
        self._held_docs: list[Any] | None = []
        self._reboot_pending = False  # a reboot seen while catching up, for the loop to handle
        self._armed = False  # training was started for a duration (the board stops itself)
        self._saw_training = False

    # ------------------------------------------------------------------ documents

    def _emit_command(self, doc: Any) -> None:
        if self._held_docs is None:
            self.dispatch(doc)
        else:  # sent while joining (the hold): recorded once the run has started
            self._held_docs.append(doc)

    def _release_held_docs(self) -> None:
        """Record the documents sent while joining (once the run's start is recorded)."""
        for doc in self._held_docs or ():
            self.dispatch(doc)
        self._held_docs = None

    def _sample(self, data: dict[str, float]) -> None:
        self.dispatch(
            sample_doc(self.uid, self._samples, self.t_s, {k: [v] for k, v in data.items()})
        )
        self._samples += 1

    # ------------------------------------------------------------------ joining

    def _join(self) -> tuple[Snapshot, BoardMeter, Task]:
        snap = self.board.snapshot(self.config.join_timeout_s)
        task = task_from_dict(snap.config.task)
        meter = BoardMeter(task, self.edges, window=self.config.window)
        self._meter = meter
        self.client.new_epoch(snap.config.version)
        self._hold(meter)
        if self.config.reset_gates and not self.dry_run:
            self._reset_gates(meter, snap.config.params)
        meter.clear_window()  # the initial error is the held board's
        deadline = time.monotonic() + self.config.join_timeout_s
        while not meter.ready:
            if time.monotonic() > deadline:
                raise SteerError(f"board {self.board.board_id}: no frames within the join timeout")
            self._ingest(meter, self.board.poll(self.config.poll_s))
        self._e_join_j = meter.training_energy_j  # the board's own training before steering
        return snap, meter, task

    def _ingest(self, meter: BoardMeter, updates: list[Any]) -> bool:
        """Book updates; True when the board rebooted."""
        rebooted = False
        states: list[BoardState] = []
        for u in updates:
            if isinstance(u, Resync):
                meter.add(states)
                states = []
                rebooted |= self._resync(meter, u)
            else:
                states.append(u)
        meter.add(states)
        if meter.latest is not None:
            self.t_s = self._t_base_s + meter.latest.t_s - self._t0_epoch_s
        return rebooted

    def _resync(self, meter: BoardMeter, resync: Resync) -> bool:
        state = resync.snapshot.state
        if resync.reason == "initial":
            self._t0_epoch_s = state.t_s
            return False
        if resync.reason == "restart":
            self.counts["reboots"] += 1
            self._t_base_s = self.t_s
            self._t0_epoch_s = state.t_s
            self.client.new_epoch(resync.snapshot.config.version)
            meter.restart()
            log.warning("board %s rebooted: resuming from the new epoch", self.board.board_id)
            return True
        key = "gaps" if resync.reason == "gap" else "lost_connections"
        self.counts[key] += 1
        return False

    def _catch_up(self, meter: BoardMeter) -> None:
        """Book the frames queued while the board was held (the twin planning), before training
        resumes.

        A real-time board publishes while the twin plans; unread, those frames would be booked
        only after ``start_training``, and the first decision would come a whole backlog of
        board time late (the board training on, unsteered, past the plan's switch points).
        Frames are read up to the one a fresh snapshot names (the board's latest; a board that
        makes its frames when polled is caught up at once), for at most ``join_timeout_s``. A
        reboot seen here is left for the loop (:meth:`_take_reboot`).
        """
        if self.dry_run:
            return
        target = self.board.snapshot(self.config.join_timeout_s).state.seq
        self._read_to(meter, lambda s: s.seq >= target)

    def _read_to(self, meter: BoardMeter, done: Callable[[BoardState], bool]) -> bool:
        """Poll (booking frames) until the latest frame is ``done``, a reboot, or
        ``join_timeout_s``; whether it was reached (or a reboot, for the loop to handle)."""
        deadline = time.monotonic() + self.config.join_timeout_s
        while True:
            latest = meter.latest
            if self._reboot_pending or (latest is not None and done(latest)):
                return True
            if time.monotonic() >= deadline:
                return False
            self._reboot_pending |= self._ingest(meter, self.board.poll(self.config.poll_s))

    def _reset_gates(self, meter: BoardMeter, params: Mapping[str, Any]) -> None:
        """Reset the held board's gates; return once its frames show them reset.

        An acknowledgement does not mark the frames: a board may publish frames it made before
        the command after acknowledging it (the emulator, behind real time, publishes in
        batches). With the board's ``reset_gate_v`` known, the gates are set to it and the
        frames are read until every reported gate is within ``RESET_TOL_V`` of it; otherwise
        up to the frame a fresh snapshot names. Frames before are booked, and the window is
        cleared after.
        """
        target = params.get("reset_gate_v")
        args = {} if target is None else {"gate_v": float(target)}
        ack = self.client.send("reset_gates", args, must=True)  # the board stays idle
        if ack is None or not ack.ok:
            return
        after = (
            -1 if target is not None else self.board.snapshot(self.config.join_timeout_s).state.seq
        )

        def done(state: BoardState) -> bool:
            if target is None:
                return state.seq >= after
            return bool(np.all(np.abs(np.asarray(state.gate_v) - float(target)) <= RESET_TOL_V))

        if not self._read_to(meter, done):
            raise SteerError(f"board {self.board.board_id}: no frame after reset_gates in time")

    def _take_reboot(self) -> bool:
        """Whether a reboot was seen while catching up (cleared)."""
        rebooted, self._reboot_pending = self._reboot_pending, False
        return rebooted

    def _await_window(self, meter: BoardMeter) -> None:
        deadline = time.monotonic() + self.config.join_timeout_s
        while not meter.ready and time.monotonic() < deadline:
            self._ingest(meter, self.board.poll(self.config.poll_s))

    def _observe(self, meter: BoardMeter) -> Observation:
        latest = meter.latest
        assert latest is not None
        return Observation(
            t_s=self.t_s,
            error=meter.error(),
            gate_v=np.array(latest.gate_v),
            lam=self.lam_acked if self.lam_acked is not None else float(latest.lam),
            train_s=meter.training_s,
            floor_v2=self.floor_v2,
        )

    # ------------------------------------------------------------------ commands

    def _set_lam(self, lam: float) -> None:
        acked = self.lam_acked
        if acked is not None and abs(lam - acked) <= self.config.lam_rtol * max(abs(acked), 1e-12):
            return
        lam = min(max(float(lam), 0.0), self.config.limits.lam_max)
        ack = self.client.send("set_params", {"lam": lam})
        if ack is not None and ack.ok:
            self.lam_acked = lam

    def _set_eta(self, eta: float | None) -> None:
        """Train at ``eta`` (``None``: the board's own), capped at the limits' highest eta;
        sent only when it differs from the one in force."""
        own = self.board_eta
        if own is None:
            return
        want = own if eta is None else min(float(eta), self.config.limits.eta_range[1])
        current = own if self.eta_acked is None else self.eta_acked
        if abs(want - current) <= 1e-9 * max(current, 1e-12):
            return
        ack = self.client.send("set_params", {"eta": want})
        if ack is not None and ack.ok:
            self.eta_acked = None if abs(want - own) <= 1e-9 * own else want
            if self.eta_acked is not None:
                self.eta_highest = max(self.eta_highest or 0.0, want)

    def _restore_eta(self) -> str:
        """Set the board's own eta back after steering raised it; what eta it is left at."""
        own = self.board_eta
        if own is None or self.eta_acked is None or self.dry_run:
            return "unchanged"
        with contextlib.suppress(CommandUnanswered, BridgeError):  # said below
            self._set_eta(None)
        if self.eta_acked is None:
            return f"restored to {own:.4g}"
        return f"left at {self.eta_acked:.4g} (restoring {own:.4g} was not acknowledged)"

    def _start_training(self, duration_s: float | None = None) -> None:
        """Training on; for at most ``duration_s`` of the board's own time when given (the
        board stops itself there, whatever the host's lag; sent again to re-arm it)."""
        args = {} if duration_s is None else {"duration_s": float(duration_s)}
        ack = self.client.send(
            "start_training", args, must=True, patience_s=self.config.join_timeout_s
        )
        self.training = bool(ack is not None and ack.ok)
        self._armed = self.training and duration_s is not None
        self._saw_training = False

    def _note_self_stop(self, updates: list[Any]) -> None:
        """A board started for a duration stops itself: training once seen in its frames, an
        idle frame after it means it did (then ``training`` is False, and the next decision
        starts it again)."""
        if not (self.training and self._armed):
            return
        for u in updates:
            if not isinstance(u, BoardState):
                continue
            if u.mode == "training":
                self._saw_training = True
            elif u.mode == "idle" and self._saw_training:
                self.training = False
                return

    def _stop_training(self) -> str:
        """Leave the board in the safe mode; its description."""
        if self.dry_run:
            return "unchanged (dry run: nothing sent)"
        try:
            ack = self.client.send(
                "stop_training", must=True, patience_s=self.config.stop_patience_s
            )
        except (CommandUnanswered, BridgeError) as exc:
            return f"unknown: stop_training not acknowledged ({exc})"
        if ack is None or not ack.ok:
            return f"unknown: stop_training refused ({ack.message if ack else 'no ack'})"
        self.training = False
        return SAFE_MODE if self._await_idle() else f"{SAFE_MODE} (acknowledged; not yet reported)"

    def _await_idle(self) -> bool:
        """Poll (booking frames) until the board reports itself idle (an inference ends first)."""
        deadline = time.monotonic() + self.config.join_timeout_s
        while time.monotonic() < deadline:
            try:
                updates = self.board.poll(self.config.poll_s)
            except BridgeError:
                return False
            if self._meter is not None:
                self._ingest(self._meter, updates)
            states = [u for u in updates if isinstance(u, BoardState)]
            if states and states[-1].mode == "idle":
                return True
        return False

    def _pause(self) -> None:
        """Hold a training board while the twin re-plans (training resumes with the plan)."""
        if self.training and not self.dry_run:
            ack = self.client.send("stop_training", must=True)
            self.training = not (ack is not None and ack.ok)
            self._await_idle()

    def _hold(self, meter: BoardMeter) -> bool:
        """Stop training while the twin decides, so the plan starts from the board's state
        (``training`` cleared); whether the board acknowledged it and reported itself idle
        (a dry run sends nothing: False)."""
        if self.dry_run:
            return False
        ack = self.client.send("stop_training", must=True)
        self.training = False
        return bool(ack is not None and ack.ok and self._await_idle())

    def _verify(self, meter: BoardMeter, tol: float) -> tuple[bool, float, float]:
        """Inference on the training input: (error <= tol, measured error, predicted error)."""
        self.counts["verifications"] += 1
        latest = meter.latest
        assert latest is not None
        inputs = np.asarray(meter.task.train.inputs[0], dtype=float)
        nodes, _ = meter.circuit.free_response(self.edges.device, latest.gate_v, inputs)
        predicted = meter.error_of(meter.outputs(nodes))
        args = {"inputs_v": inputs.tolist(), "hold_s": self.config.verify_hold_s}
        ack = self.client.send("run_inference", args)
        if ack is None or not ack.ok or "outputs_v" not in ack.result:
            return False, float("nan"), predicted
        measured = meter.error_of(np.asarray(ack.result["outputs_v"], dtype=float))
        meter.clear_window()
        return measured <= tol, measured, predicted
