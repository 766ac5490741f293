"""Obtaining a board, serving an emulated one, and the calibrate-then-shadow experiment.

:func:`open_board` is the one factory the commands use: an emulated board in process
(``emulate``), a remote board over ZeroMQ (``connect``) or a recorded stream (``replay``); the
shadow only ever sees the :class:`~twin.board.contract.Board` it returns. :func:`serve_emulator`
runs an emulated board in real time and publishes it.

Integration points for the wire half (``hw_bridge.client.ZmqBoard``,
``hw_bridge.server.BoardPublisher``, ``hw_bridge.recorder``): :func:`open_board` and
:func:`serve_emulator` import them lazily; in a build without them they raise
:class:`~twin.board.errors.BridgeConfigError` (``open_board``) or serve nothing
(``serve_emulator`` runs the board locally).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from twin.board.contract import Board, BoardState, Command
from twin.board.emulator import BoardEmulator, EmulatorConfig
from twin.board.errors import BridgeConfigError
from twin.board.inprocess import Fault, InProcessBoard, NodeFault, check_fault_targets
from twin.board.variation import Adc, HiddenVariation
from twin.shadow.calibrate import CalibrationResult
from twin.shadow.calibration_runs import calibrate_board, calibrate_emulator

__all__ = [
    "EmulationSpec",
    "calibrate_board",
    "calibrate_emulator",
    "calibrate_recording",
    "make_emulator",
    "open_board",
    "serve_emulator",
]

log = logging.getLogger("twin.shadow.session")

#: Longest wall time the board's loop waits for a command to take the lock, s.
HANDOFF_S = 0.05


@attrs.frozen(kw_only=True)
class EmulationSpec:
    """An emulated board: seed, hidden variation, ADC, frame rate, pacing, faults."""

    seed: int = 0
    variation: str = "typical"
    adc_bits: int = 10
    rate_hz: float = 1000.0
    realtime: bool = False
    speed: float = 1.0
    faults: tuple[Fault | NodeFault, ...] = ()
    board_id: str = "emulated-board"


def make_emulator(spec: EmulationSpec) -> BoardEmulator:
    """The emulator of ``spec`` (hidden variation drawn from ``seed``)."""
    variation = HiddenVariation.named(spec.variation)
    config = EmulatorConfig(
        board_id=spec.board_id,
        rate_hz=spec.rate_hz,
        variation=variation,
        node_adc=Adc(bits=spec.adc_bits, sigma_v=2e-4),
    )
    emulator = BoardEmulator(config, rng=np.random.default_rng([spec.seed, 7]))
    check_fault_targets(spec.faults, emulator)  # before any calibration or run
    return emulator


def open_board(
    *,
    emulate: EmulationSpec | None = None,
    emulator: BoardEmulator | None = None,
    connect: str | None = None,
    replay: Path | None = None,
    replay_speed: float = 0.0,
    curve: Any = None,
) -> Board:
    """The board to shadow: exactly one of ``emulate``/``emulator``, ``connect``, ``replay``;
    ``curve`` (``hw_bridge._sockets.CurveClient``) encrypts and authenticates ``connect``."""
    given = [emulate is not None or emulator is not None, connect is not None, replay is not None]
    if sum(given) != 1:
        raise BridgeConfigError("board: give exactly one of --emulate, --connect, --replay")
    if connect is not None:
        try:  # integration point: the wire half's ZeroMQ client
            from hw_bridge.client import ZmqBoard  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            raise BridgeConfigError(
                "--connect: the ZeroMQ client (hw_bridge.client) is not in this build"
            ) from None
        from hw_bridge.probe import probe_endpoint  # type: ignore[import-not-found,unused-ignore]

        probe_endpoint(connect)  # one line naming the endpoint instead of a silent wait
        board: Board = ZmqBoard(connect, curve=curve)
        return board
    if replay is not None:
        try:  # integration point: the wire half's recorded-stream replayer
            from hw_bridge.recorder import Replayer  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            raise BridgeConfigError(
                "--replay: the replayer (hw_bridge.recorder) is not in this build"
            ) from None
        replayed: Board = Replayer(replay, speed=replay_speed)
        return replayed
    spec = emulate if emulate is not None else EmulationSpec()
    emu = emulator if emulator is not None else make_emulator(spec)
    return InProcessBoard(emu, realtime=spec.realtime, speed=spec.speed, faults=spec.faults)


def serve_emulator(
    emulator: BoardEmulator,
    bind: str,
    rate_hz: float | None = None,
    *,
    duration_s: float | None = None,
    on_frames: Callable[[Sequence[BoardState]], None] | None = None,
    curve: Any = None,
) -> int:
    """Run ``emulator`` in real time and publish its frames at ``bind``; frames published.
    ``curve`` (``hw_bridge._sockets.CurveServer``): CURVE encryption and client keys.

    Integration point: publishes through ``hw_bridge.server.BoardPublisher`` (snapshots and
    commands served by it, commands applied by :meth:`BoardEmulator.execute` under a lock). In a
    build without the publisher the board runs locally and nothing is published.
    """
    if rate_hz is not None:
        emulator.rate_hz = float(rate_hz)
    board = InProcessBoard(emulator, realtime=True)
    lock = threading.Lock()
    waiting = threading.Event()  # a command waits for the lock: the loop lets it in first

    def handler(command: Command) -> dict[str, Any]:
        waiting.set()
        with lock:
            waiting.clear()
            return emulator.execute(command)

    publisher: Any = None
    try:  # integration point: the wire half's board-side publisher
        from hw_bridge.server import BoardPublisher  # type: ignore[import-not-found,unused-ignore]

        cfg = emulator.board_config()
        publisher = BoardPublisher(
            cfg.board_id,
            network=cfg.network,
            task=cfg.task,
            params=cfg.params,
            handler=handler,
            bind=bind,
            curve=curve,
        )
    except ImportError:
        log.warning("no ZeroMQ publisher in this build: running the board locally only")
    published = 0
    start = time.monotonic()
    try:
        while duration_s is None or time.monotonic() - start < duration_s:
            handed = time.monotonic() + HANDOFF_S
            while waiting.is_set() and time.monotonic() < handed:  # a lock is not fair: a loop
                time.sleep(1e-4)  # behind real time would take it back at once, forever
            with lock:  # commands wait for at most one advance, never for the pacing
                frames = [u for u in board.poll(0.0) if isinstance(u, BoardState)]
            if not frames:  # pacing: sleep until the next frame falls due (a sleep of a fixed
                # fraction of the frame period would publish each frame that much late on average)
                time.sleep(min(board.due_in_s(), 1.0 / emulator.rate_hz))
                continue
            for frame in frames:
                if publisher is not None:
                    publisher.publish(frame)
            published += len(frames)
            if on_frames is not None:
                on_frames(frames)
    finally:
        if publisher is not None:
            publisher.close()
    return published


def calibrate_recording(
    path: Path, *, held_out: int = 1
) -> tuple[CalibrationResult, dict[str, Any]]:
    """:func:`calibrate_board` on a recorded stream (needs the wire half's replayer)."""
    if not Path(path).is_file():
        raise BridgeConfigError(f"--record: no such file {str(path)!r}")
    board = open_board(replay=Path(path))
    try:
        return calibrate_board(board, held_out=held_out)
    finally:
        board.close()
