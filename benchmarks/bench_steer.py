"""Steering benchmark (issue 22): reach, training energy and time to a tolerance, per policy.

On the in-process emulated board (``--variation``), for each seed and relative tolerance, four
policies steer a fresh board from boot: (a) lambda = 0 stopped at the tolerance, (b) a fixed
lambda, (c) seed Eq. 18 control on the board's error (no twin), (d) ``predictive`` (the twin's
least-energy schedule). Reports the fraction reaching the tolerance (verified by inference),
the median training energy (board estimate, J) and board time (s) of the runs that reached it,
the median ratio to (a) on the same seed, and wall time. Run by hand::

    nice -n 10 python benchmarks/bench_steer.py --seeds 10 --variation none
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import numpy as np

from twin.board.contract import Ack, Command
from twin.board.errors import BridgeTimeout
from twin.shadow.session import EmulationSpec, open_board
from twin.steer import (
    PlannerConfig,
    PolicySpec,
    SteerConfig,
    calibrated_twin,
    nominal_twin,
    steer_board,
)


class ChaosBoard:
    """An in-process board that loses ``loss`` of command attempts (half the requests, half
    the acks after applying) and reboots once, after ``reboot_polls`` polls (``--chaos``)."""

    def __init__(self, inner, *, loss: float, reboot_polls: int, seed: int) -> None:
        self.inner = inner
        self.loss = loss
        self.reboot_polls = reboot_polls
        self.rng = np.random.default_rng([seed, 99])
        self.polls = 0
        self.board_id = inner.board_id

    @property
    def counters(self):
        return self.inner.counters

    def snapshot(self, timeout_s: float = 5.0):
        return self.inner.snapshot(timeout_s)

    def poll(self, timeout_s: float):
        self.polls += 1
        if self.polls == self.reboot_polls:
            self.inner.restart()
        return self.inner.poll(timeout_s)

    def command(self, command: Command, timeout_s: float = 5.0) -> Ack:
        lost = self.rng.random() < self.loss
        if lost and self.rng.random() < 0.5:
            raise BridgeTimeout(f"{command.name}: request lost")
        ack = self.inner.command(command, timeout_s)
        if lost:
            raise BridgeTimeout(f"{command.name}: ack lost")
        return ack

    def close(self) -> None:
        self.inner.close()


POLICIES = {
    "a_lam0": PolicySpec(name="fixed", lam=0.0),
    "b_fixed": PolicySpec(name="fixed", lam=0.01),
    "c_control": PolicySpec(name="control"),
    "d_predictive": PolicySpec(name="predictive"),
    # (d) without the eta lever: lambda schedules at the board's own eta only
    "d_predictive_lam_only": PolicySpec(name="predictive", planner=PlannerConfig(eta_factors=())),
}


_TWINS: dict = {}


def twin_for(spec: EmulationSpec, calibrate: bool):
    """The twin used to steer: calibrated on a recording of the same hidden board, or nominal."""
    if not calibrate:
        return nominal_twin()
    if spec.seed not in _TWINS:
        _TWINS[spec.seed] = calibrated_twin(spec, seed=spec.seed)
    return _TWINS[spec.seed]


def one(
    seed: int,
    rel: float,
    name: str,
    variation: str,
    max_time_s: float,
    chaos: bool,
    calibrate: bool,
) -> dict:
    spec = EmulationSpec(seed=seed, variation=variation)
    twin = twin_for(spec, calibrate)
    board = open_board(emulate=spec)
    if chaos:  # reboot after ~0.15 s of board time (15 polls of 10 ms), 5 % command loss
        board = ChaosBoard(board, loss=0.05, reboot_polls=15, seed=seed)
    t0 = time.perf_counter()
    try:
        res = steer_board(
            board,
            policy=POLICIES[name],
            config=SteerConfig(tolerance_rel=rel, max_time_s=max_time_s),
            twin=twin,
            seed=seed,
        )
    finally:
        board.close()
    s = res.summary
    return {
        "seed": seed,
        "tol_rel": rel,
        "policy": name,
        "reached": s["reached"],
        "energy_j": s["training_energy_j"],
        "time_s": s["board_time_s"],
        "baseline_j": s["baseline_energy_j"],
        "replans": s["replans"],
        "fell_back": s["fell_back"],
        "wall_s": time.perf_counter() - t0,
        "reboots": s["reboots"],
        "retries": s["commands"]["retries"],
        "unanswered": s["commands"]["unanswered"],
        "trusted": s["twin"]["trusted"],
        "error_initial": s["error_initial"],
        "error_final": s["error_final"],
        "eta_steered": s["eta_steered"],
        "baseline_note": s["baseline_note"],
    }


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score 95 % interval of k successes in n trials."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--tolerances", type=float, nargs="+", default=[1e-3, 1e-4])
    ap.add_argument("--variation", default="none")
    ap.add_argument("--max-time-s", type=float, default=3.0)
    ap.add_argument("--out", default=None, help="JSON lines of every run")
    ap.add_argument("--calibrate", action="store_true", help="steer with a calibrated twin")
    ap.add_argument("--policies", nargs="+", default=list(POLICIES), choices=list(POLICIES))
    ap.add_argument("--chaos", action="store_true", help="5 %% command loss and a reboot mid-run")
    args = ap.parse_args()
    rows = []
    policies = args.policies
    total = args.seeds * len(args.tolerances) * len(policies)
    start = time.perf_counter()
    for rel in args.tolerances:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            for name in policies:
                rows.append(
                    one(
                        seed, rel, name, args.variation, args.max_time_s, args.chaos, args.calibrate
                    )
                )
                done = len(rows)
                eta = (time.perf_counter() - start) / done * (total - done)
                print(f"[{done}/{total}] {rows[-1]}  ETA {eta:.0f} s", file=sys.stderr, flush=True)
                if args.out:
                    with open(args.out, "a") as fh:
                        fh.write(json.dumps(rows[-1]) + "\n")
    print(
        f"variation={args.variation} seeds={args.seeds} max_time_s={args.max_time_s} "
        f"chaos={args.chaos} calibrate={args.calibrate}"
    )
    print(
        "tol_rel  policy                 reached (Wilson 95 %)  E_med(J)   t_med(s)  E/E_a(med)"
        "  E/E_base(med)  wall_med(s)"
    )
    for rel in args.tolerances:
        base = {r["seed"]: r for r in rows if r["tol_rel"] == rel and r["policy"] == "a_lam0"}
        for name in policies:
            rs = [r for r in rows if r["tol_rel"] == rel and r["policy"] == name]
            ok = [r for r in rs if r["reached"]]
            ratios = [
                r["energy_j"] / base[r["seed"]]["energy_j"]
                for r in ok
                if r["seed"] in base and base[r["seed"]]["reached"]
            ]

            twin_ratios = [r["energy_j"] / r["baseline_j"] for r in ok if r["baseline_j"]]

            def med(xs):
                return statistics.median(xs) if xs else float("nan")

            lo, hi = wilson(len(ok), len(rs))
            print(
                f"{rel:7.0e}  {name:21s}  {len(ok):2d}/{len(rs):2d} [{lo:.2f}, {hi:.2f}]     "
                f"{med([r['energy_j'] for r in ok]):.3e}  {med([r['time_s'] for r in ok]):7.3f}"
                f"   {med(ratios):7.3f}     {med(twin_ratios):7.3f}"
                f"        {med([r['wall_s'] for r in rs]):6.1f}"
            )


if __name__ == "__main__":
    main()
