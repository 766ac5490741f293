"""Where the time of an update of 8 realizations in lanes goes: the N = 64 reference task x 8.

The stages of :func:`twin.kernels.train_lanes.advance_lanes` (issue 21) are each run ``M`` times
in a compiled loop on one lane group and timed in CPU seconds (``time.process_time``), median of
``--repeat`` rounds with the stages interleaved: assembling the 8 Laplacians, the sparse
columns' factorization, the dense block's, the basis (solves and ``S``), the rule's
coefficients, the edge rates, then a whole evaluation and a whole step with its bookkeeping
(``KernelRun.advance``). Stages that overwrite the factor are timed with what restores it and
that part subtracted. Figures are per group of 8 and, in the last column, per realization.

Run: ``.venv/bin/python benchmarks/profile_lanes_update.py [--repeat 5]`` and state the load
printed beside the figures (the machine may be shared).
"""

from __future__ import annotations

import argparse
import os
import time

import numba
import numpy as np

from twin.kernels import lanes as ln
from twin.kernels import train_lanes as tl
from twin.kernels.direct import sparse_program
from twin.kernels.lane_rule import lane_coefficients, lane_form
from twin.kernels.train_run import KernelRun, StepParams
from twin.learning._compiled import realizations
from twin.physics.reference_networks import packaged_reference_dir
from twin.physics.task import load_task

STAGES = {
    1: "assemble",
    2: "assemble + factor_sparse",
    3: "assemble + factor_sparse + factor_dense",
    4: "basis",
    5: "coefficients",
    6: "rates",
    7: "evaluation",
}
W = ln.LANES


@numba.njit
def _stage(level, m, circ, k, idx, lws, lam, par, counters, dk, out, running, program):
    sizes = circ[0]
    n, ne, split, first = sizes[0, 0], sizes[0, 1], sizes[0, 2], sizes[0, 3]
    colptr, rowind, tstart, diagpos, ends, offdiag, cidx, cval = tl.lane_layout(circ, 0)
    v, x, s, acc, _ok, qc, kt, z, ex = lws[:9]
    nt = n - split
    base = colptr[split] * W
    c = cidx.shape[0]
    for _ in range(m):
        if level <= 3:
            ln.lane_assemble(k, idx, ne, ends, n, diagpos, offdiag, kt, v)
        if level == 2 or level == 3:
            ln.lane_factor_sparse(split, colptr, tstart, program[0], program[1], v, acc,
                                  acc[W : 2 * W])  # fmt: skip
        if level == 3:
            ln.lane_factor_dense(v[base : base + nt * nt * W], nt, acc, acc[W : 2 * W])
        elif level == 4:
            ln.lane_basis(n, split, first, colptr, rowind, v, cidx, cval, x, s, acc)
        elif level == 5:
            lane_coefficients(s, c, circ[12].shape[2], circ[12].shape[1], ex, lam[:W], 1e-3, z)
        elif level == 6:
            lane_form(z, c, -500.0, qc)
            tl.lane_rates(idx, running, ne, ends, x, qc, dk)
        elif level == 7:
            tl._evaluate(idx, running, circ, k, lam, par, lws, program, counters, dk, out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="rounds (median)")
    parser.add_argument("--calls", type=int, default=5_000, help="calls per stage and round")
    args = parser.parse_args()
    task = load_task(packaged_reference_dir() / "tasks" / "regression_n64_r1.json")
    structure = realizations([task] * W)
    e = structure.ends.shape[1]
    params = StepParams(alpha=0.5, eta=1e-3, step_s=1e-4)
    k0 = np.random.default_rng(0).uniform(0.5, 2.0, (W, e))
    bounds = (np.full((W, e), 1e-4), np.full((W, e), 1e6))
    run = KernelRun(structure, params, k0, np.zeros(W), *bounds, threads=1)
    stepper = KernelRun(structure, params, k0, np.zeros(W), *bounds, threads=1)
    ((idx, lws),) = run._groups[0]
    circ = run.circ
    n, split = int(structure.sizes[0, 0]), int(structure.sizes[0, 2])
    program = sparse_program(split, n - split, circ[1][0], circ[2][0], circ[3][0], circ[4][0],
                             circ[5][0], circ[6][0], np.empty(n, dtype=np.int64))  # fmt: skip
    args_ = (circ, run.k.copy(), idx, lws, run.lam.copy(), run.par, run.counters.copy(),
             run.dk.copy(), np.zeros((4, W)), np.ones(W, dtype=np.bool_), program)  # fmt: skip
    for level in STAGES:
        _stage(level, 2, *args_)
    stepper.advance(10)
    m = args.calls
    times: dict[str, list[float]] = {name: [] for name in [*STAGES.values(), "step"]}
    for _ in range(args.repeat):
        for level, name in STAGES.items():
            t0 = time.process_time()
            _stage(level, m, *args_)
            times[name].append(time.process_time() - t0)
        t0 = time.process_time()
        stepper.advance(m)
        times["step"].append(time.process_time() - t0)
    us = {name: float(np.median(t)) / m * 1e6 for name, t in times.items()}
    rows = {
        "assemble": us["assemble"],
        "factor_sparse": us["assemble + factor_sparse"] - us["assemble"],
        "factor_dense": us["assemble + factor_sparse + factor_dense"]
        - us["assemble + factor_sparse"],
        "basis": us["basis"],
        "coefficients": us["coefficients"],
        "rates": us["rates"],
        "evaluation": us["evaluation"],
        "step (KernelRun.advance)": us["step"],
    }
    print(f"N=64 reference task x {W} in lanes, CPU us per group and per realization, median of "
          f"{args.repeat} rounds of {m} calls; load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} CPUs")  # fmt: skip
    for name, value in rows.items():
        print(f"  {name:28s} {value:7.3f} {value / W:7.3f}")


if __name__ == "__main__":
    main()
