"""How long the predictive planner takes (the board is held meanwhile), and what it chose.

For each seed, an emulated board (no hidden variation) trains on its own for ``--pretrain-s``
of board time; from its gates the nominal twin's :class:`~twin.steer.planner.Planner` (default
candidates) plans to each tolerance (a fraction of the twin's error there). Reported per
tolerance: median and range of the wall time per plan, of the simulated board seconds, and the
simulated-to-wall speed. ``--out`` writes one JSON line per plan (schedule, predicted energy,
times), so two versions of the planner can be compared plan by plan (``--compare OLD NEW``).

    nice -n 10 python benchmarks/bench_planner.py --seeds 10 --out /tmp/plans.jsonl
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

from twin.board.inprocess import InProcessBoard
from twin.physics.task import task_from_dict
from twin.shadow.session import EmulationSpec, make_emulator
from twin.simulation.edge import board_edge_params
from twin.steer.planner import Planner


def start_state(seed: int, pretrain_s: float) -> tuple[object, np.ndarray, float, float]:
    """(task, gates, eta, step_s) of an emulated board after ``pretrain_s`` of its own training."""
    board = InProcessBoard(make_emulator(EmulationSpec(seed=seed, variation="none")))
    snap = board.snapshot(5.0)
    gates = np.array(snap.state.gate_v)
    t_end = snap.state.t_s + pretrain_s
    while pretrain_s > 0:
        states = [u for u in board.poll(0.01) if hasattr(u, "gate_v")]
        if states:
            gates = np.array(states[-1].gate_v)
            if states[-1].t_s >= t_end:
                break
    params = snap.config.params
    board.close()
    eta = float(params.get("eta", snap.state.eta))
    return task_from_dict(snap.config.task), gates, eta, float(params.get("step_s", 1e-4))


def one(seed: int, rel: float, pretrain_s: float) -> dict[str, object]:
    task, gates, eta, step_s = start_state(seed, pretrain_s)
    planner = Planner(task, board_edge_params("transistor"), eta=eta, step_s=step_s, seed=seed)
    e0 = float(planner._track(gates, 0.0).readings()["error"])
    t0 = time.perf_counter()
    plan = planner.plan(gates, rel * e0)
    wall = time.perf_counter() - t0
    best = plan.best.as_dict() if plan.best is not None else None
    row: dict[str, object] = {
        "seed": seed,
        "rel": rel,
        "wall_s": wall,
        "simulated_s": planner.simulated_s,
        "best": best,
    }
    if "bound" in (Planner.plan.__kwdefaults__ or {}):
        # the exhaustive search from the same state, right after (same machine load): paired
        full = Planner(task, board_edge_params("transistor"), eta=eta, step_s=step_s, seed=seed)
        t0 = time.perf_counter()
        exhaustive = full.plan(gates, rel * e0, bound=False)
        row["exhaustive_wall_s"] = time.perf_counter() - t0
        row["exhaustive_simulated_s"] = full.simulated_s
        row["exhaustive_same"] = exhaustive.best is not None and exhaustive.best.as_dict() == best
    if plan.best is not None and "first" in (Planner.plan.__kwdefaults__ or {}):
        # a re-plan from the same state, told the last plan's lambda (as the policy does)
        simulated = planner.simulated_s
        t0 = time.perf_counter()
        again = planner.plan(gates, rel * e0, first=plan.best.schedule[0].lam)
        row["replan_wall_s"] = time.perf_counter() - t0
        row["replan_simulated_s"] = planner.simulated_s - simulated
        row["replan_same"] = again.best is not None and again.best.as_dict() == best
    return row


def _summary(rows: list[dict[str, object]]) -> None:
    for rel in sorted({r["rel"] for r in rows}, reverse=True):
        sel = [r for r in rows if r["rel"] == rel]
        walls = [float(r["wall_s"]) for r in sel]
        sims = [float(r["simulated_s"]) for r in sel]
        speed = [s / w for s, w in zip(sims, walls, strict=True)]
        found = sum(r["best"] is not None for r in sel)
        re = [r for r in sel if "replan_wall_s" in r]
        print(
            f"tol {rel:g} x e0: {len(sel)} plans ({found} reach), wall per plan median "
            f"{statistics.median(walls):.2f} s [{min(walls):.2f}, {max(walls):.2f}], simulated "
            f"median {statistics.median(sims):.2f} s [{min(sims):.2f}, {max(sims):.2f}], "
            f"speed median {statistics.median(speed):.1f}x real time"
        )
        if re:
            rw = [float(r["replan_wall_s"]) for r in re]
            rsim = [float(r["replan_simulated_s"]) for r in re]
            print(
                f"  re-plan told the last lambda: wall median {statistics.median(rw):.2f} s "
                f"[{min(rw):.2f}, {max(rw):.2f}], simulated median "
                f"{statistics.median(rsim):.2f} s, same choice "
                f"{sum(bool(r['replan_same']) for r in re)}/{len(re)}"
            )
        ex = [r for r in sel if "exhaustive_wall_s" in r]
        if ex:
            ratio = [float(r["exhaustive_wall_s"]) / float(r["wall_s"]) for r in ex]
            sim_ratio = [float(r["exhaustive_simulated_s"]) / float(r["simulated_s"]) for r in ex]
            print(
                f"  exhaustive / bounded, paired: wall median {statistics.median(ratio):.2f}x "
                f"[{min(ratio):.2f}, {max(ratio):.2f}], simulated seconds median "
                f"{statistics.median(sim_ratio):.2f}x, same choice "
                f"{sum(bool(r['exhaustive_same']) for r in ex)}/{len(ex)}"
            )


def compare(old_path: str, new_path: str) -> None:
    """Plan by plan: the same choice? and the wall-time ratio old/new."""
    with open(old_path) as fa, open(new_path) as fb:
        old = {(r["seed"], r["rel"]): r for r in map(json.loads, fa)}
        new = {(r["seed"], r["rel"]): r for r in map(json.loads, fb)}
    same = ratios = 0
    rs = []
    for key in sorted(old.keys() & new.keys()):
        a, b = old[key], new[key]
        same += a["best"] == b["best"]
        ratios += 1
        rs.append(a["wall_s"] / b["wall_s"])
    print(f"{ratios} plans: {same} chose the same schedule with the same prediction")
    print(
        f"wall-time ratio old/new median {statistics.median(rs):.2f} [{min(rs):.2f}, {max(rs):.2f}]"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--tolerances", type=float, nargs="+", default=[1e-2, 1e-3])
    ap.add_argument("--pretrain-s", type=float, default=0.0)
    ap.add_argument("--out", default=None)
    ap.add_argument("--compare", nargs=2, metavar=("OLD", "NEW"), default=None)
    args = ap.parse_args()
    if args.compare:
        compare(*args.compare)
        return
    rows = []
    for seed in range(args.seeds):
        for rel in args.tolerances:
            rows.append(one(seed, rel, args.pretrain_s))
    if args.out:
        with open(args.out, "w") as fh:
            for r in rows:
                fh.write(json.dumps(r) + "\n")
    _summary(rows)


if __name__ == "__main__":
    main()
