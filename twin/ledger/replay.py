"""Replay: record run documents from JSON-lines files, never rewriting history.

``twin energy import`` and the spool pickup of :func:`~twin.ledger.open_ledger` use
:func:`import_file`. The rules:

- All or nothing per file: every line is parsed and validated first; a torn or invalid line (or
  a document of a run neither started in the file nor in the ledger) rejects the whole file with
  a one-line :class:`ImportFileError` naming ``FILE:LINE``, unless ``skip_bad_lines`` (then the
  bad lines are skipped and counted). The file is then written in one transaction.
- Never downgrade: a run already ``complete`` keeps its status, stop time, reason and summary
  whatever the file says; an ``aborted`` run is only upgraded by a ``complete`` stop; a file
  without a stop document leaves an existing run alone (a new run from it is marked
  ``aborted``, reason "imported without a stop document").
- Conflicts are named, not dropped: an entry whose ``(run, seq, component)`` is already recorded
  (or repeated in the file) with different joules is a conflict; any conflict rolls the file
  back and is reported (``twin energy import`` exits 2).
- The :class:`ImportReport` counts documents recorded, already there and conflicting.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import attrs
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ._bulk import (
    command_row,
    entry_row,
    insert_commands,
    insert_entries,
    insert_samples,
    jsonable,
    sample_row,
)
from ._retry import retry_locked
from .alarm_record import alarm_row, upsert_alarms
from .errors import LedgerError
from .import_reading import MAX_LINE_CHARS, ImportFileError, Numbered, read_documents
from .models import boards, commands, insert_ignore, runs, samples
from .repair import Transactions
from .spool import pending_spool_files

__all__ = [
    "MAX_LINE_CHARS",
    "ImportFileError",
    "ImportReport",
    "import_documents",
    "import_file",
    "import_spool",
    "read_documents",
    "summarize",
]

log = logging.getLogger("twin.ledger")

_SHOWN_CONFLICTS = 5


class Ledgerlike(Transactions, Protocol):
    """What an import needs of a :class:`twin.ledger.Ledger` (typed so that :mod:`.db` can
    import spool files on open without an import cycle)."""

    @property
    def url(self) -> str: ...


@attrs.frozen(kw_only=True)
class ImportReport:
    """What one file import did (counts are documents)."""

    path: str
    recorded: int = 0
    already: int = 0
    conflicts: tuple[str, ...] = ()
    skipped_lines: int = 0
    aborted_runs: tuple[str, ...] = ()

    @property
    def rejected(self) -> bool:
        """True when conflicts rolled the file back (nothing of it was recorded)."""
        return bool(self.conflicts)


class _Conflicts(Exception):
    def __init__(self, messages: list[str]) -> None:
        super().__init__(f"{len(messages)} conflict(s)")
        self.messages = messages


def _run_uid(doc: Mapping[str, Any]) -> str:
    return str(doc["uid"] if doc["doc"] == "start" else doc["run"])


class _Import:
    """One file's documents written in one transaction (see the module docstring)."""

    def __init__(self, conn: Connection, path: str, docs: Numbered, skip: bool) -> None:
        self.conn, self.path, self.skip = conn, path, skip
        self.recorded = self.already = self.skipped = 0
        self.conflicts: list[str] = []
        self.aborted: list[str] = []
        uids = sorted({_run_uid(d) for _, d in docs})
        q = sa.select(runs.c.uid, runs.c.status).where(runs.c.uid.in_(uids))
        self.status: dict[str, str] = {str(r[0]): str(r[1]) for r in conn.execute(q)}
        self.known = set(self.status)
        self.docs = self._known_runs(docs)

    def _known_runs(self, docs: Numbered) -> Numbered:
        started = {d["uid"] for _, d in docs if d["doc"] == "start"}
        kept: Numbered = []
        for lineno, doc in docs:
            uid = _run_uid(doc)
            if uid in started or uid in self.known:
                kept.append((lineno, doc))
                continue
            what = f"{self.path}:{lineno}: {doc['doc']} document of run {uid}, which is not in "
            what += "the ledger and has no start document in this file"
            if not self.skip:
                raise ImportFileError(f"{what}; nothing of the file was imported")
            self.skipped += 1
            log.warning("%s: skipped", what)
        return kept

    def run(self) -> None:
        by_kind: dict[str, Numbered] = defaultdict(list)
        for lineno, doc in self.docs:
            by_kind[doc["doc"]].append((lineno, doc))
        self._starts(by_kind["start"])
        rows = self._entries(by_kind["energy"])
        if self.conflicts:
            raise _Conflicts(self.conflicts)
        insert_entries(self.conn, rows)
        self._samples(by_kind["sample"])
        self._commands(by_kind["command"])
        alarm_rows = [alarm_row(doc) for _, doc in by_kind["alarm"]]
        upsert_alarms(self.conn, alarm_rows)  # one row per episode: a replay adds nothing
        self.recorded += len(alarm_rows)
        self._stops(by_kind["stop"])

    def _starts(self, starts: Numbered) -> None:
        for _, doc in starts:
            uid = doc["uid"]
            if uid in self.status:
                self.already += 1
                continue
            board = doc.get("board")
            if board is not None:
                self.conn.execute(
                    insert_ignore(self.conn.dialect.name, boards),
                    [{"name": board, "description": None, "created_unix": doc["time_unix"]}],
                )
            self.conn.execute(
                sa.insert(runs).values(
                    uid=uid,
                    source=doc["source"],
                    kind=doc["kind"],
                    board=board,
                    realizations=doc["realizations"],
                    params=jsonable(doc["params"]),
                    code_version=doc["code_version"],
                    started_unix=doc["time_unix"],
                    status="running",
                )
            )
            self.status[uid] = "running"
            self.recorded += 1

    def _existing_entries(self, uid: str) -> dict[tuple[int, str], float]:
        if uid not in self.known:
            return {}
        q = sa.text("SELECT seq, component, energy_j FROM entries WHERE run_uid = :uid")
        return {(s, c): e for s, c, e in self.conn.execute(q, {"uid": uid})}

    def _entries(self, docs: Numbered) -> list[tuple[Any, ...]]:
        seen: dict[str, dict[tuple[int, str], float]] = {}
        rows = []
        for lineno, doc in docs:
            uid = doc["run"]
            have = seen.get(uid)
            if have is None:
                have = seen[uid] = self._existing_entries(uid)
            key = (doc["seq"], doc["component"])
            joules = doc["energy_j"]
            old = have.get(key)
            if old is None:
                have[key] = joules
                rows.append(entry_row(doc))
                self.recorded += 1
            elif math.isclose(old, joules, rel_tol=1e-12, abs_tol=0.0):
                self.already += 1
            else:
                self.conflicts.append(
                    f"{self.path}:{lineno}: entry seq {key[0]} {key[1]} of run {uid} has "
                    f"{joules!r} J, the ledger has {old!r} J"
                )
        return rows

    def _samples(self, docs: Numbered) -> None:
        have: dict[str, set[int]] = {}
        rows = []
        for _, doc in docs:
            uid = doc["run"]
            if uid not in have:
                q = sa.select(samples.c.seq).where(samples.c.run_uid == uid).distinct()
                known = uid in self.known
                have[uid] = set(self.conn.execute(q).scalars()) if known else set()
            if doc["seq"] in have[uid]:
                self.already += 1
                continue
            have[uid].add(doc["seq"])
            rows.append(sample_row(doc))
            self.recorded += 1
        insert_samples(self.conn, rows)

    def _commands(self, docs: Numbered) -> None:
        have: dict[str, set[int]] = {}
        rows = []
        for _, doc in docs:
            uid = doc["run"]
            if uid not in have:
                q = sa.select(commands.c.seq).where(commands.c.run_uid == uid)
                have[uid] = set(self.conn.execute(q).scalars()) if uid in self.known else set()
            if doc["seq"] in have[uid]:
                self.already += 1
                continue
            have[uid].add(doc["seq"])
            rows.append(command_row(doc))
            self.recorded += 1
        insert_commands(self.conn, rows)

    def _stops(self, stops: Numbered) -> None:
        last: dict[str, dict[str, Any]] = {}
        for _, doc in stops:
            if doc["run"] in last:
                self.already += 1
            last[doc["run"]] = doc
        for uid, doc in last.items():
            current = self.status[uid]
            if current == "running" or (current == "aborted" and doc["status"] == "complete"):
                self._close(uid, doc["status"], doc["time_unix"], doc.get("reason"))
                if "summary" in doc:
                    summary = jsonable(doc["summary"])
                    self.conn.execute(
                        sa.update(runs).where(runs.c.uid == uid).values(summary=summary)
                    )
                self.recorded += 1
            else:
                self.already += 1
        for uid, current in self.status.items():
            if uid not in self.known and uid not in last and current == "running":
                name = Path(self.path).name
                self._close(uid, "aborted", None, f"imported from {name} without a stop document")
                self.aborted.append(uid)

    def _close(self, uid: str, status: str, stopped: float | None, reason: str | None) -> None:
        self.conn.execute(
            sa.update(runs)
            .where(runs.c.uid == uid, runs.c.status != "complete")
            .values(status=status, stopped_unix=stopped, reason=reason or None)
        )
        self.status[uid] = status


