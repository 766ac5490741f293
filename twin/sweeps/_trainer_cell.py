"""Trainer cells: every realization of a cell in one batched call of the synchronous trainer."""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..learning.energy_floor import energy_floors
from ..learning.rules import LambdaControl, LearningRule
from ..learning.trainer import (
    RealizationSettings,
    TrainConfig,
    Trainer,
    TrainResult,
    public_key,
)
from ..physics.contract import Physics
from ..physics.springs.task_spec import SPRING_TASKS, build_spring_tasks
from ..physics.task_spec import build_tasks, reference_for_realization
from .metrics import TRAINER_METRICS as METRICS

__all__ = ["METRICS", "batch_rows", "check_params", "evaluate_trainer", "evaluate_trainer_batch",
           "train_config", "trainer_rows"]  # fmt: skip

#: Reference-network tasks kept per worker process (a sweep's realizations, reused by its cells).
TASK_CACHE = 256
#: Largest jammed packing (disks) whose spring tasks are kept per process.
SMALL_SPRINGS = 256


def train_config(params: Mapping[str, Any], *, threads: int = 1) -> TrainConfig:
    """The trainer's settings from a cell's parameters (as ``twin train`` builds them).

    ``threads=1``: a sweep runs one cell per worker process, so the trainer must not add threads.
    """
    lam = params["lam"]
    control_tol = params["control_tol"]
    return TrainConfig(
        rule=LearningRule(alpha=params["alpha"], eta=params["eta"], lam=lam),
        kappa=params["kappa"],
        k_min=params["kmin"],
        k_max=params["kmax"],
        steps=params["steps"],
        step_s=params["step_s"],
        stop_tol=params["stop_tol"],
        mark_tol=params.get("mark_tol"),
        control=LambdaControl(
            tol=control_tol,
            rho=params.get("rho", 1.0),
            p=params.get("p", 0.02),
            lam0=params.get("lam0") or lam or 1e-8,
        )
        if control_tol is not None
        else None,
        n_records=params["n_records"],
        threads=threads,
    )


def check_params(params: Mapping[str, Any]) -> None:
    """Raise the configuration's own error if the parameters cannot make a trainer config."""
    train_config(params)


def _task(task: str, network: str | None, r: int, seed: int, label_noise: float) -> Any:
    """Realization ``r``'s resistor task."""
    spec = None if network is None else reference_for_realization(network, r)
    return build_tasks(task, spec, seed=seed, realizations=1, label_noise=label_noise)[0]


#: :func:`_task` once per process for the authors' reference networks (``ref:N``, a few hundred
#: nodes at most): the cells of a sweep share their realizations' tasks (the same seeds in every
#: cell), so a worker reads each network file and draws each task once, not once per cell.
#: Tasks are immutable (read-only arrays), so sharing one between cells changes no number.
_reference_task = functools.lru_cache(maxsize=TASK_CACHE)(_task)


def _spring_task(task: str, network: str | None, seed: int, prune: float | None = None) -> Any:
    """The spring task of one realization (``twin train --physics springs --seed seed
    [--prune prune]``)."""
    return build_spring_tasks(task, network, seed=seed, realizations=1, prune=prune)[0]


#: :func:`_spring_task` once per process for small generated packings (the default
#: ``jammed:27``): drawing a rigid packing is half a spring cell's time, and the cells of a sweep
#: share their realizations. Spring tasks are immutable (read-only arrays).
_small_spring_task = functools.lru_cache(maxsize=TASK_CACHE)(_spring_task)


