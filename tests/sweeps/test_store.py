"""Liveness of running cells: which running cells count as missing."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

from twin.sweeps.store import STALE_S, CellState, is_live


def _running(**over) -> CellState:
    fields = {"cell_id": "c", "status": "running", "owner_host": socket.gethostname(),
              "owner_pid": os.getppid(), "heartbeat_unix": time.time()}  # fmt: skip
    fields.update(over)
    return CellState(**fields)


def test_a_running_cell_of_a_live_local_process_is_live() -> None:
    assert is_live(_running())


def test_a_running_cell_of_a_dead_local_process_is_missing() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    assert not is_live(_running(owner_pid=proc.pid))  # however fresh its heartbeat


def test_this_process_s_own_leftovers_are_missing() -> None:
    # a run_sweep that ended in this process left them; no sweep of ours is running now
    assert not is_live(_running(owner_pid=os.getpid()))


def test_another_host_is_judged_by_its_heartbeat() -> None:
    now = time.time()
    fresh = _running(owner_host="elsewhere", owner_pid=1, heartbeat_unix=now - 1)
    stale = _running(owner_host="elsewhere", owner_pid=1, heartbeat_unix=now - STALE_S - 1)
    assert is_live(fresh, now=now)
    assert not is_live(stale, now=now)
    assert not is_live(_running(owner_host="elsewhere", heartbeat_unix=None), now=now)


def test_only_running_cells_can_be_live() -> None:
    for status in ("pending", "done", "failed"):
        assert not is_live(_running(status=status))
