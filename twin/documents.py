"""Run documents and their subscribers (the bluesky / event-model pattern).

A run emits plain-dict documents: ``start``, then ``sample`` and ``energy`` documents, then
``stop`` (``schemas/documents.schema.json``). Producers never know who listens: recorders (the
in-memory :class:`Collector`, the :class:`JsonLinesWriter`, the energy ledger, the bridge publisher)
are callables subscribed to a :class:`Dispatcher`. A subscriber that raises stops the run: failed
documents are never silently ignored.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from ._generated import SCHEMAS, AlarmDoc, EnergyDoc, SampleDoc, StartDoc, StopDoc
from .errors import TwinError

__all__ = [
    "Collector",
    "Dispatcher",
    "DocumentError",
    "JsonLinesWriter",
    "Run",
    "Subscriber",
    "alarm_doc",
    "code_version",
    "energy_doc",
    "first_non_finite",
    "read_jsonl",
    "sample_doc",
    "start_doc",
    "stop_doc",
    "validate_document",
]

log = logging.getLogger("twin.documents")

Subscriber = Callable[[Mapping[str, Any]], None]


class DocumentError(TwinError, ValueError):
    """A document does not follow ``schemas/documents.schema.json``."""


@functools.cache
def code_version() -> str:
    """Installed version of the ``learning-twin`` distribution, read once per process (the code
    running is the code imported, whatever is installed later; reading the metadata cost ~0.7 ms
    per run, an eighth of a short spring run's time to 1e-3)."""
    try:
        return version("learning-twin")
    except PackageNotFoundError:  # running from a source tree without installation
        return "0+unknown"


def start_doc(
    *,
    source: str,
    kind: str,
    params: Mapping[str, Any],
    realizations: int = 1,
    board: str | None = None,
    uid: str | None = None,
) -> StartDoc:
    """A ``start`` document with a fresh uid and the code version as provenance."""
    doc: StartDoc = {
        "doc": "start",
        "uid": uid or uuid.uuid4().hex,
        "time_unix": time.time(),
        "source": source,  # type: ignore[typeddict-item]
        "kind": kind,  # type: ignore[typeddict-item]
        "params": dict(params),
        "code_version": code_version(),
        "realizations": int(realizations),
    }
    if board is not None:
        doc["board"] = board
    return doc


def sample_doc(
    run: str, seq: int, t_s: float, data: Mapping[str, Iterable[float]], step: int | None = None
) -> SampleDoc:
    """A ``sample`` document; every reading is a list with one value per realization."""
    doc: SampleDoc = {
        "doc": "sample",
        "run": run,
        "seq": int(seq),
        "t_s": float(t_s),
        "data": {k: [float(x) for x in v] for k, v in data.items()},
    }
    if step is not None:
        doc["step"] = int(step)
    return doc


def energy_doc(
    run: str,
    seq: int,
    t0_s: float,
    t1_s: float,
    energy_j: float,
    *,
    component: str,
    phase: str = "training",
    source: str = "twin",
    method: str = "integral",
    realization: int = 0,
) -> EnergyDoc:
    """An ``energy`` ledger entry: joules dissipated by ``component`` from ``t0_s`` to ``t1_s``."""
    return {
        "doc": "energy",
        "run": run,
        "seq": int(seq),
        "t0_s": float(t0_s),
        "t1_s": float(t1_s),
        "phase": phase,  # type: ignore[typeddict-item]
        "component": component,
        "source": source,  # type: ignore[typeddict-item]
        "method": method,  # type: ignore[typeddict-item]
        "energy_j": float(energy_j),
        "realization": int(realization),
    }


def alarm_doc(
    run: str,
    seq: int,
    t_s: float,
    *,
    severity: str,
    code: str,
    message: str,
    end_s: float | None = None,
    board: str | None = None,
) -> AlarmDoc:
    """An ``alarm`` document: episode ``seq`` of ``run``, started at run time ``t_s`` (s), ended
    at ``end_s`` (``None``: still raised)."""
    return {
        "doc": "alarm",
        "run": run,
        "seq": int(seq),
        "t_s": float(t_s),
        "end_s": None if end_s is None else float(end_s),
        "time_unix": time.time(),
        "severity": severity,  # type: ignore[typeddict-item]
        "code": code,
        "message": message,
        "board": board,
    }


def stop_doc(
    run: str,
    *,
    status: str = "complete",
    reason: str = "",
    summary: Mapping[str, Any] | None = None,
) -> StopDoc:
    """A ``stop`` document closing ``run``."""
    doc: StopDoc = {"doc": "stop", "run": run, "time_unix": time.time(), "status": status}  # type: ignore[typeddict-item]
    if reason:
        doc["reason"] = reason
    if summary is not None:
        doc["summary"] = dict(summary)
    return doc


@functools.cache
def _validators() -> dict[str, Any]:
    """One compiled validator per document kind (read-only, built on first use)."""
    import jsonschema  # local: slow to import, and only validating callers need it

    return {
        kind: jsonschema.Draft202012Validator(spec)
        for kind, spec in SCHEMAS["twin.documents/1"]["$defs"].items()
    }


def validate_document(doc: Mapping[str, Any]) -> None:
    """Raise :class:`DocumentError` naming the first problem if ``doc`` breaks the schema."""
    import jsonschema

    validators = _validators()
    kind = doc.get("doc")
    sub = validators.get(kind) if isinstance(kind, str) else None
    if sub is None:
        raise DocumentError(f"doc: expected one of {sorted(validators)}, got {kind!r}")
    err = jsonschema.exceptions.best_match(sub.iter_errors(doc))
    if err is not None:
        where = ".".join(str(p) for p in err.absolute_path) or kind
        raise DocumentError(f"{where}: {err.message}")


class Dispatcher:
    """Sends each document to every subscriber, in subscription order."""

    def __init__(self, subscribers: Iterable[Subscriber] = ()) -> None:
        self._subscribers: list[Subscriber] = list(subscribers)

    def subscribe(self, subscriber: Subscriber) -> Subscriber:
        self._subscribers.append(subscriber)
        return subscriber

    def __call__(self, doc: Mapping[str, Any]) -> None:
        for sub in self._subscribers:
            sub(doc)

    def __bool__(self) -> bool:
        return bool(self._subscribers)


class Run:
    """The lifecycle of one run's documents: start, numbered samples and energy entries, stop.

    Use as a context manager around the work of a run::

        with Run(emit, source="twin", kind="train", params=params, realizations=r) as run:
            run.sample(t_s, {"error": [...]}, step=n)
            run.energy(t0_s, t1_s, e_j, component="free_network")
            run.summary = result.summary()

    On entry the ``start`` document goes out; ``sample`` and ``energy`` documents are numbered
    (``seq``) per kind from 0; on exit a ``stop`` follows: ``complete`` with :attr:`summary`, or,
    if the block raised, ``aborted`` with the exception as reason (the exception propagates).
    With no subscriber (``emit`` is ``None`` or an empty :class:`Dispatcher`) nothing is sent
    (:attr:`recording` is false) but the run still has its :attr:`uid`.

    Parameters
    ----------
    emit
        Subscriber (or :class:`Dispatcher`) receiving the documents.
    source, kind, params, realizations, board
        Fields of the start document (:func:`start_doc`).
    """

    def __init__(
        self,
        emit: Subscriber | None,
        *,
        source: str,
        kind: str,
        params: Mapping[str, Any],
        realizations: int = 1,
        board: str | None = None,
    ) -> None:
        if isinstance(emit, Dispatcher):
            self.dispatch = emit
        else:
            self.dispatch = Dispatcher([emit] if emit is not None else [])
        self.start = start_doc(
            source=source, kind=kind, params=params, realizations=realizations, board=board
        )
        self.uid: str = self.start["uid"]
        self.seq = {"sample": 0, "energy": 0}
        self.summary: Mapping[str, Any] | None = None

    @property
    def recording(self) -> bool:
        """True when someone listens (documents are built and sent)."""
        return bool(self.dispatch)

    def __enter__(self) -> Run:
        if self.dispatch:
            self.dispatch(self.start)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self.dispatch:
            return
        if exc is None:
            self.dispatch(stop_doc(self.uid, status="complete", summary=self.summary))
        else:
            reason = f"{type(exc).__name__}: {exc}"
            self.dispatch(stop_doc(self.uid, status="aborted", reason=reason))

    def sample(
        self, t_s: float, data: Mapping[str, Iterable[float]], step: int | None = None
    ) -> None:
        """Send the next ``sample`` document (:func:`sample_doc`)."""
        self.dispatch(sample_doc(self.uid, self.seq["sample"], t_s, data, step=step))
        self.seq["sample"] += 1

    def energy(
        self,
        t0_s: float,
        t1_s: float,
        energy_j: float,
        *,
        component: str,
        phase: str = "training",
        realization: int = 0,
    ) -> None:
        """Send the next ``energy`` document (:func:`energy_doc`): joules from t0_s to t1_s."""
        doc = energy_doc(
            self.uid, self.seq["energy"], t0_s, t1_s, energy_j,
            component=component, phase=phase, realization=realization,
        )  # fmt: skip
        self.dispatch(doc)
        self.seq["energy"] += 1


class Collector:
    """In-memory subscriber: keeps every document, with helpers for tests and plots."""

    def __init__(self) -> None:
        self.docs: list[dict[str, Any]] = []

    def __call__(self, doc: Mapping[str, Any]) -> None:
        self.docs.append(dict(doc))

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [d for d in self.docs if d["doc"] == kind]

    def series(self, key: str) -> tuple[list[float], list[list[float]]]:
        """Times (s) and values (one list per sample) of a sampled reading."""
        samples = self.of("sample")
        return [s["t_s"] for s in samples], [s["data"][key] for s in samples]


class JsonLinesWriter:
    """Subscriber writing one JSON document per line, flushed per document.

    Each line is written whole and flushed (and fsynced on ``stop``), so a killed process leaves a
    readable file whose last complete line is the last document emitted.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh: IO[str] | None = self.path.open("a", encoding="utf-8")

    def __call__(self, doc: Mapping[str, Any]) -> None:
        if self._fh is None:
            raise DocumentError(f"{self.path}: writer already closed")
        self._fh.write(json.dumps(doc, separators=(",", ":")) + "\n")
        self._fh.flush()
        if doc.get("doc") == "stop":
            os.fsync(self._fh.fileno())

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def read_jsonl(path: str | Path) -> Iterator[dict[str, Any]]:
    """Documents of a JSON-lines file; a torn line (killed writer) is skipped with a warning."""
    with Path(path).open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                log.warning("%s:%d: skipping a torn line", path, lineno)


def first_non_finite(value: Any, path: str = "") -> str | None:
    """``"path = value"`` of the first NaN or infinity in nested dicts/lists (None if none)."""
    if isinstance(value, Mapping):
        for k, v in value.items():
            found = first_non_finite(v, f"{path}.{k}" if path else str(k))
            if found:
                return found
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            found = first_non_finite(v, f"{path}[{i}]")
            if found:
                return found
    elif isinstance(value, float) and not math.isfinite(value):
        return f"{path} = {value}"
    return None
