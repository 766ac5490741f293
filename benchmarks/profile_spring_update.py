"""Where the time of one spring update goes: the default N = 27 task (seed 0), stage by stage.

Each stage of :func:`twin.kernels.springs.spring_quantities` is run ``--calls`` times in a
compiled loop and timed in CPU seconds (``time.process_time``); the figure is the median over
``--repeat`` rounds, the stages interleaved in each round so that all see the same load. Stages:
scattering ``H_F`` into the factor storage, the sparse columns' factorization (the loops of
:func:`twin.kernels.cholesky.factor_sparse`, and the flat program of
:func:`twin.kernels.direct.factor_sparse_flat` that the resistor trainer uses), the dense block's
factorization, the constraint block's forward solve with ``S``
(:func:`twin.kernels.springs.constraint_block`), the back solve of one example's two right-hand
sides (:func:`twin.kernels.springs.back_pair`), and the whole update. With ``--split S``
the factor layout's dense block starts at ``S`` (at most the constraint block's first row)
instead of where the cost model puts it.

Run: ``PYTHONPATH=. nice -n 10 .venv/bin/python benchmarks/profile_spring_update.py`` and state
the load printed beside the figures.
"""

from __future__ import annotations

import argparse
import os
import time

import numba
import numpy as np

from twin.kernels import cholesky as ch
from twin.kernels import direct, ordering
from twin.kernels import springs as sk

STAGES = {
    1: "scatter H_F",
    2: "scatter + factor_sparse (loops)",
    3: "scatter + factor_sparse (flat program)",
    4: "scatter + flat + factor_dense",
    5: "constraint block (forward solve, S)",
    6: "back solve of one pair of right-hand sides",
    7: "spring_quantities (whole update)",
}


@numba.njit
def _stage(level, m, k, st, ws, uptr, ops):  # type: ignore[no-untyped-def]
    (sizes, colptr, rowind, rlptr, rlcol, rlpos, tstart, ridx, rval, hpos, v0, cidx, cval, l0,
     pin, w_s, src_ext, desired) = st  # fmt: skip
    v, pos, x, sm, z, extc, y, dk, out = ws
    n, split, first, nv = sizes[0, 0], sizes[0, 1], sizes[0, 2], sizes[0, 3]
    nt = n - split
    kr = k[0]
    cp, ri = colptr[0], rowind[0]
    u = v[cp[split] : cp[split] + nt * nt].reshape((nt, nt))
    acc = 0.0
    for _ in range(m):
        if level <= 4:
            for p in range(nv):
                v[p] = v0[0, p]
            for e in range(kr.shape[0]):
                for a in range(4):
                    if ridx[0, e, a] < 0:
                        continue
                    va = kr[e] * rval[0, e, a]
                    for b in range(a, 4):
                        if hpos[0, e, a, b] >= 0:
                            v[hpos[0, e, a, b]] += va * rval[0, e, b]
        if level == 2:
            ch.factor_sparse(split, nt, cp, ri, rlptr[0], rlcol[0], rlpos[0], tstart[0], v, pos)
        elif level == 3 or level == 4:
            direct.factor_sparse_flat(split, cp, uptr, ops, v)
            if level == 4:
                ch.factor_dense(u)
        elif level == 5:
            sk.constraint_block(n, split, first, u, cidx[0], cval[0], x, sm)
        elif level == 6:
            sk.back_pair(n, split, first, cp, ri, v, z, 0)
        elif level == 7:
            sk.spring_quantities(
                0, kr, sizes, colptr, rowind, rlptr, rlcol, rlpos, tstart, ridx, rval, hpos, v0,
                cidx, cval, l0, pin, w_s, src_ext, desired, 1e-3, 0.0, 10.0, v, pos, x, sm, z,
                extc, y, dk, out,
            )  # fmt: skip
            acc += out[0]
    return acc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="rounds (median)")
    parser.add_argument("--calls", type=int, default=30_000, help="calls per stage and round")
    parser.add_argument("--split", type=int, default=None, help="force the dense block's start")
    args = parser.parse_args()
    if args.split is not None:
        ordering.split_point = lambda n, first, colptr, rowind: min(args.split, first)  # type: ignore[assignment]
    from twin.learning._spring_engine import SpringKernelEngine
    from twin.learning.rules import LearningRule
    from twin.learning.trainer import TrainConfig, Trainer
    from twin.physics.springs.task_spec import build_spring_tasks

    tasks = build_spring_tasks("allostery-strain", None, seed=0, realizations=1)
    trainer = Trainer(tasks, TrainConfig(rule=LearningRule(alpha=10.0, eta=1e-3)))
    eng = SpringKernelEngine(trainer, trainer.k0, np.zeros(1))
    st = eng.struct
    n, split, first, nv = (int(a) for a in st[0][0])
    c, e = st[13].shape[1], eng.k.shape[1]
    ws = (np.empty(nv), np.empty(n, dtype=np.int64), np.zeros((n + 1, 4 * ((c + 3) // 4))),
          np.empty((c, c)), np.zeros((n + 1, 2)), np.empty(c), np.empty(c), np.empty(e),
          np.empty(3))  # fmt: skip
    uptr, ops = direct.sparse_program(split, n - split, *(a[0] for a in st[1:7]), ws[1])
    for level in STAGES:
        _stage(level, 2, eng.k, st, ws, uptr, ops)
    times: dict[int, list[float]] = {level: [] for level in STAGES}
    for _ in range(args.repeat):
        for level in STAGES:
            t0 = time.process_time()
            _stage(level, args.calls, eng.k, st, ws, uptr, ops)
            times[level].append(time.process_time() - t0)
    us = {level: float(np.median(t)) / args.calls * 1e6 for level, t in times.items()}
    print(f"N=27 (E={e}): {n} degrees of freedom, dense block {n - split} (constraint block "
          f"{n - first}), {nv} stored values, flat program {ops.shape[0]} operations "
          f"({uptr[split]} before the scatter); CPU us per call, median of {args.repeat} "
          f"rounds of {args.calls}; load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} CPUs")  # fmt: skip
    derived = {
        "scatter H_F": us[1],
        "factor_sparse (loops)": us[2] - us[1],
        "factor_sparse (flat program)": us[3] - us[1],
        "factor_dense": us[4] - us[3],
        "constraint block (forward, S)": us[5],
        "back solve (one pair)": us[6],
        "whole update": us[7],
    }
    for name, value in derived.items():
        print(f"  {name:32s} {value:7.3f}")


if __name__ == "__main__":
    main()
