"""How far the calibrated twin's predictions are off on a board, and in which quantity.

For each seed (typical hidden variation, in process), from the board's boot gates, each twin
holds every lambda of ``--lams`` at every eta of ``--etas`` for ``--horizon-s`` (``--stall-s``
the stall cut, default none; stopped at ``--tolerance-rel`` x the initial error): ``own``, the
board's hidden circuit (the emulator's edges); ``cal``, the twin calibrated as ``bench_steer.py
--calibrate`` does; with ``--cal-etas``, ``cal_etas``, calibrated with episodes at those etas.
Unless ``--no-board``, the emulated board itself runs the same schedules (``board``; its true
error, which equals ``own``'s where the emulator has no learning noise). One row per (seed,
source, eta, lambda): the lowest error relative to the tolerance, when, and when (if) it
reached. With ``--plan``, a row per (seed, twin) with the twin's first plan from the boot gates
(``plan_with_margin``): whether it reaches and its lowest error. Run by hand::

    PYTHONPATH=. nice -n 10 python benchmarks/diag_steer_twin_error.py --seeds 1 2 --out d.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from twin.shadow.session import EmulationSpec, make_emulator
from twin.steer import calibrated_twin
from twin.steer.lowest import lowest_error
from twin.steer.margin import plan_with_margin
from twin.steer.planner import Phase, Planner, PlannerConfig


def board_run(
    spec: EmulationSpec, lam: float, eta: float, horizon_s: float, tol: float, dt_s: float
) -> dict:
    """The emulated board (its own noise) holding ``lam`` at ``eta`` from boot: its true error
    every ``dt_s``."""
    emu = make_emulator(spec)
    emu.eta, emu.lam = eta, lam
    emu.mode = "training"
    emu.track = emu._new_track(np.asarray(emu.track.gates(), dtype=float))
    ts, errs = [], []
    t = 0.0
    while t < horizon_s:
        t += dt_s
        emu._run_to(t)
        err = float(emu.track.readings()["error"])
        ts.append(t)
        errs.append(err)
        if err <= tol:
            break
    return {"t": np.array(ts), "err": np.array(errs)}


def row(
    seed: int, source: str, eta: float, lam: float, t: np.ndarray, err: np.ndarray, tol: float
) -> dict:
    i = int(np.argmin(err))
    below = np.flatnonzero(err <= tol)
    return {
        "seed": seed,
        "source": source,
        "eta": eta,
        "lam": lam,
        "tol": tol,
        "min_rel": float(err[i] / tol),
        "t_min_s": float(t[i]),
        "reached_s": float(t[below[0]]) if below.size else None,
        "end_rel": float(err[-1] / tol),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", required=True)
    ap.add_argument("--tolerance-rel", type=float, default=1e-4)
    ap.add_argument("--lams", type=float, nargs="+", default=[0.0, 0.1, 0.17, 0.3])
    ap.add_argument("--etas", type=float, nargs="+", default=[0.88, 1.0])
    ap.add_argument("--cal-etas", type=float, nargs="*", default=[])
    ap.add_argument("--horizon-s", type=float, default=3.0)
    ap.add_argument("--no-board", action="store_true")
    ap.add_argument("--plan", action="store_true", help="also each twin's first plan")
    ap.add_argument("--stall-s", type=float, default=100.0, help="the planner's stall cut, s")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    for seed in args.seeds:
        t0 = time.perf_counter()
        spec = EmulationSpec(seed=seed, variation="typical")
        emu = make_emulator(spec)
        gates = np.asarray(emu.track.gates(), dtype=float)
        twins = {"own": emu.edges, "cal": calibrated_twin(spec, seed=seed).edges}
        if args.cal_etas:
            twins["cal_etas"] = calibrated_twin(spec, seed=seed, etas=tuple(args.cal_etas)).edges
        config = PlannerConfig(stall_s=args.stall_s, horizon_s=args.horizon_s)
        rows = []
        tol = None
        for name, edges in twins.items():
            pl = Planner(emu.task, edges, eta=emu.eta, step_s=emu.step_s, seed=seed, config=config)
            e0 = float(pl._track(gates, 0.0, pl.eta).readings()["error"])
            tol = args.tolerance_rel * e0 if name == "own" else tol
            assert tol is not None
            for eta in args.etas:
                for lam in args.lams:
                    p = pl.simulate(gates, (Phase(lam=lam, until_error=tol),), tol, eta=eta)
                    rows.append(row(seed, name, eta, lam, p.t_s, p.error, tol))
            if not args.plan:
                continue
            first = Planner(emu.task, edges, eta=emu.eta, step_s=emu.step_s, seed=seed)
            plan = plan_with_margin(first, gates, tol)
            best = plan.best
            rows.append(
                {
                    "seed": seed,
                    "source": name,
                    "plan": True,
                    "tol": tol,
                    "reaches": best is not None,
                    "lowest_rel": lowest_error(plan) / tol,
                    "eta": plan.eta,
                    "schedule": None
                    if best is None
                    else [[p.lam, p.until_error / tol] for p in best.schedule],
                }
            )
        if not args.no_board:
            for eta in args.etas:
                for lam in args.lams:
                    b = board_run(spec, lam, eta, args.horizon_s, tol, config.dt_s)
                    rows.append(row(seed, "board", eta, lam, b["t"], b["err"], tol))
        with open(args.out, "a") as fh:
            for r in rows:
                fh.write(json.dumps(r) + "\n")
        print(f"seed {seed} {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
