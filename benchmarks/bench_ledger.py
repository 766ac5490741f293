"""Energy-ledger benchmarks: writer throughput, and the cost of recording a training run.

1. Throughput (entries/s) of the batching :class:`twin.ledger.LedgerWriter` on SQLite (a temporary
   file) and PostgreSQL (127.0.0.1:5432, a temporary schema of database ``test``; skipped if the
   server is down): ``--entries`` energy documents of one run, timed from the first call to the
   writer's close (everything committed). Also the producer's cost per document (the time the
   simulation spends in the subscriber) and the rate of a replay (every row a duplicate).
2. Ledger on vs off, in process: ``Trainer.run`` with no subscriber vs with the writer
   (SQLite), best of ``--repeat``, for the demo-sized run (allostery 4x4, 8 realizations,
   20 000 steps, 100 records) and a document-heavy run (50 realizations, 2 000 records).
3. Ledger on vs off, command line: wall time of ``twin train`` (and ``twin simulate`` when that
   command exists) with ``--no-db`` vs ``--db sqlite:///...``, best of ``--repeat``.
4. Writer vs simulator at the densest sampling (``twin simulate --sample-s 0.0002``), per
   backend: the simulator's production rate (documents and rows per second of wall time, with a
   subscriber that only counts), the writer's throughput on those very documents (from the
   first call to everything committed), and the simulator recorded live (back-pressure holds
   the simulator to the writer's pace when the writer is slower).
5. Concurrent writers (``--concurrent``): N forked processes each record a densely sampled twin
   run (as part 4) into one SQLite file; wall time, documents/s over all writers, retries, and a
   check that every run is complete with every entry and sample it emitted.

Run: ``.venv/bin/python benchmarks/bench_ledger.py [--entries 200000] [--repeat 5] [--quick]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import simpy
import sqlalchemy as sa

from twin.documents import Collector, energy_doc, start_doc, stop_doc
from twin.learning.trainer import TrainConfig, Trainer
from twin.ledger import open_ledger, recording
from twin.physics.task_spec import build_tasks
from twin.simulation.twin import Twin, TwinConfig

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@contextmanager
def sqlite_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as tmp:
        yield f"sqlite:///{Path(tmp) / 'bench.db'}"


@contextmanager
def postgres_url() -> Iterator[str | None]:
    try:
        import psycopg

        admin = psycopg.connect(
            host="127.0.0.1", user="postgres", dbname="test", autocommit=True, connect_timeout=3
        )
    except Exception as exc:
        print(f"  PostgreSQL unreachable, skipped: {exc}")
        yield None
        return
    schema = f"twin_bench_{uuid.uuid4().hex[:8]}"
    admin.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{PG}?options=-csearch_path%3D{schema}"
    finally:
        admin.execute(f"DROP SCHEMA {schema} CASCADE")
        admin.close()


def throughput(url: str, n: int) -> dict[str, float]:
    """Entries/s of a fresh run of ``n`` entries, producer us/doc, and entries/s of its replay."""
    start = start_doc(source="twin", kind="simulate", params={"bench": True}, realizations=1)
    uid = start["uid"]
    docs = [
        energy_doc(uid, i, i * 1e-4, (i + 1) * 1e-4, 1e-9, component="free_network")
        for i in range(n)
    ]
    out = {}
    with open_ledger(url) as ledger:
        for label in ("fresh", "replay"):
            t0 = time.perf_counter()
            with recording(ledger) as writer:
                writer(start)
                t1 = time.perf_counter()
                for doc in docs:
                    writer(doc)
                t2 = time.perf_counter()
                writer(stop_doc(uid))
            t3 = time.perf_counter()
            out[f"{label}_per_s"] = n / (t3 - t0)
            if label == "fresh":
                out["producer_us"] = 1e6 * (t2 - t1) / n
    return out


def best(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def train_on_off(url: str, realizations: int, steps: int, n_records: int, repeat: int) -> None:
    tasks = build_tasks("allostery", None, seed=0, realizations=realizations)
    trainer = Trainer(tasks, TrainConfig(steps=steps, n_records=n_records))
    trainer.run()  # warm-up (numba compilation, caches)
    with open_ledger(url) as ledger:

        def on() -> None:
            with recording(ledger) as writer:
                trainer.run(emit=writer)

        # alternate off and on, so load from elsewhere on the machine hits both alike
        pairs = [(best(lambda: trainer.run(), 1), best(on, 1)) for _ in range(repeat)]
        off, on_s = min(p[0] for p in pairs), min(p[1] for p in pairs)
        with ledger.read() as conn:
            entries = conn.exec_driver_sql("SELECT COUNT(*) FROM entries").scalar()
    slow = 100 * (on_s / off - 1)
    print(
        f"  R={realizations:3d} steps={steps} records={n_records}: off {off:.3f} s, "
        f"on {on_s:.3f} s ({slow:+.1f} %), {entries} entries in the ledger"
    )


def cli_on_off(command: list[str], url: str, repeat: int) -> None:
    base = [sys.executable, "-m", "twin", *command]

    def run(extra: list[str]) -> None:
        subprocess.run([*base, *extra], check=True, capture_output=True)

    run(["--no-db"])  # warm-up (numba cache, imports)
    pairs = [
        (best(lambda: run(["--no-db"]), 1), best(lambda: run(["--db", url]), 1))
        for _ in range(repeat)
    ]
    off, on = min(p[0] for p in pairs), min(p[1] for p in pairs)
    print(
        f"  twin {' '.join(command)}: --no-db {off:.3f} s, --db {on:.3f} s "
        f"({100 * (on / off - 1):+.1f} %, includes opening the database)"
    )


def _twin(emit: Any, duration_s: float) -> float:
    task = build_tasks("allostery", None, seed=2, realizations=1)[0]
    config = TwinConfig(sample_interval_s=2e-4)
    twin = Twin(simpy.Environment(), task, config, np.random.default_rng([0, 1]), emit=emit)
    t0 = time.perf_counter()
    twin.run(duration_s)
    return time.perf_counter() - t0


def writer_vs_simulator(urls: dict[str, str], duration_s: float) -> None:
    """Production rate of the densest-sampled twin vs the writer's throughput, per backend."""
    _twin(Collector(), 0.002)  # warm-up (kernels)
    collector = Collector()
    sim_s = _twin(collector, duration_s)
    docs = collector.docs
    rows = len(docs)  # one row per document (a sample document is one row)
    print(
        f"  simulator (counting subscriber): {len(docs)} documents, {rows} rows in {sim_s:.2f} s"
        f" = {len(docs) / sim_s:.0f} docs/s, {rows / sim_s:.0f} rows/s"
    )
    for name, url in urls.items():
        with open_ledger(url) as ledger:
            t0 = time.perf_counter()
            with recording(ledger) as writer:
                for doc in docs:
                    writer(doc)
            write_s = time.perf_counter() - t0
            with recording(ledger) as live:
                live_s = _twin(live, duration_s)
        print(
            f"  {name:10s} writer: {len(docs) / write_s:.0f} docs/s, {rows / write_s:.0f} rows/s "
            f"({sim_s / write_s:.2f}x the simulator's rate); simulator recorded live: "
            f"{live_s:.2f} s ({live_s / sim_s:.2f}x unrecorded), producer held back "
            f"{live.waits} times, {live.flushes} transactions"
        )


