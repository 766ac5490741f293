"""Where the time of one realization-update goes: the N = 64 reference task, stage by stage.

Each stage of the compiled direct-solver update is run ``M`` times in a compiled loop (the views
it needs taken once, outside the loop) and timed in CPU seconds (``time.process_time``); the
figure is the median over ``--repeat`` rounds, the stages interleaved in each round so that all
see the same load. Stages: assembling the Laplacian, the sparse columns' factorization (the
loops of :func:`twin.kernels.cholesky.factor_sparse` and the flat program of
:func:`twin.kernels.direct.factor_sparse_flat`), the dense block's factorization, the basis
(its two back solves separately), the rule's coefficients and the edge rates; then a whole
evaluation (:func:`twin.kernels.train_step.evaluate_one` against
:func:`twin.kernels.direct.evaluate_direct`) and a whole step with its bookkeeping
(:func:`twin.kernels.train_step.advance` against :func:`twin.kernels.direct.advance_direct`).
Stages that overwrite the factor are timed with what restores it and that part subtracted.

Run: ``.venv/bin/python benchmarks/profile_trainer_update.py [--repeat 9]`` and state the load
printed beside the figures (the machine may be shared).
"""

from __future__ import annotations

import argparse
import os
import time

import numba
import numpy as np

from twin.kernels import cholesky as ch
from twin.kernels import direct
from twin.kernels import train_step as ts
from twin.kernels.train_run import KernelRun, StepParams
from twin.learning._compiled import realizations
from twin.physics.reference_networks import packaged_reference_dir
from twin.physics.task import load_task

STAGES = {
    1: "assemble",
    2: "assemble + factor_sparse (loops)",
    3: "assemble + factor_sparse (flat program)",
    4: "assemble + flat + factor_dense",
    5: "basis",
    6: "  backward_dense (of basis)",
    7: "  backward_sparse (of basis)",
    8: "coefficients",
    9: "edge_rates",
    10: "evaluate_one (general)",
    11: "evaluate_direct",
}


@numba.njit
def _stage(level, m, circ, k, ws, dk, lam, uptr, ops):  # type: ignore[no-untyped-def]
    sizes = circ[0]
    n, ne, split, first = sizes[0, 0], sizes[0, 1], sizes[0, 2], sizes[0, 3]
    colptr, rowind, rlptr, rlcol, rlpos, tstart, diagpos, ends, offdiag, cidx, cval = ts._layout(
        circ, 0
    )
    v, pos, x, y, s, q, sm = ws
    inputs, desired, moment = circ[12][0], circ[13][0], circ[14][0]
    nt = n - split
    base = colptr[split]
    u = v[base : base + nt * nt].reshape((nt, nt))
    xt = x[split:n]
    acc = 0.0
    for _ in range(m):
        if level >= 1 and level <= 4:
            ch.assemble(k, ne, ends, n, diagpos, offdiag, v.shape[0], v)
        if level == 2:
            ch.factor_sparse(split, nt, colptr, rowind, rlptr, rlcol, rlpos, tstart, v, pos)
        elif level == 3 or level == 4:
            direct.factor_sparse_flat(split, colptr, uptr, ops, v)
            if level == 4:
                ch.factor_dense(u)
        elif level == 5:
            ch.basis(n, split, first, colptr, rowind, v, cidx, cval, x, s)
        elif level == 6:
            ch.backward_dense(u, first - split, xt, 4)
        elif level == 7:
            ch.backward_sparse(split, colptr, rowind, v, x, 4)
        elif level == 8:
            acc += ts.coefficients(s, inputs.shape[1], inputs, desired, moment, lam, 1e-3, sm, q)[1]
        elif level == 9:
            ts.edge_rates(ne, ends, x, q, -500.0, y, dk)
        elif level == 10:
            acc += ts.evaluate_one(0, circ, k, lam, 1e-3, 0.5, ws, dk)[1]
        elif level == 11:
            acc += direct.evaluate_direct(
                k, ne, n, split, first, colptr, rowind, diagpos, ends, offdiag, cidx, cval, uptr,
                ops, v, u, x, y, s, q, sm, inputs, desired, moment, lam, 1e-3, 0.5, dk
            )[1]  # fmt: skip
    return acc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9, help="rounds (median)")
    parser.add_argument("--calls", type=int, default=50_000, help="calls per stage and round")
    args = parser.parse_args()
    task = load_task(packaged_reference_dir() / "tasks" / "regression_n64_r1.json")
    structure = realizations([task])
    e = structure.ends.shape[1]
    params = StepParams(alpha=0.5, eta=1e-3, step_s=1e-4)
    k0 = np.random.default_rng(0).uniform(0.5, 2.0, (1, e))
    bounds = (np.full((1, e), 1e-4), np.full((1, e), 1e6))
    run = KernelRun(structure, params, k0, np.zeros(1), *bounds, threads=1)
    n, split = int(structure.sizes[0, 0]), int(structure.sizes[0, 2])
    ws = ts.workspace(run.work, 0, n, int(structure.sizes[0, 4]))
    lay = ts._layout(run.circ, 0)
    uptr, ops = direct.sparse_program(split, n - split, *lay[:6], np.zeros(n, dtype=np.int64))
    k, dk = run.k[0], run.dk[0].copy()
    steppers = {"advance (general), per step": ts.advance, "advance_direct, per step": None}
    runs = {name: KernelRun(structure, params, k0, np.zeros(1), *bounds, threads=1)
            for name in steppers}  # fmt: skip
    idx = np.zeros(1, dtype=np.int64)

    def step(name: str, m: int) -> None:
        r = runs[name]
        state = (r.k, r.dk, r.lam, r.active, r.steps_done, r.energy, r.error, r.free_power,
                 r.clamped_power)  # fmt: skip
        common = (idx, m, False, r.circ, r.work, r.par, r.kmin, r.kmax, state, r.iters, r.status)
        if steppers[name] is None:
            direct.advance_direct(*common, r.counters)
        else:
            ts.advance(*common, r.pwork, r.counters)

    for level in STAGES:
        _stage(level, 2, run.circ, k, ws, dk, 0.0, uptr, ops)
    for name in steppers:
        step(name, 100)
    m = args.calls
    times: dict[str, list[float]] = {name: [] for name in [*STAGES.values(), *steppers]}
    for _ in range(args.repeat):
        for level, name in STAGES.items():
            t0 = time.process_time()
            _stage(level, m, run.circ, k, ws, dk, 0.0, uptr, ops)
            times[name].append(time.process_time() - t0)
        for name in steppers:
            t0 = time.process_time()
            step(name, m)
            times[name].append(time.process_time() - t0)
    us = {name: float(np.median(t)) / m * 1e6 for name, t in times.items()}
    asm = us["assemble"]
    derived = {
        "factor_sparse (loops)": us["assemble + factor_sparse (loops)"] - asm,
        "factor_sparse (flat program)": us["assemble + factor_sparse (flat program)"] - asm,
        "factor_dense": us["assemble + flat + factor_dense"]
        - us["assemble + factor_sparse (flat program)"],
    }
    print(f"N=64 reference task, CPU us per call, median of {args.repeat} rounds of {m} calls; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")  # fmt: skip
    print(f"  {'assemble':36s} {asm:7.3f}")
    for name, value in derived.items():
        print(f"  {name:36s} {value:7.3f}")
    for name in [*list(STAGES.values())[4:], *steppers]:
        print(f"  {name:36s} {us[name]:7.3f}")


if __name__ == "__main__":
    main()
