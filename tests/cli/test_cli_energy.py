"""``twin energy``, ``twin infer`` and the ledger options of ``twin train``: output, errors."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.helpers import run_cli as run
from tests.ledger_support import (
    hand_built_run,
    ledger_url,
    pg_server,
    pg_url,
    record,
    rows,
    scalar,
    sqlite_url,
)
from twin.documents import read_jsonl
from twin.learning.trainer import TrainConfig, Trainer
from twin.ledger import open_ledger, show_run
from twin.physics.network_io import load_network
from twin.physics.task_spec import build_tasks

__all__ = ["ledger_url", "pg_server", "pg_url", "sqlite_url"]  # fixtures, re-exported


def run_json(capsys: Any, *args: str) -> Any:
    code, out, err = run(capsys, *args)
    assert code == 0, err
    return json.loads(out.strip().splitlines()[-1])


def _train(capsys: Any, db: str, *extra: str) -> dict[str, Any]:
    return run_json(
        capsys, "train", "--steps", "1500", "--eta", "0.22", "--json", "--db", db, *extra
    )


def test_train_records_its_run_and_the_queries_report_it(capsys, ledger_url: str) -> None:
    summary = _train(capsys, ledger_url)
    uid = summary["run"]
    runs = run_json(capsys, "energy", "runs", "--db", ledger_url, "--format", "json")
    assert [r["run"] for r in runs] == [uid]
    total = summary["training_energy_j"] + summary["clamped_energy_j"]
    assert runs[0]["energy_j"] == pytest.approx(total, rel=1e-12)
    assert runs[0]["status"] == "complete"
    shown = run_json(capsys, "energy", "show", uid[:8], "--db", ledger_url, "--format", "json")
    assert shown["run"]["params"]["steps"] == 1500
    free = [r for r in shown["energy"] if r["component"] == "free_network"]
    assert free[0]["energy_j"] == pytest.approx(summary["training_energy_j"], rel=1e-12)

    code, out, _ = run(
        capsys, "energy", "history", "--every", "1h", "--db", ledger_url, "--format", "csv"
    )
    assert code == 0
    table = list(csv.DictReader(io.StringIO(out)))
    assert {r["component"] for r in table} == {"free_network", "clamped_network"}
    assert sum(float(r["energy_j"]) for r in table) == pytest.approx(total, rel=1e-12)

    tol = summary["error_final"] * 1.001
    got = run_json(
        capsys,
        "energy",
        "to-tolerance",
        "last",
        "--error",
        str(tol),
        "--db",
        ledger_url,
        "--format",
        "json",
    )
    (real,) = got["realizations"]
    assert real["reached"]
    assert real["components"]["free_network"] <= summary["training_energy_j"] * (1 + 1e-12)

    for fmt in ("table", "csv"):
        for args in (
            ["runs"],
            ["show", "last"],
            ["history"],
            ["compare", uid, "last"],
            ["to-tolerance", "last", "--error", str(tol)],
        ):
            code, out, err = run(capsys, "energy", *args, "--db", ledger_url, "--format", fmt)
            assert code == 0, (args, err)
            assert out.strip(), args


def test_compare_two_training_runs(capsys, sqlite_url: str) -> None:
    a = _train(capsys, sqlite_url)
    b = _train(capsys, sqlite_url, "--lam", "0.5")
    got = run_json(
        capsys, "energy", "compare", a["run"], b["run"], "--db", sqlite_url, "--format", "json"
    )
    free = next(r for r in got["energy"] if r["component"] == "free_network")
    assert free["a_j"] == pytest.approx(a["training_energy_j"], rel=1e-12)
    assert free["b_j"] == pytest.approx(b["training_energy_j"], rel=1e-12)
    assert free["ratio"] == pytest.approx(b["training_energy_j"] / a["training_energy_j"])
    assert [r["uid"] for r in got["runs"]] == [a["run"], b["run"]]


def test_import_of_a_document_file_is_idempotent(capsys, tmp_path: Path, sqlite_url: str) -> None:
    out = tmp_path / "run.jsonl"
    summary = run_json(capsys, "train", "--steps", "500", "--json", "--no-db", "--out", str(out))
    n_docs = len(list(read_jsonl(out)))
    for recorded, already in ((n_docs, 0), (0, n_docs)):
        code, text, err = run(capsys, "energy", "import", str(out), "--db", sqlite_url)
        assert code == 0, err
        assert f"{recorded} document(s) recorded, {already} already there, 0 conflicted" in text
    runs = run_json(capsys, "energy", "runs", "--db", sqlite_url, "--format", "json")
    assert len(runs) == 1
    total = summary["training_energy_j"] + summary["clamped_energy_j"]
    assert runs[0]["energy_j"] == pytest.approx(total, rel=1e-12)


def test_recording_defaults_to_the_per_user_file_and_can_be_turned_off(
    capsys, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    default = tmp_path / "learning-twin" / "ledger.db"
    run_json(capsys, "train", "--steps", "10", "--json")  # TWIN_DB_URL=off in the test suite
    assert not default.exists()
    monkeypatch.delenv("TWIN_DB_URL")
    run_json(capsys, "train", "--steps", "10", "--json", "--no-db")
    assert not default.exists()
    uid = run_json(capsys, "train", "--steps", "10", "--json")["run"]
    assert default.exists()
    with open_ledger(None) as led:
        assert show_run(led, uid)["run"]["status"] == "complete"


def test_infer_records_the_inference_energy(capsys, tmp_path: Path, ledger_url: str) -> None:
    trained = tmp_path / "trained.json"
    train_args = ("--task", "regression", "--network", "lattice:5x5", "--steps", "300")
    run_json(capsys, "train", *train_args, "--json", "--no-db", "--save", str(trained))
    hold_s = 2e-3
    got = run_json(
        capsys,
        "infer",
        "--network",
        f"file:{trained}",
        "--task",
        "regression",
        "--set",
        "test",
        "--hold-s",
        str(hold_s),
        "--json",
        "--db",
        ledger_url,
    )
    assert got["hold_s"] == hold_s
    assert got["inputs"] == len(got["energy_j"]) > 1
    assert got["energy_j_total"] == pytest.approx(sum(got["energy_j"]), rel=1e-12)
    # independent: the trainer's mean free power of the saved conductances on the test set
    task = build_tasks("regression", f"file:{trained}", seed=0, realizations=1)[0]
    k = load_network(trained).conductance
    assert k is not None
    power = Trainer([task], TrainConfig()).evaluate(k[None], "test")["free_power_w"][0]
    assert got["energy_j_total"] == pytest.approx(power * got["inputs"] * hold_s, rel=1e-10)
    with open_ledger(ledger_url) as led:
        shown = show_run(led, got["run"])
        assert shown["run"]["kind"] == "infer"
        ((phase, comp, joules),) = [
            (r["phase"], r["component"], r["energy_j"]) for r in shown["energy"]
        ]
        assert (phase, comp) == ("inference", "free_network")
        assert joules == pytest.approx(got["energy_j_total"], rel=1e-12)
        per_input = rows(
            led, "SELECT input, hold_s, power_w, energy_j FROM ledger_inference ORDER BY input"
        )
        assert [r[0] for r in per_input] == list(range(got["inputs"]))
        np.testing.assert_allclose([r[3] for r in per_input], got["energy_j"], rtol=1e-12)
        np.testing.assert_allclose([r[2] for r in per_input], got["power_w"], rtol=1e-9)


def test_repair_command_closes_dead_runs(capsys, sqlite_url: str) -> None:
    with open_ledger(sqlite_url) as led:
        record(led, hand_built_run("dead1")[:-1])  # no stop document: closed as aborted...
        assert scalar(led, "SELECT status FROM runs") == "aborted"
        with led.write() as conn:  # ...so pretend a vanished writer on this host left it
            conn.exec_driver_sql(
                "UPDATE runs SET status = 'running', writer_pid = 999999999, reason = NULL"
            )
    code, out, err = run(capsys, "energy", "repair", "--db", sqlite_url)
    assert code == 0, err
    assert out.startswith("1 run(s) marked aborted: dead1")
    code, out, _ = run(capsys, "energy", "repair", "--db", sqlite_url)
    assert out.startswith("0 run(s)")


@pytest.fixture
def filled_db(sqlite_url: str) -> str:
    with open_ledger(sqlite_url) as led:
        record(led, hand_built_run("aa11"))
        record(led, hand_built_run("aa22"))
    return sqlite_url


def test_alarms_are_listed_by_run_board_and_time_without_writing(
    capsys, filled_db: str, tmp_path: Path
) -> None:
    from twin.ledger import record_alarm
    from twin.shadow.alarms import Alarm, ledger_alarm_sink

    alarm = Alarm(
        board_id="b1", epoch=3, start_s=12.02, raised_s=12.03, end_s=12.4, edges=(7, 2),
        nodes=(), score_max=4.5,
    )  # fmt: skip
    with open_ledger(filled_db) as led:
        ledger_alarm_sink(led, "aa11")(alarm)
        record_alarm(led, severity="warning", code="lag", message="lag 30 ms", board="b2")
    before = Path(filled_db.removeprefix("sqlite:///")).read_bytes()
    got = run_json(capsys, "energy", "alarms", "--db", filled_db, "--format", "json")
    assert [a["code"] for a in got] == ["lag", "shadow_divergence"]  # newest first
    div = got[1]
    assert (div["run"], div["edges"], div["start_s"], div["end_s"]) == ("aa11", [7, 2], 12.02, 12.4)
    assert div["score_max"] == 4.5
    assert div["epoch"] == 3
    by_run = run_json(
        capsys, "energy", "alarms", "--run", "aa11", "--db", filled_db, "--format", "json"
    )
    assert [a["code"] for a in by_run] == ["shadow_divergence"]
    by_board = run_json(
        capsys, "energy", "alarms", "--board", "b2", "--db", filled_db, "--format", "json"
    )
    assert [a["message"] for a in by_board] == ["lag 30 ms"]
    assert (
        run_json(
            capsys,
            "energy",
            "alarms",
            "--since",
            "2999-01-01",
            "--db",
            filled_db,
            "--format",
            "json",
        )
        == []
    )
    code, out, err = run(capsys, "energy", "alarms", "--db", filled_db)
    assert code == 0, err
    assert "shadow_divergence" in out
    assert "12.02" in out
    assert Path(filled_db.removeprefix("sqlite:///")).read_bytes() == before  # queries never write


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["energy", "history", "--every", "xyz"], "every"),
        (["energy", "history", "--since", "notadate"], "since"),
        (["energy", "history", "--phase", "nap"], "--phase"),
        (["energy", "runs", "--format", "xml"], "--format"),
        (["energy", "runs", "--limit", "-1"], "--limit"),
        (["energy", "to-tolerance", "aa11", "--error", "-1"], "error"),
        (["energy", "to-tolerance", "aa11", "--error", "nan"], "error"),
        (["energy", "to-tolerance", "aa11"], "--error"),
        (["energy", "to-tolerance", "aa11", "--error", "1", "--quantity", "nope"], "nope"),
        (["energy", "show", "nosuchrun"], "no run matches"),
        (["energy", "show", "aa"], "ambiguous"),
        (["energy", "compare", "aa11"], "RUN_B"),
        (["energy", "repair", "--stale-s", "0"], "--stale-s"),
        (["energy", "alarms", "--since", "notadate"], "since"),
        (["energy", "alarms", "--until", "yesterday"], "until"),
        (["energy", "alarms", "--run", "nosuchrun"], "no run matches"),
        (["energy", "alarms", "--run", "aa"], "ambiguous"),
        (["energy", "alarms", "--limit", "-1"], "--limit"),
    ],
)
def test_bad_query_arguments_give_one_line_and_exit_2(
    capsys, filled_db: str, args: list[str], needle: str
) -> None:
    code, _, err = run(capsys, *args, "--db", filled_db)
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert needle in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["energy", "runs", "--db", "mysql://u@h/db"], "unsupported"),
        (["energy", "runs", "--db", "postgresql://postgres@127.0.0.1:1/t"], "cannot open"),
        (["energy", "runs"], "TWIN_DB_URL"),  # the test suite runs with TWIN_DB_URL=off
        (["train", "--steps", "5", "--db", "mysql://u@h/db"], "unsupported"),
        (["infer", "--network", "lattice:4x4"], "--network"),
        (["infer", "--network", "file:/does/not/exist.json"], "no such file"),
        (["infer", "--network", "file:{untrained}"], "no trained conductances"),
        (["infer", "--network", "file:{trained}", "--set", "nope"], "--set"),
        (["infer", "--network", "file:{trained}", "--hold-s", "0"], "--hold-s"),
    ],
)
def test_bad_ledger_and_infer_arguments_give_one_line_and_exit_2(
    capsys, tmp_path: Path, args: list[str], needle: str
) -> None:
    untrained, trained = tmp_path / "untrained.json", tmp_path / "trained.json"
    run_json(capsys, "train", "--steps", "5", "--json", "--save", str(trained))
    net = load_network(trained)
    doc = json.loads(trained.read_text())
    del doc["conductance"]  # an unknown field would be refused: drop the key instead
    untrained.write_text(json.dumps(doc))
    assert net.conductance is not None
    args = [a.format(untrained=untrained, trained=trained) for a in args]
    code, _, err = run(capsys, *args)
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert needle in err
    assert "Traceback" not in err


# --------------------------------------------------------------------------- import (replay)


@pytest.fixture
def finished_run(capsys, tmp_path: Path) -> tuple[Path, list[str]]:
    """The JSON-lines file of a finished training run (and its lines)."""
    out = tmp_path / "run.jsonl"
    run_json(capsys, "train", "--steps", "300", "--json", "--no-db", "--out", str(out))
    return out, out.read_text().splitlines(keepends=True)


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(lines))
    return path


def _runs(capsys: Any, db: str) -> list[dict[str, Any]]:
    return list(run_json(capsys, "energy", "runs", "--db", db, "--format", "json"))


def test_import_never_downgrades_a_complete_run(
    capsys, tmp_path: Path, ledger_url: str, finished_run: tuple[Path, list[str]]
) -> None:
    out, lines = finished_run
    code, _, err = run(capsys, "energy", "import", str(out), "--db", ledger_url)
    assert code == 0, err
    (before,) = _runs(capsys, ledger_url)
    with open_ledger(ledger_url) as led:
        shown_before = show_run(led, before["run"])["run"]
    head = _write(tmp_path / "head.jsonl", lines[:20])  # the probe: first 20 lines
    code, text, err = run(capsys, "energy", "import", str(head), "--db", ledger_url)
    assert code == 0, err
    assert "0 document(s) recorded, 20 already there, 0 conflicted" in text
    with open_ledger(ledger_url) as led:
        shown_after = show_run(led, before["run"])["run"]
    keep = ("status", "stopped", "stopped_unix", "reason", "summary")
    assert {k: shown_after[k] for k in keep} == {k: shown_before[k] for k in keep}
    assert shown_after["status"] == "complete"


def test_a_torn_file_is_rejected_whole(
    capsys, tmp_path: Path, ledger_url: str, finished_run: tuple[Path, list[str]]
) -> None:
    _, lines = finished_run
    torn = _write(tmp_path / "torn.jsonl", [*lines[:-3], lines[-3][:25]])  # killed mid-line
    code, _, err = run(capsys, "energy", "import", str(torn), "--db", ledger_url)
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert f"torn.jsonl:{len(lines) - 2}:" in err
    assert "nothing of the file was imported" in err
    with open_ledger(ledger_url) as led:
        assert scalar(led, "SELECT COUNT(*) FROM runs") == 0
        assert scalar(led, "SELECT COUNT(*) FROM entries") == 0


def test_an_invalid_document_mid_file_commits_nothing(
    capsys, tmp_path: Path, ledger_url: str, finished_run: tuple[Path, list[str]]
) -> None:
    _, lines = finished_run
    middle = len(lines) // 2
    bad = json.loads(lines[middle])
    bad["seq"] = -5
    corrupt = [*lines[:middle], json.dumps(bad) + "\n", *lines[middle + 1 :]]
    code, _, err = run(capsys, "energy", "import", str(_write(tmp_path / "c.jsonl", corrupt)),
                       "--db", ledger_url)  # fmt: skip
    assert code == 2
    assert f"c.jsonl:{middle + 1}:" in err
    with open_ledger(ledger_url) as led:
        assert scalar(led, "SELECT COUNT(*) FROM entries") == 0


def test_skip_bad_lines_imports_the_rest_and_says_how_many(
    capsys, tmp_path: Path, sqlite_url: str, finished_run: tuple[Path, list[str]]
) -> None:
    _, lines = finished_run
    torn = _write(tmp_path / "torn.jsonl", [*lines[:-3], "{not json\n", lines[-3][:25]])
    code, text, err = run(
        capsys, "energy", "import", str(torn), "--skip-bad-lines", "--db", sqlite_url
    )
    assert code == 0, err
    assert "2 bad line(s) skipped" in text
    assert f"{len(lines) - 3} document(s) recorded" in text
    (got,) = _runs(capsys, sqlite_url)
    assert got["status"] == "aborted"  # no stop document in what was imported
    with open_ledger(sqlite_url) as led:
        assert "without a stop document" in show_run(led, got["run"])["run"]["reason"]


def test_an_entry_with_other_joules_is_a_named_conflict(
    capsys, tmp_path: Path, ledger_url: str, finished_run: tuple[Path, list[str]]
) -> None:
    out, lines = finished_run
    assert run(capsys, "energy", "import", str(out), "--db", ledger_url)[0] == 0
    i = next(n for n, line in enumerate(lines) if '"doc":"energy"' in line)
    entry = json.loads(lines[i])
    entry["energy_j"] *= 1.5
    changed = [*lines[:i], json.dumps(entry) + "\n", *lines[i + 1 :]]
    extra = _write(tmp_path / "changed.jsonl", changed)
    code, text, err = run(capsys, "energy", "import", str(extra), "--db", ledger_url)
    assert code == 2
    assert f"changed.jsonl:{i + 1}: entry seq {entry['seq']} {entry['component']}" in err
    assert "0 document(s) recorded, 0 already there, 1 conflicted" in text
    (got,) = _runs(capsys, ledger_url)
    with open_ledger(ledger_url) as led:
        joules = scalar(
            led,
            "SELECT energy_j FROM entries WHERE run_uid = :u AND seq = :s AND component = :c",
            u=got["run"],
            s=entry["seq"],
            c=entry["component"],
        )
    assert joules == pytest.approx(entry["energy_j"] / 1.5, rel=1e-15)


def test_energy_for_a_run_that_does_not_exist_is_one_line(
    capsys, tmp_path: Path, sqlite_url: str, finished_run: tuple[Path, list[str]]
) -> None:
    _, lines = finished_run
    orphan = _write(tmp_path / "orphan.jsonl", lines[1:10])  # no start document
    code, _, err = run(capsys, "energy", "import", str(orphan), "--db", sqlite_url)
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert "orphan.jsonl:1:" in err
    assert "not in the ledger" in err


# --------------------------------------------------------------------------- non-finite numbers


@pytest.mark.parametrize(
    ("args", "quantity", "cause"),
    [
        # inputs that once produced NaN/inf results are now refused up front by their ranges
        (["train", "--steps", "5", "--step-s", "1e308"], "--step-s", "1e+308"),
        (["simulate", "--duration", "0.005", "--meas-noise", "1e308"], "--meas-noise", "1e+308"),
        (["infer", "--hold-s", "inf"], "--hold-s", "inf"),
    ],
)
def test_non_finite_results_fail_in_one_line_and_are_never_recorded_complete(
    capsys, tmp_path: Path, sqlite_url: str, args: list[str], quantity: str, cause: str
) -> None:
    if args[0] == "infer":
        trained = tmp_path / "trained.json"
        run_json(capsys, "train", "--steps", "5", "--json", "--no-db", "--save", str(trained))
        args = [*args, "--network", f"file:{trained}", "--task", "allostery"]
    out = tmp_path / "run.jsonl"
    for where in (["--no-db"], ["--db", sqlite_url, "--out", str(out)]):
        code, stdout, err = run(capsys, *args, *where, "--json")
        assert code == 2, err
        assert len(err.strip().splitlines()) == 1, err
        assert quantity in err
        assert cause in err
        assert "NaN" not in stdout
        assert "Infinity" not in stdout
    if out.exists():
        assert "NaN" not in out.read_text()
        assert "Infinity" not in out.read_text()
    with open_ledger(sqlite_url) as led:
        assert scalar(led, "SELECT COUNT(*) FROM runs WHERE status = 'complete'") == 0
        bad = "SELECT COUNT(*) FROM entries WHERE NOT (energy_j < 1e309 AND t1_s < 1e309)"
        assert scalar(led, bad) == 0


def test_the_finite_guard_names_the_quantity_and_the_suspect_input() -> None:
    from twin.cli._ledger import check_finite
    from twin.errors import ConfigError

    check_finite({"training_energy_j": 1.0, "steps": 5}, "summary", {"step_s": 1e-4})
    with pytest.raises(ConfigError) as info:
        check_finite({"training_energy_j": float("inf")}, "summary", {"step_s": 1e308})
    message = str(info.value)
    assert len(message.splitlines()) == 1
    assert "training_energy_j = inf is not a finite number" in message
    assert "input out of range: step_s = 1e+308" in message
