"""learning-twin: an event-driven digital twin of self-learning electronic circuits.

Layers (each imports only from the ones below it; an import-linter contract checks this):
:mod:`twin.cli` > :mod:`twin.view` > :mod:`twin.shadow` > :mod:`twin.sweeps` > :mod:`hw_bridge`
(the wire) > :mod:`twin.board` > :mod:`twin.ledger` > :mod:`twin.simulation` >
:mod:`twin.learning` > :mod:`twin.physics` > :mod:`twin.kernels`;
:mod:`twin.documents`,
:mod:`twin.errors`, :mod:`twin._generated` and :mod:`twin._validators` sit beside them all.

Naming: ``*Config`` is a frozen, keyword-only attrs class of run settings chosen by the user and
passed down once (``TrainConfig``, ``TwinConfig``, ``NoiseConfig``, ``JammingConfig``);
``*Params`` is a set of physical parameters of a circuit element, every field carrying its SI
unit (``EdgeParams``). Units are suffixes: ``_s`` seconds, ``_siemens`` siemens, ``_v`` volts,
``_w`` watts, ``_j`` joules, ``_f`` farads, ``_ohm`` ohms.

The names below are imported on first use, so ``import twin`` (and ``twin --help``) stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_attributes
from .errors import ConfigError, NetworkError, SolverError, TaskError, TwinError

if TYPE_CHECKING:
    from .learning.rules import LambdaControl, LearningRule
    from .learning.trainer import TrainConfig, TrainResult, train
    from .physics.network import Network, lattice
    from .physics.network_io import load_network, network_from_spec, save_network
    from .physics.solver import CircuitBatch
    from .physics.task import Examples, Task, load_task, save_task
    from .physics.task_generators import allostery_task, iris_task, regression_task

#: Where each lazily imported name lives.
_LAZY = {
    "LambdaControl": ".learning.rules",
    "LearningRule": ".learning.rules",
    "TrainConfig": ".learning.trainer",
    "TrainResult": ".learning.trainer",
    "train": ".learning.trainer",
    "Network": ".physics.network",
    "lattice": ".physics.network",
    "load_network": ".physics.network_io",
    "network_from_spec": ".physics.network_io",
    "save_network": ".physics.network_io",
    "CircuitBatch": ".physics.solver",
    "Examples": ".physics.task",
    "Task": ".physics.task",
    "allostery_task": ".physics.task_generators",
    "iris_task": ".physics.task_generators",
    "load_task": ".physics.task",
    "regression_task": ".physics.task_generators",
    "save_task": ".physics.task",
}

__all__ = [
    "CircuitBatch",
    "ConfigError",
    "Examples",
    "LambdaControl",
    "LearningRule",
    "Network",
    "NetworkError",
    "SolverError",
    "Task",
    "TaskError",
    "TrainConfig",
    "TrainResult",
    "TwinError",
    "allostery_task",
    "iris_task",
    "lattice",
    "load_network",
    "load_task",
    "network_from_spec",
    "regression_task",
    "save_network",
    "save_task",
    "train",
]


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, __all__)