def _one_writer(url: str, seed: int, duration_s: float, report: str) -> None:
    counts = {"energy": 0, "sample": 0}

    def count(doc: Any) -> None:
        if doc["doc"] in counts:
            counts[doc["doc"]] += 1

    from twin.documents import Dispatcher

    with open_ledger(url) as ledger, recording(ledger) as writer:
        task = build_tasks("allostery", None, seed=2, realizations=1)[0]
        config = TwinConfig(sample_interval_s=2e-4)
        twin = Twin(
            simpy.Environment(),
            task,
            config,
            np.random.default_rng([seed, 1]),
            emit=Dispatcher([count, writer]),
        )
        uid = twin.run(duration_s).run_uid
    Path(report).write_text(json.dumps(counts | {"run": uid, "retries": writer.retries}))


def concurrent_writers(n_writers: int, duration_s: float) -> None:
    """``n_writers`` forked processes recording into one SQLite file; checks nothing is lost."""
    import multiprocessing

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'shared.db'}"
        open_ledger(url).close()
        ctx = multiprocessing.get_context("fork")
        reports = [Path(tmp) / f"w{i}.json" for i in range(n_writers)]
        t0 = time.perf_counter()
        procs = [
            ctx.Process(target=_one_writer, args=(url, i, duration_s, str(r)))
            for i, r in enumerate(reports)
        ]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        wall = time.perf_counter() - t0
        sent = [json.loads(r.read_text()) for r in reports]
        with open_ledger(url) as ledger, ledger.read() as conn:
            ok = all(
                conn.execute(
                    sa.text(
                        "SELECT status = 'complete' AND "
                        "(SELECT COUNT(*) FROM entries WHERE run_uid = :u) = :e AND "
                        "(SELECT COUNT(*) FROM samples WHERE run_uid = :u) = :s "
                        "FROM runs WHERE uid = :u"
                    ),
                    {"u": r["run"], "e": r["energy"], "s": r["sample"]},
                ).scalar()
                for r in sent
            )
    docs = sum(r["energy"] + r["sample"] for r in sent)
    print(
        f"  {n_writers:2d} writers x {duration_s:g} s simulated: wall {wall:.1f} s, "
        f"{docs / wall:.0f} documents/s in all, retries {sum(r['retries'] for r in sent)}, "
        f"exit codes {sorted({p.exitcode for p in procs})}, every run complete with every "
        f"document: {ok}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, one repeat")
    parser.add_argument(
        "--only-writer", action="store_true", help="only part 4 (writer vs simulator)"
    )
    parser.add_argument("--sim-s", type=float, default=2.0, help="simulated time of part 4, s")
    parser.add_argument(
        "--concurrent",
        type=int,
        nargs="*",
        default=None,
        help="only part 5, with these numbers of writer processes (e.g. 1 2 4 8)",
    )
    args = parser.parse_args()
    n = 20_000 if args.quick else args.entries
    repeat = 1 if args.quick else args.repeat
    if args.concurrent is not None:
        _one_writer(f"sqlite:///{tempfile.mkdtemp()}/warm.db", 0, 0.002, os.devnull)
        print(f"5. concurrent writers on one SQLite file, {args.sim_s:g} s simulated each")
        for n_writers in args.concurrent or [1, 2, 4, 8]:
            concurrent_writers(n_writers, args.sim_s)
        return
    if not args.only_writer:
        parts_1_to_3(args, n, repeat)
    print(f"4. writer vs simulator at --sample-s 0.0002, {args.sim_s:g} s simulated")
    with sqlite_url() as url, postgres_url() as pg:
        urls = {"SQLite": url} | ({"PostgreSQL": pg} if pg is not None else {})
        writer_vs_simulator(urls, 0.2 if args.quick else args.sim_s)