def tasks_for(params: Mapping[str, Any], seeds: Sequence[int]) -> list[Any]:
    """One task per realization: realization ``r`` built as ``twin train --seed seeds[r]``.

    A ``ref:N`` network becomes ``ref:N:i=r`` (mod the number of files) for realization ``r``,
    so the realizations train on the authors' distinct reference networks. A spring task
    (``allostery-strain``) is built as ``twin train --physics springs --seed seeds[r]``.
    """
    network = params["network"]
    if params["task"] in SPRING_TASKS:
        small = network is None or (str(network).startswith("jammed:")
                                    and str(network)[7:].isdigit()
                                    and int(str(network)[7:]) <= SMALL_SPRINGS)  # fmt: skip
        spring = _small_spring_task if small else _spring_task
        prune = params.get("prune")
        return [spring(params["task"], network, int(s), prune) for s in seeds]
    noise = float(params.get("label_noise", 0.0))
    build = _reference_task if str(network).startswith("ref:") else _task
    return [build(params["task"], network, r, int(s), noise) for r, s in enumerate(seeds)]


def _ratio(a: float, b: float) -> float:
    return float(a / b) if b > 0 else math.nan


def _time_to_tol(result: TrainResult, r: int, params: Mapping[str, Any]) -> float:
    """Time (s) at which realization ``r`` first reached the tolerance (NaN: never, or none set).

    Early stopping (``stop_tol``): exactly ``steps_done * step_s`` when the run stopped under it.
    A marked tolerance (``mark_tol``): the same, at the mark. Dynamic control (``control_tol``):
    the first record point with error <= tol (resolution: the log-spaced record schedule,
    ``n_records`` points).
    """
    if result.tol_steps is not None and result.tol_error is not None:
        if result.tol_error[r] <= params["mark_tol"]:
            return float(result.tol_steps[r]) * params["step_s"]
        return math.nan
    if params["stop_tol"] is not None:
        if result.error_final[r] <= params["stop_tol"]:
            return float(result.steps_done[r]) * params["step_s"]
        return math.nan
    tol = params["control_tol"]
    if tol is None:
        return math.nan
    errors = result.history["error"][:, r]
    hit = np.flatnonzero(errors <= tol)
    return float(result.history["t_s"][hit[0]]) if hit.size else math.nan


def _energy_to_tol(result: TrainResult, r: int, params: Mapping[str, Any]) -> float:
    """Training (free) energy (J) until the tolerance of ``stop_tol`` or ``mark_tol`` was first
    reached (NaN: never, or neither set)."""
    if result.tol_energy_j is not None and result.tol_error is not None:
        reached = result.tol_error[r] <= params["mark_tol"]
        return float(result.tol_energy_j[0, r]) if reached else math.nan
    if params["stop_tol"] is not None and result.error_final[r] <= params["stop_tol"]:
        return float(result.training_energy_j[r])
    return math.nan


def _in_units(row: dict[str, float], cost_name: str) -> dict[str, float]:
    """Metric names of the substrate's cost: for springs the free-state cost is an elastic energy
    (``free_energy_*_j``, ratio ``free_energy_ratio``), not a power."""
    if cost_name == "power_w":
        return row
    renamed = {public_key(k, cost_name): v for k, v in row.items()}
    renamed["free_energy_ratio"] = renamed.pop("power_ratio")
    return renamed


def evaluate_trainer(params: Mapping[str, Any], seeds: Sequence[int]) -> list[dict[str, float]]:
    """Train every realization of a cell in one batched call; one metrics row per realization."""
    return trainer_rows(params, tasks_for(params, seeds))


def evaluate_trainer_batch(
    cells: Sequence[Mapping[str, Any]], seeds: Sequence[int]
) -> list[list[dict[str, float]]]:
    """The rows of each cell of a batch (cells that differ only in lambda, kappa, alpha and
    ``stop_tol``,
    :mod:`twin.sweeps.batches`): every cell's realizations trained in one run."""
    return batch_rows(cells, tasks_for(cells[0], seeds))


def trainer_rows(
    params: Mapping[str, Any], tasks: Sequence[Any], physics: Physics | None = None
) -> list[dict[str, float]]:
    """Train ``tasks`` (one per realization) in one batched call on ``physics`` (default: the
    tasks' own, :func:`twin.learning.trainer.physics_for`); one metrics row per realization."""
    (rows,) = batch_rows([params], tasks, physics)
    return rows


