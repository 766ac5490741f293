"""Spring tasks from spec strings: ``allostery-strain`` on a network spec (default ``jammed:27``).

Generated jammed networks are drawn per realization from ``(seed, realization)`` and kept only if
rigid as unstrained spring networks (the contact network of a small packing can have floppy
modes: its rattler-free 3-core is not always rigid); ``prune`` lowers the coordination by removing
random redundant bonds, rigidity kept. Other specs (``ref:``, ``file:``, ``lattice:``) are used as
they are and refused with the floppy-mode count if they are not rigid.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

from ...errors import NetworkError
from ..network_io import network_from_spec
from ..task_spec import TaskSpecError, realization_rng
from .network import SpringNetwork, check_rigid, floppy_modes, prune_to_coordination
from .task import SpringTask, allostery_strain_task

__all__ = ["DEFAULT_SPRING_NETWORK", "SPRING_TASKS", "build_spring_tasks"]

DEFAULT_SPRING_NETWORK = "jammed:27"
SPRING_TASKS = ("allostery-strain",)
#: Packings drawn per realization before a rigid one is given up on.
MAX_PACKINGS = 20
_JAMMED_RE = re.compile(r"^jammed:(\d+)$")


def _rigid_jammed(n: int, rng: np.random.Generator) -> SpringNetwork:
    from ..jammed import jammed_network  # local: scipy.spatial is slow to import

    for _ in range(MAX_PACKINGS):
        net = SpringNetwork.from_network(jammed_network(n, rng=rng).evolve(name=f"jammed:{n}"))
        if floppy_modes(net) == 0:
            return net
    raise NetworkError(f"network: no rigid jammed:{n} spring network in {MAX_PACKINGS} packings")


def spring_network(spec: str, seed: int, realization: int) -> SpringNetwork:
    """The spring network of one realization for a network spec."""
    if m := _JAMMED_RE.match(spec.strip()):
        return _rigid_jammed(int(m.group(1)), realization_rng(seed, realization))
    net = SpringNetwork.from_network(network_from_spec(spec))
    check_rigid(net)
    return net


def build_spring_tasks(
    task_spec: str,
    network_spec: str | None,
    *,
    seed: int,
    realizations: int,
    prune: float | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[SpringTask]:
    """One spring task per realization (independent networks and tasks per realization)."""
    if task_spec not in SPRING_TASKS:
        raise TaskSpecError(
            "task", f"{task_spec!r} is not a spring task; expected {', '.join(SPRING_TASKS)}"
        )
    spec = DEFAULT_SPRING_NETWORK if network_spec is None else network_spec
    tasks = []
    for r in range(realizations):
        try:
            net = spring_network(spec, seed, r)
            if prune is not None:
                net = prune_to_coordination(net, prune, realization_rng(seed + 1, r))
        except NetworkError as exc:
            raise TaskSpecError("network", str(exc).removeprefix("network: ")) from None
        task_rng = realization_rng(seed, r + 1_000_003)
        tasks.append(allostery_strain_task(net, rng=task_rng))
        if progress is not None:
            progress(r + 1, realizations)
    return tasks
