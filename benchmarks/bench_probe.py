"""False alarms of the shadow's active probe on fault-free boards, and the margins it keeps.

For each seed a board with typical hidden variation is calibrated (as ``twin shadow
--calibrate``), then shadowed for ``--duration`` s of board time with a probe every
``--probe-every`` s (:mod:`twin.shadow.probe`). Reported per seed and in total: probes evaluated,
the probe's alarms and the passive detector's (both false: there is no fault), the largest probe
score (``z / z_crit``; an alarm is > 1), the largest node residual and the largest change between
clean probes beyond the predicted change (the quantities :data:`~twin.shadow.probe.PROBE_MODEL_V`
and :data:`~twin.shadow.probe.PROBE_STEP_REL` bound), and the false-alarm rate per board-hour
and per probe with 95 % upper bounds.

With ``--passive`` the shadow runs the passive node check instead (:mod:`twin.shadow.node_watch`,
``twin shadow --node-every``: the same node test on the last 10 training frames, no command) every
``--probe-every`` s, and the rows count its tests and alarms.

Columns: ``check_alarms`` are the alarms of the check under test (the probe, or with ``--passive``
the node check), ``gate_alarms`` the gates' detector's (``Alarm.source == "gates"``).

Run: ``nice -n 10 python benchmarks/bench_probe.py --seeds 20 --duration 60 [--passive]
[--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from twin.board.inprocess import InProcessBoard
from twin.shadow.alarm_curve import upper95_per_hour
from twin.shadow.session import EmulationSpec, calibrate_emulator, make_emulator
from twin.shadow.shadow import Shadow, ShadowConfig
from twin.shadow.threshold_track import ThresholdTrackConfig


def one_seed(
    seed: int,
    duration_s: float,
    every_s: float,
    hours: float,
    passive: bool = False,
    track: bool = True,
) -> dict:
    spec = EmulationSpec(seed=seed)
    result, _ = calibrate_emulator(make_emulator(spec), seed=seed)
    sh = Shadow(
        InProcessBoard(make_emulator(spec)),
        ShadowConfig(
            probe_every_s=None if passive else every_s,
            node_every_s=every_s if passive else None,
            false_alarm_hours=hours,
            track_thresholds=ThresholdTrackConfig() if track else None,
        ),
        rng=np.random.default_rng([seed, 3]),
        edges=result.edges,
        spread=result.spread,
    )
    summary = sh.run(duration_s)
    sh.close()
    probe = sh.nodes if passive else sh.probe
    assert probe is not None
    if probe.tester.evaluated > len(probe.results):  # the residual columns need every result
        raise SystemExit(f"seed {seed}: over {len(probe.results)} tests; shorten --duration")
    res = [float(np.max(np.abs(r.residual_v))) for r in probe.results]
    # the smallest stated accuracies that would have kept every probe of this seed below z_crit
    need_abs = [
        float(np.max(np.abs(r.residual_v) - r.bias_v - r.z_crit * r.sigma_v)) for r in probe.results
    ]
    need_rel = []
    for r in probe.results:
        moved = np.abs(r.step_pred_v)
        if not np.any(r.step_se_v > 0):
            continue
        over = np.abs(r.step_v) - 2 * r.bias_v - r.z_crit * r.step_se_v
        need_rel.append(float(np.max(np.where(over > 0, over / np.maximum(moved, 1e-9), 0.0))))
    return {
        "seed": seed,
        "board_s": duration_s,
        "tests": probe.tester.evaluated,
        "sent": getattr(probe, "sent", probe.tester.evaluated),  # the node check sends nothing
        "missed": getattr(probe, "missed", 0),
        "check_alarms": len(probe.alarms),
        "gate_alarms": len([a for a in sh.alarms if a.source == "gates"]),
        "score_max": probe.tester.score_max,
        "score_abs_max": max((float(np.max(r.z)) / r.z_crit for r in probe.results), default=0.0),
        "residual_max_v": max(res, default=0.0),
        "residual_p50_v": float(np.median(res)) if res else 0.0,
        "model_v_needed": max(need_abs, default=0.0),
        "step_rel_needed": max(need_rel, default=0.0),
        "alarm_list": [
            {"t_s": a.start_s, "edges": list(a.edges), "likely": list(a.likely)}
            for a in probe.alarms
        ],
        "frames": summary["frames"],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--first-seed", type=int, default=300)
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--probe-every", type=float, default=1.0)
    ap.add_argument("--false-alarm-hours", type=float, default=10.0)
    ap.add_argument(
        "--passive",
        action="store_true",
        help="the passive node check (twin shadow --node-every) instead of the probe",
    )
    ap.add_argument(
        "--no-threshold-tracking",
        action="store_true",
        help="test against the calibration's thresholds (ShadowConfig.track_thresholds=None)",
    )
    ap.add_argument("--json", default=None, help="write the rows and totals (after every seed)")
    args = ap.parse_args(argv)
    rows = []
    t0 = time.perf_counter()
    sys.stdout.write(
        "seed  tests  check alarms  gate alarms  score max (abs)  residual max/p50 (mV)\n"
    )
    for i, seed in enumerate(range(args.first_seed, args.first_seed + args.seeds)):
        row = one_seed(
            seed,
            args.duration,
            args.probe_every,
            args.false_alarm_hours,
            passive=args.passive,
            track=not args.no_threshold_tracking,
        )
        rows.append(row)
        sys.stdout.write(
            f"{seed:4d}  {row['tests']:5d}  {row['check_alarms']:12d}  {row['gate_alarms']:11d}"
            f"  {row['score_max']:6.2f} ({row['score_abs_max']:.2f})"
            f"  {row['residual_max_v'] * 1e3:8.3f}/{row['residual_p50_v'] * 1e3:.3f}"
            f"  needed {row['model_v_needed'] * 1e3:.3f} mV, rel {row['step_rel_needed']:.3f}\n"
        )
        sys.stdout.flush()
        totals = _totals(rows)
        if args.json:
            with open(args.json, "w") as fh:
                json.dump({"args": vars(args), "rows": rows, "totals": totals}, fh, indent=1)
        eta = (time.perf_counter() - t0) / (i + 1) * (args.seeds - i - 1)
        sys.stderr.write(f"seed {seed} done; ETA {eta:.0f} s\n")
    totals = _totals(rows)
    sys.stdout.write(json.dumps(totals, indent=1) + "\n")
    return 0


def _totals(rows: list[dict]) -> dict:
    from scipy.stats import beta

    hours = sum(r["board_s"] for r in rows) / 3600.0
    tests = sum(r["tests"] for r in rows)
    alarms = sum(r["check_alarms"] for r in rows)
    passive = sum(r["gate_alarms"] for r in rows)
    per_test_hi = float(beta.ppf(0.95, alarms + 1, max(tests - alarms, 1))) if tests else 1.0
    return {
        "seeds": len(rows),
        "board_hours": hours,
        "tests": tests,
        "check_alarms": alarms,
        "check_alarms_per_hour": alarms / hours if hours else None,
        "check_alarms_per_hour_upper95": upper95_per_hour(alarms, hours),
        "check_alarm_per_test_upper95": per_test_hi,
        "gate_alarms": passive,
        "gate_alarms_per_hour_upper95": upper95_per_hour(passive, hours),
        "score_max": max((r["score_max"] for r in rows), default=0.0),
        "residual_max_v": max((r["residual_max_v"] for r in rows), default=0.0),
        "model_v_needed": max((r["model_v_needed"] for r in rows), default=0.0),
        "step_rel_needed": max((r["step_rel_needed"] for r in rows), default=0.0),
    }


if __name__ == "__main__":
    raise SystemExit(main())
