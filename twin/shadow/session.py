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
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from twin.board.contract import Board, BoardState, Command
from twin.board.emulator import BoardEmulator, EmulatorConfig
from twin.board.errors import BridgeConfigError
from twin.board.inprocess import Fault, InProcessBoard
from twin.board.variation import Adc, HiddenVariation
from twin.shadow.calibrate import (
    CalibrationResult,
    calibrate,
    parameter_errors,
    prediction_error,
    split_segments,
)
from twin.shadow.detector import learn_spread

if TYPE_CHECKING:
    from twin.physics.task import Task
    from twin.simulation.edge import EdgeParams

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

VARIATIONS = {
    "none": HiddenVariation,
    "typical": HiddenVariation.typical,
    "lab": HiddenVariation.lab,  # as imperfect as the lab's board: a learning bias (issue 23)
}


@attrs.frozen(kw_only=True)
class EmulationSpec:
    """An emulated board: seed, hidden variation, ADC, frame rate, pacing, faults."""

    seed: int = 0
    variation: str = "typical"
    adc_bits: int = 10
    rate_hz: float = 1000.0
    realtime: bool = False
    speed: float = 1.0
    faults: tuple[Fault, ...] = ()
    board_id: str = "emulated-board"


def make_emulator(spec: EmulationSpec) -> BoardEmulator:
    """The emulator of ``spec`` (hidden variation drawn from ``seed``)."""
    if spec.variation not in VARIATIONS:
        raise BridgeConfigError(
            f"variation: expected one of {', '.join(VARIATIONS)}, got {spec.variation!r}"
        )
    config = EmulatorConfig(
        board_id=spec.board_id,
        rate_hz=spec.rate_hz,
        variation=VARIATIONS[spec.variation](),
        node_adc=Adc(bits=spec.adc_bits, sigma_v=2e-4),
    )
    emulator = BoardEmulator(config, rng=np.random.default_rng([spec.seed, 7]))
    n = emulator.task.network.n_edges
    for fault in spec.faults:  # before any calibration or run: the board's edge count is known
        if not 0 <= fault.edge < n:
            raise BridgeConfigError(f"fault edge: expected 0..{n - 1}, got {fault.edge}")
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

    def handler(command: Command) -> dict[str, Any]:
        with lock:
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
            with lock:  # commands wait for at most one advance, never for the pacing
                frames = [u for u in board.poll(0.0) if isinstance(u, BoardState)]
            if not frames:
                time.sleep(0.5 / emulator.rate_hz)  # pacing: the next frame is not due yet
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


def _record(emulator: BoardEmulator, episodes: int, episode_s: float, seed: int) -> list[Any]:
    """Train from ``episodes`` random gate states for ``episode_s`` each; every frame."""
    rng = np.random.default_rng([seed, 11])
    n = emulator.task.network.n_edges
    states: list[BoardState] = []
    for ep in range(episodes):
        gates = rng.uniform(2.0, 4.5, n).tolist()
        for name, args in (("reset_gates", {"gate_v": gates}), ("start_training", {})):
            ack = emulator.command(Command(name=name, key=f"cal-{seed}-{ep}-{name}", args=args))
            if not ack.ok:
                raise BridgeConfigError(f"calibration recording: {name} refused: {ack.message}")
        states += emulator.advance(emulator.t_s + episode_s)
    return states


def calibrate_emulator(
    emulator: BoardEmulator,
    *,
    episodes: int = 6,
    held_out: int = 2,
    episode_s: float = 1.0,
    horizon_s: float = 0.25,
    seed: int = 0,
) -> tuple[CalibrationResult, dict[str, Any]]:
    """Record an emulated board, calibrate on the first episodes, test on the held-out ones.

    Returns the calibration and a report: held-out prediction errors (gate and node RMS, V) of
    the nominal twin, the calibrated twin and the twin with the board's true hidden parameters
    (the floor set by noise and quantisation), the improvement factors, and how close the fitted
    per-edge values come to the hidden ones.
    """
    from twin.simulation.edge import board_edge_params

    if not 0 < held_out < episodes:
        raise BridgeConfigError("calibration: need 0 < held_out < episodes")
    segments = split_segments(_record(emulator, episodes, episode_s, seed))
    if len(segments) != episodes:
        raise BridgeConfigError(f"calibration: expected {episodes} segments, got {len(segments)}")
    train, test = segments[:-held_out], segments[-held_out:]
    task = emulator.task
    result = _with_spread(calibrate(train, task), segments, task, horizon_s, emulator.step_s)
    nominal = board_edge_params("transistor")
    report = _held_out_report(
        result, test, task, nominal, horizon_s, emulator.step_s, hidden=emulator.edges
    )
    report["parameters"] = parameter_errors(result.fitted, emulator.hidden, nominal)
    return result, report


