"""SIGKILL of recorded ``twin train`` / ``twin simulate`` runs: the run row, and the loss window.

The measurement is ``benchmarks/bench_kill_window.py``'s (:func:`measure_kill`): the age, at the
kill, of the oldest emitted document missing from the ledger. The documented window is 0.25 s;
the tests allow 1 s so that a loaded machine does not fail them (the benchmark reports the
median and worst of many kills).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

from tests.ledger_support import pg_server, pg_url, sqlite_url
from twin.ledger import open_ledger, show_run

__all__ = ["pg_server", "pg_url", "sqlite_url"]  # fixtures, re-exported

ROOT = Path(__file__).resolve().parents[2]


def _bench() -> Any:
    path = ROOT / "benchmarks" / "bench_kill_window.py"
    spec = importlib.util.spec_from_file_location("bench_kill_window", path)
    assert spec is not None
    assert spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _kill_once(command: str, url: str, tmp_path: Path) -> None:
    got = _bench().measure_kill(command, url, tmp_path, delay_s=0.5)
    assert got["run_row"]
    assert got["window_s"] < 1.0, got
    with open_ledger(url) as led:  # the next open repairs the killed run
        assert show_run(led, got["run"])["run"]["status"] == "aborted"


@pytest.mark.parametrize(
    "command", ["simulate", pytest.param("train", marks=pytest.mark.slow)]
)  # `twin train` is also killed (window not measured) by test_ledger.py
def test_sigkill_loses_at_most_the_window(
    command: str, sqlite_url: str, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("TWIN_SPOOL_DIR", str(tmp_path / "spool"))
    _kill_once(command, sqlite_url, tmp_path)


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.parametrize("command", ["simulate", "train"])
def test_sigkill_loses_at_most_the_window_on_postgres(
    command: str, pg_url: str, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("TWIN_SPOOL_DIR", str(tmp_path / "spool"))
    _kill_once(command, pg_url, tmp_path)


def test_a_run_killed_right_after_its_start_is_found_and_aborted(
    sqlite_url: str, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("TWIN_SPOOL_DIR", str(tmp_path / "spool"))
    # killed as soon as its first document after the start is out (the start is committed
    # before the run goes on)
    got = _bench().measure_kill("simulate", sqlite_url, tmp_path, delay_s=0.0, min_docs=2)
    assert got["run_row"]
    with open_ledger(sqlite_url) as led:
        run = show_run(led, got["run"])["run"]
    assert run["status"] == "aborted"
    assert "gone" in run["reason"]
