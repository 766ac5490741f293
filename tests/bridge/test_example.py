"""The lab-host example runs, publishes, and takes commands through its loop."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hw_bridge import BoardState, Command

ROOT = Path(__file__).resolve().parents[2]


def test_lab_host_example_bridges_a_loop(make_client) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "hw_bridge.examples.lab_host", "--duration", "20"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        endpoint = proc.stdout.readline().split(" at ")[1].strip()
        board = make_client(endpoint, board_id="lab-board-1")
        assert board.snapshot(5.0).config.params["eta"] == 0.22
        assert board.command(Command(name="start_training", key="go")).ok
        refused = board.command(Command(name="load_task", key="t", args={"task": {}}))
        assert (refused.ok, refused.code) == (False, "unsupported")
        modes: list[str] = []
        for _ in range(100):
            modes += [u.mode for u in board.poll(0.1) if isinstance(u, BoardState)]
            if "training" in modes:
                break
        assert "training" in modes
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
