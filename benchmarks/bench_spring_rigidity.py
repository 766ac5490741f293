"""Rigidity check of generated spring networks (N = 1000 by default): the dense SVD against the
library's :func:`twin.physics.springs.network.floppy_modes`, and what a trainer pays for it.

Run by hand::

    nice -n 10 .venv/bin/python benchmarks/bench_spring_rigidity.py [--n 1000] [--seeds 2]

Per seed it prints, wall and process-CPU seconds:

* ``jam``: one jammed packing (:func:`twin.physics.jammed.jammed_network`), timed once;
* ``svd``: the dense singular values of the rigidity matrix (the check as it was before the
  sparse path), median of ``--repeat``, under the default BLAS threads and, if threadpoolctl is
  installed, under one thread;
* ``floppy_modes``: the library's check on a fresh copy of the network (no cached answer),
  median of ``--repeat``, with the floppy-mode counts of both methods (they must agree);
* ``tasks``: ``build_spring_tasks("allostery-strain", "jammed:N")`` end to end (generation and
  every rigidity check), timed once, then ``SpringPhysics`` built twice on those tasks (it checks
  rigidity again; the second build is what every further trainer pays).
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from twin.physics.jammed import jammed_network
from twin.physics.springs.network import (
    SPARSE_ZERO_MODE_RTOL,
    ZERO_MODE_RTOL,
    SpringNetwork,
    floppy_modes,
    rigid_body_modes,
    rigidity_matrix,
)
from twin.physics.springs.physics import SpringPhysics
from twin.physics.springs.task_spec import build_spring_tasks


def _timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def _median(fn: Callable[[], Any], repeat: int) -> tuple[Any, float, float]:
    runs = [_timed(fn) for _ in range(repeat)]
    return (runs[-1][0], float(np.median([r[1] for r in runs])),
            float(np.median([r[2] for r in runs])))  # fmt: skip


def _dense_floppy(net: SpringNetwork) -> tuple[int, float]:
    """The floppy-mode count by the dense SVD (the check before the sparse path), and the
    smallest singular value above the zero-mode threshold relative to the largest (the margin
    to the sparse check's threshold, ``SPARSE_ZERO_MODE_RTOL``)."""
    sv = np.linalg.svd(rigidity_matrix(net), compute_uv=False)
    sv = np.concatenate([sv, np.zeros(max(0, 2 * net.n_nodes - sv.size))])
    zero = sv <= ZERO_MODE_RTOL * sv.max()
    smallest = float(sv[~zero].min() / sv.max()) if (~zero).any() else float("nan")
    return max(0, int(np.sum(zero)) - rigid_body_modes(net)), smallest


@contextlib.contextmanager
def _one_thread() -> Iterator[bool]:
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield False
        return
    with threadpool_limits(limits=1):
        yield True


def _line(label: str, wall: float, cpu: float, extra: str = "") -> str:
    return f"  {label:<34} {wall:8.3f} s wall {cpu:8.3f} s CPU {extra}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="nodes per network")
    parser.add_argument("--seeds", type=int, default=2, help="networks (seeds 0..S-1)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per median")
    parser.add_argument("--no-tasks", action="store_true", help="skip build_spring_tasks")
    args = parser.parse_args()
    for seed in range(args.seeds):
        graph, wall, cpu = _timed(
            lambda s=seed: jammed_network(args.n, rng=np.random.default_rng(s))
        )
        net = SpringNetwork.from_network(graph)
        print(f"seed {seed}: N={net.n_nodes} E={net.n_edges} z={net.coordination:.3f}")
        print(_line("jam", wall, cpu))
        (dense, margin), wall, cpu = _median(lambda n=net: _dense_floppy(n), args.repeat)
        print(_line("svd (default BLAS threads)", wall, cpu, f"floppy={dense}"))
        print(f"  smallest nonzero singular value / largest: {margin:.3g} (sparse threshold "
              f"{SPARSE_ZERO_MODE_RTOL:g})")  # fmt: skip
        with _one_thread() as limited:
            if limited:
                _, wall, cpu = _median(lambda n=net: _dense_floppy(n), args.repeat)
                print(_line("svd (1 BLAS thread)", wall, cpu))
        ours, wall, cpu = _median(lambda n=net: floppy_modes(n.evolve()), args.repeat)
        print(_line("floppy_modes", wall, cpu, f"floppy={ours} (agree: {ours == dense})"))
        if args.no_tasks:
            continue
        spec = f"jammed:{args.n}"
        tasks, wall, cpu = _timed(
            lambda s=seed, g=spec: build_spring_tasks("allostery-strain", g, seed=s, realizations=1)
        )
        print(_line(f"tasks ({spec}, 1 realization)", wall, cpu))
        for which in ("first", "second"):
            _, wall, cpu = _timed(lambda t=tasks: SpringPhysics(t))
            print(_line(f"SpringPhysics ({which})", wall, cpu))


if __name__ == "__main__":
    main()
