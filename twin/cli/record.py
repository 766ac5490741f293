"""``twin record`` and ``twin replay``: record a board's live stream, replay a recording.

``twin record --connect tcp://HOST:PORT --out FILE [--duration S]`` joins a board (its acquisition
host or ``twin board``) and writes every frame it receives to FILE (kill-safe: at most the last
frame is lost). An existing FILE is refused unless ``--append`` (add to a valid recording) or
``--overwrite`` is given, and a board that cannot be joined leaves no new file behind.

``twin replay FILE [--speed X]`` runs the recording through the same client pipeline (sequencing,
gap detection, counters) and prints the summary; a recording corrupt before its last record is
refused with the offset of the bad record.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from . import cli
from ._common import emit_json, print_summary
from ._types import DURATION_S, Endpoint, FiniteRange, OutputFile
from .keys import client_curve, client_key_options

__all__ = ["record_cmd", "replay_cmd"]


def _link_summary(counters: Any) -> dict[str, Any]:
    c = counters.as_dict()
    keys = (
        "frames",
        "updates",
        "gaps_detected",
        "resyncs",
        "resynced_seqs",
        "restarts",
        "undetected_loss",
        "decode_errors",
        "dropped_stale",
        "heartbeats",
        "silences",
        "reconnects",
        "lag_p50_s",
        "lag_p99_s",
        "clock_offset_s",
    )
    return {key: c[key] for key in keys}


@cli.command("record")
@click.option(
    "--connect",
    "endpoint",
    required=True,
    type=Endpoint(),
    help="Board endpoint, tcp://HOST:PORT (a board must answer within 5 s).",
)
@click.option(
    "--out",
    "out",
    required=True,
    type=OutputFile(),
    help="Recording file (must not exist, unless --append or --overwrite).",
)
@click.option(
    "--append",
    "append",
    is_flag=True,
    help="Add to an existing recording (refused if it is corrupt; a torn last record is dropped).",
)
@click.option("--overwrite", "overwrite", is_flag=True, help="Replace an existing file.")
@click.option(
    "--duration",
    "duration_s",
    type=DURATION_S,
    default=None,
    help="Stop after this many seconds (default: until Ctrl-C).",
)
@click.option("--board-id", default=None, help="Refuse a board of another name.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (last line).")
@client_key_options
def record_cmd(
    endpoint: str,
    out: Path,
    append: bool,
    overwrite: bool,
    duration_s: float | None,
    board_id: str | None,
    as_json: bool,
    curve_secret: Path | None,
    curve_server: Path | None,
) -> None:
    """Record a board's live stream to FILE."""
    from hw_bridge.client import ZmqBoard
    from hw_bridge.probe import probe_endpoint
    from hw_bridge.recorder import Recorder

    if append and overwrite:
        raise click.UsageError("--append and --overwrite exclude each other")
    curve = client_curve(curve_secret, curve_server)
    # checked before connecting: an existing file is refused (create), or must be a valid recording
    recorder = Recorder(out, mode="append" if append else "overwrite" if overwrite else "create")
    joined = False
    try:
        probe_endpoint(endpoint)  # one line naming the endpoint if nothing board-like is there
        with ZmqBoard(endpoint, board_id=board_id, tap=recorder, curve=curve) as board:
            snapshot = board.snapshot(timeout_s=5.0)
            joined = True
            start = time.monotonic()  # --duration counts recording time, not the join
            try:
                while duration_s is None or time.monotonic() - start < duration_s:
                    board.poll(0.1)
            except KeyboardInterrupt:
                pass
            summary = {
                "board_id": snapshot.config.board_id,
                "out": str(out),
                "records": recorder.records,
                "duration_s": time.monotonic() - start,
                **_link_summary(board.counters),
            }
    finally:
        if joined:
            recorder.close()
        else:  # nothing worth keeping: a file this command created is removed
            recorder.discard()
    if as_json:
        emit_json(summary)
    else:
        print_summary(f"recorded {out}", summary)


@cli.command("replay")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--speed",
    type=FiniteRange(0, 1e6),
    default=0.0,
    show_default=True,
    help="Speed factor (1: as recorded); 0: as fast as possible.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (last line).")
def replay_cmd(file: Path, speed: float, as_json: bool) -> None:
    """Replay a recording through the client pipeline and print its counters."""
    from hw_bridge.recorder import Replayer
    from twin.board.contract import Resync

    start = time.monotonic()
    resyncs: dict[str, int] = {}
    t_first = t_last = None
    with Replayer(file, speed=speed or None) as replay:
        while not replay.done:
            for item in replay.poll(0.5):
                if isinstance(item, Resync):
                    resyncs[item.reason] = resyncs.get(item.reason, 0) + 1
                    item_t = item.snapshot.state.t_s
                else:
                    item_t = item.t_s
                t_first = item_t if t_first is None else t_first
                t_last = item_t
        summary = {
            "board_id": replay.board_id,
            "file": str(file),
            "records": replay.info.records,
            "torn_bytes": replay.info.torn_bytes,
            "board_time_s": (t_last - t_first)
            if t_first is not None and t_last is not None
            else 0.0,
            "replay_s": time.monotonic() - start,
            "resync_reasons": resyncs,
            **_link_summary(replay.counters),
        }
    if as_json:
        emit_json(summary)
    else:
        print_summary(
            f"replayed {file}", {k: v for k, v in summary.items() if k != "resync_reasons"}
        )
