"""The work of a sweep, estimated from its cells before anything is submitted.

Each cell is estimated and limited as the command it stands for would be
(:mod:`twin.physics.estimate`): a trainer or springs cell as ``twin train`` of its realizations
on one thread (at most :data:`~twin.physics.estimate.MAX_EDGE_STEPS` edge-steps; a spring
network's default is ``jammed:27``, and the nonlinear reference adds its Newton solves), a twin
cell as ``twin simulate`` of each realization (at most
:data:`~twin.physics.estimate.MAX_EDGE_EVENTS` edge events each, or
:data:`~twin.physics.estimate.MAX_SPRING_EVENTS` for spring agents, whose events are solves).
Cells whose network size is only known once a file is read count as unknown (zero) work, but for
the authors' reference networks (``ref:N``: realization 0's file is read, a few hundred nodes at
most). The sweep's total is the sum of CPU time over its cells and its peak memory the largest
cell's (a worker holds one cell). :func:`longest_first` orders units of work by their estimates
(the runner submits the longest first, so that the workers finish together).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from ..kernels.events.clocks import BERNOULLI, SYNC
from ..physics.estimate import (
    BASE_BYTES,
    MAX_EDGE_EVENTS,
    MAX_EDGE_STEPS,
    MAX_SPRING_EVENTS,
    SPRING_GROUP_S_57,
    Estimate,
    NetworkSize,
    network_size,
    simulate_estimate,
    train_estimate,
)
from ..physics.springs.task_spec import DEFAULT_SPRING_NETWORK, SPRING_TASKS
from ..physics.task_spec import DEFAULT_NETWORKS
from .cells import Cell

__all__ = ["CellWork", "batch_estimate", "cell_estimate", "cell_work", "longest_first",
           "sweep_estimate", "unit_seconds"]  # fmt: skip


@functools.lru_cache(maxsize=32)
def _reference_size(spec: str) -> NetworkSize | None:
    """Size of realization 0's network of ``ref:N`` (its file read; ``None``: no such files)."""
    from ..errors import TwinError
    from ..physics.network_io import network_from_spec
    from ..physics.task_spec import reference_for_realization

    try:
        net = network_from_spec(reference_for_realization(spec, 0))
    except TwinError:
        return None  # the network parser reports it when the cell runs
    return NetworkSize(nodes=net.n_nodes, edges=net.n_edges)


def _size(params: Mapping[str, Any]) -> NetworkSize | None:
    network = params.get("network")
    task = str(params.get("task", "allostery"))
    if network is None and task in SPRING_TASKS:  # twin train --physics springs's default
        network = DEFAULT_SPRING_NETWORK
    spec = network if network is not None else DEFAULT_NETWORKS.get(task)
    if spec is None:
        return None
    if str(spec).startswith("ref:") and str(spec)[4:].isdigit():
        return _reference_size(str(spec))
    return network_size(str(spec))


def _twin_events(params: Mapping[str, Any], edges: int) -> tuple[float, float]:
    """Edge events and probe samples of one realization of a twin cell."""
    from .twin_cells import cell_from_params

    cell = cell_from_params(params)
    duration = cell.board_time_s()
    rate = cell.edge_rate_hz() or 0.0  # continuous clock: no discrete events
    sample_s = cell.sample_s if cell.sample_s is not None else duration / 200
    return edges * rate * duration, duration / max(sample_s, 1e-12)


def _spring_groups(params: Mapping[str, Any], edges: int) -> float:
    """Event groups (network solves) of one realization of a spring twin cell: a tick of a sync
    or Bernoulli clock, or one event of a per-spring clock."""
    from .twin_cells import cell_from_params

    cell = cell_from_params(params)
    clock = cell.make_clock()
    ticks_hz = float(getattr(clock, "rate_hz", 0.0))
    rate = ticks_hz if clock.kind in (SYNC, BERNOULLI) else (cell.edge_rate_hz() or 0.0) * edges
    return rate * cell.board_time_s()


#: Node-steps per second of the XY relaxation kernel (twin.learning.xy_options.MAX_XY_WORK).
XY_NODE_STEPS_PER_S = 1e8


def _xy_work(params: Mapping[str, Any]) -> float | None:
    """Node-steps of one realization of an xy cell (``None``: a network file not read yet)."""
    if str(params.get("network", "")).startswith("file:"):
        return None
    from ._xy_cell import xy_cell_work

    return xy_cell_work(params)


def _spring_estimate(params: Mapping[str, Any], realizations: int) -> Estimate | None:
    """``twin train --physics springs`` of the cell's realizations on one thread; the nonlinear
    reference adds its Newton solves (:func:`twin.sweeps._spring_cell.nonlinear_seconds`)."""
    from ._spring_cell import nonlinear_seconds, spring_cell_size

    size = spring_cell_size(params)
    if size is None:
        return None
    base = train_estimate(size, realizations=realizations, steps=int(params["steps"]), threads=1)
    extra = nonlinear_seconds(params, realizations)
    if not extra:
        return base
    return Estimate(memory_bytes=base.memory_bytes, time_s=base.time_s + extra,
                    parts=(*base.parts, ("newton solves", extra)))  # fmt: skip


