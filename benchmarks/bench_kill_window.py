"""Kill window: how much recent work a SIGKILL costs the ledger, per command and backend.

A ``twin train`` or ``twin simulate`` run records to the ledger (``--db``) and, in the same
dispatch, to a JSON-lines file (``--out``, flushed per document, written just before the ledger
gets the document). A watcher thread notes when each byte of that file appeared (``os.stat``
every millisecond), so every document has a production time. After a random delay the process
is SIGKILLed; the window of that kill is the age, at the kill, of the oldest document that is in
the file but not in the ledger (0 when everything emitted was committed). The run row must
exist (it is committed before the first entry).

Run: ``.venv/bin/python benchmarks/bench_kill_window.py [--kills 20] [--commands train simulate]
[--backends sqlite postgres]``. ``tests/ledger/test_kill_window.py`` uses :func:`measure_kill`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

#: Long runs emitting documents densely (killed long before they end).
COMMANDS = {
    "simulate": ["simulate", "--duration", "1000", "--sample-s", "0.0002"],
    "train": ["train", "--steps", "400000", "--realizations", "32"],
}


class _Watcher(threading.Thread):
    """Notes (monotonic time, size) of a growing file every ``interval_s``."""

    def __init__(self, path: Path, interval_s: float = 0.001) -> None:
        super().__init__(daemon=True)
        self.path, self.interval_s = path, interval_s
        self.marks: list[tuple[float, int]] = []
        self.halt = threading.Event()

    def run(self) -> None:
        last = -1
        while not self.halt.is_set():
            try:
                size = os.stat(self.path).st_size
            except FileNotFoundError:
                size = 0
            if size != last:
                self.marks.append((time.monotonic(), size))
                last = size
            time.sleep(self.interval_s)

    def produced_at(self, end_offset: int) -> float:
        """When the file first held ``end_offset`` bytes."""
        for t, size in self.marks:
            if size >= end_offset:
                return t
        return self.marks[-1][0]

    def lines(self) -> int:
        return self.marks[-1][1] if self.marks else 0


def _docs_with_offsets(path: Path) -> list[tuple[int, dict[str, Any]]]:
    out, offset = [], 0
    with path.open("rb") as fh:
        for raw in fh:
            offset += len(raw)
            if raw.endswith(b"\n"):
                out.append((offset, json.loads(raw)))
    return out


def _committed(url: str, run: str) -> tuple[bool, set[tuple[Any, ...]], set[int]]:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:
            has_run = conn.execute(sa.text("SELECT 1 FROM runs WHERE uid = :u"), {"u": run}).first()
            entries = {
                (seq, comp)
                for seq, comp in conn.execute(
                    sa.text("SELECT seq, component FROM entries WHERE run_uid = :u"), {"u": run}
                )
            }
            samples = set(
                conn.execute(
                    sa.text("SELECT DISTINCT seq FROM samples WHERE run_uid = :u"), {"u": run}
                ).scalars()
            )
    finally:
        engine.dispose()
    return has_run is not None, entries, samples


def measure_kill(
    command: str, url: str, workdir: Path, *, delay_s: float, min_docs: int = 2
) -> dict[str, Any]:
    """SIGKILL one recorded run ``delay_s`` after it emitted ``min_docs`` documents.

    Returns ``window_s`` (age of the oldest lost document at the kill, 0 if none), ``lost``
    (documents emitted, not committed), ``emitted``, ``run_row`` (the run is in the ledger).
    """
    out = workdir / f"kill-{uuid.uuid4().hex[:8]}.jsonl"
    args = [sys.executable, "-m", "twin", *COMMANDS[command], "--db", url, "--out", str(out)]
    env = os.environ | {"TWIN_SPOOL_DIR": str(workdir / "spool")}
    watcher = _Watcher(out)
    watcher.start()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        deadline = time.monotonic() + 120
        while _n_lines(out) < min_docs:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"twin {command} did not start: {proc.stderr.read()!r}")
            time.sleep(0.005)
        time.sleep(delay_s)
        t_kill = time.monotonic()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stderr is not None
        proc.stderr.close()
        time.sleep(0.01)
        watcher.halt.set()
        watcher.join()
    docs = _docs_with_offsets(out)
    run = docs[0][1]["uid"]
    has_run, entries, samples = _committed(url, run)
    lost = [
        (end, d)
        for end, d in docs
        if (d["doc"] == "energy" and (d["seq"], d["component"]) not in entries)
        or (d["doc"] == "sample" and d["seq"] not in samples)
        or (d["doc"] == "start" and not has_run)
    ]
    window = t_kill - watcher.produced_at(lost[0][0]) if lost else 0.0
    out.unlink()
    return {
        "window_s": max(window, 0.0),
        "lost": len(lost),
        "emitted": len(docs),
        "run_row": has_run,
        "run": run,
    }


def _n_lines(path: Path) -> int:
    try:
        with path.open("rb") as fh:
            return sum(1 for _ in fh)
    except FileNotFoundError:
        return 0


@contextmanager
def backend_url(name: str, workdir: Path) -> Iterator[str | None]:
    if name == "sqlite":
        yield f"sqlite:///{workdir / f'kill-{uuid.uuid4().hex[:6]}.db'}"
        return
    try:
        import psycopg

        admin = psycopg.connect(
            host="127.0.0.1", user="postgres", dbname="test", autocommit=True, connect_timeout=3
        )
    except Exception as exc:
        print(f"  PostgreSQL unreachable, skipped: {exc}")
        yield None
        return
    schema = f"twin_kill_{uuid.uuid4().hex[:8]}"
    admin.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{PG}?options=-csearch_path%3D{schema}"
    finally:
        admin.execute(f"DROP SCHEMA {schema} CASCADE")
        admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--commands", nargs="+", default=["simulate", "train"])
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgres"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    print(f"kill window, {args.kills} SIGKILLs per command and backend (delay 0.2-3 s)")
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends:
            with backend_url(backend, Path(tmp)) as url:
                if url is None:
                    continue
                for command in args.commands:
                    res = [
                        measure_kill(command, url, Path(tmp), delay_s=rng.uniform(0.2, 3.0))
                        for _ in range(args.kills)
                    ]
                    windows = [r["window_s"] for r in res]
                    med = statistics.median(windows)
                    print(
                        f"  {backend:8s} {command:8s}: window median {med:.3f} s, "
                        f"worst {max(windows):.3f} s; lost median "
                        f"{statistics.median(r['lost'] for r in res):.0f}, worst "
                        f"{max(r['lost'] for r in res)} documents; run row present in "
                        f"{sum(r['run_row'] for r in res)}/{len(res)}",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
