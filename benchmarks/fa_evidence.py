"""Pooled false-alarm evidence: fault-free board-hours from any session, summed only where the
shadow behaves identically.

A 10-hour mean time between false alarms needs about 30 fault-free board-hours with none (the
Poisson 95 % upper bound is 3/T per board-hour), about 7 core-hours: more than one session on
this machine gives. So every checked seed is kept as evidence (one JSON line, what
``bench_false_alarms.py`` records per seed) with the **behavioural fingerprint** of the code that
ran it, and a later check sums the evidence whose fingerprint equals the current one (or whose
code identity does, below).

The fingerprint (:func:`fingerprint`) is a SHA-256 of everything the shadow's detector computes
on a short reference run under the same settings (variation, calibration idle time, drive
margin): each sample's time, the twin's travel, the residual beyond the margin, the watched
mask, the extra variance and the scores (``CusumDetector.update``), the board's readings, the
twin's prediction and the margin itself (``RecentTravel.add``), every result of the passive
node check where it runs (``NodeTester.feed``), the run's alarms and the shadow's settings
(its ``ShadowConfig``: since 2026-12-07 evening, after the opt-in pinned-gate hold, which acts on
no gate of the reference board, shared a fingerprint with the default). A change
that moves any of these on the reference run (the detector, the calibration, the emulated board,
the twin) changes the fingerprint and starts the evidence again; a move of code that changes no
number (a file split, a rename) keeps it. It is exact bytes: the same code on a machine whose
BLAS kernels round differently has another fingerprint.
A change that leaves the reference run bit for bit identical but would act on other boards is
not caught: the reference board is one calibrated board over :data:`REFERENCE_S` s.

The same code on another machine is another fingerprint (OpenBLAS picks kernels by CPU, and a
last-bit difference grows into another run), so evidence would never add up across sessions that
land on different machines. Each record therefore also carries the **code identity**
(:func:`code_identity`: the machine-independent source hash of everything the check imports,
``benchmarks/source_hash.py``, with the numbers of the false-alarm curve it reads) and the
environment that ran it (:func:`environment`: versions, CPU, BLAS kernels). Evidence pools over
the class of this code (:func:`pooled_records`): each record joins the fingerprint it gave to the
code that gave it, so code that computes the same numbers as earlier code on one machine (a move
of code, a speed-up) keeps that code's evidence from every machine: the same detector, run
where floating point rounds otherwise, which is a fault-free board-hour of it all the same (the
product runs on the users' machines, not on ours). Records kept before the code identity existed
name it through :data:`ALIASES_FILE` (fingerprint -> code identity, each with how it is known).

Evidence lives in :data:`EVIDENCE_DIR`, one file per check (no merge conflicts between
branches), named by its fingerprint, first seed and start time. Seeds are counted once (the
first record of a seed wins).
"""

from __future__ import annotations

import hashlib
import json
import platform
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from benchmarks.fa_runs import CheckSettings
from benchmarks.source_hash import source_hash
from twin.shadow.node_tail import NodeTail, default_node_tail

__all__ = [
    "ALIASES_FILE",
    "CURVE_NUMBERS",
    "EVIDENCE_DIR",
    "REFERENCE_S",
    "REFERENCE_SEED",
    "EvidenceWriter",
    "code_identity",
    "environment",
    "fingerprint",
    "pooled_records",
    "read_aliases",
    "read_evidence",
]

ROOT = Path(__file__).resolve().parents[1]
#: Where the evidence is kept (committed: later sessions pool it).
EVIDENCE_DIR = ROOT / "benchmarks" / "evidence" / "false_alarms"
#: The reference board and its board time, s (a seed of the --write fit, 0-7, never a held-out
#: check's: the reference is not evidence, only a probe of what the code computes).
REFERENCE_SEED = 7
REFERENCE_S = 4.0
#: The settings that select evidence besides the fingerprint (it already depends on them).
SETTINGS = tuple(field.name for field in attrs.fields(CheckSettings))
#: Fingerprint -> code identity of evidence kept before records carried their code identity.
ALIASES_FILE = EVIDENCE_DIR / "aliases.json"
#: The false-alarm curve's numbers a check reads (its CUSUM's k and clip, the level's fit); its
#: provenance and validation marks are not code.
CURVE_NUMBERS = ("log_rate0", "decay_per_level", "k", "clip", "every_s", "fitted_range")
#: The node check's measured tail's numbers a check reads (the node level's fit); its sample,
#: provenance and sources are not code.
TAIL_NUMBERS = ("threshold_z", "exceed_fraction", "shape", "scale_z", "node_tests", "every_s",
                "window_frames")  # fmt: skip
