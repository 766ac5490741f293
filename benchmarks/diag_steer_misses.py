"""Why steering misses a tolerance: is the board's own floor above it, for every schedule?

For each seed (typical hidden variation, in process), ``--survey`` holds every lambda of
``--lams`` at every eta of ``--etas`` on the board's *own* hidden circuit as the twin (the
emulator's edges, no calibration), from the gates it boots with, for ``--horizon-s`` of board
time with no stall cut, and writes whether and when each reaches ``--tolerance-rel`` of the
initial error and the lowest error it gets to before (stopped there). ``--board`` then runs, on
the emulated board itself (its noise, ADC and readout), the ``--board-best`` fastest of the
schedules that reached in the survey (``fixed`` policy at that lambda and eta, verified by
inference, ``--max-time-s``), and lambda = 0 at etas 0.88 and 1 and Eq. 18 control (the arms
``a_lam0_eta0.88``, ``a_lam0_eta1``, ``c_control`` of ``bench_steer.py``). Run by hand::

    nice -n 10 python benchmarks/diag_steer_misses.py --seeds 0 3 7 --survey s.jsonl
    nice -n 10 python benchmarks/diag_steer_misses.py --seeds 0 3 7 --survey s.jsonl \
        --board b.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_steer

from twin.board.inprocess import InProcessBoard
from twin.shadow.session import EmulationSpec, make_emulator
from twin.steer import PolicySpec
from twin.steer.planner import Phase, Planner, PlannerConfig


def survey(seed: int, rel: float, lams: list[float], etas: list[float], horizon_s: float):
    """Rows of the board's own circuit holding each (eta, lambda) from boot."""
    board = InProcessBoard(make_emulator(EmulationSpec(seed=seed, variation="typical")))
    emu = board.emulator
    gates = np.asarray(emu.track.gates())
    board.close()
    config = PlannerConfig(stall_s=100.0, horizon_s=horizon_s)
    planner = Planner(emu.task, emu.edges, eta=emu.eta, step_s=emu.step_s, config=config)
    e0 = float(planner._track(gates, 0.0, planner.eta).readings()["error"])
    tol = rel * e0
    for eta in etas:
        for lam in lams:
            pred = planner.simulate(gates, (Phase(lam=lam, until_error=tol),), tol, eta=eta)
            i = int(np.argmin(pred.error))
            yield {
                "seed": seed,
                "eta": eta,
                "lam": lam,
                "e0": e0,
                "min_rel": float(pred.error[i] / e0),
                "t_min": float(pred.t_s[i]),
                "reached_s": pred.reached_s,
                "energy": pred.energy_to_tol_j,
                "end_rel": float(pred.error[-1] / e0),
            }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", required=True)
    ap.add_argument("--tolerance-rel", type=float, default=1e-4)
    ap.add_argument(
        "--lams", type=float, nargs="+", default=[0, 0.01, 0.03, 0.055, 0.1, 0.15, 0.2, 0.3]
    )
    ap.add_argument("--etas", type=float, nargs="+", default=[0.44, 0.88, 1.0])
    ap.add_argument("--horizon-s", type=float, default=10.0)
    ap.add_argument("--survey", required=True, help="JSON lines of the survey (read if it exists)")
    ap.add_argument("--board", default=None, help="JSON lines of the board runs")
    ap.add_argument("--board-best", type=int, default=3)
    ap.add_argument("--max-time-s", type=float, default=10.0)
    args = ap.parse_args()
    path = Path(args.survey)
    if not path.exists():
        with path.open("a") as fh:
            for seed in args.seeds:
                for row in survey(seed, args.tolerance_rel, args.lams, args.etas, args.horizon_s):
                    fh.write(json.dumps(row) + "\n")
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if args.board is None:
        return
    for seed in args.seeds:
        mine = [r for r in rows if r["seed"] == seed and r["reached_s"] is not None]
        fastest = sorted(mine, key=lambda r: r["reached_s"])[: args.board_best]
        arms = ["a_lam0_eta0.88", "a_lam0_eta1", "c_control"]
        for r in fastest:
            name = f"own_fastest_eta{r['eta']:g}_lam{r['lam']:g}"
            bench_steer.POLICIES[name] = PolicySpec(name="fixed", lam=r["lam"], eta=r["eta"])
            arms.append(name)
        for name in arms:
            row = bench_steer.one(
                seed, args.tolerance_rel, name, "typical", args.max_time_s, False, False
            )
            with open(args.board, "a") as fh:
                fh.write(json.dumps(row) + "\n")
            print(seed, name, row["reached"], file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
