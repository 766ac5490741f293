"""XY training from option names: what ``twin train --physics xy`` and an ``xy`` sweep cell share.

The option names (:data:`XY_OPTIONS`) are the long options of ``twin train --physics xy`` with
underscores, which are also the parameters of an ``xy`` sweep cell (``schemas/sweep.schema.json``
``$defs/xy``). :func:`xy_config` turns them into an :class:`~twin.learning.ep_train.XYTrainConfig`,
:func:`xy_setup` builds the graph and task of a seed, and :func:`xy_work` bounds a run's work
before it starts (:data:`MAX_XY_WORK`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..physics.xy.graph import XYGraph
from ..physics.xy.relax import RelaxConfig
from ..physics.xy.spec import graph_from_spec
from ..physics.xy.tasks import XYTask, task_from_spec
from .ep import EPConfig
from .ep_train import XYTrainConfig

__all__ = ["MAX_XY_WORK", "XY_OPTIONS", "xy_config", "xy_setup", "xy_work"]

#: Work limit of one run, node-steps (epochs x examples x starts x phases x max steps x
#: (nodes + couplings)): ~an hour at the kernel's ~10^8 per second; ``--force`` lifts it.
MAX_XY_WORK = 3e11
#: Options only XY training reads (``twin train --physics xy``; an ``xy`` sweep cell's parameters
#: besides ``network`` and ``task``).
XY_OPTIONS = ("beta", "symmetric", "lr", "optimizer", "epochs", "starts", "batch_size", "dt",
              "max_steps", "relax_tol", "eval_starts")  # fmt: skip


def xy_config(options: Mapping[str, Any]) -> XYTrainConfig:
    """The training settings named by ``options`` (every name of :data:`XY_OPTIONS`)."""
    relax = RelaxConfig(dt=options["dt"], max_steps=options["max_steps"], tol=options["relax_tol"])
    ep = EPConfig(beta=options["beta"], symmetric=options["symmetric"], starts=options["starts"],
                  relax=relax)  # fmt: skip
    return XYTrainConfig(ep=ep, epochs=options["epochs"], lr=options["lr"],
                         optimizer=options["optimizer"], batch_size=options["batch_size"],
                         eval_starts=options["eval_starts"])  # fmt: skip


def xy_setup(network: str | None, task: str, rng: np.random.Generator) -> tuple[XYGraph, XYTask]:
    """The graph ``network`` names, sized for ``task`` (whose held-out split ``rng`` draws).

    Raises
    ------
    ConfigError
        ``network`` is ``None`` (XY training has no default network).
    """
    if network is None:
        raise ConfigError("network: required for --physics xy "
                          "(e.g. all:6, layered:2,4,1, lattice:5x5:io=sides)")  # fmt: skip
    xy_task = task_from_spec(task, rng)
    return graph_from_spec(network, xy_task.n_in, xy_task.n_out), xy_task


def xy_work(graph: XYGraph, task: XYTask, options: Mapping[str, Any]) -> float:
    """Node-steps of a run: epochs x examples x starts x phases x max steps x (nodes +
    couplings)."""
    m = len(task.x_train)
    batch = m if options["batch_size"] is None else min(options["batch_size"], m)
    phases = 3 if options["symmetric"] else 2
    return (float(options["epochs"]) * batch * options["starts"] * phases
            * options["max_steps"] * (graph.n_nodes + graph.n_edges))  # fmt: skip
