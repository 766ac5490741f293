"""Memory and time of a request, estimated from its size before anything is built.

A request's size is known from its spec strings (``lattice:WxH`` exactly; ``jammed:N`` from the
mean coordination of jammed packings) before any network is generated, so a request that cannot
fit in the machine's memory is refused in microseconds instead of after minutes of generation.
The models below are calibrated on the project's 2-core machines (``benchmarks/
bench_scale_trainer.py``, ``benchmarks/bench_jammed.py``; peak RSS of fresh processes) and are
meant to be right within a factor of ~2 (``tests/physics/test_estimate.py`` holds them to that
against measured peak RSS):

- base: a process that imported the trainer (numpy, scipy, numba and the compiled kernels);
- kept per realization: network, task and the trainer's factor, by realization, node, edge and
  stored factor value: ``n (3 + 0.16 sqrt(n))`` sparse values (the minimum-degree fill of 2-D
  lattices, within 20 % from 256 to 40,000 nodes; it grows like ``n^1.5``) plus the dense
  trailing block, ``min(0.55 sqrt(n) log2(n), 1024)^2`` (65-906 rows measured on 16 x 16 to
  128 x 128 lattices);
- freed after each network, so counted once: the allostery task's sparse LU and the symbolic
  set-up's Python sets, per factor value; a jammed packing's generator arrays, per disk;
- time: jammed generation ``~ N^1.5``, the symbolic set-up ``~ n^1.93``, one update of the direct
  solver ``~ n^1.7`` and of PCG ``~ n^1.1``, per realization (realizations run on ``threads``);
  realizations that share one circuit (``shared``: a task file's realizations, a batch of sweep
  cells) run in lane groups of up to 8, each update of a group costing
  :data:`LANE_GROUP_UPDATES` updates of one realization.

Pure: functions of sizes and of the machine's memory (:func:`available_memory_bytes`).
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import attrs

__all__ = [
    "LANE_GROUP_UPDATES",
    "LANE_MAX_CONSTRAINTS",
    "LANE_WIDTH",
    "MAX_EDGE_EVENTS",
    "MAX_EDGE_STEPS",
    "MAX_SPRING_EVENTS",
    "PCG_MIN_EDGES",
    "SPRING_GROUP_S_57",
    "Estimate",
    "NetworkSize",
    "available_memory_bytes",
    "factor_values",
    "format_bytes",
    "format_seconds",
    "network_size",
    "shared_circuits",
    "simulate_estimate",
    "stream_estimate",
    "train_estimate",
]

#: Edge count from which the trainer's ``auto`` solver is PCG (:mod:`twin.learning.trainer`; the
#: largest network of a run counts) and the exact direct solver below, where a run is fast either
#: way (``benchmarks/bench_scale_trainer.py``: PCG 2x faster at 2,048 edges, 5-6x at 8,192).
#: Defined here, a module without heavy imports, so that ``twin train --help`` can quote it.
PCG_MIN_EDGES = 2000

#: Work limit of one training request, edge-steps (steps x realizations x edges): ~hours on one
#: core at the trainer's 10^6-10^7 edge-steps per second (``twin train``, each trainer sweep cell).
MAX_EDGE_STEPS = 1e10
#: Work limit of one twin run, edge events (edges x clock rate x duration): ~hours at the twin's
#: 10^5-10^6 events per second (``twin simulate``, each realization of a twin sweep cell).
MAX_EDGE_EVENTS = 1e9
#: Work limit of one spring twin run, agent events (edges x clock rate x duration): each event
#: group is a network solve (``twin simulate --physics springs``, each realization of a twin
#: sweep cell of springs).
MAX_SPRING_EVENTS = 1e7
#: CPU seconds per event group of the spring twin (one network solve: a sync or Bernoulli tick,
#: one event of a per-spring clock) at N = 27, 57 bonds; scaled with the bonds. Measured on
#: ``examples/sweeps/springs-clocks-twin.toml`` (CPU per realization over groups, load 12):
#: 26 us per Poisson or periodic event, 60-90 us per Bernoulli or sync tick (set-up included;
#: the example's estimate is 4.5 CPU s per poisson cell against 3.3 measured, 0.8 per sync cell
#: against 0.9).
SPRING_GROUP_S_57 = 3e-5

#: Resident memory of a process that imported the trainer or the twin (numpy, scipy, numba,
#: kernels), bytes: 222-229 MB measured for small trainer runs, ~250 MB for the twin.
BASE_BYTES = 240e6
BASE_SIMULATE_BYTES = 260e6
#: Kept per realization (network, task, examples, the trainer's factor structure and scratch):
#: bytes per realization, per node, per edge and per stored factor value. Measured: 20 KB per
#: realization of the 4 x 4 board, 167 KB of a 16 x 16 lattice.
REALIZATION_BYTES, NODE_BYTES, EDGE_BYTES, VALUE_BYTES = 8e3, 130.0, 60.0, 16.0
#: Freed after each network (so counted once, for the largest): the allostery task's sparse LU
#: of the untrained network and the symbolic set-up's Python sets, bytes per factor value
#: (146 MB above the base measured for a 200 x 200 lattice).
TRANSIENT_VALUE_BYTES = 40.0
#: Per realization: building its network and task and the trainer's set-up, seconds (1.4 ms and
#: 0.7 ms measured for the 4 x 4 board).
REALIZATION_S = 2.5e-3
#: Jammed packings: edges per node (mean coordination 4.4-4.5), generation seconds at N = 1000
#: (22 s of CPU measured for jammed:1000:seed=1) and its exponent (the generator's O(N^1.5)),
#: and bytes per disk while generating (~10 MB measured at N = 1000).
JAMMED_EDGES_PER_NODE = 2.26
JAMMED_S_1000, JAMMED_EXPONENT = 20.0, 1.5
JAMMED_DISK_BYTES = 10e3
#: Symbolic set-up (minimum-degree ordering in Python) seconds at n = 4096, and its exponent.
LAYOUT_S_4096, LAYOUT_EXPONENT = 0.5, 1.93
#: One update of one realization, seconds at n = 4096 nodes, and exponents; plus a floor.
DIRECT_S_4096, DIRECT_EXPONENT = 2.8e-3, 1.7
PCG_S_4096, PCG_EXPONENT = 0.5e-3, 1.1
UPDATE_FLOOR_S = 2e-6
#: Realizations of one circuit computed together (twin.kernels.lanes.LANES) and the cost of one
#: update of such a lane group, in updates of one realization, whatever its fill: 1.65 us per
#: realization in full groups against 4.76 us alone on the N = 64 reference task (2.8), 1.6-1.9
#: against 5.7 us in batches of 8 figure cells on a loaded 2-core machine (2.2-2.6; issue 21).
LANE_WIDTH, LANE_GROUP_UPDATES = 8, 2.5
#: Most sources plus targets of a circuit the lanes take (twin.kernels.train_lanes.LANE_COLUMNS).
LANE_MAX_CONSTRAINTS = 4
#: Largest dense trailing block of the factor, rows (twin.kernels.ordering.MAX_DENSE_BLOCK).
DENSE_BLOCK = 1024
#: The twin: edge events per second (10^5-10^6 measured) and bytes per probe sample and edge.
EVENTS_PER_S = 3e5
SAMPLE_BYTES, SAMPLE_EDGE_BYTES = 2000.0, 16.0

#: Board streams (the shadow, calibration): frames the shadow mirrors per second when not paced
#: by the wall clock (650 measured for the 4 x 4 board on a loaded 2-core machine, ~1,500 idle),
#: frames calibration records and fits per second (~400 loaded), bytes the shadow keeps per frame
#: (a plot row every 10 frames: ~700 B) and calibration per recorded frame (the whole state).
SHADOW_FRAMES_PER_S = 1000.0
CALIBRATION_FRAMES_PER_S = 500.0
SHADOW_FRAME_BYTES = 70.0
RECORDED_FRAME_BYTES = 2000.0
#: Resident memory of a process that imported the shadow (numpy, scipy, the twin, zmq), bytes.
BASE_STREAM_BYTES = 200e6

_LATTICE = re.compile(r"^lattice:(\d+)x(\d+)(:periodic)?$")
_JAMMED = re.compile(r"^jammed:(\d+)(?::seed=\d+)?$")


@attrs.frozen(kw_only=True)
class NetworkSize:
    """Nodes and edges of a network spec; ``jammed`` when it must be generated by jamming."""

    nodes: int
    edges: int
    jammed: bool = False


@attrs.frozen(kw_only=True)
class Estimate:
    """Peak memory (bytes) and time (seconds) of a request, with the parts they come from."""

    memory_bytes: float
    time_s: float
    parts: tuple[tuple[str, float], ...] = ()  # (what, seconds)

    def seconds(self, what: str) -> float:
        """Estimated seconds of one part (``network``, ``set-up``, ...), 0 if it has none."""
        return sum(t for name, t in self.parts if name == what)

    def describe(self) -> str:
        """``1.2 GB peak memory, ~3 min (network 20 s, set-up 40 s, training 2 min)``."""
        detail = ", ".join(f"{what} {format_seconds(t)}" for what, t in self.parts if t >= 0.5)
        text = f"{format_bytes(self.memory_bytes)} peak memory, ~{format_seconds(self.time_s)}"
        return f"{text} ({detail})" if detail else text


def format_bytes(n_bytes: float) -> str:
    """``512 MB``, ``1.2 GB``, ``3.4 TB`` (powers of 1000)."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.3g} {unit}"
    return f"{n_bytes / 1e3:.3g} kB"


