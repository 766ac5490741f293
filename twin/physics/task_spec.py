"""Tasks from spec strings: ``regression``, ``allostery``, ``iris`` or ``file:PATH``.

:func:`build_tasks` turns a task spec and an optional network spec (:mod:`.network_io`) into one
task per realization, the way every command line, test and benchmark builds them: generated
tasks get independent random streams per realization (:func:`realization_rng`) and, for a jammed
network without its own seed, their own packing; ``ref:N`` without an index gives realization
``r`` the authors' reference network number ``r`` (modulo their count: 50 per size).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..errors import NetworkError, TaskError
from .estimate import network_size
from .network import Network
from .network_io import SPEC_FORMS, network_from_spec
from .task import Task, load_task
from .task_generators import allostery_task, iris_task, regression_task

__all__ = [
    "DEFAULT_NETWORKS",
    "LABEL_NOISE_KINDS",
    "TASK_KINDS",
    "TaskSpecError",
    "build_tasks",
    "check_task_spec",
    "realization_rng",
    "reference_for_realization",
]

#: Network used by each generated task kind when no network spec is given.
DEFAULT_NETWORKS = {
    "allostery": "lattice:4x4:periodic",
    "regression": "jammed:64",
    "iris": "jammed:64",
}
TASK_KINDS = ("regression", "allostery", "iris")
#: Generated task kinds that take label noise (seed App. C).
LABEL_NOISE_KINDS = ("regression", "iris")


class TaskSpecError(TaskError):
    """A task or network spec (or the number of realizations) is not acceptable.

    ``field`` names the argument at fault (``task``, ``network`` or ``realizations``), so a
    command line can point at its own option.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.detail = message

    def __reduce__(self) -> tuple[type[TaskSpecError], tuple[str, str]]:
        # rebuilt from both arguments, so the error crosses a process pool as itself
        return type(self), (self.field, self.detail)


def realization_rng(seed: int, realization: int) -> np.random.Generator:
    """The generator of one realization: independent streams from ``(seed, realization)``."""
    return np.random.default_rng([seed, realization])


def _network_for(spec: str, seed: int, realization: int) -> Network:
    # A jammed spec without its own seed gives every realization its own packing.
    if spec.startswith("jammed:") and ":seed=" not in spec:
        spec = f"{spec}:seed={seed * 100_003 + realization}"
    return network_from_spec(reference_for_realization(spec, realization))


def reference_for_realization(spec: str, realization: int) -> str:
    """``ref:N`` -> ``ref:N:i=K`` with ``K = realization mod`` (number of N files); else ``spec``.

    What :func:`build_tasks` does for realization ``realization``; callers that build each
    realization alone (sweeps: one seed per realization) call it to get the same network.
    """
    if not (spec.startswith("ref:") and ":i=" not in spec and spec[4:].isdigit()):
        return spec
    from .reference_networks import reference_files

    try:
        count = len(reference_files(int(spec[4:])))
    except NetworkError:
        return spec  # network_from_spec reports the missing files
    return f"{spec}:i={realization % count}"


def _file_task(path: str, network_spec: str | None) -> Task:
    task = load_task(path)
    if network_spec is None:
        return task
    net = network_from_spec(network_spec)
    if (net.n_nodes, net.n_edges) != (task.network.n_nodes, task.network.n_edges):
        raise TaskSpecError(
            "network",
            f"{network_spec} has {net.n_nodes} nodes/{net.n_edges} edges, "
            f"the task's network {task.network.n_nodes}/{task.network.n_edges}",
        )
    return task.evolve(network=net)


def check_task_spec(
    task_spec: str, network_spec: str | None, *, realizations: int = 1, label_noise: float = 0.0
) -> None:
    """The checks :func:`build_tasks` makes before generating anything (cheap: no network is
    built): the task kind, the number of realizations, the label noise and, for generated
    ``lattice:``/``jammed:`` networks, the spec's form and size limits.

    Raises
    ------
    TaskSpecError, NetworkError
        As :func:`build_tasks` would.
    """
    if realizations < 1:
        raise TaskSpecError("realizations", "must be >= 1")
    if network_spec is not None and not network_spec.strip():
        raise TaskSpecError(
            "network",
            f"empty spec; expected {SPEC_FORMS} "
            "(leave the option out for the task's default network)",
        )
    if not (label_noise >= 0 and np.isfinite(label_noise)):
        raise TaskSpecError("label_noise", f"must be a finite number >= 0 V, got {label_noise}")
    kind = task_spec.split(":", 1)[0] if task_spec.startswith("file:") else task_spec
    if label_noise > 0 and kind not in LABEL_NOISE_KINDS:
        raise TaskSpecError(
            "label_noise",
            f"applies to generated {' and '.join(LABEL_NOISE_KINDS)} tasks, not {kind}",
        )
    if task_spec.startswith("file:"):
        return
    if task_spec not in TASK_KINDS:
        raise TaskSpecError(
            "task",
            f"unknown task {task_spec!r}; expected one of {', '.join(TASK_KINDS)} or file:PATH",
        )
    spec = network_spec or DEFAULT_NETWORKS[task_spec]
    if spec.startswith(("lattice:", "jammed:")) and network_size(spec) is None:
        network_from_spec(spec)  # malformed or over the limits: raises its own message


def build_tasks(
    task_spec: str,
    network_spec: str | None,
    *,
    seed: int,
    realizations: int,
    progress: Callable[[int, int], None] | None = None,
    label_noise: float = 0.0,
) -> list[Task]:
    """One task per realization from a task spec and an optional network spec.

    Parameters
    ----------
    task_spec
        ``regression``, ``allostery``, ``iris`` (generated) or ``file:PATH`` (a task file).
    network_spec
        Network of the task (:func:`~.network_io.network_from_spec`); ``None`` takes the task
        kind's default (:data:`DEFAULT_NETWORKS`) or the task file's own network.
    seed
        Seed of the generated networks and tasks.
    realizations
        Number of tasks (>= 1); a task file gives the same task for every realization.
    progress
        Called as ``progress(done, realizations)`` after each generated realization.
    label_noise
        Standard deviation (V) of Gaussian noise on the desired training outputs of a generated
        regression or iris task (seed App. C: 1e-3); 0 for none.

    Raises
    ------
    TaskSpecError
        Unknown task kind, bad number of realizations, network not matching a task file, label
        noise that is negative or given for a task kind without labels to perturb.
    TaskError, NetworkError
        A file or network spec that cannot be read.
    """
    check_task_spec(task_spec, network_spec, realizations=realizations, label_noise=label_noise)
    if task_spec.startswith("file:"):
        return [_file_task(task_spec[5:], network_spec)] * realizations
    spec = network_spec or DEFAULT_NETWORKS[task_spec]
    make = {"regression": regression_task, "allostery": allostery_task, "iris": iris_task}[
        task_spec
    ]
    extra = {"label_noise": label_noise} if label_noise > 0 else {}
    tasks = []
    for r in range(realizations):
        net = _network_for(spec, seed, r)
        tasks.append(make(net, rng=realization_rng(seed, r), **extra))  # type: ignore[operator]
        if progress is not None:
            progress(r + 1, realizations)
    return tasks
