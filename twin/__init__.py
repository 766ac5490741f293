"""learning-twin: an event-driven digital twin of self-learning electronic circuits.

Physics layer (networks, tasks, solver), local learning rules and the synchronous trainer. The
event-driven simulator, energy ledger and CLI live in their own modules.
"""

from .errors import ConfigError, NetworkError, SolverError, TaskError, TwinError
from .learning.rules import LambdaControl, LearningRule
from .learning.trainer import TrainConfig, TrainResult, train
from .physics.network import Network, lattice
from .physics.network_io import load_network, network_from_spec, save_network
from .physics.solver import CircuitBatch
from .physics.task import (
    Examples,
    Task,
    allostery_task,
    iris_task,
    load_task,
    regression_task,
    save_task,
)

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