def _with_spread(
    result: CalibrationResult,
    segments: Sequence[Sequence[BoardState]],
    task: Task,
    horizon_s: float,
    step_s: float,
) -> CalibrationResult:
    """The calibration with the calibrated twin's fault-free residual spread (all segments).

    The spread seen in the recording is widened to what the fit's own uncertainty implies
    where the recording did not exercise an edge: a relative gain error of one standard error
    per volt of gate travel, a drift error of one standard error per second.
    """
    spread = learn_spread(segments, task, result.edges, horizon_s=horizon_s, step_s=step_s)
    fit = result.fitted
    with np.errstate(invalid="ignore", divide="ignore"):
        gain_rel = np.fmax(
            fit["a_free_se_per_v"] / fit["a_free_per_v"],
            fit["a_clamp_se_per_v"] / fit["a_clamp_per_v"],
        )
    spread = attrs.evolve(
        spread,
        rel=np.fmax(spread.rel, np.nan_to_num(gain_rel, nan=0.0)),
        slope_v_per_s=np.fmax(
            spread.slope_v_per_s, np.nan_to_num(fit["drift_se_v_per_s"], nan=0.0)
        ),
    )
    return attrs.evolve(result, spread=spread)


def _held_out_report(
    result: CalibrationResult,
    test: Sequence[Sequence[BoardState]],
    task: Task,
    nominal: EdgeParams,
    horizon_s: float,
    step_s: float,
    *,
    hidden: EdgeParams | None = None,
) -> dict[str, Any]:
    """Held-out prediction errors (gate and node RMS, V) of the nominal and calibrated twins
    (and of the twin with the true hidden parameters, when known) and the improvements."""
    twins = {"nominal": nominal, "calibrated": result.edges}
    if hidden is not None:
        twins["hidden"] = hidden
    errors = {
        name: prediction_error(test, task, edges, horizon_s=horizon_s, step_s=step_s)
        for name, edges in twins.items()
    }
    fit = result.fitted
    with np.errstate(invalid="ignore", divide="ignore"):
        uncertainty = {
            "gain_free_rel_se_median": float(
                np.nanmedian(fit["a_free_se_per_v"] / fit["a_free_per_v"])
            ),
            "gain_clamp_rel_se_median": float(
                np.nanmedian(fit["a_clamp_se_per_v"] / fit["a_clamp_per_v"])
            ),
            "drift_se_v_per_s_median": float(np.nanmedian(fit["drift_se_v_per_s"])),
            "edges_dynamics_fitted": int(np.sum(fit["dynamics_fitted"])),
        }
    return {
        "uncertainty": uncertainty,
        "frames_fit": result.frames,
        "frames_held_out": int(sum(len(s) for s in test)),
        "horizon_s": horizon_s,
        "prediction": errors,
        "gate_improvement": errors["nominal"]["gate_rms_v"] / errors["calibrated"]["gate_rms_v"],
        "node_improvement": errors["nominal"]["node_rms_v"] / errors["calibrated"]["node_rms_v"],
    }


def _drain(board: Board, timeout_s: float) -> list[BoardState]:
    """Every state a finite board (a replayed recording) reports, until it goes quiet."""
    states: list[BoardState] = []
    while True:
        updates = board.poll(timeout_s)
        if not updates:
            return states
        states += [u for u in updates if isinstance(u, BoardState)]


#: A recording with too few training segments is cut into pieces of this much board time, s.
PIECE_S = 1.0


def _pieces(segments: list[list[BoardState]], held_out: int) -> list[list[BoardState]]:
    """``segments``, or, when there are not more than ``held_out`` of them (a board that trained
    without a break, as ``twin board`` does), the same frames cut into pieces of
    :data:`PIECE_S`; an error saying how much training is needed when even that is short."""
    if len(segments) > held_out:
        return segments
    pieces: list[list[BoardState]] = []
    for seg in segments:
        t0 = seg[0].t_s
        cut: dict[int, list[BoardState]] = {}
        for s in seg:
            cut.setdefault(int((s.t_s - t0) // PIECE_S), []).append(s)
        pieces += [p for p in cut.values() if len(p) > 1]
    if len(pieces) <= held_out:
        seconds = sum(seg[-1].t_s - seg[0].t_s for seg in segments)
        raise BridgeConfigError(
            f"record: {seconds:.2f} s of training frames in {len(segments)} segment(s); "
            f"calibration needs more than {held_out + 1} segments or "
            f"{(held_out + 1) * PIECE_S:g} s of training (record longer or lower --held-out)"
        )
    return pieces


def calibrate_board(
    board: Board, *, held_out: int = 1, horizon_s: float = 0.25, timeout_s: float = 1.0
) -> tuple[CalibrationResult, dict[str, Any]]:
    """Calibrate on every training segment a finite board reports but the last ``held_out``."""
    from twin.physics.task import task_from_dict
    from twin.simulation.edge import board_edge_params

    snapshot = board.snapshot(timeout_s)
    task = task_from_dict(snapshot.config.task)
    step_s = float(snapshot.config.params.get("step_s", 1e-4))
    segments = _pieces(split_segments(_drain(board, timeout_s)), held_out)
    train, test = segments[:-held_out], segments[-held_out:]
    result = _with_spread(calibrate(train, task), segments, task, horizon_s, step_s)
    nominal = board_edge_params("transistor")
    return result, _held_out_report(result, test, task, nominal, horizon_s, step_s)


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
