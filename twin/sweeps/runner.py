"""Running sweeps: submit the missing cells, record each one as it completes, resume later.

:func:`run_sweep` (one sweep) and :func:`run_sweeps` (several, their cells pooled so that no
core idles between sweeps) register the sweeps in the ledger database, work out which cells are
missing (no result, or ``running`` under a dead owner), and keep at most ``executor.workers``
cells in flight, each claimed (``running``) when submitted. Each completed cell is committed
with its results in one transaction (:func:`twin.sweeps.store.finish`), so an interrupted sweep
resumes where it stopped and never repeats or double-counts a finished cell; the scheduler's
own state is never relied on.

- A cell that raises is recorded ``failed`` with ``Type: message`` and the sweep goes on
  (``retry_failed=True`` submits failed cells again).
- A cell whose worker died (:class:`~twin.sweeps.executors.WorkerLost`) or that is still out after
  its timeout is resubmitted, at most ``max_attempts`` submissions in all, then recorded failed.
- ``rerun=True`` recomputes every cell (after a code change: the code version is provenance, not
  part of the cell id).
- Trainer cells that differ only in lambda, kappa, alpha, stop_tol or control_tol (at one alpha)
  are submitted together, up to 8 at a time (:mod:`twin.sweeps.batches`: one run, their
  realizations on one network in one lane group); each is recorded on its own, with the rows it
  gets alone. A batch that raises is submitted again cell by cell, so a failure is recorded
  against its own cell.
- Units of work are submitted longest first by their estimates
  (:func:`twin.sweeps.estimate.longest_first`), so that the workers finish together.

:func:`sweep_status` and :func:`results_frame` (:mod:`twin.sweeps.results`) read sweeps back.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
import sqlalchemy as sa

from ..errors import TwinError
from ..ledger.db import Ledger, open_ledger
from ..ledger.errors import LedgerConnectionError
from . import store
from .batches import Unit, batches, split_outcome, unit_params
from .cells import Cell, expand
from .errors import SweepError, SweepSpecError
from .estimate import longest_first
from .evaluate import check_cell
from .executors import Executor, LocalExecutor, WorkerLost
from .provenance import code_version
from .results import STATUSES, SweepStatus, results_frame, sweep_status
from .spec import SweepSpec

__all__ = [
    "MAX_ATTEMPTS",
    "STATUSES",
    "SweepOutcome",
    "SweepStatus",
    "check_cells",
    "results_frame",
    "run_sweep",
    "run_sweeps",
    "sweep_status",
]

log = logging.getLogger("twin.sweeps")

Progress = Callable[[int, int], None]
#: Seconds between heartbeats of the running cells.
HEARTBEAT_S = 15.0
#: Longest wait of one poll, s (progress is reported after every poll).
POLL_S = 1.0
#: Default bound on submissions of one cell (first try included).
MAX_ATTEMPTS = 3


@attrs.frozen(kw_only=True)
class SweepOutcome:
    """What :func:`run_sweep` did for one sweep.

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


