"""Steering in the ledger: the ``steer`` run kind and the commands table (migration 0005), a
steering run recorded end to end, and ``twin energy steer`` (read-only)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests import ledger_support
from tests.helpers import run_cli
from tests.ledger_support import migrate, scalar
from tests.steer.conftest import emulated
from twin.documents import JsonLinesWriter
from twin.ledger import import_file, open_ledger, recording, steer_runs
from twin.ledger.db import VERSION_TABLE, head_revision, resolve_url
from twin.ledger.models import runs
from twin.steer import PolicySpec, SteerConfig, steer_board
from twin.steer.planner import PlannerConfig

# the backends' fixtures (a fresh SQLite file; a fresh PostgreSQL schema, marker postgres)
ledger_url = ledger_support.ledger_url
sqlite_url = ledger_support.sqlite_url
pg_url = ledger_support.pg_url
pg_server = ledger_support.pg_server

REL = 1e-2


def _run_row(uid: str, kind: str) -> dict[str, Any]:
    return {
        "uid": uid,
        "source": "board",
        "kind": kind,
        "realizations": 1,
        "params": {},
        "code_version": "0",
        "started_unix": 1.0,
        "status": "complete",
    }


def test_migration_adds_the_steer_kind_and_keeps_the_check(ledger_url: str) -> None:
    engine = sa.create_engine(resolve_url(ledger_url))

    try:
        with engine.begin() as conn:
            migrate(conn, "0004")
            conn.execute(sa.insert(runs).values(_run_row("old", "train")))
        with engine.begin() as conn, pytest.raises(sa.exc.IntegrityError):
            conn.execute(sa.insert(runs).values(_run_row("early", "steer")))  # not yet
    finally:
        engine.dispose()
    with open_ledger(ledger_url) as led:
        assert scalar(led, f"SELECT version_num FROM {VERSION_TABLE}") == head_revision()
        assert scalar(led, "SELECT kind FROM runs WHERE uid = 'old'") == "train"
        with led.engine.begin() as conn:
            conn.execute(sa.insert(runs).values(_run_row("s1", "steer")))
        # the constraint is widened, not dropped: an unknown kind is still refused
        with led.engine.begin() as conn, pytest.raises(sa.exc.IntegrityError):
            conn.execute(sa.insert(runs).values(_run_row("bad", "bogus")))
        if led.dialect == "sqlite":
            assert scalar(led, "PRAGMA integrity_check") == "ok"
        assert scalar(led, "SELECT COUNT(*) FROM ledger_steer_runs") == 1
    engine = sa.create_engine(resolve_url(ledger_url))
    try:  # down again: refused while a steer run is recorded, then the old constraint is back
        with engine.begin() as conn, pytest.raises(RuntimeError, match="steer runs"):
            migrate(conn, "0004", down=True)
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM runs WHERE uid = 's1'"))
            migrate(conn, "0004", down=True)
        with engine.begin() as conn, pytest.raises(sa.exc.IntegrityError):
            conn.execute(sa.insert(runs).values(_run_row("late", "steer")))
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def steered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One predictive steering run of an emulated board, its documents in a JSON-lines file."""
    path = tmp_path_factory.mktemp("steer") / "run.jsonl"
    writer = JsonLinesWriter(path)
    planner = PlannerConfig(lams=(0.0, 0.1), switch_factors=(30.0,))
    try:
        res = steer_board(
            emulated(),
            policy=PolicySpec(name="predictive", planner=planner),
            config=SteerConfig(tolerance_rel=REL),
            emit=writer,
        )
    finally:
        writer.close()
    docs = [json.loads(line) for line in path.read_text().splitlines()]
    return {"summary": res.summary, "uid": res.uid, "docs": docs, "path": path}


def test_a_steering_run_is_recorded_with_its_commands_and_energy(
    ledger_url: str, steered: dict[str, Any]
) -> None:
    s, uid, docs = steered["summary"], steered["uid"], steered["docs"]
    assert s["reached"], s
    with open_ledger(ledger_url) as led:
        with recording(led) as writer:
            for doc in docs:
                writer(doc)
        with led.read() as conn:
            run = conn.execute(
                sa.text("SELECT kind, source, status FROM runs WHERE uid = :u"), {"u": uid}
            ).one()
            assert tuple(run) == ("steer", "board", "complete")
            rows = conn.execute(
                sa.text(
                    "SELECT seq, name, status, attempts, ack_code FROM commands "
                    "WHERE run_uid = :u ORDER BY seq"
                ),
                {"u": uid},
            ).all()
        sent = [d for d in docs if d["doc"] == "command"]
        assert [(r.seq, r.name, r.status) for r in rows] == [
            (d["seq"], d["name"], d["status"]) for d in sent
        ]
        assert all(r.ack_code == "ok" for r in rows if r.status == "acked")
        # board energy per phase: the ledger's training total is the meter's (pre-steer included)
        training = scalar(
            led,
            "SELECT SUM(energy_j) FROM entries WHERE run_uid = :u AND phase = 'training' "
            "AND component = 'free_network'",
            u=uid,
        )
        assert training == pytest.approx(s["training_energy_j"] + s["pre_steer_energy_j"], rel=1e-9)
        # the twin's runs: the plan followed and the lambda = 0 baseline, each naming the board's
        base = scalar(
            led,
            "SELECT SUM(energy_j) FROM entries WHERE run_uid = :u AND source = 'twin'",
            u=s["baseline_run"],
        )
        assert base == pytest.approx(s["baseline_energy_j"], rel=1e-9)
        assert len(s["plan_runs"]) == 1 + s["replans"]
        report = steer_runs(led, since="1d")
    (row,) = report["runs"]
    assert row["run"] == uid
    assert row["policy"] == "predictive"
    assert row["reached"] is True
    assert row["training_energy_j"] == pytest.approx(s["training_energy_j"])
    assert row["saved_j"] == pytest.approx(s["baseline_energy_j"] - s["training_energy_j"])
    assert row["commands"] == len(rows)
    assert report["total"]["runs"] == 1
    assert report["total"]["saved_j"] == pytest.approx(row["saved_j"])


def test_import_of_a_steering_run_records_its_commands_once(
    sqlite_url: str, steered: dict[str, Any]
) -> None:
    with open_ledger(sqlite_url) as led:
        first = import_file(led, steered["path"])
        again = import_file(led, steered["path"])
        n = scalar(led, "SELECT COUNT(*) FROM commands WHERE run_uid = :u", u=steered["uid"])
    assert n == sum(d["doc"] == "command" for d in steered["docs"])
    assert first.recorded > 0
    assert again.recorded == 0


def test_twin_energy_steer_reads_without_writing(
    sqlite_url: str, steered: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    with open_ledger(sqlite_url) as led:
        import_file(led, steered["path"])
    db = sqlite_url.removeprefix("sqlite:///")
    before = Path(db).stat().st_mtime_ns, Path(db).read_bytes()
    args = ["energy", "steer", "--db", sqlite_url, "--format", "json", "--since", "7d"]
    code, out, err = run_cli(capsys, *args)
    assert code == 0, err
    report = json.loads(out)
    assert report["runs"][0]["run"] == steered["uid"]
    assert report["total"]["reached"] == 1
    assert (Path(db).stat().st_mtime_ns, Path(db).read_bytes()) == before
    code, out, err = run_cli(
        capsys, "energy", "runs", "--db", sqlite_url, "--kind", "steer", "--format", "json"
    )
    assert code == 0, err
    listed = {(r["run"], r["source"]) for r in json.loads(out)}
    assert (steered["uid"], "board") in listed
    assert (steered["summary"]["baseline_run"], "twin") in listed