def cell_estimate(kind: str, params: Mapping[str, Any], realizations: int) -> Estimate | None:
    """Peak memory and CPU time of one cell (``None``: its network size is not known yet)."""
    if kind == "springs":
        return _spring_estimate(params, realizations)
    if kind == "xy":
        work = _xy_work(params)
        if work is None:
            return None
        seconds = work / XY_NODE_STEPS_PER_S * realizations
        return Estimate(memory_bytes=BASE_BYTES, time_s=seconds, parts=(("training", seconds),))
    size = _size(params)
    if size is None:
        return None
    if kind == "trainer":
        return train_estimate(
            size, realizations=realizations, steps=int(params.get("steps", 0)), threads=1
        )
    events, samples = _twin_events(params, size.edges)
    one = simulate_estimate(size, events=events, samples=samples)
    if params.get("physics") == "springs":  # each event group is a network solve
        run_s = _spring_groups(params, size.edges) * SPRING_GROUP_S_57 * size.edges / 57
        parts = (*(p for p in one.parts if p[0] != "simulation"), ("spring solves", run_s))
        one = Estimate(memory_bytes=one.memory_bytes, time_s=sum(t for _, t in parts),
                       parts=parts)  # fmt: skip
    return Estimate(
        memory_bytes=one.memory_bytes,
        time_s=one.time_s * realizations,
        parts=tuple((what, t * realizations) for what, t in one.parts),
    )


@attrs.frozen(kw_only=True)
class CellWork:
    """The work of one cell in the unit its command limits (``work`` of at most ``limit``)."""

    work: float
    limit: float
    unit: str
    position: int = 0

    @property
    def ratio(self) -> float:
        """``work / limit`` (above 1: refused without --force)."""
        return self.work / self.limit


def cell_work(kind: str, params: Mapping[str, Any], realizations: int) -> CellWork | None:
    """Edge-steps (trainer: steps x realizations x edges), edge events of one realization
    (twin: edges x edge rate x duration), node-steps of one realization (xy) or edge-steps of a
    springs cell (as trainer, on its spring network: jammed:27 by default) with its command's
    limit."""
    if kind == "springs":
        from ._spring_cell import spring_edge_steps

        steps = spring_edge_steps(params, realizations)
        if steps is None:
            return None
        return CellWork(work=steps, limit=MAX_EDGE_STEPS, unit="edge-steps (steps x "
                        "realizations x edges) in one cell")  # fmt: skip
    if kind == "xy":
        from ..learning.xy_options import MAX_XY_WORK

        work = _xy_work(params)
        if work is None:
            return None
        unit = (
            "node-steps (epochs x examples x starts x phases x max steps x (nodes + "
            "couplings)) in one realization"
        )
        return CellWork(work=work, limit=MAX_XY_WORK, unit=unit)
    size = _size(params)
    if size is None:
        return None
    if kind == "trainer":
        work = float(params.get("steps", 0)) * realizations * size.edges
        return CellWork(work=work, limit=MAX_EDGE_STEPS, unit="edge-steps (steps x "
                        "realizations x edges) in one cell")  # fmt: skip
    events, _samples = _twin_events(params, size.edges)
    springs = params.get("physics") == "springs"  # twin simulate --physics springs's limit
    unit = "edge events (edges x clock rate x duration) in one realization"
    limit = MAX_SPRING_EVENTS if springs else MAX_EDGE_EVENTS
    return CellWork(work=events, limit=limit, unit=unit)


def batch_estimate(unit: Sequence[Cell]) -> Estimate | None:
    """Peak memory and CPU time of a unit of work: one cell, or a batch of cells computed
    together (:mod:`twin.sweeps.batches`: realization ``r`` of each cell in one lane group)."""
    first = unit[0]
    if len(unit) == 1:
        return cell_estimate(first.kind, first.params, first.realizations)
    size = _size(first.params)
    if size is None:
        return None
    return train_estimate(size, realizations=len(unit) * first.realizations,
                          steps=int(first.params.get("steps", 0)),
                          networks=first.realizations, threads=1, shared=len(unit))  # fmt: skip


def unit_seconds(unit: Sequence[Cell]) -> float:
    """Estimated CPU seconds of a unit of work (``inf``: unknown, possibly the longest)."""
    estimate = batch_estimate(unit)
    return math.inf if estimate is None else float(estimate.time_s)


def longest_first(units: Sequence[Sequence[Cell]]) -> list[int]:
    """Indices of ``units`` by estimated CPU time, longest (or unknown) first, ties in order.

    With the longest units submitted first, the last ones to start are short, so the workers
    run out of work at about the same time. The estimates are meant to be right within a factor
    of ~2 (:mod:`twin.physics.estimate`), enough to start an hour-long unit before minute-long
    ones; an estimate that fails counts as unknown.
    """
    seconds = []
    for unit in units:
        try:
            seconds.append(unit_seconds(unit))
        except Exception:  # an ordering hint only: the cell reports its own error when run
            seconds.append(math.inf)
    return sorted(range(len(units)), key=lambda i: -seconds[i])


def sweep_estimate(cells: Iterable[Cell]) -> tuple[Estimate, CellWork | None]:
    """Total CPU time over ``cells`` (as the runner submits them: batched where it batches)
    with the peak memory of the largest unit, and the work of the cell nearest to (or furthest
    beyond) its limit."""
    from .batches import batches

    memory, total = 0.0, 0.0
    worst: CellWork | None = None
    cells = list(cells)
    for unit in batches(cells):
        estimate = batch_estimate(unit)
        if estimate is not None:
            memory = max(memory, estimate.memory_bytes)
            total += estimate.time_s
    for cell in cells:
        work = cell_work(cell.kind, cell.params, cell.realizations)
        if work is not None and (worst is None or work.ratio > worst.ratio):
            worst = attrs.evolve(work, position=cell.position)
    return Estimate(memory_bytes=memory, time_s=total, parts=(("cells", total),)), worst