def format_seconds(seconds: float) -> str:
    """``0.4 s``, ``12 s``, ``3.5 min``, ``2.1 h``, ``41 days``, ``3e+04 years``."""
    if seconds < 60:
        return f"{seconds:.2g} s"
    for unit, scale in (("years", 3.156e7), ("days", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if seconds >= scale:
            return f"{seconds / scale:.2g} {unit}"
    return f"{seconds:.2g} s"  # pragma: no cover - unreachable


def network_size(spec: str) -> NetworkSize | None:
    """Size of a generated network spec (``lattice:WxH[:periodic]``, ``jammed:N[:seed=S]``).

    ``None`` for other specs (files: their size is read with the file) and for malformed ones or
    ones beyond the parser's limits (the network parser reports those).
    """
    from .file_checks import MAX_EDGES, MAX_NODES  # local: numpy
    from .network_io import MAX_JAMMED_NODES

    spec = spec.strip()
    if m := _LATTICE.match(spec):
        w, h = int(m.group(1)), int(m.group(2))
        if w * h > MAX_NODES or 2 * w * h > MAX_EDGES:
            return None
        # a torus has at least 3 nodes per side (the lattice refuses fewer): 2 edges per node
        edges = 2 * w * h if m.group(3) else (w - 1) * h + (h - 1) * w
        return NetworkSize(nodes=w * h, edges=max(edges, 0))
    if m := _JAMMED.match(spec):
        n = int(m.group(1))
        if n > MAX_JAMMED_NODES:
            return None
        return NetworkSize(nodes=n, edges=math.ceil(JAMMED_EDGES_PER_NODE * n), jammed=True)
    return None


def factor_values(nodes: int) -> float:
    """Stored values of the trainer's factor of an ``n``-node 2-D network (sparse + dense)."""
    n = float(max(nodes, 1))
    dense = min(0.55 * math.sqrt(n) * math.log2(n), DENSE_BLOCK) ** 2
    return n * (3.0 + 0.16 * math.sqrt(n)) + dense


def _memory(size: NetworkSize, realizations: int, base: float) -> float:
    """Peak bytes of ``realizations`` networks of ``size`` with their tasks and factors."""
    values = factor_values(size.nodes)
    kept = (
        REALIZATION_BYTES + NODE_BYTES * size.nodes + EDGE_BYTES * size.edges + VALUE_BYTES * values
    )
    transient = TRANSIENT_VALUE_BYTES * values
    if size.jammed:
        transient = max(transient, JAMMED_DISK_BYTES * size.nodes)
    return base + realizations * kept + transient


def _build_s(size: NetworkSize, networks: int) -> float:
    """Seconds to generate ``networks`` networks of ``size`` and their tasks."""
    each = REALIZATION_S
    if size.jammed:
        each += JAMMED_S_1000 * (size.nodes / 1000.0) ** JAMMED_EXPONENT
    return each * networks


def train_estimate(
    size: NetworkSize,
    *,
    realizations: int,
    steps: int,
    networks: int | None = None,
    threads: int = 2,
    solver: str = "auto",
    shared: int = 1,
) -> Estimate:
    """Peak memory and time of ``twin train`` on ``realizations`` networks of ``size``.

    Parameters
    ----------
    networks
        Networks generated (``realizations`` when each realization has its own, the default).
    threads
        Worker threads of the compiled trainer (realizations run in parallel).
    solver
        ``auto``, ``direct`` or ``pcg`` (``auto``: PCG from :data:`PCG_MIN_EDGES` edges).
    shared
        Realizations per circuit that run together in lanes (1: each alone; the lanes need the
        direct solver and at most 4 sources and targets, which the caller knows).
    """
    rr = max(int(realizations), 1)
    build_s = _build_s(size, rr if networks is None else networks)
    layout_s = rr * LAYOUT_S_4096 * (size.nodes / 4096.0) ** LAYOUT_EXPONENT
    pcg = solver == "pcg" or (solver == "auto" and size.edges >= PCG_MIN_EDGES)
    if pcg:
        per_update = PCG_S_4096 * (size.nodes / 4096.0) ** PCG_EXPONENT
    else:
        per_update = DIRECT_S_4096 * (size.nodes / 4096.0) ** DIRECT_EXPONENT
    units, cost = rr, 1.0  # units of work per update, each costing ``cost`` single updates
    if shared > 1 and not pcg:
        circuits = math.ceil(rr / shared)
        units = circuits * math.ceil(min(shared, rr) / LANE_WIDTH)
        cost = LANE_GROUP_UPDATES
    parallel = max(1, min(threads, units))
    train_s = steps * math.ceil(units / parallel) * cost * (per_update + UPDATE_FLOOR_S)
    parts = (("network", build_s), ("set-up", layout_s), ("training", train_s))
    return Estimate(
        memory_bytes=_memory(size, rr, BASE_BYTES), time_s=build_s + layout_s + train_s, parts=parts
    )


def shared_circuits(tasks: list[object]) -> int:
    """Realizations per circuit that the trainer runs in lanes: all of them for one task (a task
    file's realizations) of at most :data:`LANE_MAX_CONSTRAINTS` sources and targets, else 1."""
    first = tasks[0] if tasks else None
    rows = getattr(first, "n_sources", 99) + getattr(first, "n_targets", 99)
    same = all(t is first for t in tasks)
    return len(tasks) if same and len(tasks) > 1 and rows <= LANE_MAX_CONSTRAINTS else 1


def simulate_estimate(size: NetworkSize, *, events: float, samples: float) -> Estimate:
    """Peak memory and time of ``twin simulate`` (one realization, ``events`` edge events,
    ``samples`` probe samples)."""
    build_s = _build_s(size, 1)
    layout_s = LAYOUT_S_4096 * (size.nodes / 4096.0) ** LAYOUT_EXPONENT
    samples_b = samples * (SAMPLE_BYTES + SAMPLE_EDGE_BYTES * size.edges)
    run_s = events / EVENTS_PER_S
    return Estimate(
        memory_bytes=_memory(size, 1, BASE_SIMULATE_BYTES) + samples_b,
        time_s=build_s + layout_s + run_s,
        parts=(("network", build_s), ("set-up", layout_s), ("simulation", run_s)),
    )


def stream_estimate(
    *, shadow_frames: float = 0.0, calibration_frames: float = 0.0, paced_s: float = 0.0
) -> Estimate:
    """Peak memory and time of mirroring ``shadow_frames`` board frames (the shadow's plot
    history grows with them) after recording and fitting ``calibration_frames``; a run paced by
    the wall clock (a real board, ``--realtime``) lasts at least ``paced_s``."""
    shadow_s = max(shadow_frames / SHADOW_FRAMES_PER_S, paced_s)
    calibration_s = calibration_frames / CALIBRATION_FRAMES_PER_S
    memory = (
        BASE_STREAM_BYTES
        + SHADOW_FRAME_BYTES * shadow_frames
        + RECORDED_FRAME_BYTES * calibration_frames
    )
    return Estimate(
        memory_bytes=memory,
        time_s=shadow_s + calibration_s,
        parts=(("calibration", calibration_s), ("shadow", shadow_s)),
    )


def _cgroup_free_bytes() -> float:
    """Memory left under this process's cgroup limit (v2 or v1), ``inf`` without a limit."""
    for limit_file, usage_file in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        (
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/memory/memory.usage_in_bytes",
        ),
    ):
        try:
            limit = Path(limit_file).read_text().strip()
            usage = float(Path(usage_file).read_text().strip())
        except (OSError, ValueError):
            continue
        if limit == "max" or float(limit) >= 2**60:
            return math.inf
        return max(float(limit) - usage, 0.0)
    return math.inf


def available_memory_bytes() -> float:
    """Memory a new allocation can use: ``MemAvailable`` of ``/proc/meminfo`` (else free pages
    from ``os.sysconf``), capped by what the cgroup limit leaves, bytes."""
    avail = math.inf
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                avail = float(line.split()[1]) * 1024.0
                break
    except OSError:
        pass
    if math.isinf(avail):
        try:
            avail = float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
            avail = math.inf
    return min(avail, _cgroup_free_bytes())
