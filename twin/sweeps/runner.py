"""Running a sweep: submit the missing cells, record each one as it completes, resume later.

:func:`run_sweep` registers the sweep in the ledger database, works out which cells are missing
(no result, or ``running`` under a dead owner), claims them and keeps at most
``executor.workers`` of them in flight. Each completed cell is committed with its results in one
transaction (:func:`twin.sweeps.store.finish`), so an interrupted sweep resumes where it stopped
and never repeats or double-counts a finished cell; the scheduler's own state is never relied on.

- A cell that raises is recorded ``failed`` with ``Type: message`` and the sweep goes on
  (``retry_failed=True`` submits failed cells again).
- A cell whose worker died (:class:`~twin.sweeps.executors.WorkerLost`) or that is still out after
  ``timeout_s`` is resubmitted, at most ``max_attempts`` submissions in all, then recorded failed.
- ``rerun=True`` recomputes every cell (after a code change: the code version is provenance, not
  part of the cell id).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from ..errors import TwinError
from ..ledger.db import Ledger, open_ledger
from . import store
from .cells import Cell, expand
from .errors import SweepError, SweepSpecError
from .evaluate import check_cell
from .executors import Executor, LocalExecutor, WorkerLost
from .metrics import METRICS
from .provenance import code_version
from .spec import SweepSpec, spec_from_dict

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "STATUSES",
    "SweepOutcome",
    "SweepStatus",
    "check_cells",
    "results_frame",
    "run_sweep",
    "sweep_status",
]

log = logging.getLogger("twin.sweeps")

Progress = Callable[[int, int], None]
#: Statuses reported by :func:`sweep_status`.
STATUSES = ("done", "running", "failed", "missing")
#: Seconds between heartbeats of the running cells.
HEARTBEAT_S = 15.0
#: Longest wait of one poll, s (progress is reported after every poll).
POLL_S = 1.0
#: Default bound on submissions of one cell (first try included).
MAX_ATTEMPTS = 3


@attrs.frozen(kw_only=True)
class SweepOutcome:
    """What :func:`run_sweep` did.

    ``cells``: cells of the spec; ``already_done``: found done; ``computed``: finished now;
    ``failed``: recorded failed now; ``resubmitted``: resubmissions (timeouts, lost workers);
    ``skipped_failed``: failed earlier and not retried; ``skipped_running``: live elsewhere.
    """

    name: str
    cells: int
    already_done: int
    computed: int
    failed: int
    resubmitted: int
    skipped_failed: int
    skipped_running: int
    elapsed_s: float
    code_version: str
    failures: tuple[tuple[str, str], ...] = ()

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary."""
        out = attrs.asdict(self)
        out["failures"] = [{"cell_id": c, "error": e} for c, e in self.failures]
        return out


@attrs.frozen(kw_only=True)
class SweepStatus:
    """Counts of done / running / failed / missing cells, and each cell's status in order."""

    name: str
    counts: dict[str, int]
    cells: tuple[dict[str, Any], ...]

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {"name": self.name, "counts": dict(self.counts), "cells": list(self.cells)}


def _status_of(state: store.CellState | None, now: float) -> str:
    if state is None or state.status == "pending":
        return "missing"
    if state.status == "running":
        return "running" if store.is_live(state, now=now) else "missing"
    return state.status


def sweep_status(spec: SweepSpec, *, db_url: str | None = None) -> SweepStatus:
    """How far ``spec`` is: done / running (owner alive) / failed / missing, per cell."""
    cells = expand(spec)
    with open_ledger(db_url) as ledger:
        states = store.cell_states(ledger, [c.cell_id for c in cells])
    now = time.time()
    counts = dict.fromkeys(STATUSES, 0)
    rows = []
    for cell in cells:
        state = states.get(cell.cell_id)
        status = _status_of(state, now)
        counts[status] += 1
        row: dict[str, Any] = {"cell_id": cell.cell_id, "status": status, **cell.values}
        if state is not None and state.error:
            row["error"] = state.error
        rows.append(row)
    return SweepStatus(name=spec.name, counts=counts, cells=tuple(rows))


def _todo(
    cells: list[Cell], states: Mapping[str, store.CellState], *, rerun: bool, retry_failed: bool
) -> tuple[list[Cell], dict[str, int]]:
    now = time.time()
    skipped = {"done": 0, "failed": 0, "running": 0}
    todo = []
    for cell in cells:
        status = _status_of(states.get(cell.cell_id), now)
        if status == "missing" or rerun or (status == "failed" and retry_failed):
            todo.append(cell)
        else:
            skipped[status] += 1
    return todo, skipped


