"""XY cells: one EP training run of an XY oscillator network per realization (seed 003).

Realization ``r`` is ``twin train --physics xy --seed seeds[r]`` with the cell's parameters: its
couplings, random starts and held-out split are drawn from that seed. Metrics are accuracies and
losses (dimensionless), the fraction of relaxed states, the couplings and CPU milliseconds per
epoch (the model has no joules: none is reported).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..learning.ep_train import train_xy
from ..learning.xy_options import MAX_XY_WORK, XY_OPTIONS, xy_config, xy_setup, xy_work
from .metrics import XY_METRICS as METRICS

__all__ = ["METRICS", "check_params", "evaluate_xy", "xy_cell_work"]


def _options(params: Mapping[str, Any]) -> dict[str, Any]:
    return {name: params[name] for name in XY_OPTIONS}


def xy_cell_work(params: Mapping[str, Any]) -> float:
    """Node-steps of one realization (:func:`twin.learning.xy_options.xy_work`)."""
    graph, task = xy_setup(params["network"], params["task"], np.random.default_rng(0))
    return xy_work(graph, task, _options(params))


def check_params(params: Mapping[str, Any]) -> None:
    """Raise what the run would: no or a malformed network (or one that cannot hold the task's
    inputs and outputs: :func:`twin.physics.xy.spec.graph_from_spec` sizes it for the task),
    settings out of range, or work beyond :data:`MAX_XY_WORK` per realization."""
    xy_config(_options(params))
    work = xy_cell_work(params)
    if work > MAX_XY_WORK:
        raise ConfigError(f"epochs: {work:.2g} node-steps per realization exceed the limit "
                          f"{MAX_XY_WORK:.0e} (fewer epochs, starts or max_steps)")  # fmt: skip


def evaluate_xy(params: Mapping[str, Any], seeds: Sequence[int]) -> list[dict[str, float]]:
    """One row of :data:`METRICS` per realization."""
    config = xy_config(_options(params))
    rows = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        graph, task = xy_setup(params["network"], params["task"], rng)
        cpu0 = time.process_time()
        result = train_xy(graph, task, config, rng)
        cpu_s = time.process_time() - cpu0
        rows.append({
            "accuracy_test": float(result.test.accuracy),
            "loss_test": float(result.test.loss),
            "accuracy_train": float(result.train.accuracy),
            "loss_train": float(result.train.loss),
            "converged_fraction": float(result.test.converged),
            "couplings": float(graph.n_edges),
            "cpu_ms_per_epoch": 1e3 * cpu_s / max(config.epochs, 1),
        })  # fmt: skip
    return rows
