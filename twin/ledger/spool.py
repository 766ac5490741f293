"""The local spool: where a writer puts finished work when the ledger database is unavailable.

When a :class:`~twin.ledger.LedgerWriter` cannot commit for longer than its patience (the
database is down, read-only, or locked for minutes), it stops trying and appends the documents it
holds, and every later one, to a JSON-lines spool file (the start documents of its open runs
first, so the file stands alone). The run goes on; nothing finished is lost.

Spool files live in ``$TWIN_SPOOL_DIR``, else ``spool/`` beside the per-user ledger file, in a
folder per database (a hash of its URL), named ``HOST-PID-TIME.jsonl.part`` while written and
``.jsonl`` once the writer closed it. The next :func:`~twin.ledger.open_ledger` of that database
(or ``twin energy import``) imports every closed spool file, and every unclosed one whose writer
process is gone, with the import rules of :mod:`twin.ledger.replay` (all or nothing, never
downgrading a run), and deletes it once imported. A file that cannot be imported is renamed
``.rejected`` with a warning.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from .location import default_path

__all__ = ["SPOOL_ENV", "Spool", "pending_spool_files", "spool_dir"]

log = logging.getLogger("twin.ledger")

#: Environment variable overriding the spool folder.
SPOOL_ENV = "TWIN_SPOOL_DIR"


def spool_dir(url: str, base: str | Path | None = None) -> Path:
    """The spool folder of the ledger at (resolved) ``url``."""
    root = Path(base) if base is not None else None
    if root is None:
        env = os.environ.get(SPOOL_ENV, "").strip()
        root = Path(env) if env else default_path().parent / "spool"
    digest = hashlib.sha256(url.encode()).hexdigest()[:16]
    return root / digest


class Spool:
    """An append-only JSON-lines spool file (created on first write, fsynced on stops)."""

    def __init__(self, folder: Path, url_shown: str) -> None:
        self.folder = folder
        self.path = folder / f"{socket.gethostname()}-{os.getpid()}-{time.time_ns()}.jsonl"
        self._part = self.path.with_name(self.path.name + ".part")
        self.url_shown = url_shown
        self.count = 0
        self._fh: IO[str] | None = None

    def write(self, doc: Mapping[str, Any]) -> None:
        if self._fh is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            (self.folder / "URL").write_text(self.url_shown + "\n")
            self._fh = self._part.open("a", encoding="utf-8")
        self._fh.write(json.dumps(doc, separators=(",", ":")) + "\n")
        self.count += 1

    def sync(self) -> None:
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())

    def close(self) -> None:
        """Sync and close; the file becomes ``.jsonl`` (ready to import)."""
        if self._fh is not None:
            self.sync()
            self._fh.close()
            self._fh = None
            self._part.rename(self.path)


def _writer_gone(path: Path) -> bool:
    from .repair import pid_alive  # local: repair imports db

    stem = path.name.removesuffix(".part").removesuffix(".jsonl")
    host, _, rest = stem.rpartition("-")[0].rpartition("-")
    try:
        pid = int(rest)
    except ValueError:
        return True
    return host != socket.gethostname() or not pid_alive(pid)


def pending_spool_files(url: str, base: str | Path | None = None) -> list[Path]:
    """Spool files of the ledger at ``url`` to import (closed, or writer gone), oldest first."""
    folder = spool_dir(url, base)
    if not folder.is_dir():
        return []
    files = list(folder.glob("*.jsonl"))
    files += [p for p in folder.glob("*.jsonl.part") if _writer_gone(p)]
    return sorted(files, key=lambda p: p.stat().st_mtime)
