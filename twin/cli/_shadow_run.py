"""What ``twin shadow`` and ``twin demo`` run: the work check, the progress line, the recorded
run with its live page (moved out of :mod:`twin.cli.shadow`, unchanged)."""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._common import MAX_REQUEST_S, check_request
from ._ledger import recorded_dispatch

__all__ = ["MAX_FRAMES", "check_shadow_work", "fault_text", "progress_printer", "run_shadow"]

#: Most frames one shadow run mirrors without --force (a day of the lab board at 1 kHz).
MAX_FRAMES = 86400 * 1000.0


def check_shadow_work(
    *,
    duration_s: float,
    rate_hz: float,
    calibration_s: float = 0.0,
    paced: bool,
    force: bool,
    quiet: bool = False,
    what: str = "shadow",
) -> None:
    """Refuse a shadow run whose estimated memory (its history grows with the frames) or, when
    not paced by the wall clock, time exceeds the limits (:func:`check_request`)."""
    from ..physics.estimate import stream_estimate

    frames = duration_s * rate_hz
    estimate = stream_estimate(
        shadow_frames=frames,
        calibration_frames=calibration_s * rate_hz,
        paced_s=duration_s if paced else 0.0,
    )
    work = (frames, MAX_FRAMES, "frames (duration x rate)")
    check_request(what, estimate, force, quiet=quiet, max_time_s=None if paced else MAX_REQUEST_S,
                  work=work)  # fmt: skip


def fault_text(fault: Any) -> str:
    """A parsed fault back in its ``EDGE:KIND=VALUE@T_S`` form (for the run's parameters)."""
    from twin.board.inprocess import fault_spec

    return fault_spec(fault)


def progress_printer(enabled: bool = True) -> Any:
    """A progress callback printing one live line on stderr (rewritten in place on a TTY)."""
    tty = sys.stderr.isatty()
    state = {"last": 0.0}

    def show(info: Mapping[str, Any]) -> None:
        if not enabled:
            return
        now = time.monotonic()
        if not tty and now - state["last"] < 2.0:
            return
        state["last"] = now
        total = info.get("duration_s") or 0.0
        line = (
            f"shadow t={info['t_s']:6.2f}/{total:g} s  frames {info['frames']:6d}  "
            f"node resid {info['residual_rms_v'] * 1e3:6.2f} mV  "
            f"gate resid {info['gate_residual_rms_v'] * 1e3:7.2f} mV  "
            f"score {info['score']:6.2f}  alarms {info['alarms']}  "
            f"E board {info['board_energy_j'] * 1e3:.3f} mJ  "
            f"twin {info['twin_energy_j'] * 1e3:.3f} mJ"
        )
        sys.stderr.write(("\r" + line) if tty else (line + "\n"))
        sys.stderr.flush()

    return show


def run_shadow(
    board: Any,
    *,
    duration_s: float,
    shadow_config: Any,
    seed: int,
    edges: Any = None,
    spread: Any = None,
    out: Path | None,
    db: str | None,
    no_db: bool,
    plot: Path | None,
    params: Mapping[str, Any],
    progress: bool = True,
    view: Any = None,
) -> dict[str, Any]:
    """:func:`twin.shadow.run.run_shadow` with the CLI's recording, progress line and live page."""
    from twin.shadow.run import run_shadow as run

    watchers: list[Any] = [lambda _shadow: progress_printer(progress)]
    if view is not None:
        watchers.append(lambda shadow: _view_feed(view, shadow))
    try:
        with recorded_dispatch(out, db, no_db) as dispatch:
            if view is not None:
                dispatch.subscribe(view.state)
            result = run(
                board,
                duration_s=duration_s,
                config=shadow_config,
                seed=seed,
                emit=dispatch if dispatch else None,
                edges=edges,
                spread=spread,
                params=params,
                watchers=watchers,
                plot=plot,
            )
    finally:
        if progress and sys.stderr.isatty():
            sys.stderr.write("\n")
    return result.summary  # the alarms reached the ledger as documents, as they happened


def _view_feed(view: Any, shadow: Any) -> Any:
    """A progress callback feeding the live page (link status, alarms) from ``shadow``."""
    from ..view import ShadowFeed

    feed = ShadowFeed(view.state, shadow)
    shadow.on_alarm = feed.alarm
    return feed
