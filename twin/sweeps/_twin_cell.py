"""Twin cells: the event-driven twin, one run per realization (as ``twin simulate`` runs it)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import simpy

from ..physics.task_spec import build_tasks
from ..simulation.errors import ModelError
from ..simulation.options import twin_config_from_options
from ..simulation.twin import Twin, TwinConfig
from .metrics import TWIN_METRICS as METRICS

__all__ = ["METRICS", "check_params", "evaluate_twin", "twin_config"]


def twin_config(params: Mapping[str, Any]) -> TwinConfig:
    """The twin's settings from a cell's parameters."""
    sample_s = params["sample_s"]
    return twin_config_from_options(
        model=params["model"],
        clock=params["clock"],
        lam=params["lam"],
        eta=params["eta"],
        tau_feedback=params["tau_feedback"],
        noise=params["noise"],
        meas_noise=params["meas_noise"],
        offsets=params["offsets"],
        leak=params["leak"],
        sample_s=sample_s if sample_s is not None else max(params["duration"] / 200, 1e-6),
        batch_s=params["batch_s"],
        engine=params["engine"],
    )


def check_params(params: Mapping[str, Any]) -> None:
    """Raise a one-line error if the parameters cannot make a twin (clock, model, task kind)."""
    if params["task"] == "iris":
        raise ModelError("task: the twin runs allostery, regression or file:PATH, not iris")
    twin_config(params)


def _run_one(params: Mapping[str, Any], config: TwinConfig, seed: int) -> dict[str, float]:
    task = build_tasks(params["task"], params["network"], seed=seed, realizations=1)[0]
    twin = Twin(simpy.Environment(), task, config, np.random.default_rng([seed, 1]))
    stats = twin.run(params["duration"]).stats
    row = {name: float(stats[name]) for name in METRICS if name in stats}
    e0, p0 = row["error_initial"], row["free_power_initial_w"]
    row["error_ratio"] = row["error_final"] / e0 if e0 > 0 else math.nan
    row["power_ratio"] = row["free_power_final_w"] / p0 if p0 > 0 else math.nan
    return row


def evaluate_twin(params: Mapping[str, Any], seeds: Sequence[int]) -> list[dict[str, float]]:
    """Run the twin once per realization (seed ``s``: ``twin simulate --seed s``)."""
    config = twin_config(params)
    return [_run_one(params, config, int(s)) for s in seeds]