def _error_text(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    return " ".join(text.split())[:2000]


class _Loop:
    """The submit / wait / record loop of one :func:`run_sweep` call."""

    def __init__(
        self,
        ledger: Ledger,
        executor: Executor,
        *,
        timeout_s: float | None,
        max_attempts: int,
        progress: Progress | None,
    ) -> None:
        self.ledger, self.executor = ledger, executor
        self.timeout_s, self.max_attempts, self.progress = timeout_s, max_attempts, progress
        self.owner = store.Owner()
        self.version = code_version()
        self.inflight: dict[Any, tuple[Cell, float, int]] = {}  # future -> cell, deadline, try
        self.computed = self.failed = self.resubmitted = 0
        self.failures: list[tuple[str, str]] = []

    def submit(self, cell: Cell, attempt: int) -> None:
        store.claim(self.ledger, [cell.cell_id], self.owner)  # running, counts the attempt
        fut = self.executor.submit(cell.kind, cell.params, list(cell.seeds), f"cell-{cell.cell_id}")
        deadline = time.monotonic() + self.timeout_s if self.timeout_s else float("inf")
        self.inflight[fut] = (cell, deadline, attempt)

    def retry_or_fail(self, cell: Cell, attempt: int, why: str) -> None:
        if attempt < self.max_attempts:
            log.warning("cell %s: %s; resubmitting (attempt %d)", cell.cell_id, why, attempt + 1)
            self.resubmitted += 1
            self.submit(cell, attempt + 1)
        else:
            self.fail(cell, f"{why} (after {attempt} attempts)")

    def fail(self, cell: Cell, error: str) -> None:
        store.record_failure(self.ledger, cell, error, self.version)
        self.failed += 1
        self.failures.append((cell.cell_id, error))

    def collect(self, fut: Any) -> None:
        cell, _, attempt = self.inflight.pop(fut)
        try:
            outcome = self.executor.outcome(fut)
        except WorkerLost as exc:
            self.retry_or_fail(cell, attempt, f"worker lost: {exc}")
            return
        except Exception as exc:
            log.warning("cell %s failed: %s", cell.cell_id, _error_text(exc))
            self.fail(cell, _error_text(exc))
            return
        store.finish(self.ledger, cell, outcome, self.version)
        self.computed += 1

    def expire(self) -> None:
        now = time.monotonic()
        for fut, (cell, deadline, attempt) in list(self.inflight.items()):
            if now >= deadline and fut in self.inflight:
                del self.inflight[fut]
                self.executor.abandon(fut)
                self.retry_or_fail(cell, attempt, f"no result within {self.timeout_s:g} s")

    def run(self, todo: list[Cell]) -> None:
        queue = list(reversed(todo))
        total = len(todo)
        last_beat = time.monotonic()
        while queue or self.inflight:
            while queue and len(self.inflight) < self.executor.workers:
                self.submit(queue.pop(), 1)
            deadlines = [d for _, d, _ in self.inflight.values()]
            wait_s = min([POLL_S, *(d - time.monotonic() for d in deadlines)])
            for fut in self.executor.wait(list(self.inflight), max(wait_s, 0.01)):
                if fut in self.inflight:
                    self.collect(fut)
            self.expire()
            if time.monotonic() - last_beat >= HEARTBEAT_S:
                store.heartbeat(self.ledger, self.owner)
                last_beat = time.monotonic()
            if self.progress is not None:
                self.progress(self.computed + self.failed, total)


def check_cells(spec: SweepSpec, cells: list[Cell]) -> None:
    """Build every cell's configuration before anything runs (one-line :class:`SweepSpecError`
    naming the file, the cell and the problem)."""
    for cell in cells:
        try:
            check_cell(cell.kind, cell.params)
        except TwinError as exc:
            where = ", ".join(f"{k} = {v!r}" for k, v in cell.values.items()) or "base"
            raise SweepSpecError(f"{spec.source}: cell {cell.position} ({where}): {exc}") from None


def run_sweep(
    spec: SweepSpec,
    *,
    db_url: str | None = None,
    executor: Executor | None = None,
    progress: Progress | None = None,
    rerun: bool = False,
    retry_failed: bool = False,
    timeout_s: float | None = None,
    max_attempts: int = MAX_ATTEMPTS,
) -> SweepOutcome:
    """Compute the missing cells of ``spec`` and record them in the ledger at ``db_url``.

    Parameters
    ----------
    spec
        The sweep.
    db_url
        Ledger database (SQLAlchemy URL or SQLite path; ``None``: ``$TWIN_DB_URL`` or the
        per-user default file).
    executor
        Where cells run (default: :class:`LocalExecutor` on all CPUs, closed afterwards; an
        executor passed in is left open).
    progress
        Called as ``progress(finished, total)`` (cells of this run) after every poll.
    rerun
        Recompute every cell, done or not.
    retry_failed
        Submit cells recorded as failed again.
    timeout_s
        Resubmit a cell not back after this many seconds (default: the spec's ``timeout_s``,
        else the executor's default: none locally, 3600 s on Dask).
    max_attempts
        Submissions of one cell at most (timeouts and lost workers), then it is recorded failed.
    """
    if max_attempts < 1:
        raise SweepError(f"max_attempts: expected >= 1, got {max_attempts}")
    t0 = time.perf_counter()
    cells = expand(spec)
    check_cells(spec, cells)
    own = executor is None
    with open_ledger(db_url) as ledger:
        version = code_version()
        store.register(ledger, spec, cells, version)
        states = store.cell_states(ledger, [c.cell_id for c in cells])
        todo, skipped = _todo(cells, states, rerun=rerun, retry_failed=retry_failed)
        if not todo:
            return _outcome(spec, cells, skipped, None, t0, version)
        ex: Executor = LocalExecutor() if executor is None else executor
        timeout = timeout_s or spec.timeout_s or ex.default_timeout_s
        loop = _Loop(ledger, ex, timeout_s=timeout, max_attempts=max_attempts, progress=progress)
        try:
            loop.run(todo)
        finally:
            store.release(ledger, [c.cell_id for c in todo], loop.owner)
            if own:
                ex.close()
    return _outcome(spec, cells, skipped, loop, t0, version)


def _outcome(
    spec: SweepSpec,
    cells: list[Cell],
    skipped: dict[str, int],
    loop: _Loop | None,
    t0: float,
    version: str,
) -> SweepOutcome:
    return SweepOutcome(
        name=spec.name,
        cells=len(cells),
        already_done=skipped["done"],
        computed=loop.computed if loop else 0,
        failed=loop.failed if loop else 0,
        resubmitted=loop.resubmitted if loop else 0,
        skipped_failed=skipped["failed"],
        skipped_running=skipped["running"],
        elapsed_s=time.perf_counter() - t0,
        code_version=version,
        failures=tuple(loop.failures) if loop else (),
    )


def results_frame(spec_or_name: SweepSpec | str, *, db_url: str | None = None) -> pd.DataFrame:
    """The sweep's results as a tidy table: one row per cell and realization.

    Columns: ``cell_id``, ``position`` (cell order), ``realization``, ``seed``, every parameter,
    every metric (NaN where undefined or not computed), ``status`` (done / running / failed /
    missing) and ``code_version``. A name looks the spec up in the database.
    """
    import pandas as pd

    with open_ledger(db_url) as ledger:
        if isinstance(spec_or_name, str):
            stored = store.stored_spec(ledger, spec_or_name)
            if stored is None:
                raise SweepError(f"sweep: no sweep named {spec_or_name!r} in {ledger.url}")
            spec = spec_from_dict(stored, source=f"sweep {spec_or_name!r}")
        else:
            spec = spec_or_name
        cells = expand(spec)
        ids = [c.cell_id for c in cells]
        states = store.cell_states(ledger, ids)
        results = store.result_rows(ledger, ids)
    now = time.time()
    metrics: dict[tuple[str, int], dict[str, Any]] = {}
    for cid, r, _seed, metric, value in results:
        metrics.setdefault((cid, r), {})[metric] = float("nan") if value is None else value
    records = []
    for cell in cells:
        state = states.get(cell.cell_id)
        status = _status_of(state, now)
        for r, seed in enumerate(cell.seeds):
            row = {
                "cell_id": cell.cell_id,
                "position": cell.position,
                "realization": r,
                "seed": seed,
                **cell.params,
            }
            row |= metrics.get((cell.cell_id, r), {}) if status == "done" else {}
            row["status"] = status
            row["code_version"] = state.code_version if state else None
            records.append(row)
    frame = pd.DataFrame.from_records(records)
    if not cells:
        return frame
    front = ["cell_id", "position", "realization", "seed", *cells[0].params]
    known = [m for m in METRICS[spec.kind] if m in frame.columns]
    extra = sorted(set(frame.columns) - {*front, *known, "status", "code_version"})
    return frame[[*front, *known, *extra, "status", "code_version"]]
