"""Calibration runs: recording a board's training episodes and fitting the twin to them.

:func:`calibrate_emulator` records an emulated board in process (fast, and with the hidden truth
to compare against); :func:`calibrate_board` fits every training segment a finite board (a
replayed recording) reports; both give the fitted :class:`~twin.shadow.calibrate.CalibrationResult`
with the calibrated twin's fault-free residual spread, and a report of the held-out prediction
errors of the nominal and calibrated twins.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from twin.board.contract import Ack, Board, BoardState, Command
from twin.board.emulator import BoardEmulator
from twin.board.errors import BridgeConfigError, BridgeTimeout
from twin.shadow.calibrate import (
    CalibrationResult,
    calibrate,
    parameter_errors,
    prediction_error,
    split_segments,
)
from twin.shadow.detector import learn_spread
from twin.shadow.drive_margin import GAIN_COV_KEYS, gain_covariance

if TYPE_CHECKING:
    from twin.physics.task import Task
    from twin.simulation.edge import EdgeParams

__all__ = ["PIECE_S", "calibrate_board", "calibrate_emulator", "calibrate_live", "record_live"]


def _record(
    emulator: BoardEmulator,
    episodes: int,
    episode_s: float,
    seed: int,
    idle_s: float = 0.0,
    etas: Sequence[float] = (),
) -> list[Any]:
    """Train from ``episodes`` random gate states for ``episode_s`` each (each after ``idle_s``
    held idle at those gates, when > 0; episode ``k`` at nudge ``etas[k % len(etas)]`` when
    given, the board's own eta set back after); every frame."""
    rng = np.random.default_rng([seed, 11])
    n = emulator.task.network.n_edges
    states: list[BoardState] = []
    own = emulator.eta
    for ep in range(episodes):
        gates = rng.uniform(2.0, 4.5, n).tolist()
        key = f"cal-{seed}-{ep}"
        if etas:
            _set_eta(emulator.command, key, etas[ep % len(etas)], "emulated board")
        if idle_s > 0:
            _send(emulator.command, key, _HOLD, gates, "emulated board")
            states += emulator.advance(emulator.t_s + idle_s)
            _send(emulator.command, key, _TRAIN, gates, "emulated board")
        else:
            _start_episode(emulator.command, key, gates, "emulated board")
        states += emulator.advance(emulator.t_s + episode_s)
    if etas:
        _set_eta(emulator.command, f"cal-{seed}-end", own, "emulated board")
    return states


def _set_eta(send: Callable[[Command], Ack], key: str, eta: float, who: str) -> None:
    """Set the board's nudge to ``eta`` (key ``key-eta``); an error naming ``who`` if refused."""
    ack = send(Command(name="set_params", key=f"{key}-eta", args={"eta": float(eta)}))
    if not ack.ok:
        raise BridgeConfigError(
            f"calibration: {who} refused eta {eta:g}: {ack.code} {ack.message}".rstrip()
        )


def _check_etas(etas: Sequence[float]) -> None:
    if any(not (np.isfinite(e) and 0 < e <= 1) for e in etas):
        raise BridgeConfigError(f"calibration etas: expected numbers in (0, 1], got {list(etas)}")


#: The commands that start an episode: reset and train; or hold idle at the reset gates first.
_START = ("reset_gates", "start_training")
_HOLD, _TRAIN = ("stop_training", "reset_gates"), ("start_training",)


def _send(
    send: Callable[[Command], Ack], key: str, names: tuple[str, ...], gates_v: list[float], who: str
) -> None:
    """Send ``names`` in turn (``reset_gates`` to ``gates_v``, V), each under its own key
    (``key-NAME``); an error naming ``who`` if one is refused."""
    for name in names:
        args = {"gate_v": gates_v} if name == "reset_gates" else {}
        ack = send(Command(name=name, key=f"{key}-{name}", args=args))
        if not ack.ok:
            raise BridgeConfigError(
                f"calibration: {who} refused {name}: {ack.code} {ack.message}".rstrip()
            )


def _start_episode(
    send: Callable[[Command], Ack], key: str, gates_v: list[float], who: str
) -> None:
    """Reset the gates to ``gates_v`` (V) and start training, each command under its own key
    (``key-NAME``); an error naming ``who`` if either is refused."""
    _send(send, key, _START, gates_v, who)


def _idle_before(
    idle: list[list[BoardState]], segments: Sequence[Sequence[BoardState]], held_out: int
) -> list[list[BoardState]]:
    """The idle runs that end before the first held-out training segment starts."""
    t_test = segments[-held_out][0].t_s
    return [seg for seg in idle if seg[-1].t_s < t_test]


def calibrate_emulator(
    emulator: BoardEmulator,
    *,
    episodes: int = 6,
    held_out: int = 2,
    episode_s: float = 1.0,
    horizon_s: float = 0.25,
    seed: int = 0,
    idle_s: float = 0.0,
    etas: Sequence[float] = (),
) -> tuple[CalibrationResult, dict[str, Any]]:
    """Record an emulated board, calibrate on the first episodes, test on the held-out ones.

    ``idle_s`` > 0: each episode first holds the board idle that long at its starting gates;
    the fit then separates each edge's learning bias from its leak (:func:`calibrate`).
    ``etas``: episode ``k`` trains at nudge ``etas[k % len(etas)]`` (the board's own eta set
    back after): at the board's small eta the free and clamped drops hardly differ, so the
    fit separates the free and clamped gains poorly, and a twin that must predict training at
    a raised eta (``twin steer``'s eta lever) should see it.

    Returns the calibration and a report: held-out prediction errors (gate and node RMS, V) of
    the nominal twin, the calibrated twin and the twin with the board's true hidden parameters
    (the floor set by noise and quantisation), the improvement factors, and how close the fitted
    per-edge values come to the hidden ones.
    """
    from twin.simulation.edge import board_edge_params

    if not 0 < held_out < episodes:
        raise BridgeConfigError("calibration: need 0 < held_out < episodes")
    if not (np.isfinite(idle_s) and idle_s >= 0):
        raise BridgeConfigError(f"idle_s: expected a time >= 0 s, got {idle_s!r}")
    _check_etas(etas)
    frames = _record(emulator, episodes, episode_s, seed, idle_s, etas)
    segments = split_segments(frames)
    if len(segments) != episodes:
        raise BridgeConfigError(f"calibration: expected {episodes} segments, got {len(segments)}")
    result, report = _fit_segments(emulator.config.board_id, segments, held_out, emulator.task,
                                   emulator.step_s, horizon_s, hidden=emulator.edges,
                                   idle=split_segments(frames, mode="idle"))  # fmt: skip
    nominal = board_edge_params("transistor")
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
    per volt of gate travel, a drift error of one standard error per second. It carries the
    fitted gains' covariance, which sizes the detector's gross-drive margin.
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
        gain_cov=gain_covariance(*(fit[k] for k in GAIN_COV_KEYS)),
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
    bias = {
        "bias_rms_v_per_s": float(np.sqrt(np.nanmean(fit["bias_v_per_s"] ** 2))),
        "bias_se_v_per_s_median": float(np.nanmedian(fit["bias_se_v_per_s"])),
        "edges_bias_from_idle": int(np.sum(fit["bias_from_idle"])),
    }
    return {
        "bias_v_per_s": _listed(fit["bias_v_per_s"]),
        "bias_se_v_per_s": _listed(fit["bias_se_v_per_s"]),
        "uncertainty": uncertainty | bias,
        "frames_fit": result.frames,
        "frames_held_out": int(sum(len(s) for s in test)),
        "horizon_s": horizon_s,
        "prediction": errors,
        "gate_improvement": errors["nominal"]["gate_rms_v"] / errors["calibrated"]["gate_rms_v"],
        "node_improvement": errors["nominal"]["node_rms_v"] / errors["calibrated"]["node_rms_v"],
    }


def _listed(values: np.ndarray) -> list[float | None]:
    """Per-edge values as JSON data (``None`` where not finite: an edge kept nominal)."""
    return [float(v) if np.isfinite(v) else None for v in values]


def _drain(board: Board, timeout_s: float) -> list[BoardState]:
    """Every state a finite board (a replayed recording) reports, until it goes quiet."""
    states: list[BoardState] = []
    while True:
        updates = board.poll(timeout_s)
        if not updates:
            return states
        states += [u for u in updates if isinstance(u, BoardState)]


#: Wall time a calibration command may take with its retries (same key), s: a board on a
#: loaded host answers late, and a calibration is not worth losing to that.
COMMAND_TIMEOUT_S = 20.0
#: Wall time spent discarding a live board's backlog before a calibration, s.
DRAIN_S = 0.2
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


def _snapshot_task(board: Board, timeout_s: float) -> tuple[Task, float]:
    """The task a board has loaded and its learning step (s); an error if none is loaded."""
    from twin.physics.task import task_from_dict

    snapshot = board.snapshot(timeout_s)
    if not snapshot.config.task:
        raise BridgeConfigError(
            f"calibration: board {board.board_id} has no task loaded (load one first)"
        )
    return task_from_dict(snapshot.config.task), float(snapshot.config.params.get("step_s", 1e-4))


def _fit_segments(
    board_id: str,
    segments: list[list[BoardState]],
    held_out: int,
    task: Task,
    step_s: float,
    horizon_s: float,
    *,
    hidden: EdgeParams | None = None,
    idle: list[list[BoardState]] | None = None,
) -> tuple[CalibrationResult, dict[str, Any]]:
    """The fit on all but the last ``held_out`` segments (and the ``idle`` runs before them) and
    the held-out report (with the twin of the board's ``hidden`` edges beside it, when known)."""
    from twin.simulation.edge import board_edge_params

    train, test = segments[:-held_out], segments[-held_out:]
    held = _idle_before(idle or [], segments, held_out)
    result = _with_spread(calibrate(train, task, idle=held), segments, task, horizon_s, step_s)
    nominal = board_edge_params("transistor")
    report = _held_out_report(result, test, task, nominal, horizon_s, step_s, hidden=hidden)
    return result, {"board_id": board_id, **report}


def calibrate_board(
    board: Board, *, held_out: int = 1, horizon_s: float = 0.25, timeout_s: float = 1.0
) -> tuple[CalibrationResult, dict[str, Any]]:
    """Calibrate on every training segment a finite board reports but the last ``held_out``."""
    task, step_s = _snapshot_task(board, timeout_s)
    frames = _drain(board, timeout_s)
    segments = _pieces(split_segments(frames), held_out)
    return _fit_segments(board.board_id, segments, held_out, task, step_s, horizon_s,
                         idle=split_segments(frames, mode="idle"))  # fmt: skip


def _episode(board: Board, episode_s: float, timeout_s: float, deadline: float) -> list[BoardState]:
    """The board's frames over ``episode_s`` of board time from the first one received."""
    states: list[BoardState] = []
    while not states or states[-1].t_s < states[0].t_s + episode_s:
        if time.monotonic() > deadline:
            raise BridgeTimeout(
                f"calibration: board {board.board_id} did not report {episode_s:g} s of "
                "training in time (is it paced far below real time?)"
            )
        updates = board.poll(timeout_s)
        if not updates:
            raise BridgeTimeout(
                f"calibration: no frame from board {board.board_id} in {timeout_s:g} s"
            )
        states += [u for u in updates if isinstance(u, BoardState)]
    return states


def record_live(
    board: Board,
    *,
    episodes: int,
    episode_s: float,
    seed: int,
    timeout_s: float = 5.0,
    idle_s: float = 0.0,
    etas: Sequence[float] = (),
) -> list[BoardState]:
    """Drive ``board`` through its commands: ``episodes`` training episodes of ``episode_s``
    board seconds, each from random gates (2.0-4.5 V, drawn as :func:`calibrate_emulator`
    draws them; held idle there for ``idle_s`` first when > 0; at nudge ``etas[k % len(etas)]``
    when given, the board's own eta set back after); every frame received from the first reset
    on.

    Each command carries a fresh idempotency key, so a board that remembers keys from an
    earlier calibration acts on these. Bounded: an episode may take at most 3 x ``episode_s``
    + 10 x ``timeout_s`` of wall time.
    """
    rng = np.random.default_rng([seed, 11])
    snap = board.snapshot(timeout_s)
    n, own = len(snap.state.gate_v), float(snap.config.params.get("eta", snap.state.eta))
    tag = uuid.uuid4().hex[:12]
    drained = time.monotonic() + DRAIN_S  # the backlog from before the calibration is not part
    while time.monotonic() < drained and board.poll(0.0):  # of it (a board paced faster than
        pass  # real time never runs dry: bounded)
    states: list[BoardState] = []
    for ep in range(episodes):
        gates = rng.uniform(2.0, 4.5, n).tolist()
        key, who = f"cal-{tag}-{ep}", f"board {board.board_id}"

        def send(c: Command) -> Ack:
            return board.command(c, COMMAND_TIMEOUT_S)

        if etas:
            _set_eta(send, key, etas[ep % len(etas)], who)
        if idle_s > 0:
            _send(send, key, _HOLD, gates, who)
            deadline = time.monotonic() + 3 * idle_s + 10 * timeout_s
            states += _episode(board, idle_s, timeout_s, deadline)
            _send(send, key, _TRAIN, gates, who)
        else:
            _start_episode(send, key, gates, who)
        deadline = time.monotonic() + 3 * episode_s + 10 * timeout_s
        states += _episode(board, episode_s, timeout_s, deadline)
    if etas:
        _set_eta(lambda c: board.command(c, COMMAND_TIMEOUT_S), f"cal-{tag}-end", own,
                 f"board {board.board_id}")  # fmt: skip
    return states


def calibrate_live(
    board: Board,
    *,
    episodes: int = 6,
    held_out: int = 2,
    episode_s: float = 1.0,
    horizon_s: float = 0.25,
    seed: int = 0,
    timeout_s: float = 5.0,
    join_timeout_s: float = 30.0,
    idle_s: float = 0.0,
    etas: Sequence[float] = (),
) -> tuple[CalibrationResult, dict[str, Any]]:
    """Calibrate a live board (over the wire or in process) by training it: the episodes of
    :func:`record_live`, the fit on all but the last ``held_out`` and the held-out report.

    The board is left training from the last episode's state. Segments shorter than half an
    episode (frames in flight from before a reset) are not used. ``join_timeout_s``: the wait
    for the board's first snapshot (a board just started may still be compiling), s.
    """
    if not 0 < held_out < episodes:
        raise BridgeConfigError("calibration: need 0 < held_out < episodes")
    _check_etas(etas)
    task, step_s = _snapshot_task(board, join_timeout_s)
    frames = record_live(board, episodes=episodes, episode_s=episode_s, seed=seed,
                         timeout_s=timeout_s, idle_s=idle_s, etas=etas)  # fmt: skip
    segments = [
        seg for seg in split_segments(frames) if seg[-1].t_s - seg[0].t_s >= 0.5 * episode_s
    ]
    if len(segments) <= held_out:
        raise BridgeConfigError(
            f"calibration: only {len(segments)} of {episodes} episodes of board "
            f"{board.board_id} were usable (frames lost?); need more than {held_out}"
        )
    return _fit_segments(board.board_id, segments, held_out, task, step_s, horizon_s,
                         idle=split_segments(frames, mode="idle"))  # fmt: skip