def batch_rows(
    cells: Sequence[Mapping[str, Any]], tasks: Sequence[Any], physics: Physics | None = None
) -> list[list[dict[str, float]]]:
    """:func:`trainer_rows` of several cells that differ only in lambda, kappa, alpha and the
    early-stopping or lambda-control tolerance, on the same ``tasks``, in one run (realization
    ``r`` of cell ``i`` is run realization ``i * len(tasks) + r``): each cell's rows are those
    :func:`trainer_rows` gives it alone."""
    n = len(tasks)
    every = [t for _ in cells for t in tasks]
    settings = None
    if len(cells) > 1:
        if physics is not None:
            raise ValueError("batch_rows: several cells build their own physics")
        stops = [c["stop_tol"] or 0.0 for c in cells for _ in range(n)]
        controls = [c["control_tol"] or 0.0 for c in cells for _ in range(n)]
        settings = RealizationSettings(
            kappa=[c["kappa"] for c in cells for _ in range(n)],
            alpha=[c["alpha"] for c in cells for _ in range(n)],
            lam=[_initial_lam(c) for c in cells for _ in range(n)],
            cell_realizations=n,
            stop_tol=None if len(set(stops)) == 1 else stops,
            control_tol=None if len(set(controls)) == 1 else controls,
        )
    trainer = Trainer(every, train_config(cells[0]), physics=physics, settings=settings)
    result = trainer.run()
    kappas = settings.kappa if settings is not None else cells[0]["kappa"]
    floors = energy_floors(result, every, kappas)
    has_test = all(t.test is not None for t in every)
    test = trainer.evaluate(result.k, "test") if has_test else {}
    classify = all(t.train.labels is not None for t in every)
    train = trainer.evaluate(result.k, "train") if classify else {}
    return [[_row(result, i * n + r, params, floors, test, train) for r in range(n)]
            for i, params in enumerate(cells)]  # fmt: skip


def _initial_lam(params: Mapping[str, Any]) -> float:
    """Lambda a cell's run starts from (:meth:`twin.learning.trainer.Trainer.run`: the
    control's ``lam0`` when lambda is 0 under control)."""
    config = train_config(params)
    if config.control is not None and config.rule.lam == 0:
        return float(config.control.lam0)
    return float(config.rule.lam)


def _row(
    result: TrainResult,
    r: int,
    params: Mapping[str, Any],
    floors: Any,
    test: Mapping[str, Any],
    train: Mapping[str, Any],
) -> dict[str, float]:
    """The metrics of run realization ``r`` (of the cell ``params``)."""
    row: dict[str, float] = {
        "error_initial": float(result.error_initial[r]),
        "error_final": float(result.error_final[r]),
        "error_ratio": _ratio(result.error_final[r], result.error_initial[r]),
        "free_power_initial_w": float(result.free_power_initial_w[r]),
        "free_power_final_w": float(result.free_power_final_w[r]),
        "power_ratio": _ratio(result.free_power_final_w[r], result.free_power_initial_w[r]),
        "training_energy_j": float(result.training_energy_j[r]),
        "energy_floor_j": float(floors[r]),
        "clamped_energy_j": float(result.clamped_energy_j[r]),
        "lam_final": float(result.lam_final[r]),
        "steps_done": float(result.steps_done[r]),
        "time_to_tol_s": _time_to_tol(result, r, params),
        "energy_to_tol_j": _energy_to_tol(result, r, params),
        "test_error": float(test["error"][r]) if test else math.nan,
    }
    if "accuracy" in train:
        row["accuracy_train"] = float(train["accuracy"][r])
    if "accuracy" in test:
        row["accuracy_test"] = float(test["accuracy"][r])
    return _in_units(row, result.cost_name)
