"""The board emulator: the laboratory board's transistor network with hidden variation.

:class:`BoardEmulator` is the board a lab would have (PHYSICS.md section 8: by default the 4 x 4
periodic transistor lattice on the node-allostery task at eta = 0.22, learning step 0.1 ms),
built on the event-driven twin (:class:`~twin.board.track.TwinTrack`) with *hidden* per-edge
variation (:mod:`twin.board.variation`: gains, thresholds, capacitors, leaks, comparator
offsets), measured through ADCs (quantisation and noise) and published as
:class:`~twin.board.contract.BoardState` frames at ``rate_hz`` (1 kHz) in board time.

It is pure and seeded: :meth:`BoardEmulator.advance` steps board time and returns the frames
due; nothing reads the wall clock (``wall_unix`` is ``boot_unix + t_s``, with ``boot_unix``
given by whoever runs it). Commands (:meth:`BoardEmulator.command`) follow the contract:
idempotent by key (a retry returns the first acknowledgement), versioned (a command carrying
another desired-state version than the board's is refused with code ``stale``), applied at the
current board time.

Its settings (:class:`EmulatorConfig`, :func:`default_board_task`; re-exported here) live in
:mod:`twin.board.emulator_config`, the schedule it follows in :mod:`twin.board.following`, its
training in rounds (overclamping) in :mod:`twin.board.rounds`, its command handlers in
:mod:`twin.board.handlers`, its configuration document in :mod:`twin.board.describe`, the
frames it publishes in :mod:`twin.board.frames`, and the faults it can be given in
:mod:`twin.board.faults`.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any

import numpy as np

from twin.board.circuit import BoardCircuit
from twin.board.commands import COMMAND_NAMES, READ_ONLY_COMMANDS
from twin.board.contract import Ack, BoardConfig, BoardState, Command, Snapshot
from twin.board.describe import board_config
from twin.board.emulator_config import EmulatorConfig, default_board_task
from twin.board.errors import BridgeConfigError, CommandRefused
from twin.board.faults import with_fault
from twin.board.following import Following, check_schedule_network
from twin.board.following import schedule_error_v2 as _schedule_error_v2
from twin.board.frames import measure, quick_frames
from twin.board.handlers import HANDLERS
from twin.board.hinge import HingePolicy, check_classifier, check_hinge
from twin.board.overclamp import ClampPolicy, RoundsResult, RoundsState
from twin.board.rounds import end_rounds, next_round, start_rounds
from twin.board.stepwise import StepResult, StepwiseRun
from twin.board.stepwise_board import advance_stepwise
from twin.board.track import TwinTrack
from twin.board.variation import draw_hidden_edges
from twin.physics.task import Task
from twin.simulation.edge import EdgeParams
from twin.simulation.noise import NoiseConfig
from twin.simulation.schedule import Schedule

__all__ = ["BoardEmulator", "EmulatorConfig", "default_board_task"]

log = logging.getLogger("twin.board.emulator")

#: Acknowledgements remembered for idempotent retries.
ACK_MEMORY = 4096


class BoardEmulator:
    """An emulated board, stepped in board time.

    Parameters
    ----------
    config
        Board settings.
    rng
        Source of the hidden variation, epochs, learning noise and ADC noise.
    task
        The task at boot (default :func:`default_board_task`).
    boot_unix
        Host wall time at boot, s since 1970 (``wall_unix = boot_unix + t_s``).
    edges
        The board's edge circuits, given instead of drawn from ``config.variation`` (a board
        configured as a particular network: another device, fixed elements, a measured bias).
    """

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        *,
        rng: np.random.Generator,
        task: Task | None = None,
        boot_unix: float = 0.0,
        edges: EdgeParams | None = None,
    ) -> None:
        self.config = config if config is not None else EmulatorConfig()
        self.task = task if task is not None else default_board_task()
        self._rng = rng
        n = self.task.network.n_edges
        if edges is None:
            self.edges, self.hidden = draw_hidden_edges(n, rng, self.config.variation)
        else:
            self.edges = edges
            self.hidden = {"bias_v_per_s": edges.columns(n)["bias_v_per_s"]}
        #: A node ADC's offset per node (V; emulation faults only, :meth:`inject_node_fault`).
        self.node_offset_v: np.ndarray | None = None
        self._adc_rng = np.random.default_rng(rng.integers(0, 2**63))
        self._twin_rng = np.random.default_rng(rng.integers(0, 2**63))
        self.eta = self.config.eta
        self.lam = self.config.lam
        self.step_s = self.config.step_s
        self.rate_hz = self.config.rate_hz
        self._acks: OrderedDict[str, Ack] = OrderedDict()
        self._rows_of: tuple[Task, np.ndarray, np.ndarray] | None = None
        self.rounds: RoundsState | StepwiseRun | None = None
        self.boot(boot_unix)

    # ------------------------------------------------------------------ boot

    def boot(self, boot_unix: float) -> None:
        """(Re)boot: a new epoch, board time 0, gates at the reset value, version 0.

        The task and the learning settings survive (the host reloads its configuration);
        the desired-state version and the acknowledgements do not.
        """
        self.epoch = int(self._rng.integers(1, 2**63))
        self.boot_unix = float(boot_unix)
        self.t_s = 0.0
        self.seq = 0
        self.version = 0
        self._acks.clear()
        self.restart_frames()
        self.train_until_s = np.inf
        self.inference: dict[str, Any] | None = None
        self.following: Following | None = None
        if self.rounds is not None:  # a reboot abandons a training in rounds
            self.task = self.rounds.task
            self.rounds = None
        self.rounds_result: RoundsResult | StepResult | None = None
        self.resume_mode = "idle"
        self.mode = "training" if self.config.autostart else "idle"
        self.circuit = BoardCircuit(self.task)
        self.track = self._new_track(np.full(self.task.network.n_edges, self.config.reset_gate_v))
        self.last: BoardState = measure(self)

    def _new_track(self, gates_v: np.ndarray) -> TwinTrack:
        return TwinTrack(
            self.task,
            self.edges,
            t_s=self.t_s,
            gates_v=gates_v,
            mode=self._track_mode(),
            eta=self.eta,
            lam=self.lam,
            step_s=self.step_s,
            noise=NoiseConfig(delta_v2=self.config.noise_delta_v2),
            rng=self._twin_rng,
        )

    def _track_mode(self) -> str:
        return "training" if self.mode == "training" else "idle"

    # ------------------------------------------------------------------ time

    def restart_frames(self) -> None:
        """Count frames from now on at ``rate_hz`` (at boot and when the rate changes)."""
        self._frame_base_s, self._frame_n = self.t_s, 0

    @property
    def next_frame_s(self) -> float:
        """Board time of the next frame, s."""
        return self._frame_base_s + (self._frame_n + 1) / self.rate_hz

    def advance(self, t_s: float) -> list[BoardState]:
        """Run to board time ``t_s``; return the frames published on the way, in order."""
        frames: list[BoardState] = []
        while self.next_frame_s <= t_s + 1e-12:
            frames += quick_frames(self, t_s) or [self.step()]
        self._run_to(max(t_s, self.t_s))
        return frames

    def step(self) -> BoardState:
        """Run to the next frame time and publish one frame."""
        t = self.next_frame_s
        self._run_to(t)
        self._frame_n += 1
        self.seq += 1
        self.last = measure(self)
        return self.last

    def _run_to(self, t_s: float) -> None:
        if isinstance(self.rounds, StepwiseRun):  # training point by point (stepwise_board)
            advance_stepwise(self, t_s)
        while True:
            due = [t for t in self._pending_changes() if self.t_s < t <= t_s]
            if not due:
                break
            t_change = min(due)
            self.track.advance(t_change)
            self.t_s = t_change
            self._scheduled_change(t_change)
        self.track.advance(t_s)
        self.t_s = max(self.t_s, t_s)

    def _pending_changes(self) -> list[float]:
        out = [self.train_until_s] if self.mode == "training" else []
        if self.inference is not None:
            out.append(self.inference["until_s"])
        if self.following is not None and self.inference is None:
            out += [self.following.end_s, self.following.next_check_s]
        return [t for t in out if np.isfinite(t)]

    def _scheduled_change(self, t_s: float) -> None:
        if self.following is not None and self.inference is None and t_s >= self.following.end_s:
            self._next_segment()
        elif self.following is not None and t_s >= self.following.next_check_s:
            check_hinge(self, self.following)
        elif self.inference is not None and t_s >= self.inference["until_s"]:
            self.inference = None
            self.set_mode(self.resume_mode)
            if self.following is not None and self.following.hinge is not None:
                check_hinge(self, self.following)  # its check time passed during the hold
        elif self.mode == "training" and t_s >= self.train_until_s:
            self.train_until_s = np.inf
            self.set_mode("idle")

    def set_mode(self, mode: str) -> None:
        self.mode = mode
        self.track.restart(self.t_s, mode=self._track_mode())

    # ------------------------------------------------------------------ schedules

    def follow_schedule(self, schedule: Schedule, *, hinge: HingePolicy | None = None) -> None:
        """Train on ``schedule`` from now on (emulation only, like a lab's training script).

        Tasks switch and eta steps happen at their board times without touching the gates; the
        board goes idle when the schedule stops (its duration, or its error rule at the end of
        a cycle). Every task must be on the board's network with the board's source count. A
        command that changes the training (``stop_training``, ``reset_gates``, ``load_task``)
        abandons the schedule. It abandons a training in rounds (:meth:`start_rounds`).
        ``hinge``: the tasks are two-output classifiers trained with a hinge, the lab's
        classification (:mod:`twin.board.hinge`: only points inside the margin are nudged).
        """
        check_schedule_network(schedule, self.task.network)
        if hinge is not None:
            for task in schedule.tasks:
                check_classifier(task)
        end_rounds(self)
        self.follow(schedule, hinge)

    def follow(self, schedule: Schedule, hinge: HingePolicy | None = None) -> None:
        """Follow ``schedule`` from now on (checked by the caller)."""
        self.inference = None
        self.following = Following.start(schedule, self.t_s, hinge)
        self._next_segment()

    def _next_segment(self) -> None:
        following = self.following
        assert following is not None
        last = following.segment
        stop = last is not None and last.cycle_end and self._schedule_error_met(following)
        seg = None if stop else next(following.segments, None)
        if seg is None:
            self.following = None
            if self.rounds is None or not next_round(self):
                self.set_mode("idle")
            return
        following.segment = seg
        task = following.schedule.tasks[seg.task]
        if last is None or task is not self.task or seg.eta != self.eta:
            self.task, self.eta = task, seg.eta
            self.circuit = BoardCircuit(task)
            self.mode = "training"
            self.track.restart(self.t_s, task=task, eta=seg.eta, mode="training")
        if following.hinge is not None:
            check_hinge(self, following)

    @property
    def schedule_end_s(self) -> float:
        """Board time the schedule's current segment ends, s (``inf`` without a schedule)."""
        return np.inf if self.following is None else self.following.end_s

    def start_rounds(self, task: Task, policy: ClampPolicy) -> RoundsResult:
        """Train the classifier ``task`` in rounds under ``policy`` from now on (overclamping).

        Each round is a schedule the board follows (:mod:`twin.board.rounds`); the board goes
        idle when training ends, with :attr:`rounds_result` its outcome. Returns the outcome so
        far (the first evaluation). A command that changes the training abandons the rounds.
        Raises :class:`~twin.board.errors.BridgeConfigError` unless ``task`` is a classifier on
        the board's network.
        """
        return start_rounds(self, task, policy)

    def _schedule_error_met(self, following: Following) -> bool:
        tol = following.schedule.stop_error_v2
        return tol is not None and self.schedule_error_v2(following.schedule) <= tol

    def schedule_error_v2(self, schedule: Schedule) -> float:
        """Mean over ``schedule``'s tasks of their training error (V^2) at the current gates."""
        return _schedule_error_v2(schedule, self.edges, self.track.gates())

    # ------------------------------------------------------------------ measuring

    def read_nodes_v(self, values_v: np.ndarray, nodes: np.ndarray | None = None) -> np.ndarray:
        """Node voltages ``values_v`` (V) of ``nodes`` (default: every node, repeated for each
        network in turn) as the node ADC reads them (with any injected ADC offsets)."""
        values = np.asarray(values_v, dtype=float)
        if self.node_offset_v is not None:
            n = self.task.network.n_nodes
            idx = np.arange(values.size) % n if nodes is None else np.asarray(nodes)
            values = values + self.node_offset_v[idx]
        return self.config.node_adc.read(values, self._adc_rng)

    def board_config(self) -> BoardConfig:
        """The configuration a late joiner needs (network, task, parameters, version)."""
        return board_config(self)

    def snapshot(self) -> Snapshot:
        """Configuration and the last published state (``seq`` 0 before the first frame)."""
        return Snapshot(config=self.board_config(), state=self.last)

    # ------------------------------------------------------------------ commands

    def command(self, command: Command) -> Ack:
        """Apply ``command`` at the current board time (idempotent by key, versioned)."""
        if command.key in self._acks:
            return self._acks[command.key]
        ack = self._apply(command)
        self._acks[command.key] = ack
        while len(self._acks) > ACK_MEMORY:
            self._acks.popitem(last=False)
        return ack

    def _apply(self, command: Command) -> Ack:
        if command.version is not None and command.version != self.version:
            msg = f"desired version {command.version} is not the board's {self.version}"
            return self._refuse(command, "stale", msg)
        try:
            result = self.execute(command)
        except CommandRefused as exc:
            return self._refuse(command, exc.code, str(exc))
        return Ack(key=command.key, ok=True, version=self.version, result=result)

    def execute(self, command: Command) -> dict[str, Any]:
        """Apply a command without the version and idempotency checks; its result.

        This is the board's command handler: :meth:`command` wraps it with the checks, and a
        publisher that does its own (``hw_bridge.server.BoardPublisher``) calls it directly.
        Every change but ``run_inference`` bumps the desired-state version. Raises
        :class:`~twin.board.errors.CommandRefused` (code ``unsupported`` or ``invalid``).
        """
        if command.name not in COMMAND_NAMES:
            raise CommandRefused("unsupported", f"unknown command {command.name!r}")
        result = HANDLERS[command.name](self, command.args)
        if command.name not in READ_ONLY_COMMANDS:
            self.version += 1
        log.debug("applied %s at t=%.4f s (version %d)", command.name, self.t_s, self.version)
        return result

    def _refuse(self, command: Command, code: str, message: str) -> Ack:
        return Ack(key=command.key, ok=False, code=code, message=message, version=self.version)

    # ------------------------------------------------------------------ emulation only

    def decision_rng(self) -> np.random.Generator:
        """A generator of the read noise of decisions taken from node-ADC readings (per-step
        training with ``adc``), drawn from the board's ADC stream: seeded with the board."""
        return np.random.default_rng(self._adc_rng.integers(0, 2**63))

    def inject_fault(self, edge: int, **changes: float) -> None:
        """Change one edge's hidden circuit now (emulation only; not a protocol command).

        ``changes``: ``gain_factor`` (both amplifier gains), ``free_gain_factor``,
        ``threshold_shift_v``, ``leak_tau_s`` (with the rest voltage ``v_rest_v``, default 0)
        (:func:`twin.board.faults.with_fault`).
        """
        self.edges = with_fault(self.edges, self.task.network.n_edges, edge, **changes)
        self.track.restart(self.t_s, edges=self.edges)
        log.info("fault injected on edge %d at t=%.4f s", edge, self.t_s)

    def inject_node_fault(self, node: int, offset_v: float) -> None:
        """Offset node ``node``'s ADC channel by ``offset_v`` volts from now (emulation only):
        the circuit is unchanged, its reading is not (in the free and clamped copies alike)."""
        n = self.task.network.n_nodes
        if not 0 <= node < n:
            raise BridgeConfigError(f"fault node: expected 0..{n - 1}, got {node}")
        if self.node_offset_v is None:
            self.node_offset_v = np.zeros(n)
        self.node_offset_v[node] += offset_v
        log.info("node ADC fault on node %d at t=%.4f s", node, self.t_s)