def import_file(
    ledger: Ledgerlike, path: str | Path, *, skip_bad_lines: bool = False
) -> ImportReport:
    """Import one JSON-lines document file (all or nothing; see the module docstring).

    Raises
    ------
    ImportFileError
        A bad line (unless ``skip_bad_lines``) or a document of an unknown run.
    """
    docs, skipped = read_documents(path, skip_bad_lines=skip_bad_lines)
    return import_documents(ledger, path, docs, skipped=skipped, skip_bad_lines=skip_bad_lines)


def import_documents(
    ledger: Ledgerlike,
    path: str | Path,
    docs: Numbered,
    *,
    skipped: int = 0,
    skip_bad_lines: bool = False,
) -> ImportReport:
    """Import the documents :func:`read_documents` read from ``path`` (``skipped`` bad lines).

    Raises
    ------
    ImportFileError
        A document of a run neither started in the file nor in the ledger (unless
        ``skip_bad_lines``).
    """
    shown = str(path)

    def write() -> _Import:
        with ledger.write() as conn:
            job = _Import(conn, shown, docs, skip_bad_lines)
            job.run()
        return job

    try:
        job = retry_locked(write)
    except _Conflicts as exc:
        return ImportReport(path=shown, conflicts=tuple(exc.messages), skipped_lines=skipped)
    return ImportReport(
        path=shown,
        recorded=job.recorded,
        already=job.already,
        skipped_lines=skipped + job.skipped,
        aborted_runs=tuple(job.aborted),
    )


