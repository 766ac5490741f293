"""``twin calibrate``: fit the twin's per-edge parameters to a board's recorded states."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from . import cli
from ._common import check_request, emit_json, print_summary
from ._types import (
    SEED,
    VARIATION,
    VARIATION_HELP,
    Endpoint,
    FiniteRange,
    OutputFile,
    idle_s_option,
)

__all__ = ["MAX_EPISODES", "calibrate_cmd"]

#: Most calibration episodes (each is --episode-s of board time); the work estimate refuses a
#: long request below this.
MAX_EPISODES = 10_000
#: Most frames recorded for one calibration without --force (all are kept in memory).
MAX_FRAMES = 1e7


@cli.command("calibrate")
@click.option(
    "--from-emulator",
    "from_emulator",
    is_flag=True,
    help="Record an emulated board (hidden variation) and calibrate on it.",
)
@click.option(
    "--record",
    "record",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Calibrate on a recorded stream (twin record).",
)
@click.option(
    "--connect",
    type=Endpoint(),
    metavar="ENDPOINT",
    default=None,
    help="Calibrate a live board at tcp://HOST:PORT by training it: --episodes episodes of "
    "--episode-s from random gates (its gates are reset; it is left training).",
)
@click.option(
    "--seed",
    type=SEED,
    default=0,
    show_default=True,
    help="Emulated board; the random starting gates of each episode.",
)
@click.option(
    "--variation",
    type=VARIATION,
    default=None,
    help=VARIATION_HELP + " With --from-emulator only [default: typical].",
)
@click.option(
    "--episodes",
    type=click.IntRange(3, MAX_EPISODES),
    default=6,
    show_default=True,
    help="Training episodes recorded from random gates.",
)
@click.option(
    "--held-out",
    type=click.IntRange(1, MAX_EPISODES),
    default=2,
    show_default=True,
    help="Episodes kept out of the fit, to test the prediction on.",
)
@click.option(
    "--episode-s",
    type=FiniteRange(0.05, 3600.0),
    default=1.0,
    show_default=True,
    help="Board time per episode, s.",
)
@idle_s_option("With --from-emulator or --connect only.")
@click.option(
    "--episode-eta",
    "etas",
    type=FiniteRange(0, 1, min_open=True),
    multiple=True,
    help="Train the episodes at these nudges in turn (repeatable; default: the board's own "
    "eta, set back after). A twin that twin steer will use at a raised eta should see it: "
    "e.g. --episode-eta 0.22 --episode-eta 0.88. With --from-emulator or --connect only.",
)
@click.option(
    "--save",
    type=OutputFile(),
    default=None,
    help="Write the calibration (schemas/calibration.schema.json) for twin shadow / twin steer "
    "--calibration FILE.",
)
@click.option("--force", is_flag=True, help="Run even when the estimated work exceeds the limits.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
def calibrate_cmd(
    from_emulator: bool,
    record: Path | None,
    connect: str | None,
    seed: int,
    variation: str | None,
    episodes: int,
    held_out: int,
    episode_s: float,
    idle_s: float,
    etas: tuple[float, ...],
    save: Path | None,
    force: bool,
    as_json: bool,
) -> None:
    """Fit per-edge thresholds, gains, leaks and learning biases; report the held-out
    prediction error."""
    from twin.shadow.calibration_file import calibration_document, save_calibration
    from twin.shadow.session import EmulationSpec, calibrate_emulator, make_emulator

    from ..physics.estimate import stream_estimate

    if sum((from_emulator, record is not None, connect is not None)) != 1:
        raise click.UsageError("give exactly one of --from-emulator, --record FILE or --connect")
    if variation is not None and not from_emulator:
        raise click.UsageError("--variation needs --from-emulator (it is the emulated board's)")
    if idle_s and record is not None:
        raise click.UsageError("--idle-s needs --from-emulator or --connect (a recording is as is)")
    if record is not None:
        from twin.shadow.session import calibrate_recording

        result, report = calibrate_recording(record, held_out=held_out)
        source = {"kind": "recording", "path": str(record)[:4096], "held_out": held_out}
    else:
        if held_out >= episodes:
            raise click.BadParameter("must be below --episodes", param_hint="--held-out")
        frames = episodes * (episode_s + idle_s) * EmulationSpec().rate_hz
        check_request("calibrate", stream_estimate(calibration_frames=frames), force,
                      quiet=as_json, work=(frames, MAX_FRAMES, "frames (episodes x episode-s x "
                                           "rate)"))  # fmt: skip
        source = {"kind": "live" if connect else "emulator", "seed": seed, "episodes": episodes,
                  "episode_s": episode_s, "held_out": held_out}  # fmt: skip
        if idle_s:
            source["idle_s"] = idle_s
        if etas:
            source["etas"] = list(etas)
        if connect is not None:
            result, report = _calibrate_connected(
                connect, episodes, held_out, episode_s, seed, idle_s, etas
            )
            source["endpoint"] = connect
        else:
            source["variation"] = variation = variation or "typical"
            emulator = make_emulator(EmulationSpec(seed=seed, variation=variation))
            result, report = calibrate_emulator(
                emulator,
                episodes=episodes,
                held_out=held_out,
                episode_s=episode_s,
                seed=seed,
                idle_s=idle_s,
                etas=etas,
            )
    if save is not None:
        board_id = str(report.get("board_id", "emulated-board"))
        doc = calibration_document(result, report, board_id=board_id, source=source)
        save_calibration(save, doc)
    if as_json:
        emit_json(report)
        return
    pred = report["prediction"]
    rows = {f"{name} {key}": value for name, errs in pred.items() for key, value in errs.items()}
    rows |= {
        k: v
        for k, v in report.items()
        if k not in ("prediction", "parameters", "uncertainty", "bias_se_v_per_s")
    }
    rows |= report.get("parameters", {})
    rows |= report.get("uncertainty", {})
    print_summary("twin calibrate (held-out prediction, V)", rows)


def _calibrate_connected(
    connect: str,
    episodes: int,
    held_out: int,
    episode_s: float,
    seed: int,
    idle_s: float,
    etas: tuple[float, ...] = (),
) -> tuple[Any, dict[str, Any]]:
    """Calibrate the board at ``connect`` by training it (closed on return)."""
    from twin.shadow.calibration_runs import calibrate_live
    from twin.shadow.session import open_board

    board = open_board(connect=connect)
    try:
        return calibrate_live(
            board,
            episodes=episodes,
            held_out=held_out,
            episode_s=episode_s,
            seed=seed,
            idle_s=idle_s,
            etas=etas,
        )
    finally:
        board.close()
