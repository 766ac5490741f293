"""Sweeps: many runs from one TOML file, on local processes or a Dask cluster (``twin sweep``).

A sweep (:class:`SweepSpec`, :func:`load_spec`; format ``schemas/sweep.schema.json``) is a base
configuration, axes (product or zipped) and realizations. :func:`expand` turns it into cells, each
with an id hashed from its full parameters and seeds (:mod:`twin.sweeps.cells`).
:func:`run_sweep` computes the missing cells (:func:`evaluate_cell`: the batched trainer or the
event-driven twin) on an :class:`Executor` (:class:`LocalExecutor`, :class:`DaskExecutor`) and
commits each one with its results in the ledger database; :func:`sweep_status` and
:func:`results_frame` (a pandas DataFrame, one row per cell and realization) read them back.

Names are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_attributes
from .errors import CellError, SweepError, SweepSpecError

if TYPE_CHECKING:
    from .cells import Cell, expand, realization_seeds
    from .evaluate import KINDS, evaluate_cell
    from .executors import DaskExecutor, Executor, LocalExecutor, SerialExecutor, WorkerLost
    from .metrics import METRICS
    from .provenance import code_version
    from .runner import SweepOutcome, SweepStatus, results_frame, run_sweep, sweep_status
    from .spec import Axis, SweepSpec, load_spec, spec_from_dict

_LAZY = {
    "Cell": ".cells",
    "expand": ".cells",
    "realization_seeds": ".cells",
    "KINDS": ".evaluate",
    "METRICS": ".metrics",
    "evaluate_cell": ".evaluate",
    "DaskExecutor": ".executors",
    "Executor": ".executors",
    "LocalExecutor": ".executors",
    "SerialExecutor": ".executors",
    "WorkerLost": ".executors",
    "code_version": ".provenance",
    "SweepOutcome": ".runner",
    "SweepStatus": ".runner",
    "results_frame": ".runner",
    "run_sweep": ".runner",
    "sweep_status": ".runner",
    "Axis": ".spec",
    "SweepSpec": ".spec",
    "load_spec": ".spec",
    "spec_from_dict": ".spec",
}

__all__ = [
    "KINDS",
    "METRICS",
    "Axis",
    "Cell",
    "CellError",
    "DaskExecutor",
    "Executor",
    "LocalExecutor",
    "SerialExecutor",
    "SweepError",
    "SweepOutcome",
    "SweepSpec",
    "SweepSpecError",
    "SweepStatus",
    "WorkerLost",
    "code_version",
    "evaluate_cell",
    "expand",
    "load_spec",
    "realization_seeds",
    "results_frame",
    "run_sweep",
    "spec_from_dict",
    "sweep_status",
]

__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, __all__)
