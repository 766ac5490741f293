"""What the ledger answers: run lists, run details, energy history, comparisons.

Every function takes an open :class:`~twin.ledger.Ledger` and returns plain JSON-ready dicts and
lists (joules, seconds, ISO-8601 UTC times), which the ``twin energy`` command prints as a table,
JSON or CSV. A run may be given by its uid, a unique uid prefix, or ``last`` (the newest run).

Bad arguments raise :class:`~twin.ledger.LedgerQueryError` (a ``ValueError``) or
:class:`~twin.ledger.RunNotFoundError` (a ``LookupError``) with a one-line message naming the
argument.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from .db import Ledger
from .errors import LedgerQueryError
from .models import ENERGY_PHASE, RUN_KIND, RUN_STATUS, entries, runs, samples
from .query_args import _choice, iso_utc, parse_duration, parse_time, resolve_run
from .tolerance import energy_to_tolerance

__all__ = [
    "compare_runs",
    "energy_history",
    "energy_to_tolerance",
    "iso_utc",
    "list_runs",
    "parse_duration",
    "parse_time",
    "resolve_run",
    "show_run",
]


class _floor(FunctionElement[float]):
    """``floor(x)``; SQLite (maybe built without math functions) gets ``CAST(x AS INTEGER)``.

    The cast truncates, which is the floor for the non-negative times it is used on.
    """

    type = sa.Double()
    name = "floor"
    inherit_cache = True


@compiles(_floor)
def _floor_default(element: _floor, compiler: SQLCompiler, **kw: Any) -> str:
    return f"floor({compiler.process(element.clauses, **kw)})"


@compiles(_floor, "sqlite")
def _floor_sqlite(element: _floor, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST({compiler.process(element.clauses, **kw)} AS INTEGER)"


# --------------------------------------------------------------------------- runs


def _run_totals() -> sa.Select[Any]:
    e = entries
    in_phase = {
        p: sa.func.coalesce(sa.func.sum(sa.case((e.c.phase == p, e.c.energy_j))), 0.0)
        for p in ("training", "inference")
    }
    return (
        sa.select(
            runs.c.uid.label("run"),
            runs.c.started_unix,
            runs.c.kind,
            runs.c.source,
            runs.c.board,
            runs.c.status,
            runs.c.realizations,
            sa.func.count(e.c.seq).label("entries"),
            sa.func.coalesce(sa.func.sum(e.c.energy_j), 0.0).label("energy_j"),
            in_phase["training"].label("training_j"),
            in_phase["inference"].label("inference_j"),
        )
        .select_from(runs.outerjoin(e, e.c.run_uid == runs.c.uid))
        .group_by(runs.c.uid)
    )


def list_runs(
    ledger: Ledger,
    *,
    board: str | None = None,
    since: str | None = None,
    kind: str | None = None,
    status: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Runs, newest first, with their entry count and joules (total, training, inference).

    Parameters
    ----------
    board, kind, status
        Keep only runs with this board, kind or status.
    since
        Keep runs started at or after this ISO date/time (UTC) or duration ago (``7d``).
    limit
        At most this many runs (``None`` or 0: all).
    """
    _choice(kind, RUN_KIND, "kind")
    _choice(status, RUN_STATUS, "status")
    if limit is not None and limit < 0:
        raise LedgerQueryError(f"limit: must be >= 0, got {limit}")
    q = _run_totals().order_by(runs.c.started_unix.desc())
    if board is not None:
        q = q.where(runs.c.board == board)
    if since is not None:
        q = q.where(runs.c.started_unix >= parse_time(since))
    if kind is not None:
        q = q.where(runs.c.kind == kind)
    if status is not None:
        q = q.where(runs.c.status == status)
    if limit:
        q = q.limit(limit)
    with ledger.read() as conn:
        rows = conn.execute(q).mappings().all()
    out = []
    for row in rows:
        d = dict(row)
        d["started"] = iso_utc(d.pop("started_unix"))
        out.append({"run": d.pop("run"), "started": d.pop("started"), **d})
    return out


def _run_info(conn: Connection, uid: str) -> dict[str, Any]:
    row = conn.execute(sa.select(runs).where(runs.c.uid == uid)).mappings().one()
    info = dict(row)
    info["started"] = iso_utc(info["started_unix"])
    info["stopped"] = iso_utc(info["stopped_unix"])
    return info


def _energy_breakdown(conn: Connection, uid: str) -> list[dict[str, Any]]:
    e = entries
    keys = (e.c.phase, e.c.component, e.c.source, e.c.method)
    q = (
        sa.select(
            *keys,
            sa.func.count().label("entries"),
            sa.func.count(sa.distinct(e.c.realization)).label("realizations"),
            sa.func.min(e.c.t0_s).label("t0_s"),
            sa.func.max(e.c.t1_s).label("t1_s"),
            sa.func.sum(e.c.energy_j).label("energy_j"),
        )
        .where(e.c.run_uid == uid)
        .group_by(*keys)
        .order_by(*keys)
    )
    return [dict(r) for r in conn.execute(q).mappings()]


def _quantities(conn: Connection, uid: str) -> list[str]:
    """Names of the readings sampled in run ``uid``, sorted."""
    if conn.dialect.name == "postgresql":
        sql = "SELECT DISTINCT json_object_keys(data) FROM samples WHERE run_uid = :u"
    else:
        sql = "SELECT DISTINCT j.key FROM samples, json_each(samples.data) j WHERE run_uid = :u"
    return sorted(str(name) for name in conn.execute(sa.text(sql), {"u": uid}).scalars())