#: The module a check runs (its imports, direct or not, are the code identity's source).
ENTRY = "benchmarks.fa_runs"


def code_identity(curve: Any, entry: str = ENTRY, tail: NodeTail | None = None) -> str:
    """16 hex digits naming the code a check runs, the same on every machine: the source hash
    of ``entry`` and what it imports (``benchmarks/source_hash.py``) with the numbers of the
    false-alarm curve it reads (:data:`CURVE_NUMBERS` of ``curve.as_dict()``) and of the node
    check's tail (:data:`TAIL_NUMBERS` of ``tail``, default the stored one)."""
    numbers = {k: v for k, v in curve.as_dict().items() if k in CURVE_NUMBERS}
    tail = tail if tail is not None else default_node_tail()
    numbers |= {f"node_tail.{k}": v for k, v in tail.as_dict().items() if k in TAIL_NUMBERS}
    text = source_hash(entry) + json.dumps(numbers, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def environment() -> dict[str, Any]:
    """What ran a check, for the record: Python and library versions, the CPU, the BLAS and
    its kernels (what a fingerprint differs by between machines running the same code)."""
    import numba
    import scipy

    env: dict[str, Any] = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "numba": numba.__version__,
        "machine": platform.machine(),
    }
    try:
        with open("/proc/cpuinfo") as fh:
            env["cpu"] = next(
                (line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")),
                "",
            )
    except OSError:
        env["cpu"] = platform.processor()
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return env
    env["blas"] = sorted(
        f"{i.get('internal_api')} {i.get('version')} {i.get('architecture')}"
        for i in threadpool_info()
        if i.get("user_api") == "blas"
    )
    return env


class _Hasher:
    """Feeds arrays and numbers to one SHA-256 as exact bytes (float64, or bool as uint8)."""

    def __init__(self) -> None:
        self.sha = hashlib.sha256()
        self.samples = 0

    def feed(self, *items: Any) -> None:
        for item in items:
            if item is None:
                self.sha.update(b"\x00none")
                continue
            a = np.asarray(item)
            a = a.astype(np.uint8) if a.dtype == bool else a.astype(np.float64)
            self.sha.update(str(a.shape).encode())
            self.sha.update(np.ascontiguousarray(a).tobytes())


def fingerprint(make_shadow: Callable[[int], Any], *, seed: int = REFERENCE_SEED,
                duration_s: float = REFERENCE_S) -> str:  # fmt: skip
    """The behavioural fingerprint of the shadow ``make_shadow(seed)`` builds (a calibrated
    :class:`twin.shadow.shadow.Shadow` on a fault-free board, as a check builds it), run for
    ``duration_s`` s of board time: 16 hex digits of the SHA-256 described in the module
    docstring. Raises ``RuntimeError`` if the run took no detector sample (nothing would be
    fingerprinted)."""
    shadow = make_shadow(seed)
    h = _Hasher()
    watch = shadow.watch
    update, add = watch.detector.update, watch.recent.add

    def hashed_update(t_s, tau_s, travel_v, residual_v, watched=None, extra_var_v2=None):  # type: ignore[no-untyped-def]
        scores = update(t_s, tau_s, travel_v, residual_v, watched, extra_var_v2)
        h.feed(t_s, tau_s, travel_v, residual_v, watched, extra_var_v2, scores)
        h.samples += scores is not None
        return scores

    def hashed_add(tau_s, board_travel_v, pred_travel_v, gate_v, margin_v):  # type: ignore[no-untyped-def]
        h.feed(tau_s, board_travel_v, pred_travel_v, gate_v, margin_v)
        add(tau_s, board_travel_v, pred_travel_v, gate_v, margin_v)

    watch.detector.update = hashed_update
    watch.recent.add = hashed_add
    nodes = getattr(shadow, "nodes", None)
    if nodes is not None:  # the passive node check: every test's result
        feed = nodes.tester.feed

        def hashed_feed(result, board_id, epoch):  # type: ignore[no-untyped-def]
            fields = attrs.asdict(result, recurse=False)
            h.feed(*(fields[k] for k in sorted(fields) if not isinstance(fields[k], str)))
            return feed(result, board_id, epoch)

        nodes.tester.feed = hashed_feed
    try:
        summary = shadow.run(duration_s)
    finally:
        shadow.close()
    if h.samples == 0:
        raise RuntimeError("fingerprint: the reference run took no detector sample")
    h.sha.update(json.dumps(summary["alarms"], sort_keys=True, default=str).encode())
    h.feed(summary["board_time_s"])
    config = getattr(shadow, "config", None)
    if config is not None:  # a setting the reference board never exercises still counts
        h.sha.update(json.dumps(attrs.asdict(config), sort_keys=True, default=str).encode())
    return h.sha.hexdigest()[:16]


class EvidenceWriter:
    """Appends one check's per-seed records, each with the fingerprint and settings, to a new
    file of :data:`EVIDENCE_DIR` (flushed per seed: a killed check keeps its finished seeds)."""

    def __init__(self, fp: str, settings: dict[str, Any], first_seed: int,
                 directory: Path = EVIDENCE_DIR, *, code: str | None = None,
                 env: dict[str, Any] | None = None) -> None:  # fmt: skip
        directory.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        self.path = directory / f"{fp}-s{first_seed}-{stamp}.jsonl"
        self.fingerprint = fp
        self.settings = {k: settings[k] for k in SETTINGS}
        self.identity = ({"code": code} if code else {}) | ({"env": env} if env else {})

    def add(self, record: dict[str, Any]) -> None:
        row = (
            record
            | self.settings
            | {
                "fingerprint": self.fingerprint,
                "recorded": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
            | self.identity
        )
        with open(self.path, "a") as fh:
            fh.write(json.dumps(row) + "\n")


def read_evidence(directory: Path = EVIDENCE_DIR) -> Iterator[dict[str, Any]]:
    """Every evidence record (files in name order, lines in file order)."""
    for path in sorted(directory.glob("*.jsonl")) if directory.is_dir() else ():
        for line in path.read_text().splitlines():
            if line.strip():
                yield json.loads(line)


def read_aliases(path: Path = ALIASES_FILE) -> dict[str, str]:
    """Fingerprint -> code identity of :data:`ALIASES_FILE` (empty when there is none)."""
    if not path.is_file():
        return {}
    return {fp: entry["code"] for fp, entry in json.loads(path.read_text()).items()}


def with_settings(rows: Iterable[dict[str, Any]], settings: dict[str, Any]) -> list[dict[str, Any]]:
    """The records of ``rows`` run with ``settings`` (the :data:`SETTINGS` of a check)."""
    return [r for r in rows if all(r.get(k) == settings[k] for k in SETTINGS)]


def pooled_records(
    fp: str,
    settings: dict[str, Any],
    rows: Iterable[dict[str, Any]],
    *,
    code: str | None = None,
    aliases: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """The records of ``rows`` with these settings that ran this code, each seed once.

    Without ``code``: those with the fingerprint ``fp``. With it: those of the class of this
    code, joined through the records (and ``aliases``, fingerprint -> code identity, for records
    kept before they carried their code identity): a record joins the fingerprint it gave (one
    code's numbers on one machine) to the code that gave it, so two codes with one fingerprint
    computed the same numbers on one machine (a move of code, a speed-up), and one code's
    fingerprints on several machines are the same code. The class of ``code`` and ``fp`` is
    everything joined to them, however many steps away."""
    aliases = aliases or {}
    rows = with_settings(rows, settings)

    def ran(row: dict[str, Any]) -> str | None:
        return row.get("code") or aliases.get(row.get("fingerprint", ""))

    fps, codes = {fp}, ({code} if code else set())
    links = [(r.get("fingerprint"), ran(r)) for r in rows] + list(aliases.items())
    grew = bool(code)
    while grew:
        grew = False
        for f, c in links:
            if f is not None and c is not None and (f in fps) != (c in codes):
                fps.add(f)
                codes.add(c)
                grew = True
    seen: set[int] = set()
    out = []
    for row in rows:
        if row.get("fingerprint") not in fps and ran(row) not in codes:
            continue
        if row["seed"] in seen:
            continue
        seen.add(row["seed"])
        out.append(row)
    return out
