"""Alarms are documents of the shadow's run, and the ledger holds each one as it happens."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.helpers import run_cli
from tests.shadow.test_shadow import KNOWN_BOARD, emulator, shadow
from twin.board.inprocess import Fault, InProcessBoard
from twin.board.variation import HiddenVariation
from twin.documents import JsonLinesWriter, alarm_doc, start_doc, validate_document
from twin.ledger import LedgerWriter, import_file, list_alarms, open_ledger

ROOT = Path(__file__).resolve().parents[2]


def _alarm_docs(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in docs if d["doc"] == "alarm"]


def test_an_alarm_is_a_document_of_the_twin_run_when_raised_and_again_when_it_ends() -> None:
    emu = emulator(5, HiddenVariation.typical())
    board = InProcessBoard(emu, faults=[Fault(t_s=1.0, edge=7, changes={"free_gain_factor": 3.0})])
    sh, docs, alarms = shadow(board, KNOWN_BOARD)
    sh.edges = emu.edges  # a twin that knows the board, so only the fault shows
    sh.run(1.6)
    raised = _alarm_docs(docs.docs)
    assert len(raised) == 1  # as it happened, not at the stop
    assert not docs.of("stop")
    doc = raised[0]
    validate_document(doc)
    twin_run = sh.recorder.twin.uid
    assert (doc["run"], doc["seq"], doc["end_s"]) == (twin_run, 0, None)
    assert doc["code"] == "shadow_divergence"
    assert doc["t_s"] == alarms[0].start_s >= 1.0
    assert json.loads(doc["message"].split(": ", 1)[1])["edges"][0] == 7
    sh.close()
    ended = _alarm_docs(docs.docs)[1:]
    assert len(ended) == 1
    validate_document(ended[0])
    assert (ended[0]["seq"], ended[0]["t_s"]) == (0, doc["t_s"])  # the same episode
    assert ended[0]["end_s"] == sh.monitor.alarms[0].end_s is not None
    assert docs.docs.index(ended[0]) < docs.docs.index(docs.of("stop")[0])


def _docs(run: str) -> list[dict[str, Any]]:
    start = dict(start_doc(source="twin", kind="shadow", params={}, board="b1", uid=run))
    raised = dict(
        alarm_doc(run, 0, 2.5, severity="warning", code="shadow_divergence",
                  message='board departs: {"end_s":null}', board="b1")
    )  # fmt: skip
    ended = {**raised, "end_s": 2.9, "message": 'board departs: {"end_s":2.9}'}
    return [start, raised, ended]


def test_the_ledger_writer_commits_an_alarm_before_returning_and_keeps_one_row_per_episode(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    start, raised, ended = _docs("ab12")
    with open_ledger(url) as ledger:
        writer = LedgerWriter(ledger, flush_interval_s=60.0)  # nothing committed by the clock
        writer(start)
        writer(raised)
        with open_ledger(url, read_only=True) as reader:  # another connection, no flush
            rows = list_alarms(reader)
        assert [(r["run"], r["t_s"], r["message"]) for r in rows] == [
            ("ab12", 2.5, raised["message"])
        ]
        writer(ended)
        with open_ledger(url, read_only=True) as reader:
            rows = list_alarms(reader)
        assert [r["message"] for r in rows] == [ended["message"]]  # the episode's row, updated
        writer.close()
    path = tmp_path / "docs.jsonl"
    out = JsonLinesWriter(path)
    for doc in (start, raised, ended):
        out(doc)
    out.close()
    with open_ledger(url) as ledger:
        import_file(ledger, path)  # a replayed stream adds nothing
        assert [r["message"] for r in list_alarms(ledger)] == [ended["message"]]
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    with open_ledger(fresh) as ledger:
        import_file(ledger, path)
        import_file(ledger, path)
        assert [r["message"] for r in list_alarms(ledger)] == [ended["message"]]


def _wait_for_alarm(url: str, proc: subprocess.Popen[bytes], timeout_s: float) -> list[Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"twin shadow exited early with code {proc.returncode}"
        if Path(url.removeprefix("sqlite:///")).exists():
            try:
                with open_ledger(url, read_only=True) as reader:
                    rows = list_alarms(reader)
            except Exception:
                rows = []
            if rows:
                return rows
        threading.Event().wait(0.2)  # poll interval of a bounded wait, not synchronisation
    raise AssertionError(f"no alarm in the ledger after {timeout_s} s")


@pytest.mark.slow  # a second interpreter shadows an emulated board
def test_a_killed_shadow_leaves_its_alarm_in_the_ledger(capsys, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "twin", "shadow", "--emulate", "--variation", "none",
         "--fault", "7:free_gain=3@3", "--duration", "3600", "--db", url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        cwd=tmp_path,
    )  # fmt: skip
    try:
        _wait_for_alarm(url, proc, timeout_s=240.0)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL  # no stop, no flush at exit
    code, out, err = run_cli(capsys, "energy", "alarms", "--db", url, "--format", "json")
    assert code == 0, err
    alarms = json.loads(out)
    assert [a["code"] for a in alarms] == ["shadow_divergence"]
    assert alarms[0]["edges"][0] == 7
    assert alarms[0]["start_s"] >= 3.0
    with open_ledger(url, read_only=True) as reader:
        from twin.ledger import show_run

        assert show_run(reader, alarms[0]["run"])["run"]["status"] == "running"  # killed mid-run
    assert np.isfinite(alarms[0]["score_max"])
