"""The calibrated twin's first plan from a typical board's boot gates (as ``bench_steer.py
--calibrate`` calibrates it), with the refinement lambdas of the midpoints (``refine_lams=None``)
and with the finer ones (``FINE_LAMS``): whether it reaches, its schedule (lambda, until error /
tolerance), eta, predicted time and energy; where none reaches, the lowest error / tolerance. The
tolerance is ``--tolerance-rel`` x the own circuit's initial error (the steerer takes the board's
measured one, which differs slightly). Run by hand::

    PYTHONPATH=. nice -n 10 python benchmarks/diag_steer_first_plan.py --seeds 100 111
"""

from __future__ import annotations

import argparse

import numpy as np
from bench_steer import FINE_LAMS

from twin.shadow.session import EmulationSpec, make_emulator
from twin.steer import calibrated_twin
from twin.steer.lowest import lowest_error
from twin.steer.margin import plan_with_margin
from twin.steer.planner import Planner, PlannerConfig


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, nargs="+", required=True)
    ap.add_argument("--tolerance-rel", type=float, default=1e-4)
    args = ap.parse_args()
    configs = {
        "midpoints": PlannerConfig(refine_lams=None),
        "fine": PlannerConfig(refine_lams=FINE_LAMS),
    }
    for seed in args.seeds:
        spec = EmulationSpec(seed=seed, variation="typical")
        emu = make_emulator(spec)
        gates = np.asarray(emu.track.gates(), dtype=float)
        edges = calibrated_twin(spec, seed=seed).edges
        own = Planner(emu.task, emu.edges, eta=emu.eta, step_s=emu.step_s, seed=seed)
        tol = args.tolerance_rel * float(own._track(gates, 0.0, own.eta).readings()["error"])
        for name, config in configs.items():
            pl = Planner(emu.task, edges, eta=emu.eta, step_s=emu.step_s, seed=seed, config=config)
            plan = plan_with_margin(pl, gates, tol)
            b = plan.best
            if b is None:
                print(
                    f"{seed} {name}: eta {plan.eta}, none reaches,"
                    f" lowest {lowest_error(plan) / tol:.2f}x"
                )
                continue
            sched = [(round(p.lam, 4), round(p.until_error / tol, 3)) for p in b.schedule]
            print(
                f"{seed} {name}: eta {plan.eta}, {sched}, reached at {b.reached_s:.3f} s,"
                f" {b.energy_to_tol_j:.3g} J",
                flush=True,
            )


if __name__ == "__main__":
    main()
