"""The energy ledger: schema and migrations, exact and idempotent writes, kill-safety, queries."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import twin.ledger
from tests.ledger_support import (
    hand_built_run,
    ledger,
    ledger_url,
    pg_server,
    pg_url,
    record,
    rows,
    scalar,
    sqlite_url,
    wait_for,
)
from twin.documents import Collector, Dispatcher, energy_doc, start_doc, stop_doc
from twin.errors import ConfigError
from twin.learning.trainer import TrainConfig, Trainer
from twin.ledger import (
    LedgerConnectionError,
    LedgerError,
    LedgerQueryError,
    RunNotFoundError,
    compare_runs,
    energy_history,
    energy_to_tolerance,
    list_runs,
    open_ledger,
    parse_duration,
    parse_time,
    record_alarm,
    recording,
    repair_runs,
    show_run,
)
from twin.ledger.db import VERSION_TABLE, alembic_config, default_path, head_revision, resolve_url
from twin.ledger.models import VIEW_COLUMNS, VIEWS, entries, metadata, runs, samples
from twin.physics.task_spec import build_tasks

__all__ = ["ledger", "ledger_url", "pg_server", "pg_url", "sqlite_url"]  # fixtures, re-exported

ROOT = Path(__file__).resolve().parents[2]


def _codegen() -> Any:
    spec = importlib.util.spec_from_file_location("codegen", ROOT / "schemas" / "codegen.py")
    assert spec is not None
    assert spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _train_docs(steps: int = 300, realizations: int = 2, every_step: bool = False) -> Any:
    tasks = build_tasks("allostery", None, seed=3, realizations=realizations)
    # log-spaced records include every step once there are ~steps * ln(steps) of them
    config = TrainConfig(steps=steps, n_records=20 * steps if every_step else 40)
    collector = Collector()
    result = Trainer(tasks, config).run(emit=collector, params={"steps": steps})
    return result, collector.docs


# --------------------------------------------------------------------------- schema, migrations


def test_public_api_is_explicit_and_sorted() -> None:
    assert twin.ledger.__all__ == sorted(twin.ledger.__all__)
    for name in twin.ledger.__all__:
        assert hasattr(twin.ledger, name), name


def test_generated_tables_match_the_schema() -> None:
    committed = (ROOT / "twin" / "ledger" / "_tables.py").read_text()
    assert _codegen().generate_tables() == committed, "run `python schemas/codegen.py`"


def test_codegen_notices_a_ledger_schema_change(tmp_path: Path, monkeypatch) -> None:
    mod = _codegen()
    for name in mod.SCHEMA_FILES:
        (tmp_path / name).write_text((ROOT / "schemas" / name).read_text())
    schema = tmp_path / "ledger.schema.json"
    schema.write_text(schema.read_text().replace('"maxLength": 32', '"maxLength": 48'))
    monkeypatch.setattr(mod, "HERE", tmp_path)
    assert mod.generate_tables() != (ROOT / "twin" / "ledger" / "_tables.py").read_text()


def _schema_diff(ledger_: Any, target: sa.MetaData) -> list[Any]:
    with ledger_.engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn, opts={"version_table": VERSION_TABLE, "compare_type": True}
        )
        return list(compare_metadata(ctx, target))


def test_migrations_from_empty_give_exactly_the_models(ledger) -> None:
    assert scalar(ledger, f"SELECT version_num FROM {VERSION_TABLE}") == head_revision()
    assert _schema_diff(ledger, metadata) == []
    # the comparison is not vacuous: a column the database lacks is reported
    extra = sa.MetaData()
    for table in metadata.sorted_tables:
        table.to_metadata(extra)
    extra.tables["entries"].append_column(sa.Column("extra_j", sa.Double()))
    assert any(d[0] == "add_column" for d in _schema_diff(ledger, extra))


def test_migrated_views_are_the_schema_views(ledger) -> None:
    insp = sa.inspect(ledger.engine)
    assert sorted(insp.get_view_names()) == sorted(VIEWS)
    for name, columns in VIEW_COLUMNS.items():
        assert [c["name"] for c in insp.get_columns(name)] == list(columns), name
    if ledger.dialect == "sqlite":  # the migration's frozen SQL is the schema's
        for name, variants in VIEWS.items():
            sql = variants.get("sqlite", variants.get("default"))
            stored = scalar(ledger, "SELECT sql FROM sqlite_master WHERE name = :n", n=name)
            assert stored == f"CREATE VIEW {name} AS\n{sql}"


def test_upgrade_from_an_older_revision_keeps_data(ledger_url: str) -> None:
    engine = sa.create_engine(resolve_url(ledger_url))
    try:
        with engine.begin() as conn:
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0001")  # tables, no views yet
        with engine.begin() as conn:
            conn.execute(
                sa.insert(runs).values(
                    uid="old1",
                    source="twin",
                    kind="train",
                    realizations=1,
                    params={},
                    code_version="0.0.1",
                    started_unix=1.0,
                    status="complete",
                )
            )
            conn.execute(
                sa.insert(entries).values(
                    run_uid="old1",
                    seq=0,
                    component="free_network",
                    realization=0,
                    t0_s=0.0,
                    t1_s=1.0,
                    phase="training",
                    source="twin",
                    method="integral",
                    energy_j=2.5,
                )
            )
    finally:
        engine.dispose()
    with open_ledger(ledger_url) as led:
        assert scalar(led, f"SELECT version_num FROM {VERSION_TABLE}") == head_revision()
        assert scalar(led, "SELECT energy_j FROM ledger_run_totals WHERE run_uid = 'old1'") == 2.5


def test_a_newer_database_is_refused(sqlite_url: str) -> None:
    open_ledger(sqlite_url).close()
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE {VERSION_TABLE} SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(LedgerError, match="9999"):
        open_ledger(sqlite_url)


def test_sqlite_uses_wal_and_foreign_keys(sqlite_url: str) -> None:
    with open_ledger(sqlite_url) as led:
        assert scalar(led, "PRAGMA journal_mode") == "wal"
        assert scalar(led, "PRAGMA foreign_keys") == 1


def test_urls_and_default_location(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("TWIN_DB_URL", raising=False)
    if sys.platform.startswith("linux"):
        assert default_path() == tmp_path / "data" / "learning-twin" / "ledger.db"
    assert resolve_url(None) == f"sqlite:///{default_path()}"
    monkeypatch.setenv("TWIN_DB_URL", str(tmp_path / "x.db"))
    assert resolve_url(None) == f"sqlite:///{tmp_path / 'x.db'}"
    assert resolve_url("postgresql://u@h/db").startswith("postgresql+psycopg://")
    for bad, needle in [
        ("mysql://u@h/db", "unsupported"),
        ("sqlite://", "SQLite file"),
        ("postgresql://h:notaport/db", "cannot parse"),
        ("off", "turned off"),
    ]:
        with pytest.raises(ConfigError, match=needle):
            resolve_url(bad)


def test_unreachable_server_is_a_one_line_connection_error() -> None:
    with pytest.raises(LedgerConnectionError, match=r"^db: cannot open .*127\.0\.0\.1:1"):
        open_ledger("postgresql://postgres@127.0.0.1:1/test?connect_timeout=2")


# --------------------------------------------------------------------------- writing


def test_ledger_sum_equals_an_independent_integral_of_the_recorded_power(ledger) -> None:
    result, docs = _train_docs(steps=300, realizations=2, every_step=True)
    record(ledger, docs)
    uid = docs[0]["uid"]
    # Independent integral: the power is constant over each step, so integrate the sampled
    # power (one sample per step) exactly as a sum of rectangles between sample times.
    smp = [d for d in docs if d["doc"] == "sample"]
    assert [s["step"] for s in smp] == list(range(301))  # the power at every step
    t = np.array([s["t_s"] for s in smp])
    for key, comp in (("free_power_w", "free_network"), ("clamped_power_w", "clamped_network")):
        power = np.array([s["data"][key] for s in smp])  # (samples, R)
        integral = np.sum(power[:-1] * np.diff(t)[:, None], axis=0)
        booked = rows(
            ledger,
            "SELECT realization, SUM(energy_j) FROM entries WHERE run_uid = :u AND component = :c "
            "GROUP BY realization ORDER BY realization",
            u=uid,
            c=comp,
        )
        assert [r for r, _ in booked] == [0, 1]
        np.testing.assert_allclose([e for _, e in booked], integral, rtol=1e-12)
    np.testing.assert_allclose(
        [
            e
            for _, e in rows(
                ledger,
                "SELECT realization, SUM(energy_j) FROM entries WHERE "
                "component = 'free_network' GROUP BY realization "
                "ORDER BY realization",
            )
        ],
        result.training_energy_j,
        rtol=1e-12,
    )


def test_replaying_the_same_documents_leaves_totals_unchanged(ledger) -> None:
    _, docs = _train_docs()
    record(ledger, docs)
    before = list_runs(ledger)
    counts = (
        scalar(ledger, "SELECT COUNT(*) FROM entries"),
        scalar(ledger, "SELECT COUNT(*) FROM samples"),
    )
    record(ledger, docs)
    record(ledger, docs + docs, batch_size=7)  # duplicates within one batch too
    assert list_runs(ledger) == before
    assert (
        scalar(ledger, "SELECT COUNT(*) FROM entries"),
        scalar(ledger, "SELECT COUNT(*) FROM samples"),
    ) == counts
    assert before[0]["status"] == "complete"
    assert before[0]["entries"] == len([d for d in docs if d["doc"] == "energy"])


def test_views_agree_with_the_python_queries(ledger) -> None:
    _, docs = _train_docs()
    record(ledger, docs)
    record(ledger, hand_built_run())
    for run in list_runs(ledger):
        view = rows(
            ledger,
            "SELECT entries, energy_j, training_j, inference_j FROM ledger_run_totals "
            "WHERE run_uid = :u",
            u=run["run"],
        )
        assert view == [(run["entries"], run["energy_j"], run["training_j"], run["inference_j"])]
        shown = show_run(ledger, run["run"])
        per_comp = rows(
            ledger,
            "SELECT component, energy_j FROM ledger_run_energy WHERE run_uid = :u "
            "ORDER BY component",
            u=run["run"],
        )
        assert per_comp == [(r["component"], r["energy_j"]) for r in shown["energy"]]
    daily = scalar(ledger, "SELECT SUM(energy_j) FROM ledger_daily_energy")
    assert daily == pytest.approx(sum(r["energy_j"] for r in list_runs(ledger)), rel=1e-12)


def test_writer_failures_are_raised_not_swallowed(ledger) -> None:
    orphan = energy_doc("no-such-run", 0, 0.0, 1.0, 1.0, component="free_network")
    with pytest.raises(LedgerError, match="ledger writer"):
        record(ledger, [dict(orphan)])
    bad = start_doc(source="twin", kind="train", params={}, uid="badphase")
    entry = dict(energy_doc("badphase", 0, 0.0, 1.0, 1.0, component="free_network"))
    entry["phase"] = "warmup"
    with pytest.raises(LedgerError, match="phase must be one of"):
        record(ledger, [dict(bad), entry])


def _explode(ledger_: Any) -> None:
    with recording(ledger_) as writer:
        writer(start_doc(source="twin", kind="simulate", params={}, uid="boom"))
        writer(energy_doc("boom", 0, 0.0, 1.0, 0.5, component="free_network"))
        raise RuntimeError("kaput")


def test_an_exception_in_the_block_marks_the_run_aborted(ledger) -> None:
    with pytest.raises(RuntimeError, match="kaput"):
        _explode(ledger)
    info = show_run(ledger, "boom")
    assert info["run"]["status"] == "aborted"
    assert "kaput" in info["run"]["reason"]
    assert info["energy_j_total"] == 0.5


def _interrupted_training(ledger_: Any) -> None:
    tasks = build_tasks("allostery", None, seed=0, realizations=1)

    def progress(step: int, _total: int) -> None:
        if step >= 50:
            raise KeyboardInterrupt

    with recording(ledger_) as writer:
        Trainer(tasks, TrainConfig(steps=200)).run(emit=Dispatcher([writer]), progress=progress)


def test_trainer_failure_is_recorded_as_aborted(ledger) -> None:
    with pytest.raises(KeyboardInterrupt):
        _interrupted_training(ledger)
    (run,) = list_runs(ledger)
    assert run["status"] == "aborted"
    assert run["entries"] > 0


def test_alarms_are_recorded(ledger) -> None:
    record_alarm(ledger, severity="warning", code="lag", message="12 ms behind", board="b1")
    assert rows(ledger, "SELECT board, severity, code FROM alarms") == [("b1", "warning", "lag")]


# --------------------------------------------------------------------------- kill-safety, repair


@contextmanager
def _training(url: str) -> Iterator[subprocess.Popen[str]]:
    """A long ``twin train --db url`` in a subprocess, killed and reaped at the end."""
    args = [sys.executable, "-m", "twin", "train", "--steps", str(10**9), "--force", "--db", url]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)


def _committed_entries(url: str) -> list[tuple[Any, ...]]:
    with open_ledger(url, repair=False) as led:
        return rows(
            led,
            "SELECT run_uid, seq, component, realization, t0_s, t1_s, energy_j FROM entries "
            "ORDER BY run_uid, seq, component",
        )


def test_sigkill_keeps_every_committed_entry_and_the_run_ends_aborted(ledger_url: str) -> None:
    with _training(ledger_url) as proc:
        seen = wait_for(lambda: _committed_entries(ledger_url), what="committed entries")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    after = _committed_entries(ledger_url)
    assert set(seen) <= set(after)  # nothing committed was lost or altered
    assert len(after) == len(set(after)) == len({(r[0], r[1], r[2]) for r in after})
    with open_ledger(ledger_url, repair=False) as led:
        assert scalar(led, "SELECT status FROM runs") == "running"  # nobody closed it
    with open_ledger(ledger_url) as led:  # opening repairs
        (run,) = list_runs(led)
        assert run["status"] == "aborted"
        assert "gone" in show_run(led, run["run"])["run"]["reason"]
        assert run["entries"] == len(after)


def test_sigterm_flushes_and_records_the_run_as_aborted(sqlite_url: str) -> None:
    with _training(sqlite_url) as proc:
        wait_for(lambda: _committed_entries(sqlite_url), what="committed entries")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signal.SIGTERM, err
    with open_ledger(sqlite_url, repair=False) as led:
        (run,) = list_runs(led)
        assert run["status"] == "aborted"
        assert "SIGTERM" in show_run(led, run["run"])["run"]["reason"]


def test_repair_closes_runs_whose_writer_is_gone(ledger) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = socket.gethostname()
    now = time.time()
    cases = {
        "deadpid": (host, dead.pid, now),  # writer gone on this host
        "alive": (host, os.getpid(), now),  # this very process: alive
        "farstale": ("elsewhere.example", 4242, now - 3600),  # no heartbeat for an hour
        "farfresh": ("elsewhere.example", 4242, now),  # another host, recent heartbeat
    }
    with ledger.write() as conn:
        for uid, (w_host, pid, beat) in cases.items():
            conn.execute(
                sa.insert(runs).values(
                    uid=uid,
                    source="twin",
                    kind="train",
                    realizations=1,
                    params={},
                    code_version="x",
                    started_unix=now - 4000,
                    status="running",
                    writer_host=w_host,
                    writer_pid=pid,
                    heartbeat_unix=beat,
                )
            )
    assert sorted(repair_runs(ledger)) == ["deadpid", "farstale"]
    status = dict(rows(ledger, "SELECT uid, status FROM runs"))
    assert status == {
        "deadpid": "aborted",
        "alive": "running",
        "farstale": "aborted",
        "farfresh": "running",
    }
    assert repair_runs(ledger) == []


# --------------------------------------------------------------------------- queries


def test_to_tolerance_hand_built(ledger) -> None:
    record(ledger, hand_built_run("hand0001"))
    got = energy_to_tolerance(ledger, "hand", error=0.05)
    r0, r1 = got["realizations"]
    assert (r0["reached"], r0["t_s"], r0["step"], r0["error"]) == (True, 2.0, 2, 0.01)
    assert r0["components"] == {"free_network": 3.0, "clamped_network": 30.0}
    assert r0["energy_j"] == 33.0
    # realization 1: [0, 1.5] in full, 1/3 of [1.5, 3] (t* = 2): 3 + 6/3 = 5 J
    assert (r1["reached"], r1["t_s"], r1["error"]) == (True, 2.0, 0.05)
    assert r1["energy_j"] == pytest.approx(5.0, rel=1e-12)
    assert r1["min_error"] == 0.05  # the NaN sample is ignored
    never = energy_to_tolerance(ledger, "hand0001", error=1e-4)["realizations"]
    assert [(r["reached"], r["energy_j"], r["min_error"]) for r in never] == [
        (False, None, 0.001),
        (False, None, 0.05),
    ]
    at_once = energy_to_tolerance(ledger, "hand0001", error=1.0)["realizations"]
    assert [(r["t_s"], r["energy_j"]) for r in at_once] == [(0.0, 0.0), (0.0, 0.0)]


def test_to_tolerance_of_a_training_run_is_the_exact_partial_integral(ledger) -> None:
    result, docs = _train_docs(steps=400, realizations=1)
    record(ledger, docs)
    smp = [d for d in docs if d["doc"] == "sample"]
    tol = smp[len(smp) // 2]["data"]["error"][0] * 1.0000001
    got = energy_to_tolerance(ledger, "last", error=tol)["realizations"][0]
    first = next(s for s in smp if s["data"]["error"][0] <= tol)
    assert got["t_s"] == first["t_s"]
    # the sampled cumulative free energy at t* is the trainer's own running integral
    assert got["components"]["free_network"] == pytest.approx(
        first["data"]["energy_j"][0], rel=1e-12
    )
    assert got["energy_j"] <= result.training_energy_j[0] + result.clamped_energy_j[0]


def test_history_compare_and_run_lookup(ledger) -> None:
    record(ledger, hand_built_run("aa11"))
    record(ledger, hand_built_run("aa22"))
    with pytest.raises(LedgerQueryError, match="ambiguous"):
        show_run(ledger, "aa")
    with pytest.raises(RunNotFoundError, match="no run matches"):
        show_run(ledger, "zz")
    hist = energy_history(ledger, every="1h", phase="training")
    assert sum(r["energy_j"] for r in hist) == pytest.approx(2 * (7 + 70 + 9))
    assert {r["component"] for r in hist} == {"free_network", "clamped_network"}
    assert energy_history(ledger, since="2000-01-01", until="2000-01-02") == []
    cmp = compare_runs(ledger, "aa11", "aa22")
    assert cmp["total"] == {"a_j": 86.0, "b_j": 86.0, "ratio": 1.0}
    assert json.dumps(cmp)  # JSON-ready


@pytest.mark.parametrize(
    ("call", "needle"),
    [
        (lambda led: energy_to_tolerance(led, "hand0001", error=0.0), "error"),
        (lambda led: energy_to_tolerance(led, "hand0001", error=float("nan")), "error"),
        (lambda led: energy_to_tolerance(led, "hand0001", error=1, quantity="x"), "'x'"),
        (lambda led: energy_to_tolerance(led, "hand0001", error=1, phase="warm"), "phase"),
        (lambda led: energy_history(led, every="fortnight"), "every"),
        (lambda led: energy_history(led, since="yesterday-ish"), "since"),
        (lambda led: energy_history(led, phase="nap"), "phase"),
        (lambda led: list_runs(led, kind="dance"), "kind"),
        (lambda led: show_run(led, " "), "run"),
    ],
)
def test_bad_query_arguments_give_one_line_errors(sqlite_url: str, call: Any, needle: str) -> None:
    with open_ledger(sqlite_url) as led:
        record(led, hand_built_run())
        with pytest.raises(LedgerError) as info:
            call(led)
    message = str(info.value)
    assert needle in message
    assert "\n" not in message


def test_duration_and_time_parsing() -> None:
    assert parse_duration("90s") == 90.0
    assert parse_duration("15min") == parse_duration("15m") == 900.0
    assert parse_duration("1.5h") == 5400.0
    assert parse_time("2025-01-01") == parse_time("2025-01-01T00:00:00Z") == 1735689600.0
    assert parse_time("1d", now=100_000.0) == 100_000.0 - 86_400.0
    for bad in ("0h", "-1h", "h", "1 parsec"):
        with pytest.raises(LedgerQueryError, match="every"):
            parse_duration(bad)


def test_samples_table_holds_every_reading(ledger) -> None:
    _, docs = _train_docs(steps=100, realizations=2)
    record(ledger, docs)
    smp = [d for d in docs if d["doc"] == "sample"]
    assert scalar(ledger, "SELECT COUNT(*) FROM samples") == len(smp)
    with ledger.read() as conn:
        stored = conn.execute(
            sa.select(samples.c.seq, samples.c.t_s, samples.c.step, samples.c.data).order_by(
                samples.c.seq
            )
        ).all()
    assert [(r.seq, r.t_s, r.step) for r in stored] == [
        (d["seq"], d["t_s"], d.get("step")) for d in smp
    ]
    assert [r.data for r in stored] == [d["data"] for d in smp]  # every reading, exactly


def test_upgrade_folds_old_sample_rows_into_documents(ledger_url: str) -> None:
    engine = sa.create_engine(resolve_url(ledger_url))
    try:
        with engine.begin() as conn:
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0002")  # one row per reading
        with engine.begin() as conn:
            conn.execute(
                sa.insert(runs).values(
                    uid="old2",
                    source="twin",
                    kind="train",
                    realizations=2,
                    params={},
                    code_version="0.0.1",
                    started_unix=1.0,
                    status="complete",
                )
            )
            old = [
                ("old2", 0, 0, "error", 0.0, 0, 1.0),
                ("old2", 0, 1, "error", 0.0, 0, None),
                ("old2", 0, 0, "lam", 0.0, 0, 0.5),
                ("old2", 1, 1, "error", 2.0, 5, 0.25),
            ]
            conn.execute(
                sa.text("INSERT INTO samples VALUES (:u, :s, :r, :q, :t, :st, :v)"),
                [dict(zip(("u", "s", "r", "q", "t", "st", "v"), row, strict=True)) for row in old],
            )
    finally:
        engine.dispose()
    with open_ledger(ledger_url) as led, led.read() as conn:
        got = conn.execute(
            sa.select(samples.c.seq, samples.c.t_s, samples.c.step, samples.c.data).order_by(
                samples.c.seq
            )
        ).all()
    assert [tuple(r) for r in got] == [
        (0, 0.0, 0, {"error": [1.0, None], "lam": [0.5]}),
        (1, 2.0, 5, {"error": [None, 0.25]}),
    ]


def test_stop_summary_is_stored_as_json(ledger) -> None:
    start = start_doc(source="twin", kind="train", params={"a": (1, 2)}, uid="sum1")
    summary = {"error_final": 0.5, "steps": np.int64(3)}
    record(ledger, [dict(start), dict(stop_doc("sum1", summary=summary))])
    info = show_run(ledger, "sum1")["run"]
    assert info["params"] == {"a": [1, 2]}
    assert info["summary"] == {"error_final": 0.5, "steps": 3}


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_a_non_finite_summary_fails_the_run_instead_of_completing_it(ledger, bad: float) -> None:
    start = start_doc(source="twin", kind="train", params={}, uid="nf1")
    summary = {"energy_j": [1.0, bad], "steps": 3}
    with pytest.raises(LedgerError, match=r"run nf1: summary.energy_j\[1\] = (nan|inf)"):
        record(ledger, [dict(start), dict(stop_doc("nf1", summary=summary))])
    info = show_run(ledger, "nf1")["run"]
    assert info["status"] == "aborted"
    assert info["summary"] is None
    assert "not a finite number" in info["reason"]
