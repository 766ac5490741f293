"""``twin shadow``: a twin mirrors a board (emulated or remote) and reports where they differ."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..shadow.config import DRIVE_MARGINS
from . import cli
from ._common import (
    PLOT_SUFFIXES,
    board_options,
    emit_json,
    print_summary,
)
from ._ledger import ledger_options
from ._shadow_run import check_shadow_work, fault_text, progress_printer, run_shadow
from ._types import (
    DURATION_S,
    RATE_HZ,
    FaultSpec,
    FiniteRange,
    OutputFile,
    idle_s_option,
)
from ._view import check_view, maybe_live_view, view_options
from .keys import client_curve, client_key_options

__all__ = ["progress_printer", "run_shadow", "shadow_cmd"]

#: Tolerances and intervals (V or s): finite, > 0, at most 1e6.
POSITIVE_S_OR_V = FiniteRange(0, 1e6, min_open=True)


#: A remote board's frame rate assumed by the work estimate, Hz (the lab board's).
NOMINAL_RATE_HZ = 1000.0
#: Board seconds --calibrate records (6 episodes of 1 s), each after an --idle-s hold.
CALIBRATION_EPISODES = 6
CALIBRATION_S = 6.0


@cli.command("shadow")
@board_options("Shadow")
@click.option(
    "--duration",
    type=DURATION_S,
    default=10.0,
    show_default=True,
    help="Run time to shadow, s (board time).",
)
@idle_s_option("With --calibrate only.")
@click.option(
    "--adc-bits",
    type=click.Choice(["8", "10", "12"]),
    default="10",
    show_default=True,
    help="Node-voltage ADC of the emulated board.",
)
@click.option(
    "--rate-hz",
    type=RATE_HZ,
    default=1000.0,
    show_default=True,
    help="Frame rate of the emulated board, Hz.",
)
@click.option("--realtime", is_flag=True, help="Pace the emulated board by the wall clock.")
@click.option(
    "--fault",
    "faults",
    multiple=True,
    type=FaultSpec(),
    metavar="EDGE:KIND=VALUE@T",
    help="Inject a fault into the emulated board (e.g. 7:free_gain=3@10; a node ADC offset: "
    "n5:adc_offset=0.02@10).",
)
@click.option(
    "--resync",
    type=click.Choice(["off", "periodic", "on_alarm"]),
    default="periodic",
    show_default=True,
    help="When to reset the twin's gates to the board's.",
)
@click.option(
    "--resync-s",
    type=POSITIVE_S_OR_V,
    default=0.25,
    show_default=True,
    help="Board time between periodic resyncs, s.",
)
@click.option(
    "--hold-s",
    type=POSITIVE_S_OR_V,
    default=0.01,
    show_default=True,
    help="Time above the detector's level before an alarm, s.",
)
@click.option(
    "--false-alarm-hours",
    type=FiniteRange(0, 1e9, min_open=True),
    default=10.0,
    show_default=True,
    help="Target mean time between false alarms of the shadow, board-hours, shared between its "
    "detectors (n detectors each get n times this: the CUSUM, and with a calibrated twin the "
    "node check and the probe when on).",
)
@click.option(
    "--drive-margin",
    type=click.Choice(DRIVE_MARGINS),
    default="fit",
    show_default=True,
    help="The detector's margin for a gate's gross drive: 3 sd of the net drive's error from the "
    "calibration's fitted gains' covariance where it has one (fit), or 1 %% of it (flat).",
)
@click.option(
    "--probe-every",
    type=POSITIVE_S_OR_V,
    default=None,
    metavar="S",
    help="Every S board seconds send a short inference (run_inference) whose held node "
    "voltages the calibrated twin predicts; a mismatch is an alarm (reveals threshold faults "
    "of gates pinned at a rail; not gain faults). Needs a calibrated twin.",
)
@click.option(
    "--probe-hold",
    type=FiniteRange(0, 60, min_open=True),
    default=0.01,
    show_default=True,
    metavar="S",
    help="Hold of each probe, s (the board's learning pauses that long).",
)
@click.option(
    "--node-every",
    type=POSITIVE_S_OR_V,
    default=None,
    metavar="S",
    help="Every S board seconds test the node voltages of the board's last 10 training frames "
    "against the calibrated twin (passive: no command, no pause; reveals threshold faults of "
    "conducting edges and node ADC faults; not gain faults). Needs a calibrated twin; "
    "default 0.25 with one (--calibrate or --calibration).",
)
@click.option(
    "--no-node-check",
    is_flag=True,
    help="Do not run the passive node check (on by default with a calibrated twin).",
)
@click.option(
    "--out",
    type=OutputFile(),
    default=None,
    help="Write the run documents as JSON lines.",
)
@click.option(
    "--plot",
    type=OutputFile(PLOT_SUFFIXES),
    default=None,
    help="Save board vs twin error, power and residuals as PNG.",
)
@click.option("--force", is_flag=True, help="Run even when the estimated work exceeds the limits.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@view_options
@ledger_options
@client_key_options
def shadow_cmd(
    emulate: bool,
    connect: str | None,
    duration: float,
    seed: int,
    variation: str,
    idle_s: float,
    adc_bits: str,
    rate_hz: float,
    realtime: bool,
    faults: tuple[Any, ...],
    calibrate_first: bool,
    calibration: Path | None,
    resync: str,
    resync_s: float,
    hold_s: float,
    false_alarm_hours: float,
    drive_margin: str,
    probe_every: float | None,
    probe_hold: float,
    node_every: float | None,
    no_node_check: bool,
    out: Path | None,
    plot: Path | None,
    force: bool,
    as_json: bool,
    view: bool,
    port: int,
    db: str | None,
    no_db: bool,
    curve_secret: Path | None,
    curve_server: Path | None,
) -> None:
    """Mirror a board with the twin: residuals, divergence alarms, energies of both."""
    from twin.shadow.calibration_file import load_calibration
    from twin.shadow.calibration_runs import calibrate_live
    from twin.shadow.config import PROBE_DUTY, default_node_every_s
    from twin.shadow.session import EmulationSpec, calibrate_emulator, make_emulator, open_board
    from twin.shadow.shadow import ShadowConfig

    if emulate == (connect is not None):
        raise click.UsageError("give exactly one of --emulate or --connect")
    check_view(view, port)  # before a calibration's seconds
    if faults and not emulate:
        raise click.UsageError("--fault needs --emulate")
    if calibrate_first and calibration is not None:
        raise click.UsageError("give at most one of --calibrate or --calibration FILE")
    if idle_s and not calibrate_first:
        raise click.UsageError("--idle-s needs --calibrate (it holds the calibration's board idle)")
    if no_node_check and node_every is not None:
        raise click.UsageError("give at most one of --node-every and --no-node-check")
    if node_every is None and not no_node_check:  # passive and cheap: on wherever it can run
        node_every = default_node_every_s(calibrate_first or calibration is not None)
    saved = load_calibration(calibration) if calibration is not None else None
    if probe_every is not None and probe_every < PROBE_DUTY * probe_hold:
        raise click.UsageError(
            f"--probe-every {probe_every:g}: expected at least {PROBE_DUTY:g} x --probe-hold "
            f"({probe_hold:g} s), so the board learns most of the time"
        )
    curve = client_curve(curve_secret, curve_server)
    if curve is not None and emulate:
        raise click.UsageError("--curve-secret and --curve-server need --connect")
    spec = EmulationSpec(
        seed=seed,
        variation=variation,
        adc_bits=int(adc_bits),
        rate_hz=rate_hz,
        realtime=realtime,
        faults=faults,
    )
    # the emulated board is small: made (and its faults' edges and nodes checked, one line)
    # before the work is estimated and announced
    emulator = make_emulator(spec) if emulate else None
    check_shadow_work(
        duration_s=duration,
        rate_hz=rate_hz if emulate else NOMINAL_RATE_HZ,
        calibration_s=CALIBRATION_S + CALIBRATION_EPISODES * idle_s if calibrate_first else 0.0,
        paced=realtime or not emulate,
        force=force,
        quiet=as_json,
    )
    config = ShadowConfig(
        resync=resync,  # type: ignore[arg-type]  # click.Choice checked it
        resync_interval_s=resync_s,
        hold_s=hold_s,
        false_alarm_hours=false_alarm_hours,
        drive_margin=drive_margin,  # type: ignore[arg-type]  # click.Choice checked it
        probe_every_s=probe_every,
        probe_hold_s=probe_hold,
        node_every_s=node_every,
    )
    edges, spread, report = None, None, None
    if emulator is not None:
        if calibrate_first:
            result, report = calibrate_emulator(
                emulator, episodes=CALIBRATION_EPISODES, seed=seed, idle_s=idle_s
            )
            edges, spread = result.edges, result.spread
            emulator.boot(0.0)  # the board restarts; the shadow joins the new epoch
        board = open_board(emulate=spec, emulator=emulator)
    else:
        board = open_board(connect=connect, curve=curve)
    try:
        if saved is not None:
            saved.check_snapshot(board)
            edges, spread, report = saved.edges, saved.spread, saved.summary()
        elif calibrate_first and not emulate:
            result, report = calibrate_live(
                board, episodes=CALIBRATION_EPISODES, seed=seed, idle_s=idle_s
            )
            edges, spread = result.edges, result.spread
    except BaseException:
        board.close()
        raise
    params = {
        "source": "emulate" if emulate else connect,
        "seed": seed,
        "variation": variation,
        "adc_bits": int(adc_bits),
        "rate_hz": rate_hz,
        "faults": [fault_text(f) for f in faults],
        "calibrated": edges is not None,
        "calibration_idle_s": idle_s if calibrate_first else None,
        "calibration": str(calibration) if calibration is not None else None,
        "duration_s": duration,
        "probe_every_s": probe_every,
        "node_every_s": node_every,
        "drive_margin": drive_margin,
    }
    with maybe_live_view(view, port, mode="shadow") as live:
        summary = run_shadow(
            board,
            duration_s=duration,
            shadow_config=config,
            seed=seed,
            edges=edges,
            spread=spread,
            out=out,
            db=db,
            no_db=no_db,
            plot=plot,
            params=params,
            progress=not as_json,
            view=live,
        )
    if report is not None:
        summary["calibration"] = report
    if as_json:
        emit_json(summary)
    else:
        shown = {k: v for k, v in summary.items() if k not in ("alarm_list", "calibration")}
        print_summary("twin shadow", shown)
