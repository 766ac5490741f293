"""``twin energy import`` validates what it stores; queries open the ledger read-only and refuse a
database that is not a ledger; only writers create a ledger, and only in an existing folder."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import one_line_error
from tests.helpers import run_cli as run
from twin.documents import energy_doc, sample_doc, start_doc, stop_doc

ROOT = Path(__file__).resolve().parents[2]


def _docs(**changes: Any) -> list[dict[str, Any]]:
    """A small complete run; ``changes`` maps "kind.field" to a replacement value."""
    start = start_doc(source="twin", kind="train", params={"steps": 2}, board="lab-1", uid="r1")
    docs: list[dict[str, Any]] = [
        dict(start),
        dict(sample_doc("r1", 0, 0.0, {"error": [0.5]})),
        dict(energy_doc("r1", 0, 0.0, 1.0, 2e-3, component="free_network")),
        dict(stop_doc("r1")),
    ]
    for key, value in changes.items():
        kind, field = key.split(".")
        doc = next(d for d in docs if d["doc"] == kind)
        if kind == "sample" and field == "data":
            doc["data"] = value
        else:
            doc[field] = value
    if "start.uid" in changes:
        for doc in docs[1:]:
            doc["run"] = changes["start.uid"]
    return docs


def _write(path: Path, docs: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))  # NaN/Infinity as Python does
    return path


def _tables(db: Path) -> list[str]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return sorted(r[0] for r in conn.execute("SELECT name FROM sqlite_master"))


@pytest.mark.parametrize(
    ("changes", "line", "needles"),
    [
        ({"start.time_unix": 1e300}, 1, ("time_unix", "2100")),
        ({"start.time_unix": -1e15}, 1, ("time_unix", "1970")),
        ({"start.time_unix": float("inf")}, 1, ("time_unix", "finite")),
        ({"stop.time_unix": float("nan")}, 4, ("time_unix", "finite")),
        ({"sample.data": {"error": [float("nan")]}}, 2, ("error[0]", "finite")),
        ({"energy.t0_s": 2.0}, 3, ("t0_s <= t1_s",)),
        ({"start.uid": ""}, 1, ("uid", "non-empty")),
        ({"start.uid": "last"}, 1, ("'last' is reserved",)),
        ({"start.uid": "a b"}, 1, ("uid", "without spaces")),
        ({"energy.component": "x\x1b[31m"}, 3, ("component", "printable")),
        ({"start.board": " lab"}, 1, ("board", "leading or trailing")),
        # found by the import fuzzer (tests/cli/test_cli_file_fuzz.py): tracebacks before
        ({"sample.seq": 10**20}, 2, ("seq", "2^63")),
        ({"sample.t_s": 10**400}, 2, ("t_s", "too large")),
        ({"start.params": {"steps": 10**400}}, 1, ("params.steps", "too large")),
        ({"sample.data": {"error": [[[[1.0]]]] * 1 + [0]}}, 2, ("error",)),
    ],
)
def test_import_refuses_what_would_poison_the_ledger(
    capsys, tmp_path: Path, changes: dict[str, Any], line: int, needles: tuple[str, ...]
) -> None:
    path = _write(tmp_path / "run.jsonl", _docs(**changes))
    db = tmp_path / "l.db"
    code, _, err = run(capsys, "energy", "import", str(path), "--db", str(db))
    one_line_error(code, err, f"{path}:{line}:", *needles)
    assert sorted(tmp_path.iterdir()) == [path]  # nothing recorded: no ledger file created


def test_import_refuses_json_nested_too_deeply(capsys, tmp_path: Path) -> None:
    path = tmp_path / "deep.jsonl"
    path.write_text('{"doc": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    code, _, err = run(capsys, "energy", "import", str(path), "--db", str(tmp_path / "l.db"))
    one_line_error(code, err, f"{path}:1:", "nested too deeply")


def test_markup_in_names_is_printed_as_written(capsys, tmp_path: Path) -> None:
    path = _write(
        tmp_path / "run.jsonl", _docs(**{"start.board": "[/]", "energy.component": "[bold]x[/]"})
    )
    db = str(tmp_path / "l.db")
    assert run(capsys, "energy", "import", str(path), "--db", db)[0] == 0
    code, out, err = run(capsys, "energy", "runs", "--db", db)
    assert code == 0, err
    assert "[/]" in out
    code, out, err = run(capsys, "energy", "show", "last", "--db", db)
    assert code == 0, err
    assert "[bold]x[/]" in out


def test_queries_refuse_a_database_that_is_not_a_ledger_and_leave_it_alone(
    capsys, tmp_path: Path
) -> None:
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
    before = other.read_bytes()
    spec = tmp_path / "s.toml"
    spec.write_text('name = "s"\nkind = "trainer"\nrealizations = 1\n[base]\nsteps = 2\n')
    for args in (
        ("energy", "runs", "--db", str(other)),
        ("energy", "show", "last", "--db", f"sqlite:///{other}"),
        ("sweep", "status", str(spec), "--db", str(other)),
    ):
        code, _, err = run(capsys, *args)
        one_line_error(code, err, "not a learning-twin ledger")
    assert _tables(other) == ["notes"]
    assert other.read_bytes() == before


def test_queries_and_writers_create_no_folder_and_queries_no_file(capsys, tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "dir" / "l.db"
    for args in (
        ("energy", "runs", "--db", f"sqlite:///{missing}"),
        ("energy", "history", "--db", str(missing)),
    ):
        code, _, err = run(capsys, *args)
        one_line_error(code, err, "no ledger at")
    path = _write(tmp_path / "run.jsonl", _docs())
    code, _, err = run(capsys, "energy", "import", str(path), "--db", f"sqlite:///{missing}")
    one_line_error(code, err, "does not exist")
    assert not (tmp_path / "no").exists()
    alone = tmp_path / "absent.db"
    code, _, err = run(capsys, "energy", "runs", "--db", str(alone))
    one_line_error(code, err, "no ledger at")
    assert not alone.exists()


def test_mode_ro_is_read_only(capsys, tmp_path: Path) -> None:
    db = tmp_path / "l.db"
    path = _write(tmp_path / "run.jsonl", _docs())
    assert run(capsys, "energy", "import", str(path), "--db", str(db))[0] == 0
    code, _, err = run(capsys, "energy", "import", str(path), "--db", f"sqlite:///{db}?mode=ro")
    one_line_error(code, err, "read-only")
    code, out, err = run(capsys, "energy", "runs", "--db", f"sqlite:///{db}?mode=ro", "--format",
                         "json")  # fmt: skip
    assert code == 0, err
    assert [r["run"] for r in json.loads(out)] == ["r1"]


def test_import_reads_are_bounded(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)  # opening it for reading would wait for a writer forever
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for source in (fifo, Path("/dev/zero")):
        done = subprocess.run(
            [sys.executable, "-m", "twin", "energy", "import", str(source), "--db",
             str(tmp_path / "l.db")],
            env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 2, done.stderr
        assert "not a regular file" in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1


def _refusals(tmp_path: Path) -> dict[str, list[Path]]:
    """Import arguments that are refused whole (a bad file, or a good one and a bad one)."""
    good = _write(tmp_path / "good.jsonl", _docs())
    torn = tmp_path / "torn.jsonl"
    torn.write_text(json.dumps(_docs()[0]) + "\n" + '{"doc": "sample", "ru\n')
    orphan = _write(tmp_path / "orphan.jsonl", _docs(**{"start.uid": "r9"})[1:])
    entry = _docs()[2]
    twice = _write(tmp_path / "twice.jsonl", [*_docs()[:3], {**entry, "energy_j": 5e-3}])
    return {"torn": [torn], "orphan": [orphan], "twice": [twice], "good+torn": [good, torn]}


@pytest.mark.parametrize("case", ["torn", "orphan", "twice", "good+torn"])
def test_a_refused_import_creates_no_ledger(capsys, tmp_path: Path, case: str) -> None:
    files = _refusals(tmp_path)[case]
    before = sorted(tmp_path.iterdir())
    db = tmp_path / "new.db"
    code, _, err = run(capsys, "energy", "import", *map(str, files), "--db", f"sqlite:///{db}")
    assert code == 2, err
    assert "Traceback" not in err
    assert sorted(tmp_path.iterdir()) == before  # no ledger, -wal, -shm or -journal left
    code, _, err = run(capsys, "energy", "runs", "--db", str(db))
    one_line_error(code, err, "no ledger at")  # and the query does not create one either
    assert not db.exists()


def test_a_refused_import_leaves_an_existing_ledger_byte_for_byte(capsys, tmp_path: Path) -> None:
    db = tmp_path / "l.db"
    first = _write(tmp_path / "first.jsonl", _docs())
    assert run(capsys, "energy", "import", str(first), "--db", str(db))[0] == 0
    other = _docs()[2]
    clash = _write(tmp_path / "clash.jsonl", [{**other, "energy_j": 7e-3}])  # ledger has 2e-3
    refusals = {**_refusals(tmp_path), "clash": [clash]}
    listing, before = sorted(tmp_path.iterdir()), db.read_bytes()
    for case, files in refusals.items():
        code, _, err = run(capsys, "energy", "import", *map(str, files), "--db", str(db))
        assert code == 2, (case, err)
        assert db.read_bytes() == before, case
        assert sorted(tmp_path.iterdir()) == listing, case


def test_repair_creates_no_ledger(capsys, tmp_path: Path) -> None:
    db = tmp_path / "absent.db"
    code, _, err = run(capsys, "energy", "repair", "--db", f"sqlite:///{db}")
    one_line_error(code, err, "no ledger at", str(db))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", [("energy", "import"), ("energy", "repair")])
def test_a_ledger_name_too_long_is_one_line(
    capsys, tmp_path: Path, command: tuple[str, ...]
) -> None:
    # found by the deep argv fuzzer: the check for a new ledger file raised ENAMETOOLONG
    db = tmp_path / ("a" * 300)
    code, _, err = run(capsys, *command, "--db", str(db))
    one_line_error(code, err, "cannot open")
    assert list(tmp_path.iterdir()) == []