def show_run(ledger: Ledger, ref: str) -> dict[str, Any]:
    """Everything about one run: provenance, status, joules per phase/component/source/method.

    Returns
    -------
    dict
        ``run`` (the run row plus ISO ``started``/``stopped``), ``energy`` (one row per phase,
        component, source and method: entries, realizations, ``t0_s``..``t1_s``, ``energy_j``),
        ``energy_j_total``, ``samples`` (sample documents) and ``quantities`` (sampled reading
        names).
    """
    with ledger.read() as conn:
        uid = resolve_run(conn, ref)
        info = _run_info(conn, uid)
        energy = _energy_breakdown(conn, uid)
        n_samples = conn.execute(
            sa.select(sa.func.count()).where(samples.c.run_uid == uid)
        ).scalar_one()
        names = _quantities(conn, uid)
    return {
        "run": info,
        "energy": energy,
        "energy_j_total": float(sum(r["energy_j"] for r in energy)),
        "samples": int(n_samples),
        "quantities": list(names),
    }


# --------------------------------------------------------------------------- history


def energy_history(
    ledger: Ledger,
    *,
    board: str | None = None,
    since: str | None = None,
    until: str | None = None,
    phase: str | None = None,
    every: str = "1d",
) -> list[dict[str, Any]]:
    """Joules per time bucket, entry source (twin/board), phase and component.

    An entry's time is ``runs.started_unix + t0_s``: the wall clock for boards, and for the twin
    the time the simulated circuit would have reached that point had it run in real time from the
    run's start. Buckets are aligned on multiples of ``every`` since the epoch (UTC).

    Parameters
    ----------
    board
        Only runs of this board.
    since, until
        ISO date/time (UTC when naive) or a duration ago (``30d``).
    phase
        Only this phase (training, inference, idle, calibration).
    every
        Bucket width: ``30s``, ``15m``, ``1h``, ``1d``, ``1w``...
    """
    width = parse_duration(every)
    _choice(phase, ENERGY_PHASE, "phase")
    e = entries
    t = runs.c.started_unix + e.c.t0_s
    bucket = (_floor(t / sa.literal_column(repr(width))) * sa.literal_column(repr(width))).label(
        "bucket_unix"
    )
    keys = (e.c.source, e.c.phase, e.c.component)
    q = (
        sa.select(
            bucket,
            *keys,
            sa.func.count(sa.distinct(e.c.run_uid)).label("runs"),
            sa.func.count().label("entries"),
            sa.func.sum(e.c.energy_j).label("energy_j"),
        )
        .select_from(e.join(runs, runs.c.uid == e.c.run_uid))
        .group_by(bucket, *keys)
        .order_by(bucket, *keys)
    )
    if board is not None:
        q = q.where(runs.c.board == board)
    if since is not None:
        q = q.where(t >= parse_time(since))
    if until is not None:
        q = q.where(t < parse_time(until, field="until"))
    if phase is not None:
        q = q.where(e.c.phase == phase)
    with ledger.read() as conn:
        rows = conn.execute(q).mappings().all()
    return [
        {"bucket": iso_utc(float(r["bucket_unix"])), **{k: r[k] for k in r if k != "bucket_unix"}}
        for r in rows
    ]


# --------------------------------------------------------------------------- compare


def compare_runs(ledger: Ledger, ref_a: str, ref_b: str) -> dict[str, Any]:
    """Joules of two runs side by side, per phase and component (one row each, whatever
    source booked them: a board's estimate and its twin's integral share a row).

    Returns
    -------
    dict
        ``runs`` (the two run rows), ``energy`` (rows with ``phase``, ``component``, ``source``
        (the sources, ``a / b`` when they differ), ``a_j``, ``b_j``, ``ratio`` = b/a or
        ``None``) and ``total`` (same keys, all rows).
    """
    with ledger.read() as conn:
        uids = [resolve_run(conn, ref_a), resolve_run(conn, ref_b)]
        infos = [_run_info(conn, uid) for uid in uids]
        table: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
        sources: dict[tuple[str, str], tuple[set[str], set[str]]] = defaultdict(
            lambda: (set(), set())
        )
        for i, uid in enumerate(uids):
            for row in _energy_breakdown(conn, uid):
                key = (row["phase"], row["component"])
                table[key][i] += row["energy_j"]
                sources[key][i].add(row["source"])

    def ratio(a: float, b: float) -> float | None:
        return b / a if a > 0 else None

    def source(key: tuple[str, str]) -> str:
        sa, sb = (",".join(sorted(s)) or "-" for s in sources[key])
        return sa if sa == sb else f"{sa} / {sb}"

    rows: list[dict[str, Any]] = [
        {"phase": p, "component": c, "source": source((p, c)), "a_j": a, "b_j": b,
         "ratio": ratio(a, b)}
        for (p, c), (a, b) in sorted(table.items())
    ]  # fmt: skip
    tot_a = float(sum(r["a_j"] for r in rows))
    tot_b = float(sum(r["b_j"] for r in rows))
    keep = ("uid", "kind", "source", "board", "status", "started", "realizations", "params")
    return {
        "runs": [{k: info[k] for k in keep} for info in infos],
        "energy": rows,
        "total": {"a_j": tot_a, "b_j": tot_b, "ratio": ratio(tot_a, tot_b)},
    }