def parts_1_to_3(args: argparse.Namespace, n: int, repeat: int) -> None:
    print(f"1. writer throughput, {n} entries (one run), best of {repeat}")
    with sqlite_url() as url:
        res = [throughput(url, n) for _ in range(repeat)]
    fresh = max(r["fresh_per_s"] for r in res)
    replay = max(r["replay_per_s"] for r in res)
    producer = statistics.median(r["producer_us"] for r in res)
    print(f"  SQLite:     {fresh:9.0f} entries/s (replay {replay:.0f}/s), {producer:.2f} us/doc")
    with postgres_url() as pg:
        if pg is not None:
            res = [throughput(pg, n) for _ in range(repeat)]
            fresh = max(r["fresh_per_s"] for r in res)
            replay = max(r["replay_per_s"] for r in res)
            producer = statistics.median(r["producer_us"] for r in res)
            print(
                f"  PostgreSQL: {fresh:9.0f} entries/s (replay {replay:.0f}/s), "
                f"{producer:.2f} us/doc"
            )

    print(f"2. Trainer.run, ledger off vs on (SQLite), best of {repeat}")
    with sqlite_url() as url:
        train_on_off(url, 8, 2_000 if args.quick else 20_000, 100, repeat)
        train_on_off(url, 50, 1_000 if args.quick else 5_000, 2_000, repeat)

    print(f"3. command line, ledger off vs on (SQLite), best of {repeat}")
    steps = "2000" if args.quick else "20000"
    with sqlite_url() as url:
        cli_on_off(["train", "--steps", steps, "--realizations", "8", "--json"], url, repeat)
        if importlib.util.find_spec("twin.cli.simulate") is not None:
            cli_on_off(["simulate", "--json"], url, repeat)
        else:
            print("  twin simulate: not available in this tree")


if __name__ == "__main__":
    main()
