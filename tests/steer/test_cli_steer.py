"""``twin steer`` from the command line: bad input is a one-line error (exit 2); a board in
another process (``twin board``) is steered over ZeroMQ to the tolerance."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from tests.helpers import run_cli as run


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--emulate", "--tolerance", "-1"], "--tolerance"),
        (["--emulate", "--tolerance", "nan"], "--tolerance"),
        (["--emulate", "--tolerance-rel", "2"], "--tolerance-rel"),
        (["--emulate", "--tolerance", "1e-5", "--tolerance-rel", "1e-3"], "exactly one"),
        (["--emulate"], "exactly one"),
        (["--emulate", "--tolerance", "1e-5", "--budget-j", "0"], "--budget-j"),
        (["--emulate", "--tolerance", "1e-5", "--budget-j", "inf"], "--budget-j"),
        (["--emulate", "--tolerance", "1e-5", "--policy", "fixed", "--lam", "3"], "--lam"),
        (["--connect", "garbage", "--tolerance", "1e-5"], "endpoint 'garbage'"),
        (["--tolerance", "1e-5"], "--emulate or --connect"),
        (
            ["--connect", "tcp://127.0.0.1:5555", "--calibrate", "--tolerance", "1e-5"],
            "--calibrate",
        ),
    ],
)
def test_bad_input_is_a_one_line_error(capsys, args, needle) -> None:
    code, out, err = run(capsys, "steer", *args)
    assert code == 2
    assert needle in err
    assert len(err.strip().splitlines()) == 1
    assert out == ""


def test_no_board_at_the_endpoint_is_a_one_line_error(capsys) -> None:
    port = _free_base_port()
    code, _, err = run(
        capsys,
        "steer",
        "--connect",
        f"tcp://127.0.0.1:{port}",
        "--tolerance",
        "1e-5",
        "--join-timeout-s",
        "0.3",
    )
    assert code == 2
    assert "no snapshot" in err
    assert len(err.strip().splitlines()) == 1


def _free_base_port() -> int:
    """A base port whose two successors are free too (the board binds base, +1, +2)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base > 65000:
            continue
        try:
            socks = [socket.socket() for _ in range(3)]
            for i, sk in enumerate(socks):
                sk.bind(("127.0.0.1", base + i))
        except OSError:
            continue
        finally:
            for sk in socks:
                sk.close()
        return base
    raise RuntimeError("no free port triple")


@pytest.mark.slow  # ~25 s: a second interpreter boots the board, which runs in real time
def test_steers_a_board_in_another_process(capsys) -> None:
    port = _free_base_port()
    endpoint = f"tcp://127.0.0.1:{port}"
    board = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "twin",
            "board",
            "--bind",
            endpoint,
            "--variation",
            "none",
            "--duration",
            "120",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ),
    )
    try:
        code, out, err = run(
            capsys,
            "steer",
            "--connect",
            endpoint,
            "--tolerance-rel",
            "1e-2",
            "--json",
            "--join-timeout-s",
            "60",
        )
    finally:
        board.terminate()
        board.wait(timeout=30)
    assert code == 0, err
    s = json.loads(out.strip().splitlines()[-1])
    for key in (
        "reached",
        "error_initial",
        "error_final",
        "training_energy_j",
        "baseline_energy_j",
        "steps",
        "commands_sent",
        "commands_refused",
        "replans",
        "board_time_s",
    ):
        assert key in s
    assert s["reached"], s
    assert s["commands_refused"] == 0
    assert s["safe_mode"].startswith("idle")
