"""Run a shadow from open to close: documents, alarms, plot and the summary (library, not CLI).

The composition around :class:`~twin.shadow.shadow.Shadow` that every caller (``twin shadow``,
``twin demo``, a lab script) needs: open the shadow on a board, advance it for a stretch of board
time, close the board and the run and plot (the alarms go out as documents of the run as they
happen: a subscribed ledger holds them at once). Presentation stays
with the caller: the progress line and the live page are *watchers*, each called once with the
opened shadow and returning a progress callback (or ``None``), so nothing here imports the CLI or
the page.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from twin.board.contract import Board
from twin.documents import Subscriber

from .alarms import Alarm
from .config import ShadowConfig
from .detector import SpreadModel
from .shadow import Shadow

__all__ = ["Progress", "ShadowRun", "ShadowWatcher", "run_shadow"]

#: A progress callback: called with the shadow's progress info (``Shadow.progress_info``).
Progress = Callable[[Mapping[str, Any]], None]
#: Called once with the opened shadow; returns a progress callback to feed, or ``None``.
ShadowWatcher = Callable[[Shadow], Progress | None]


@attrs.frozen(kw_only=True)
class ShadowRun:
    """What a shadow run leaves: its summary (the ``--json`` object), alarms and twin run uid."""

    summary: dict[str, Any]
    alarms: list[Alarm]
    twin_uid: str


def _fan_out(callbacks: Sequence[Progress]) -> Progress | None:
    if not callbacks:
        return None

    def every(info: Mapping[str, Any]) -> None:
        for callback in callbacks:
            callback(info)

    return every


def run_shadow(
    board: Board,
    *,
    duration_s: float,
    config: ShadowConfig,
    seed: int,
    emit: Subscriber | None = None,
    edges: Any = None,
    params: Mapping[str, Any] | None = None,
    watchers: Sequence[ShadowWatcher] = (),
    plot: Path | None = None,
    spread: SpreadModel | None = None,
) -> ShadowRun:
    """Shadow ``board`` for ``duration_s`` of board time: the summary and the alarms.

    ``emit`` receives both runs' documents (board and twin); ``edges`` are calibrated per-edge
    parameters (``None``: the nominal device model) and ``spread`` the fault-free residual
    spread learned with them (:class:`~twin.shadow.detector.SpreadModel`); ``plot`` a PNG
    path. The board is closed on return, and the runs are
    closed ``aborted`` (then the exception re-raised) if anything fails mid-run.
    """
    t0 = time.perf_counter()
    shadow = Shadow(
        board,
        config,
        rng=np.random.default_rng([seed, 3]),
        emit=emit,
        edges=edges,
        params=params or {},
        spread=spread,
    )
    shadow.open()
    try:
        progress = _fan_out([cb for w in watchers if (cb := w(shadow)) is not None])
        shadow.run(duration_s, progress=progress)
    except BaseException as exc:
        shadow.close(status="aborted", reason=f"{type(exc).__name__}: {exc}")
        raise
    finally:
        board.close()
    summary = shadow.close()
    wall_s = time.perf_counter() - t0
    summary["wall_s"] = wall_s
    summary["realtime_factor"] = summary["board_time_s"] / wall_s if wall_s > 0 else math.inf
    alarms = shadow.alarms  # the detector's, the probe's and the node check's, oldest first
    summary["alarm_list"] = [a.as_dict() for a in alarms]
    if plot is not None:
        from .plots import plot_shadow

        plot_shadow(
            shadow.history.arrays(),
            plot,
            alarms=alarms,
            title=f"shadow of {board.board_id}",
        )
    return ShadowRun(summary=summary, alarms=list(alarms), twin_uid=shadow.recorder.twin.uid)
