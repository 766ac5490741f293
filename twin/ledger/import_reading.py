"""Reading a JSON-lines file of run documents for import: bounded lines, each parsed and checked.

:func:`read_documents` reads every line before anything is written (:mod:`twin.ledger.replay`
then records the documents in one transaction): a torn line, a line that is not a JSON object,
or a document that fails its schema or what the ledger can store raises
:class:`ImportFileError` naming ``FILE:LINE``, unless bad lines are skipped and counted.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .._files import NotARegularFileError, regular_file
from ..documents import DocumentError, validate_document
from ._bulk import check_entry, command_row
from .alarm_record import alarm_row
from .errors import LedgerError
from .import_checks import check_imported

__all__ = ["MAX_LINE_CHARS", "ImportFileError", "Numbered", "read_documents"]

log = logging.getLogger("twin.ledger")


class ImportFileError(LedgerError, ValueError):
    """A document file cannot be imported (a bad line, or a run the ledger does not know)."""


#: Longest line read (a start document with large params, a sample of 10,000 realizations).
MAX_LINE_CHARS = 64 << 20

Numbered = list[tuple[int, dict[str, Any]]]


def _bad_reason(line: str) -> tuple[dict[str, Any] | None, str]:
    try:
        doc = json.loads(line)
    except json.JSONDecodeError as exc:
        return None, f"not a JSON document (torn line?): {exc.msg}"
    except RecursionError:  # arrays or objects nested thousands deep (found by the import fuzzer)
        return None, "not a run document: nested too deeply"
    if not isinstance(doc, dict):
        return None, "not a JSON object"
    try:
        validate_document(doc)
        # first: integers beyond 64 bits and non-finite numbers, which the row checks below
        # cannot even convert (an energy t0_s of 10^400 overflowed float(); found by the deep
        # import fuzzer)
        check_imported(doc)
        if doc["doc"] == "energy":
            check_entry(doc)
        elif doc["doc"] == "command":
            command_row(doc)  # raises on what the commands table cannot hold
        elif doc["doc"] == "alarm":
            alarm_row(doc)
    except (DocumentError, LedgerError) as exc:
        return None, str(exc)
    return doc, ""


def _lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """Numbered lines of a regular file, each at most :data:`MAX_LINE_CHARS` (bounded reads)."""
    try:
        if regular_file(path) is None:
            raise ImportFileError(f"{path}: cannot read: no such file")
    except NotARegularFileError as exc:
        expected = "a JSON-lines file of run documents expected"
        raise ImportFileError(f"{path}: {exc}; {expected}") from None
    try:
        with open(path, encoding="utf-8") as fh:
            for lineno in itertools.count(1):
                line = fh.readline(MAX_LINE_CHARS + 1)
                if not line:
                    return
                if len(line) > MAX_LINE_CHARS:
                    raise ImportFileError(
                        f"{path}:{lineno}: a line longer than {MAX_LINE_CHARS:,} characters; "
                        "a JSON-lines file of run documents expected"
                    )
                yield lineno, line
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportFileError(f"{path}: cannot read: {exc}") from None


def read_documents(path: str | Path, *, skip_bad_lines: bool = False) -> tuple[Numbered, int]:
    """The ``(line number, document)`` pairs of a JSON-lines file, and the bad lines skipped.

    Raises
    ------
    ImportFileError
        A line is torn, not JSON or not a valid document (unless ``skip_bad_lines``).
    """
    docs: Numbered = []
    skipped = 0
    for lineno, line in _lines(path):
        if not line.strip():
            continue
        doc, why = _bad_reason(line)
        if doc is not None:
            docs.append((lineno, doc))
        elif skip_bad_lines:
            skipped += 1
            log.warning("%s:%d: skipped: %s", path, lineno, why)
        else:
            raise ImportFileError(
                f"{path}:{lineno}: {why}; nothing of the file was imported "
                "(--skip-bad-lines imports the rest)"
            )
    return docs, skipped
