"""Calibration runs: recording a board's training episodes and fitting the twin to them.

:func:`calibrate_emulator` records an emulated board in process (fast, and with the hidden truth
to compare against); :func:`calibrate_board` fits every training segment a finite board (a
replayed recording) reports; both give the fitted :class:`~twin.shadow.calibrate.CalibrationResult`
with the calibrated twin's fault-free residual spread, and a report of the held-out prediction
errors of the nominal and calibrated twins.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from twin.board.contract import Board, BoardState
from twin.board.emulator import BoardEmulator
from twin.board.errors import BridgeConfigError
from twin.shadow.calibrate import (
    CalibrationResult,
    calibrate,
    parameter_errors,
    prediction_error,
    split_segments,
)
from twin.shadow.detector import learn_spread
from twin.shadow.drive_margin import GAIN_COV_KEYS, gain_covariance
from twin.shadow.episodes import check_etas, record_episodes, record_live

if TYPE_CHECKING:
    from twin.physics.task import Task
    from twin.simulation.edge import EdgeParams

__all__ = ["PIECE_S", "calibrate_board", "calibrate_emulator", "calibrate_live"]


def _record(
    emulator: BoardEmulator,
    episodes: int,
    episode_s: float,
    seed: int,
    idle_s: float = 0.0,
    etas: Sequence[float] = (),
) -> list[BoardState]:
    """The episodes of :func:`~twin.shadow.episodes.record_episodes` on an emulated board,
    advanced in process; every frame."""
    return record_episodes(
        emulator.command,
        lambda s: emulator.advance(emulator.t_s + s),
        n_edges=emulator.task.network.n_edges,
        episodes=episodes,
        episode_s=episode_s,
        seed=seed,
        key=f"cal-{seed}",
        who="emulated board",
        own_eta=emulator.eta,
        idle_s=idle_s,
        etas=etas,
    )


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
    check_etas(etas)
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
    check_etas(etas)
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
