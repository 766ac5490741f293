"""Where the time of one spring update goes: the default N = 27 task (seed 0), stage by stage.

Each stage of :func:`twin.kernels.springs.spring_quantities` is run ``--calls`` times in a
compiled loop and timed in CPU seconds (``time.process_time``); the figure is the median over
``--repeat`` rounds, the stages interleaved in each round so that all see the same load. Stages:
scattering ``H_F`` into the factor storage, the sparse node columns' block factorization
(:func:`twin.kernels.spring_blocks.factor_blocks`), the dense block's factorization, the
constraint block's forward solve with ``S`` (:func:`twin.kernels.springs.constraint_block`), the
back solve of one example's two right-hand sides (:func:`twin.kernels.springs.back_pair`), and
the whole update. With ``--split S`` the node layout's dense block starts at node ``S`` (at most
the constraint block's first node) instead of where the cost model puts it.

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
from twin.kernels import ordering
from twin.kernels import spring_blocks as sb
from twin.kernels import springs as sk

STAGES = {
    1: "scatter H_F",
    2: "scatter + factor_blocks",
    3: "scatter + factor_blocks + factor_dense",
    4: "constraint block (forward solve, S)",
    5: "back solve of one pair of right-hand sides",
    6: "spring_quantities (whole update)",
}


@numba.njit
def _stage(level, m, k, st, ws):  # type: ignore[no-untyped-def]
    (sizes, colptr, rowind, rlptr, rlcol, rlpos, tstart, ridx, rval, hpos, v0, cidx, cval, l0,
     pin, w_s, src_ext, desired) = st  # fmt: skip
    v, pos, x, sm, z, extc, work, dk, out = ws
    nn, split, first, nv = sizes[0, 0], sizes[0, 1], sizes[0, 2], sizes[0, 3]
    nt = 2 * (nn - split)
    kr = k[0]
    cp, ri = colptr[0], rowind[0]
    base = 4 * cp[split]
    u = v[base : base + nt * nt].reshape((nt, nt))
    acc = 0.0
    for _ in range(m):
        if level <= 3:
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
        if level == 2 or level == 3:
            sb.factor_blocks(split, nn - split, cp, ri, rlptr[0], rlcol[0], rlpos[0], tstart[0],
                             v, pos)  # fmt: skip
            if level == 3:
                ch.factor_dense(u)
        elif level == 4:
            sk.constraint_block(2 * nn, 2 * split, 2 * first, u, cidx[0], cval[0], x, sm)
        elif level == 5:
            sk.back_pair(split, 2 * first, cp, ri, v, u, z, 0)
        elif level == 6:
            sk.spring_quantities(
                0, kr, sizes, colptr, rowind, rlptr, rlcol, rlpos, tstart, ridx, rval, hpos, v0,
                cidx, cval, l0, pin, w_s, src_ext, desired, 1e-3, 0.0, 10.0, v, pos, x, sm, z,
                extc, work, dk, out,
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
    nn, split, first, nv = (int(a) for a in st[0][0])
    c, e = st[13].shape[1], eng.k.shape[1]
    s, m = st[15].shape[1:]
    ws = (np.empty(nv), np.empty(nn, dtype=np.int64), np.zeros((2 * nn + 1, 4 * ((c + 3) // 4))),
          np.empty((c, c)), np.zeros((2 * nn + 1, 2 * m)), np.empty(c), sk.workspace(c, s, m),
          np.empty(e), np.empty(3))  # fmt: skip
    for level in STAGES:
        _stage(level, 2, eng.k, st, ws)
    times: dict[int, list[float]] = {level: [] for level in STAGES}
    for _ in range(args.repeat):
        for level in STAGES:
            t0 = time.process_time()
            _stage(level, args.calls, eng.k, st, ws)
            times[level].append(time.process_time() - t0)
    us = {level: float(np.median(t)) / args.calls * 1e6 for level, t in times.items()}
    print(
        f"N=27 (E={e}): {nn} nodes ({2 * nn} degrees of freedom), dense block "
        f"{2 * (nn - split)} degrees of freedom (constraint block {2 * (nn - first)}), "
        f"{nv} stored values; CPU us per call, median of {args.repeat} rounds of "
        f"{args.calls}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    derived = {
        "scatter H_F": us[1],
        "factor_blocks": us[2] - us[1],
        "factor_dense": us[3] - us[2],
        "constraint block (forward, S)": us[4],
        "back solve (one pair)": us[5],
        "whole update": us[6],
    }
    for name, value in derived.items():
        print(f"  {name:32s} {value:7.3f}")


if __name__ == "__main__":
    main()
