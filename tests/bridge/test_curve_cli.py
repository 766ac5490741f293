"""CURVE from the command line, across processes: ``twin keys`` makes the key pairs, ``twin
board --curve-secret --curve-clients`` serves only the allowed client, ``twin record`` and
``twin shadow --connect`` with the client's keys join it; an intruder's key gets nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import zmq

from tests.helpers import run_cli
from tests.ports import free_port_run

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "TWIN_DB_URL": "off"}


def test_keys_command(capsys: Any, tmp_path: Path) -> None:
    code, out, err = run_cli(capsys, "keys", "alice", "--out", str(tmp_path), "--json")
    assert code == 0, err
    made = json.loads(out.strip().splitlines()[-1])
    assert Path(made["public"]).name == "alice.key"
    assert (Path(made["secret"]).stat().st_mode & 0o777) == 0o600
    public, secret = zmq.auth.load_certificate(made["secret"])
    assert len(public) == len(secret) == 40
    before = Path(made["secret"]).read_bytes()
    code, _, err = run_cli(capsys, "keys", "alice", "--out", str(tmp_path))
    assert code == 2
    assert "never overwritten" in err
    assert Path(made["secret"]).read_bytes() == before
    for args, needle in (
        (["board", "--curve-secret", made["public"]], "no secret key"),
        (["board", "--curve-clients", str(tmp_path)], "needs --curve-secret"),
        (["shadow", "--connect", "tcp://127.0.0.1:5555", "--curve-secret", made["secret"]],
         "together"),
        (["record", "--connect", "tcp://127.0.0.1:5555", "--out", str(tmp_path / "r.rec"),
          "--curve-secret", str(tmp_path / "nope"), "--curve-server", made["public"]],
         "does not exist"),
        (["keys", "../x"], "NAME"),
    ):  # fmt: skip
        code, _, err = run_cli(capsys, *args)
        assert code == 2, err
        assert needle in err
        assert len(err.strip().splitlines()) == 1


@pytest.mark.skipif(not zmq.has("curve"), reason="libzmq without CURVE")
def test_curve_across_processes(capsys: Any, tmp_path: Path) -> None:
    """The board in its own process; the clients (this process) with the right and wrong keys."""
    allowed = tmp_path / "allowed"
    for name, folder in (("board", tmp_path), ("alice", allowed), ("mallory", tmp_path)):
        assert run_cli(capsys, "keys", name, "--out", str(folder))[0] == 0
    (allowed / "alice.key_secret").rename(tmp_path / "alice.key_secret")  # only publics allowed
    port = free_port_run()
    endpoint = f"tcp://127.0.0.1:{port}"
    board = subprocess.Popen(
        [sys.executable, "-m", "twin", "board", "--bind", endpoint, "--rate-hz", "200",
         "--duration", "60", "--curve-secret", str(tmp_path / "board.key_secret"),
         "--curve-clients", str(allowed), "--json"],
        env=ENV, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        from hw_bridge.probe import probe_endpoint

        deadline = time.monotonic() + 40
        while True:  # poll until the board listens
            try:
                probe_endpoint(endpoint, 1.0)
                break
            except Exception:
                assert board.poll() is None, board.communicate()
                assert time.monotonic() < deadline, "board did not start"
                time.sleep(0.2)
        keys = ["--curve-server", str(tmp_path / "board.key")]
        alice = ["--curve-secret", str(tmp_path / "alice.key_secret"), *keys]
        code, out, err = run_cli(capsys, "record", "--connect", endpoint, "--out",
                                 str(tmp_path / "a.rec"), "--duration", "1", "--json",
                                 *alice)  # fmt: skip
        assert code == 0, err
        summary = json.loads(out.strip().splitlines()[-1])
        assert summary["records"] > 50
        assert summary["board_id"] == "emulated-board"
        code, out, err = run_cli(capsys, "shadow", "--connect", endpoint, "--duration", "0.5",
                                 "--no-db", "--json", *alice)  # fmt: skip
        assert code == 0, err
        assert json.loads(out.strip().splitlines()[-1])["frames"] > 10
        mallory = ["--curve-secret", str(tmp_path / "mallory.key_secret"), *keys]
        code, _, err = run_cli(capsys, "record", "--connect", endpoint, "--out",
                               str(tmp_path / "m.rec"), "--duration", "1", *mallory)  # fmt: skip
        assert code == 2
        assert "no snapshot" in err
        assert len(err.strip().splitlines()) == 1, err
    finally:
        board.terminate()
        board.communicate(timeout=30)


def test_protocol_doc_names_the_key_options_the_commands_have() -> None:
    from twin.cli import _register, cli

    _register()
    doc = (ROOT / "schemas" / "PROTOCOL.md").read_text()
    ctx = cli.make_context("twin", ["keys", "x"], resilient_parsing=True)
    options = {
        name: {opt for p in cli.get_command(ctx, name).params for opt in p.opts}  # type: ignore[union-attr]
        for name in ("board", "shadow", "record")
    }
    assert {"--curve-secret", "--curve-clients"} <= options["board"]
    for name in ("shadow", "record"):
        assert {"--curve-secret", "--curve-server"} <= options[name]
    for text in ("twin keys NAME", "--curve-secret", "--curve-clients", "--curve-server",
                 "ZMQ_CURVE_SERVER", "ZMQ_CURVE_SERVERKEY", "zeromq.zap.01"):  # fmt: skip
        assert text in doc
