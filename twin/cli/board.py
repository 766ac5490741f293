"""``twin board``: run the board emulator in real time and serve it (``hw_bridge``)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from . import cli
from ._common import emit_json
from ._types import DURATION_S, RATE_HZ, SEED, VARIATION, VARIATION_HELP, Endpoint, warn_if_exposed
from .keys import server_curve, server_key_options

__all__ = ["board_cmd"]


@cli.command("board")
@click.option(
    "--bind",
    type=Endpoint(bind=True),
    default="tcp://127.0.0.1:5555",
    show_default=True,
    help="Base endpoint to serve at (loopback by default).",
)
@click.option(
    "--rate-hz",
    type=RATE_HZ,
    default=1000.0,
    show_default=True,
    help="Frames published per second.",
)
@click.option("--seed", type=SEED, default=0, show_default=True, help="Board (hidden variation).")
@click.option(
    "--variation",
    type=VARIATION,
    default="typical",
    show_default=True,
    help=VARIATION_HELP,
)
@click.option(
    "--duration",
    type=DURATION_S,
    default=None,
    help="Stop after this many seconds (default: run until interrupted).",
)
@click.option(
    "--schedule",
    "schedule_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Train on this twin.schedule/1 file (tasks in turn, eta ramp, stop rule) from boot.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a summary as one JSON object.")
@server_key_options
def board_cmd(
    bind: str,
    rate_hz: float,
    seed: int,
    variation: str,
    duration: float | None,
    schedule_path: str | None,
    as_json: bool,
    curve_secret: Path | None,
    curve_clients: Path | None,
) -> None:
    """Serve an emulated board (the 4x4 transistor network with hidden variation)."""
    from twin.shadow.session import EmulationSpec, make_emulator, serve_emulator
    from twin.simulation.schedule import load_schedule

    curve = server_curve(curve_secret, curve_clients)
    schedule = load_schedule(schedule_path) if schedule_path is not None else None
    emulator = make_emulator(EmulationSpec(seed=seed, variation=variation, rate_hz=rate_hz))
    if schedule is not None:
        emulator.follow_schedule(schedule)
    warn_if_exposed(bind)
    tty = sys.stderr.isatty()

    def show(frames: Sequence[Any]) -> None:
        last = frames[-1]
        if tty and last.seq % 100 < len(frames):
            sys.stderr.write(
                f"\rboard {last.board_id} t={last.t_s:8.2f} s seq {last.seq} mode {last.mode}"
            )
            sys.stderr.flush()

    try:
        published = serve_emulator(
            emulator, bind, rate_hz, duration_s=duration, on_frames=show, curve=curve
        )
    except KeyboardInterrupt:
        published = emulator.seq
    if tty:
        sys.stderr.write("\n")
    summary = {
        "board": emulator.config.board_id,
        "epoch": emulator.epoch,
        "frames": published,
        "board_time_s": emulator.t_s,
        "bind": bind,
    }
    if as_json:
        emit_json(summary)
    else:
        click.echo(f"board {summary['board']}: {published} frames over {emulator.t_s:.2f} s")