def import_spool(ledger: Ledgerlike, base: str | Path | None = None) -> list[ImportReport]:
    """Import the ledger's spool files whose writer is gone; delete each once imported.

    A file that cannot be imported is renamed ``*.rejected`` (kept for inspection) with a
    warning. Torn last lines (a writer killed mid-line) are skipped.
    """
    reports = []
    for path in pending_spool_files(ledger.url, base):
        try:
            report = import_file(ledger, path, skip_bad_lines=True)
        except LedgerError as exc:
            report = ImportReport(path=str(path), conflicts=(str(exc),))
        if report.rejected:
            log.warning("spool file %s not imported: %s", path, "; ".join(report.conflicts))
            path.rename(path.with_name(path.name + ".rejected"))
        else:
            log.warning(
                "imported spool file %s: %d document(s) recorded, %d already there",
                path,
                report.recorded,
                report.already,
            )
            path.unlink(missing_ok=True)
        reports.append(report)
    return reports


def summarize(reports: Sequence[ImportReport]) -> dict[str, int]:
    """Totals of several reports: recorded, already, conflicted, skipped_lines, rejected_files."""
    return {
        "recorded": sum(r.recorded for r in reports),
        "already": sum(r.already for r in reports),
        "conflicted": sum(len(r.conflicts) for r in reports),
        "skipped_lines": sum(r.skipped_lines for r in reports),
        "rejected_files": sum(r.rejected for r in reports),
    }
