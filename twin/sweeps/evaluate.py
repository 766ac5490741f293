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

__all__ = ["KINDS", "check_cell", "evaluate_batch", "evaluate_cell", "run_cell"]

Evaluator = Callable[[Mapping[str, Any], Sequence[int]], list[dict[str, float]]]


def _trainer(params: Mapping[str, Any], seeds: Sequence[int]) -> list[dict[str, float]]:
    from ._trainer_cell import evaluate_trainer

    return evaluate_trainer(params, seeds)


def _twin(params: Mapping[str, Any], seeds: Sequence[int]) -> list[dict[str, float]]:
    from .twin_cells import evaluate_twin

    return evaluate_twin(params, seeds)


def _xy(params: Mapping[str, Any], seeds: Sequence[int]) -> list[dict[str, float]]:
    from ._xy_cell import evaluate_xy

    return evaluate_xy(params, seeds)


def _springs(params: Mapping[str, Any], seeds: Sequence[int]) -> list[dict[str, float]]:
    from ._spring_cell import evaluate_springs

    return evaluate_springs(params, seeds)


#: Evaluator of each cell kind.
KINDS: dict[str, Evaluator] = {"trainer": _trainer, "twin": _twin, "xy": _xy, "springs": _springs}


def check_cell(kind: str, params: Mapping[str, Any]) -> None:
    """Build the cell's configuration without running it: raises what the run would (one line).

    Catches at submission what the schema cannot: an unknown clock spec, ``kmin >= kmax``, ...
    and the task and network specs (:func:`twin.physics.task_spec.check_task_spec`: a misspelt
    task or a malformed network is refused here, not in a worker).
    """
    if kind == "xy":  # its own networks and tasks (twin.learning.xy_options)
        from ._xy_cell import check_params as check_xy

        check_xy(params)
        return
    if kind == "springs":  # spring networks (twin.sweeps._spring_cell)
        from ._spring_cell import check_params as check_springs

        check_springs(params)
        return
    from ..physics.springs.task_spec import SPRING_TASKS
    from ..physics.task_spec import check_task_spec

    network = params.get("network")
    springs = params.get("physics") == "springs" or params.get("task") in SPRING_TASKS
    if kind == "twin" and springs:
        from .twin_cells import check_params as check_twin  # spring agents (rigidity when built)

        check_twin(params)
        return
    if kind == "trainer" and params.get("task") in SPRING_TASKS:
        from ._trainer_cell import check_params

        check_params(params)  # a spring task: its network is checked when built (rigidity)
        return
    check_task_spec(
        str(params.get("task", "allostery")),
        None if network is None else str(network),
        label_noise=float(params.get("label_noise", 0.0)),
    )
    if kind == "trainer":
        from ._trainer_cell import check_params
    else:
        from .twin_cells import check_params
    check_params(params)


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


def evaluate_batch(
    kind: str, cells: Sequence[Mapping[str, Any]], seeds: Sequence[int]
) -> list[list[dict[str, float]]]:
    """The rows of each cell of a batch (:mod:`twin.sweeps.batches`: trainer cells that differ
    only in lambda, kappa, alpha, stop_tol and control_tol), computed in one training run."""
    from .errors import CellError

    if kind != "trainer":
        raise CellError(f"batch: only trainer cells are batched, got {kind!r}")
    from ._trainer_cell import evaluate_trainer_batch

    out = evaluate_trainer_batch(cells, seeds)
    if len(out) != len(cells) or any(len(rows) != len(seeds) for rows in out):
        raise CellError(f"batch of {len(cells)} cells: rows do not match the cells and seeds")
    return out


def run_cell(kind: str, params: Mapping[str, Any], seeds: Sequence[int]) -> dict[str, Any]:
    """Evaluate a cell and say where, how long and with which code.

    Returns ``{rows, host, pid, elapsed_s, cpu_s, code_version}`` (the worker's code version: on
    a cluster it may differ from the sweep process's). Kind ``batch`` (``params``: ``{"kind",
    "cells"}``, :func:`twin.sweeps.batches.unit_params`): ``rows`` holds each cell's rows.
    """
    from .provenance import code_version

    wall0, cpu0 = time.perf_counter(), time.process_time()
    rows: Any
    if kind == "batch":
        rows = evaluate_batch(params["kind"], params["cells"], seeds)
    else:
        rows = evaluate_cell(kind, params, seeds)
    return {
        "rows": rows,
        "code_version": code_version(),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "elapsed_s": time.perf_counter() - wall0,
        "cpu_s": time.process_time() - cpu0,
    }
