"""Steering a board in another process from the CLI (issue 22): reach and energy per seed.

For each seed: ``twin board --seed S --variation V`` on a random free loopback port (real time,
training from boot), then ``twin steer --connect ... --policy P --tolerance-rel R --reset-gates
--seed S --json --no-db`` as its own process. Reports per run and in total: reached (verified
by inference) with a Wilson 95 % interval, training energy against the twin's lambda = 0
prediction from the same start (``baseline_energy_j``) and against the followed plan's
(``predicted_energy_j``), re-plans, fall-backs, board and wall time, and the machine's load
average before and after (a real-time board and its steerer both fall behind on a loaded
machine). Run by hand::

    PYTHONPATH=. nice -n 10 python benchmarks/bench_steer_xproc.py --seeds 6 --tolerance-rel 1e-3

``--calibration file`` calibrates each board over the wire first (``twin calibrate --connect
--save``) and steers with ``--calibration FILE``, as a lab would a board it cannot see inside.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

from tests.ports import free_port_run, wait_listening


def one_run(seed: int, args: argparse.Namespace) -> dict:
    port = free_port_run()
    endpoint = f"tcp://127.0.0.1:{port}"
    py = [sys.executable, "-m", "twin"]
    board = subprocess.Popen(
        [
            *py,
            "board",
            "--bind",
            endpoint,
            "--seed",
            str(seed),
            "--variation",
            args.variation,
            "--duration",
            "600",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_listening(port, proc=board)
        steer = [
            *py,
            "steer",
            "--connect",
            endpoint,
            "--policy",
            args.policy,
            "--tolerance-rel",
            str(args.tolerance_rel),
            "--seed",
            str(seed),
            "--json",
            "--no-db",
            "--join-timeout-s",
            "60",
            "--max-time-s",
            str(args.max_time_s),
        ]
        if not args.no_reset:
            steer.append("--reset-gates")
        if args.no_eta:
            steer.append("--no-eta")
        if args.docs is not None:  # the run's documents, one file per seed
            os.makedirs(args.docs, exist_ok=True)
            steer += ["--out", os.path.join(args.docs, f"seed-{seed}.jsonl")]
        if args.plan_budget_hold_s is not None:
            steer += ["--plan-budget-hold-s", str(args.plan_budget_hold_s)]
        t0 = time.monotonic()
        if args.calibration == "live":
            steer.append("--calibrate")
        elif args.calibration == "file":  # calibrated once by training it, kept in a file
            with tempfile.TemporaryDirectory() as folder:
                path = os.path.join(folder, "board.json")
                etas = [a for e in args.calibrate_etas for a in ("--episode-eta", str(e))]
                cal = subprocess.run([*py, "calibrate", "--connect", endpoint, "--seed",
                                      str(seed), "--save", path, "--json", *etas],
                                     capture_output=True, text=True, timeout=600)  # fmt: skip
                if cal.returncode != 0:
                    return {"seed": seed, "error": "calibrate: " + cal.stderr.strip()[-300:],
                            "wall_s": time.monotonic() - t0}  # fmt: skip
                proc = subprocess.run([*steer, "--calibration", path], capture_output=True,
                                      text=True, timeout=900)  # fmt: skip
        if args.calibration != "file":
            proc = subprocess.run(steer, capture_output=True, text=True, timeout=900)
        wall = time.monotonic() - t0
    finally:
        board.terminate()
        board.wait(timeout=30)
    if proc.returncode != 0:
        return {"seed": seed, "error": proc.stderr.strip()[-300:], "wall_s": wall}
    s = json.loads(proc.stdout.strip().splitlines()[-1])
    s["seed"], s["wall_s"] = seed, wall
    return s


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=6)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--tolerance-rel", type=float, default=1e-3)
    ap.add_argument("--policy", default="predictive")
    ap.add_argument("--variation", default="none", choices=["none", "typical"])
    ap.add_argument("--max-time-s", type=float, default=120.0)
    ap.add_argument("--no-reset", action="store_true", help="steer the board as it is (trained)")
    ap.add_argument("--no-eta", action="store_true", help="never change the board's eta")
    ap.add_argument("--out", default=None, help="append each run's summary as a JSON line")
    ap.add_argument(
        "--docs",
        default=None,
        help="write each run's documents to DIR/seed-S.jsonl (twin steer --out)",
    )
    ap.add_argument(
        "--plan-budget-hold-s", type=float, default=None, help="twin steer --plan-budget-hold-s"
    )
    ap.add_argument(
        "--calibration",
        default="none",
        choices=["none", "live", "file"],
        help="the steering twin: nominal; calibrated in place (twin steer "
        "--connect --calibrate); or by twin calibrate --connect --save first and "
        "twin steer --calibration FILE (wall time includes the calibration)",
    )
    ap.add_argument("--calibrate-etas", type=float, nargs="+", default=[],
                    help="with --calibration file: the calibration's episodes train at these "
                    "nudges in turn (twin calibrate --episode-eta)")  # fmt: skip
    args = ap.parse_args()
    load0 = os.getloadavg()
    runs = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        r = one_run(seed, args)
        runs.append(r)
        if args.out:
            with open(args.out, "a") as fh:
                fh.write(json.dumps(r) + "\n")
        if "error" in r:
            print(f"seed {seed}: steer failed: {r['error']}", flush=True)
            continue
        base, pred = r.get("baseline_energy_j"), r.get("predicted_energy_j")
        at_eta = r.get("baseline_at_eta_energy_j")
        print(
            f"seed {seed}: reached {r['reached']}, E {r['training_energy_j']:.3g} J, "
            f"E/baseline {r['training_energy_j'] / base if base else float('nan'):.3f}, "
            f"E/plan {r['training_energy_j'] / pred if pred else float('nan'):.2f}, "
            f"E/(lambda = 0 at the raised eta) "
            f"{r['training_energy_j'] / at_eta if at_eta else float('nan'):.3f}, "
            f"replans {r['replans']}, restores {r.get('gate_restores')} "
            f"({r.get('gate_restore_energy_j') or 0.0:.2g} J), "
            f"resyncs {r.get('resync_gate_moves_v')}, "
            f"eta {r.get('eta_steered')}, fell back {r['fell_back']}, "
            f"holds {[round(h, 1) for h in r.get('plan_holds_s', [])]} s, "
            f"board {r['board_time_s']:.1f} s,"
            f" training {r['training_time_s']:.2f} s, wall {r['wall_s']:.1f} s, error "
            f"{r['error_initial']:.3g} -> {r['error_final'] or float('nan'):.3g} V^2"
            + ("" if r["reached"] else f", reason: {r['reason']}"),
            flush=True,
        )
    load1 = os.getloadavg()
    ok = [r for r in runs if r.get("reached")]
    lo, hi = wilson(len(ok), len(runs))
    print(
        f"{args.policy} at {args.tolerance_rel:g} x e0 (variation {args.variation}, "
        f"reset {not args.no_reset}, calibration {args.calibration}, eta lever "
        f"{not args.no_eta}, calibration etas {args.calibrate_etas or 'own'}): reached "
        f"{len(ok)}/{len(runs)} (Wilson 95 % [{lo:.2f}, {hi:.2f}])"
    )
    ratios = [r["training_energy_j"] / r["baseline_energy_j"] for r in ok if r["baseline_energy_j"]]
    if ratios:
        print(
            f"  training energy / lambda = 0 prediction, reached runs: median "
            f"{statistics.median(ratios):.3f} [{min(ratios):.3f}, {max(ratios):.3f}]; "
            f"below 1 in {sum(x < 1 for x in ratios)}/{len(ratios)}"
        )
    print(f"  load average (1/5/15 min) before {load0}, after {load1}")


if __name__ == "__main__":
    main()
