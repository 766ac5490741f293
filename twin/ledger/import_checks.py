"""What a document imported from a file must satisfy beyond its schema (``twin energy import``).

The schema (``twin.documents/1``) fixes the shapes; a file can still hold values that no run of
this project writes and that would poison every later query: times of 1e300 s or before 1970,
NaN or Infinity anywhere (Python's JSON reads both, and ``1e400`` as infinity), an energy entry
whose interval ends before it starts, run ids that queries cannot name (empty, ``last``, with
spaces), and names with control characters. Each check raises :class:`ImportCheckError` naming
the field and the expected form; the importer adds the file and line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..documents import first_non_finite
from .errors import LedgerError

__all__ = [
    "MAX_NAME_CHARS",
    "MAX_TIME_UNIX",
    "MIN_TIME_UNIX",
    "RESERVED_UIDS",
    "ImportCheckError",
    "check_imported",
]

#: Run references the queries give a meaning (``twin energy show last``): not usable as uids.
RESERVED_UIDS = ("last", "latest")
#: Wall-clock times accepted, seconds since the epoch: 1970-01-01 to 2100-01-01 (UTC).
MIN_TIME_UNIX, MAX_TIME_UNIX = 0.0, 4_102_444_800.0
#: Longest uid, board, component or reading name (the ledger's VARCHAR(64)).
MAX_NAME_CHARS = 64


class ImportCheckError(LedgerError, ValueError):
    """A document's value is out of what the ledger stores (message names the field)."""


def _uid(field: str, value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise ImportCheckError(f"{field}: a non-empty run id expected, got {value!r}")
    if len(value) > MAX_NAME_CHARS or not value.isprintable() or any(c.isspace() for c in value):
        raise ImportCheckError(
            f"{field}: a run id of at most {MAX_NAME_CHARS} printable characters without spaces "
            f"expected, got {value[:80]!r}"
        )
    if value in RESERVED_UIDS:
        raise ImportCheckError(
            f"{field}: {value!r} is reserved (queries read it as the latest run); "
            "use another run id"
        )


def _name(field: str, value: Any) -> None:
    if (
        not isinstance(value, str)
        or not value.strip()
        or value != value.strip()
        or len(value) > MAX_NAME_CHARS
        or not value.isprintable()
    ):
        raise ImportCheckError(
            f"{field}: a name of 1-{MAX_NAME_CHARS} printable characters (no leading or "
            f"trailing spaces) expected, got {str(value)[:80]!r}"
        )


def _time_unix(field: str, value: float) -> None:
    if not MIN_TIME_UNIX <= value <= MAX_TIME_UNIX:
        raise ImportCheckError(
            f"{field}: seconds since the epoch between {MIN_TIME_UNIX:g} (1970) and "
            f"{MAX_TIME_UNIX:g} (2100) expected, got {value!r}"
        )


#: Integer fields stored in the ledger's BIGINT/INTEGER columns, with their largest value.
COUNTERS = ("seq", "realizations", "realization", "step")
MAX_COUNTER = 2**63 - 1


def _first_huge_int(value: Any, path: str) -> str | None:
    """Path of the first integer outside the 64-bit range (no field of a run holds one)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return path if abs(value) > MAX_COUNTER else None
    if isinstance(value, Mapping):
        for key, item in value.items():
            found = _first_huge_int(item, f"{path}.{key}" if path else str(key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = _first_huge_int(item, f"{path}[{i}]")
            if found is not None:
                return found
    return None


def check_imported(doc: Mapping[str, Any]) -> None:
    """Raise :class:`ImportCheckError` if a schema-valid document cannot be imported."""
    big = _first_huge_int(doc, "")
    if big is not None:  # JSON integers go to the database as integers, even in REAL columns
        raise ImportCheckError(f"{big}: a number within +-2^63 expected (an integer too large)")
    bad = first_non_finite(doc)
    if bad is not None:
        raise ImportCheckError(f"{bad}: a finite number expected (NaN and Infinity are refused)")
    for key in COUNTERS:  # the schema bounds them below only (found by the import fuzzer)
        value = doc.get(key)
        if isinstance(value, int) and not 0 <= value <= MAX_COUNTER:
            raise ImportCheckError(f"{key}: an integer in [0, 2^63 - 1] expected, got {value}")
    kind = doc["doc"]
    if kind == "start":
        _uid("uid", doc["uid"])
        _time_unix("time_unix", doc["time_unix"])
        if doc.get("board") is not None:
            _name("board", doc["board"])
        return
    _uid("run", doc["run"])
    if kind == "stop":
        _time_unix("time_unix", doc["time_unix"])
    elif kind == "energy":
        _name("component", doc["component"])
        if not doc["t0_s"] <= doc["t1_s"]:
            raise ImportCheckError(
                f"t0_s = {doc['t0_s']!r}, t1_s = {doc['t1_s']!r}: t0_s <= t1_s expected"
            )
    elif kind == "alarm" and doc.get("board") is not None:
        _name("board", doc["board"])
    elif kind == "sample":
        for key in doc["data"]:
            _name(f"data key {key!r}", key)
