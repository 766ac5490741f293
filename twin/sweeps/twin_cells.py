"""Twin sweep cells: one event-driven twin run per realization, reduced to scalar metrics.

A *twin cell* is a flat mapping of parameters (one point of a sweep; the vocabulary is
``$defs/twin`` of ``schemas/sweep.schema.json``: ``twin simulate``'s long options with
underscores, plus the ones below); :func:`evaluate_twin` runs the event-driven twin
(:mod:`twin.simulation`) once per seed and returns one dict of float metrics per realization.
What a cell adds to ``twin simulate``:

Clock kinds on one update-probability axis
    :func:`clock_spec` writes the clock of a kind at mean update probability ``p`` per global
    tick of ``rate_hz`` (the board's 10 kHz learning step), so that every kind has the same mean
    updates per edge per second, ``rate_hz * p``: ``bernoulli`` (global ticks, each edge with
    probability ``p``; Wycoff et al. 2022), ``poisson`` and ``periodic`` (independent per-edge
    clocks of rate ``rate_hz * p``; periodic with relative cycle jitter and frequency spread),
    ``sync`` (``p = 1``). :func:`clock_kind_and_p` reads them back.
Duration in board time, or in updates per edge
    ``duration`` (board seconds), or ``updates_per_edge`` (the board time is then
    ``updates_per_edge`` over the clock's mean rate per edge): the "equal board time" and "equal
    numbers of updates per edge" comparisons of desynchronous learning.
The board's noise model (reused, not re-implemented)
    ``noise``: learning-rule white noise delta on the contrast, V^2 per 0.1 ms (seed Fig. 3d:
    1e-3; :class:`twin.simulation.NoiseConfig`); ``offsets``: the twin's fixed per-edge
    comparator offsets on the contrast (V^2); ``meas_noise``: noise on each drop read (V);
    ``variation = "typical"``: the emulated board's hidden component variation
    (:class:`twin.board.variation.HiddenVariation`: gains of the free and clamped channels,
    thresholds, capacitors, leaks, comparator offsets on the drive), transistor model only;
    ``variation = "lab"``: as imperfect as the lab's 4 x 4 board (``HiddenVariation.lab()``:
    typical plus a learning bias of 1.5 +- 1.5 V/s per edge, equal free and clamped gains at
    half gain);
    ``adc_bits``/``adc_noise``: the board's node ADC (:class:`twin.board.variation.Adc`, full
    scale 0.4532 V) through which the final target voltages are read for ``error_measured``.

Metrics per realization (floats; NaN where undefined)
    ``error_initial``, ``error_final`` (V^2, at the end), ``error_ratio``, ``error_tail`` (time
    average of the sampled error over the last ``tail_fraction`` of the run: the noise floor),
    ``error_measured`` (final targets read through the ADC), ``free_power_initial_w``,
    ``free_power_final_w``, ``power_ratio``, ``free_power_tail_w``, ``clamped_power_final_w``;
    energies kept apart: ``training_energy_j`` (free network), ``clamped_energy_j`` (clamped
    network), ``gate_charging_energy_j`` (i^2 R of the gate-charging resistors) and their sum
    ``total_energy_j``; ``time_to_tol_s`` and ``energy_to_tol_j`` (first sampled crossing of
    ``tol``, log-interpolated between samples; free-network energy up to then);
    ``mean_updates_per_edge`` (edge events per edge), ``events``, ``sim_time_s``, ``cpu_s``.

Spring networks (``physics = "springs"``; :mod:`twin.sweeps._spring_twin_cell`)
    ``twin simulate --physics springs`` per realization: asynchronous spring agents on the same
    clocks, with ``alpha``, ``kappa`` and ``spring_solver``; metrics named by their unit
    (:data:`twin.sweeps.metrics.SPRING_TWIN_METRICS`: strain^2 and J, ``free_energy_*_j`` where
    circuits report ``free_power_*_w``).

Seeds: realization ``s`` uses the task of ``build_tasks(task, network, seed=s,
realizations=1)`` (the same task as ``twin simulate --seed s``), the twin's randomness from
``default_rng([s, 1])`` (as ``twin simulate``), the board variation from ``default_rng([s, 2])``
and the ADC noise from ``default_rng([s, 3])``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import simpy

from twin.board.variation import Adc

from ..physics.task import Task
from ..simulation.scheduled import ScheduledTwin
from ..simulation.twin import Twin, TwinResult
from ._spring_twin_cell import check_spring_cell, run_spring_cell
from ._twin_cell import (
    CLOCK_KINDS,
    META_KEYS,
    VARIATIONS,
    TwinCell,
    TwinCellError,
    cell_from_params,
    clock_kind_and_p,
    clock_spec,
)
from ._twin_cell import check_params as check_circuit_params
from ._twin_metrics import METRICS, metrics_of, time_to_tolerance

__all__ = [
    "CLOCK_KINDS",
    "META_KEYS",
    "METRICS",
    "VARIATIONS",
    "TwinCell",
    "TwinCellError",
    "cell_from_params",
    "check_params",
    "clock_kind_and_p",
    "clock_spec",
    "evaluate_twin",
    "metrics_of",
    "run_cell",
    "time_to_tolerance",
]


def _measured_error(twin: Twin, task: Task, adc: Adc | None, seed: int) -> float:
    """Training error of the final state with the target voltages read through ``adc``."""
    if adc is None:
        return float("nan")
    rng = np.random.default_rng([seed, 3])
    desired = np.asarray(task.train.outputs, dtype=float)
    total = 0.0
    for e in range(desired.shape[0]):
        v_free, _ = twin.node_voltages(e)
        if task.target_kind == "edges":
            raise TwinCellError("adc_bits: ADC readout of edge targets is not modelled")
        read = adc.read(v_free[task.targets], rng)
        total += float(np.sum((read - desired[e]) ** 2))
    return total / desired.shape[0]


def check_params(params: Mapping[str, Any]) -> None:
    """Raise a one-line error if the parameters cannot make a twin (without running it); a
    spring cell's network is built once where it does not depend on the seed (rigidity)."""
    cell = cell_from_params(params)
    if cell.springs:
        check_spring_cell(cell)
        return
    check_circuit_params(params)


def run_cell(cell: TwinCell, seed: int) -> tuple[dict[str, float], TwinResult]:
    """Run one realization of ``cell``; returns its metrics and the raw twin result."""
    if cell.springs:
        return run_spring_cell(cell, seed)
    cpu0 = time.process_time()
    schedule = cell.load_schedule()
    task = cell.make_task(seed) if schedule is None else schedule.tasks[0]
    n_edges = task.network.n_edges
    config = cell.twin_config(n_edges, seed)
    rng = np.random.default_rng([seed, 1])
    if schedule is None:
        twin = Twin(simpy.Environment(), task, config, rng)
        result = twin.run(cell.board_time_s())
    else:
        scheduled = ScheduledTwin(simpy.Environment(), schedule, config, rng)
        result = scheduled.run()
        twin, task = scheduled.twin, scheduled.twin.task  # the segment trained last
    measured = _measured_error(twin, task, cell.adc(), seed)
    metrics = metrics_of(result, cell, n_edges, measured, time.process_time() - cpu0)
    return metrics, result


def evaluate_twin(params: Mapping[str, Any], seeds: Sequence[int]) -> list[dict[str, float]]:
    """Metrics of one twin cell, one dict per seed (realization), in the order of ``seeds``."""
    cell = cell_from_params(params)
    return [run_cell(cell, int(seed))[0] for seed in seeds]
