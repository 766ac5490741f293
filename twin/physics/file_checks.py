"""Reading network and task files at the boundary: size, encoding, JSON and schema checks.

Every check runs before the file's content is turned into arrays, so a hostile or careless file
(binary data, a 5,000-digit integer, arrays nested 100,000 deep, a node count of ``1e12``) ends
in one :class:`~twin.errors.NetworkError` or :class:`~twin.errors.TaskError` line naming the file,
the field as a JSON path (``train.inputs[3][1]``) and the expected form, never in a traceback or
an attempt to allocate terabytes. Messages never quote a file's text: a file that is not in the
expected format (``file:/etc/passwd`` as a network) is named, not echoed.

The limits on counts (nodes, edges, examples) live in ``schemas/*.schema.json`` (``maximum``,
``maxItems``), read here through :data:`twin._generated.SCHEMAS`.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .._generated import SCHEMAS
from ._schema_check import Checker

__all__ = [
    "MAX_DEPTH",
    "MAX_EDGES",
    "MAX_FILE_BYTES",
    "MAX_INT_DIGITS",
    "MAX_NODES",
    "check_document",
    "json_path",
    "parse_count",
    "parse_json",
    "read_json",
    "read_text",
]

#: Largest network or task file read, bytes (a 1,000,000-edge network is ~20 MB of JSON).
MAX_FILE_BYTES = 64 * 1024 * 1024
#: Deepest nesting of JSON arrays and objects (a task file needs 5: extra.NAME.inputs[i][j]).
MAX_DEPTH = 16
#: Longest integer literal, digits (int64 has 19; node and edge counts need far fewer).
MAX_INT_DIGITS = 18
#: Largest node count of a network (``schemas/network.schema.json``, ``nodes.maximum``).
MAX_NODES: int = SCHEMAS["twin.network/1"]["properties"]["nodes"]["maximum"]
#: Largest edge count of a network (``schemas/network.schema.json``, ``edges.maxItems``).
MAX_EDGES: int = SCHEMAS["twin.network/1"]["properties"]["edges"]["maxItems"]


class _Bad:
    """Placeholder the JSON parser leaves where a literal cannot be a finite value."""

    def __init__(self, what: str) -> None:
        self.what = what


def json_path(parts: Iterator[Any] | list[Any] | tuple[Any, ...], prefix: str = "") -> str:
    """``("train", "inputs", 3, 1)`` -> ``train.inputs[3][1]`` (``prefix`` goes in front)."""
    out = prefix
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def read_text(path: Path, error: type[Exception], *, what: str) -> str:
    """The UTF-8 text of a file no larger than :data:`MAX_FILE_BYTES`.

    Raises ``error`` (one line naming the file) for a missing file, a folder, a file too large,
    binary content (a NUL byte) or bytes that are not UTF-8.
    """
    try:
        exists, regular = path.exists(), path.is_file()
        size = path.stat().st_size if regular else 0
    except OSError as exc:  # a name too long, a loop of links, a permission: one line
        raise error(f"{what}: {str(path)[:80]!r}: {exc.strerror or exc}") from None
    if not exists:
        raise error(f"{what}: no such file {str(path)!r}")
    if not regular:
        raise error(f"{what}: {str(path)!r} is not a regular file")
    if size > MAX_FILE_BYTES:
        raise error(f"{path}: {size} bytes; a {what} file may have at most {MAX_FILE_BYTES}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise error(f"{path}: cannot read ({exc.strerror})") from None
    if b"\x00" in data:
        raise error(f"{path}: binary data (a NUL byte at offset {data.index(0)}); "
                    f"expected a {what} text file")  # fmt: skip
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(
            f"{path}: not UTF-8 text (byte {exc.start}); expected a {what} text file"
        ) from None


def _parse_int(text: str) -> int | _Bad:
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        return _Bad(f"an integer of at most {MAX_INT_DIGITS} digits, got {digits} digits")
    return int(text)


def _parse_float(text: str) -> float | _Bad:
    value = float(text)
    return value if math.isfinite(value) else _Bad(f"a finite number, got {text[:20]}")


def _parse_constant(text: str) -> _Bad:
    return _Bad(f"a finite number, got {text}")


def _walk(doc: Any) -> tuple[list[Any], str] | None:
    """First problem found iteratively (no recursion): (JSON path parts, expected form)."""
    stack: list[tuple[Any, list[Any]]] = [(doc, [])]
    while stack:
        node, where = stack.pop()
        if isinstance(node, _Bad):
            return where, node.what
        if len(where) > MAX_DEPTH:
            return where, f"nesting at most {MAX_DEPTH} levels deep"
        if isinstance(node, dict):
            stack.extend((v, [*where, k]) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, [*where, i]) for i, v in enumerate(node))
    return None


def read_json(path: Path, error: type[Exception], *, what: str) -> Any:
    """Read and parse a JSON file; every literal finite, nesting bounded (:data:`MAX_DEPTH`)."""
    return parse_json(read_text(path, error, what=what), str(path), error)


def parse_json(text: str, source: str, error: type[Exception]) -> Any:
    """Parse JSON text (``source`` names it in messages); see :func:`read_json`."""
    path = source
    try:
        doc = json.loads(
            text,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_parse_constant,
        )
    except json.JSONDecodeError as exc:
        raise error(
            f"{path}: invalid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        ) from None
    except RecursionError:
        raise error(
            f"{path}: JSON nested too deeply; expected at most {MAX_DEPTH} levels"
        ) from None
    problem = _walk(doc)
    if problem is not None:
        raise error(f"{path}: {json_path(problem[0])}: expected {problem[1]}")
    return doc


@functools.cache
def _checker(schema_id: str) -> Checker:
    ids = ("twin.network/1", "twin.task/1", "twin.schedule/1", "twin.calibration/1")
    files = {sid: SCHEMAS[sid] for sid in ids}
    return Checker(schema_id, files)


def check_document(
    doc: Any, schema_id: str, error: type[Exception], *, source: str = "", prefix: str = ""
) -> None:
    """Validate ``doc`` against the schema ``schema_id``; raise ``error`` on the first problem.

    The message is ``SOURCE: PATH: expected FORM, got VALUE`` (``prefix`` is put in front of the
    JSON path, e.g. ``network`` for a task's inline network).
    """
    problem = _checker(schema_id).first_problem(doc)
    if problem is None:
        return
    where = json_path(problem[0], prefix)
    head = f"{source}: " if source else ""
    raise error(f"{head}{where}: {problem[1]}")


def parse_count(text: str, field: str, limit: int, error: type[Exception]) -> int:
    """A decimal count of at most ``limit`` (checked on the digits, before any allocation)."""
    digits = text.strip()
    if not (digits.isascii() and digits.isdigit()):
        raise error(f"{field}: expected a whole number, got {digits[:20]!r}")
    if len(digits) > len(str(limit)) or int(digits) > limit:
        raise error(
            f"{field}: at most {limit:,}, got {digits[:20]}{'...' if len(digits) > 20 else ''}"
        )
    return int(digits)