def _error_text(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    return " ".join(text.split())[:2000]


class _Loop:
    """The submit / wait / record loop of one :func:`run_sweeps` call."""

    def __init__(
        self,
        ledger: Ledger,
        executor: Executor,
        *,
        timeouts: Mapping[str, float | None],
        max_attempts: int,
        progress: Progress | None,
    ) -> None:
        self.ledger, self.executor = ledger, executor
        self.timeouts, self.max_attempts, self.progress = timeouts, max_attempts, progress
        self.owner = store.Owner()
        self.version = code_version()
        self.inflight: dict[Any, tuple[Unit, float, int]] = {}  # future -> unit, deadline, try
        self.computed: set[str] = set()
        self.failed: dict[str, str] = {}  # cell id -> error
        self.resubmitted: Counter[str] = Counter()
        self.queue: list[Unit] = []  # units still to submit, the next one last

    def timeout(self, unit: Unit) -> float | None:
        """A unit's timeout: its cells' summed (none if any cell has none)."""
        each = [self.timeouts.get(c.cell_id) for c in unit]
        return None if any(not t for t in each) else float(sum(t or 0.0 for t in each))

    def submit(self, unit: Unit, attempt: int) -> None:
        ids = [c.cell_id for c in unit]
        store.claim(self.ledger, ids, self.owner)  # running, counts the attempt
        kind, params = unit_params(unit)
        fut = self.executor.submit(kind, params, list(unit[0].seeds), f"cell-{ids[0]}")
        timeout = self.timeout(unit)
        deadline = time.monotonic() + timeout if timeout else float("inf")
        self.inflight[fut] = (unit, deadline, attempt)

    def retry_or_fail(self, unit: Unit, attempt: int, why: str) -> None:
        if attempt < self.max_attempts:
            ids = ", ".join(c.cell_id for c in unit)
            log.warning("cell %s: %s; resubmitting (attempt %d)", ids, why, attempt + 1)
            for cell in unit:
                self.resubmitted[cell.cell_id] += 1
            self.submit(unit, attempt + 1)
        else:
            self.fail(unit, f"{why} (after {attempt} attempts)")

    def fail(self, unit: Unit, error: str) -> None:
        for cell in unit:
            store.record_failure(self.ledger, cell, error, self.version)
            self.failed[cell.cell_id] = error

    def collect(self, fut: Any) -> None:
        unit, _, attempt = self.inflight.pop(fut)
        try:
            outcome = self.executor.outcome(fut)
        except WorkerLost as exc:
            self.retry_or_fail(unit, attempt, f"worker lost: {exc}")
            return
        except Exception as exc:
            if len(unit) > 1:  # each cell alone: the failure is recorded against its own cell
                log.warning("batch of %d cells failed (%s); submitting them one by one",
                            len(unit), _error_text(exc))  # fmt: skip
                self.queue.extend((cell,) for cell in reversed(unit))
                return
            log.warning("cell %s failed: %s", unit[0].cell_id, _error_text(exc))
            self.fail(unit, _error_text(exc))
            return
        for cell, part in zip(unit, split_outcome(unit, outcome), strict=True):
            store.finish(self.ledger, cell, part, self.version)
            self.computed.add(cell.cell_id)

    def expire(self) -> None:
        now = time.monotonic()
        for fut, (unit, deadline, attempt) in list(self.inflight.items()):
            if now >= deadline and fut in self.inflight:
                del self.inflight[fut]
                self.executor.abandon(fut)
                why = f"no result within {self.timeout(unit):g} s"
                self.retry_or_fail(unit, attempt, why)

    def run(self, todo: list[Cell]) -> None:
        units = batches(todo)
        self.queue = [units[i] for i in reversed(longest_first(units))]
        queue = self.queue
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
                self.progress(len(self.computed) + len(self.failed), total)


def check_cells(spec: SweepSpec, cells: list[Cell]) -> None:
    """Build every cell's configuration before anything runs (one-line :class:`SweepSpecError`
    naming the file, the cell and the problem)."""
    for cell in cells:
        try:
            check_cell(cell.kind, cell.params)
        except TwinError as exc:
            where = ", ".join(f"{k} = {v!r}" for k, v in cell.values.items()) or "base"
            raise SweepSpecError(f"{spec.source}: cell {cell.position} ({where}): {exc}") from None


def _wanted(status: str, rerun: bool, retry_failed: bool) -> bool:
    """Whether a cell of this status is submitted."""
    return status == "missing" or rerun or (status == "failed" and retry_failed)


def run_sweeps(
    specs: Sequence[SweepSpec],
    *,
    db_url: str | None = None,
    executor: Executor | None = None,
    progress: Progress | None = None,
    rerun: bool = False,
    retry_failed: bool = False,
    timeout_s: float | None = None,
    max_attempts: int = MAX_ATTEMPTS,
) -> list[SweepOutcome]:
    """Compute the missing cells of several sweeps at once (one pool of cells, in spec order).

    A cell shared by two sweeps is computed once (and counted in both outcomes). Parameters as
    :func:`run_sweep`; ``progress`` counts the cells of all the sweeps. Sweep names must differ.
    """
    if max_attempts < 1:
        raise SweepError(f"max_attempts: expected >= 1, got {max_attempts}")
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise SweepError(f"sweeps: names must differ, got {names}")
    t0 = time.perf_counter()
    cells = {spec.name: expand(spec) for spec in specs}
    for spec in specs:
        check_cells(spec, cells[spec.name])
    version = code_version()
    with open_ledger(db_url) as ledger:
        for spec in specs:
            store.register(ledger, spec, cells[spec.name], version)
        every = {c.cell_id: c for spec in specs for c in cells[spec.name]}
        states = store.cell_states(ledger, list(every))
        now = time.time()
        status = {cid: store.status_of(states.get(cid), now) for cid in every}
        todo = [c for c in every.values() if _wanted(status[c.cell_id], rerun, retry_failed)]
        loop = _run_cells(ledger, specs, cells, todo, executor, progress, timeout_s, max_attempts)
    return [_outcome(spec, cells[spec.name], status, loop, t0, version) for spec in specs]


def _run_cells(
    ledger: Ledger,
    specs: Sequence[SweepSpec],
    cells: Mapping[str, list[Cell]],
    todo: list[Cell],
    executor: Executor | None,
    progress: Progress | None,
    timeout_s: float | None,
    max_attempts: int,
) -> _Loop | None:
    if not todo:
        return None
    ex: Executor = LocalExecutor() if executor is None else executor
    timeouts: dict[str, float | None] = {}
    for spec in specs:  # the first spec naming a cell sets its timeout
        for cell in cells[spec.name]:
            timeouts.setdefault(cell.cell_id, timeout_s or spec.timeout_s or ex.default_timeout_s)
    loop = _Loop(ledger, ex, timeouts=timeouts, max_attempts=max_attempts, progress=progress)
    try:
        loop.run(todo)
    except sa.exc.DBAPIError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise LedgerConnectionError(
            f"db: {ledger.url}: {reason}; the cells committed so far are kept: run the "
            "sweep again to resume"
        ) from None
    finally:
        _release(ledger, todo, loop.owner)
        if executor is None:
            ex.close()
    return loop


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
    (outcome,) = run_sweeps(
        [spec],
        db_url=db_url,
        executor=executor,
        progress=progress,
        rerun=rerun,
        retry_failed=retry_failed,
        timeout_s=timeout_s,
        max_attempts=max_attempts,
    )
    return outcome


def _release(ledger: Ledger, todo: list[Cell], owner: store.Owner) -> None:
    """Put this process's running cells back to pending (best effort: the database may be gone,
    and then they count as missing anyway once this process has ended)."""
    try:
        store.release(ledger, [c.cell_id for c in todo], owner)
    except sa.exc.DBAPIError as exc:
        log.warning("could not release the running cells: %s", exc)


def _outcome(
    spec: SweepSpec,
    cells: list[Cell],
    status: Mapping[str, str],
    loop: _Loop | None,
    t0: float,
    version: str,
) -> SweepOutcome:
    ids = [c.cell_id for c in cells]
    submitted = set(loop.computed) | set(loop.failed) if loop else set()
    before = Counter(status[i] for i in ids if i not in submitted and status[i] != "missing")
    return SweepOutcome(
        name=spec.name,
        cells=len(cells),
        already_done=before["done"],
        computed=sum(i in loop.computed for i in ids) if loop else 0,
        failed=sum(i in loop.failed for i in ids) if loop else 0,
        resubmitted=sum(loop.resubmitted[i] for i in ids) if loop else 0,
        skipped_failed=before["failed"],
        skipped_running=before["running"],
        elapsed_s=time.perf_counter() - t0,
        code_version=version,
        failures=tuple((i, loop.failed[i]) for i in ids if i in loop.failed) if loop else (),
    )
