"""Evaluating one cell: its realizations -> one metrics row each (runs in a worker process).

:data:`KINDS` maps a cell kind to its evaluator ``(params, seeds) -> list of rows``; a row maps a
metric name (unit as suffix) to a float (NaN where undefined). :func:`run_cell` is what the
executors submit: it imports nothing heavy until called, returns plain data (lists, dicts, floats,
strings) and measures wall and CPU time.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["KINDS", "evaluate_cell", "run_cell"]

Evaluator = Callable[[Mapping[str, Any], Sequence[int]], list[dict[str, float]]]


def _trainer(params: Mapping[str, Any], seeds: Sequence[int]) -> list[dict[str, float]]:
    from ._trainer_cell import evaluate_trainer

    return evaluate_trainer(params, seeds)


def _twin(params: Mapping[str, Any], seeds: Sequence[int]) -> list[dict[str, float]]:
    from .twin_cells import evaluate_twin

    return evaluate_twin(params, seeds)


#: Evaluator of each cell kind.
KINDS: dict[str, Evaluator] = {"trainer": _trainer, "twin": _twin}


def evaluate_cell(
    kind: str, params: Mapping[str, Any], seeds: Sequence[int]
) -> list[dict[str, float]]:
    """One metrics row per realization of a cell (``params`` canonical, defaults filled in)."""
    from .errors import CellError

    if kind not in KINDS:
        raise CellError(f"kind: expected one of {', '.join(KINDS)}, got {kind!r}")
    rows = KINDS[kind](params, seeds)
    if len(rows) != len(seeds):
        raise CellError(f"{kind} evaluator returned {len(rows)} rows for {len(seeds)} seeds")
    return rows


def run_cell(kind: str, params: Mapping[str, Any], seeds: Sequence[int]) -> dict[str, Any]:
    """Evaluate a cell and say where and how long: ``{rows, host, pid, elapsed_s, cpu_s}``."""
    wall0, cpu0 = time.perf_counter(), time.process_time()
    rows = evaluate_cell(kind, params, seeds)
    return {
        "rows": rows,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "elapsed_s": time.perf_counter() - wall0,
        "cpu_s": time.process_time() - cpu0,
    }
