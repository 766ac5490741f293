"""CPU cost of fault-free shadowing per board second, and a bit-for-bit check of its results.

Two paths, each as its benchmark runs it:

``false_alarms``
    ``bench_false_alarms.py``'s (:func:`fa_runs.one`, built by :func:`fa_runs.make_shadow`
    with the default curve, the 10-hour level and the default :class:`fa_runs.CheckSettings`,
    ``--variation`` aside): an emulated board with typical hidden variation, calibrated
    (:func:`twin.shadow.session.calibrate_emulator`), rebooted and shadowed with the passive
    node check at its calibrated default, the detector's per-sample CUSUM increments recorded.
    Its "calibration" CPU is :func:`fa_runs.make_shadow`'s (the calibration and the shadow's
    construction).
``long``
    ``bench_long_shadow.py``'s: a fresh emulator of the seed drifting slowly
    (:func:`twin.board.drift.slow_drift`, :class:`~twin.board.drift.SlowDrift`'s defaults),
    shadowed with the node check every 0.25 s (the CLI's default), shadowed in ``--every``
    board-second pieces as that benchmark does.

Per repeat (one process each run, after a short warm-up that loads the compiled kernels) the
CPU seconds (``time.process_time``) of the calibration and of the shadowing are reported, the
shadowing's per board second; the median over ``--repeats``. ``--record FILE`` writes the
run's results (summary without the wall-clock fields, alarms, every CUSUM increment as a
SHA-256 digest and its largest value, the long path's tracker and node-check figures);
``--compare FILE`` checks them against a recorded run, field by field, exactly (exit 1 on any
difference). The system load (1-minute average) is printed before and after.

Measured 2026-12-07 (2-core VM shared with other agents, 1-minute load 5-10 throughout; old =
ac4085a, new = this branch; numba cache warm in both): false-alarm path, seed 100 x 60 s, three
alternating old/new pairs, one process each: old 0.486 / 0.512 / 0.552, new 0.383 / 0.373 / 0.377
shadow CPU s per board second (medians 0.512 and 0.377: 1.36x); seed 100 x 120 s: old 0.533 /
0.459 (two repeats), new 0.371 / 0.367 / 0.379 (median 0.371), results identical field by field
with the same CUSUM digest. Long path, seed 950 x 120 s: old 0.518 / 0.537 / 0.573, new 0.453 /
0.456 / 0.451 (medians 0.537 and 0.453: 1.18x), identical (617 values, alarms none). Calibration
4-6 CPU s per seed either way. What is left is the event kernel of the two twins (the board's and
the shadow's, 10 kHz sync clock: about 80 % of the shadow's CPU by py-spy), which no change that
keeps the results bit for bit makes several times cheaper.

Measured 2026-12-07 again, on ``fa_runs.one``'s path (with the passive node check; old = c39ce6e,
new = this branch: emulator frames a group at a time, the shadow's hot path trimmed, every
number the same): seed 100 x 60 s, nine alternating old/new pairs, one process each, 1-minute
load 2.4-4.4 (the machine shared with two other jobs, which makes single runs vary by 15 %).
First three pairs (an intermediate commit): old 0.422 / 0.476 / 0.424, new 0.341 / 0.380 /
0.302 shadow CPU s per board second (medians 0.424 and 0.341: 1.24x). The final code, six
pairs: old 0.359 / 0.374 / 0.378 / 0.398 / 0.390 / 0.378, new 0.318 / 0.360 / 0.278 / 0.321 /
0.277 / 0.328 (medians 0.378 and 0.320: 1.18x; pair ratios 1.04-1.41, median 1.20). Every run
identical to the old record field by field (same CUSUM digest, node-check figures). Calibration
(``make_shadow``) 4.1-5.4 CPU s old, 3.3-4.4 new: unchanged in substance (a least-squares SVD
and the board's twin). Long path, seed 950 x 30 s (``--every 10``): old 0.407, new 0.366,
identical. By thread-CPU instrumentation of the final code, a 10 ms poll costs about 3.2 ms of
CPU, of which the two twins' event kernels take 1.6 ms (the board's 0.8 ms at 10 calls, the
shadow's 0.8 ms at one): no change that keeps the results bit for bit makes that part cheaper.

Run (old code exported with ``git archive ac4085a | tar -x -C /tmp/hfa_old``)::

    PYTHONPATH=/tmp/hfa_old nice -n 10 python benchmarks/bench_shadow_cost.py --path long \
        --seed 950 --duration 120 --record /tmp/old_long.json
    nice -n 10 python benchmarks/bench_shadow_cost.py --path long --seed 950 --duration 120 \
        --compare /tmp/old_long.json --repeats 3
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import statistics
import sys
import time
from typing import Any

import numpy as np

from benchmarks.fa_runs import CheckSettings, make_shadow
from twin.board.drift import SlowDrift, slow_drift
from twin.board.inprocess import InProcessBoard
from twin.shadow.alarm_curve import default_false_alarm_curve
from twin.shadow.session import EmulationSpec, calibrate_emulator, make_emulator
from twin.shadow.shadow import Shadow, ShadowConfig

#: Summary entries that depend on the wall clock or the host (not on the model).
WALL_KEYS = ("lag", "wall", "realtime", "rss", "elapsed")
#: Summary entries that are new random ids in every run.
ID_KEYS = ("board_run", "twin_run")


def _deterministic(value: Any) -> Any:
    """``value`` without the wall-clock entries, as JSON would carry it."""
    if isinstance(value, dict):
        return {
            k: _deterministic(v)
            for k, v in value.items()
            if k not in ID_KEYS and not any(w in k.lower() for w in WALL_KEYS)
        }
    if isinstance(value, list | tuple):
        return [_deterministic(v) for v in value]
    if isinstance(value, np.ndarray):
        return _deterministic(value.tolist())
    if isinstance(value, np.floating | np.integer | np.bool_):
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    return value


def _trace_digest(trace: list[np.ndarray]) -> dict[str, Any]:
    digest = hashlib.sha256()
    peak = 0.0
    for inc in trace:
        arr = np.ascontiguousarray(inc, dtype=np.float64)
        digest.update(arr.shape[0].to_bytes(8, "little"))
        digest.update(arr.tobytes())
        if arr.size:
            peak = max(peak, float(np.max(arr)))
    return {"samples": len(trace), "sha256": digest.hexdigest(), "max": peak}


def _alarms(sh: Shadow) -> list[dict[str, Any]]:
    return [
        {
            "t_s": a.start_s,
            "end_s": a.end_s,
            "source": a.source,
            "edges": list(a.edges),
            "nodes": list(a.nodes),
            "likely": list(a.likely),
        }
        for a in sh.alarms
    ]


def _warm_up(seed: int) -> None:
    """Load every compiled kernel of both paths (calibration and shadow) before timing."""
    emu = make_emulator(EmulationSpec(seed=seed))
    result, _ = calibrate_emulator(emu, seed=seed)
    emu.boot(0.0)
    sh = Shadow(InProcessBoard(emu), ShadowConfig(node_every_s=0.25),
                rng=np.random.default_rng([seed, 3]), edges=result.edges,
                spread=result.spread)  # fmt: skip
    sh.run(0.6)
    sh.close()


def run_false_alarms(
    seed: int, duration_s: float, variation: str = "typical"
) -> tuple[dict[str, Any], float, float]:
    """:func:`fa_runs.one`'s path; (results, calibration CPU s, shadow CPU s)."""
    c0 = time.process_time()
    sh = make_shadow(seed, default_false_alarm_curve(), 10.0, CheckSettings(variation=variation))
    c1 = time.process_time()
    sh.detector.trace = []
    summary = sh.run(duration_s)
    sh.close()
    c2 = time.process_time()
    out = {"summary": _deterministic(summary), "alarms": _deterministic(_alarms(sh)),
           "trace": _trace_digest(sh.detector.trace)}  # fmt: skip
    return out, c1 - c0, c2 - c1


def run_long(seed: int, duration_s: float, every_s: float) -> tuple[dict[str, Any], float, float]:
    """``bench_long_shadow.py``'s path; (results, calibration CPU s, shadow CPU s)."""
    c0 = time.process_time()
    spec = EmulationSpec(seed=seed)
    result, _ = calibrate_emulator(make_emulator(spec), seed=seed)
    c1 = time.process_time()
    emu = make_emulator(spec)
    emu.boot(0.0)
    faults = slow_drift(emu.task.network.n_edges, duration_s=duration_s + every_s,
                        drift=SlowDrift(), rng=np.random.default_rng([seed, 11]))  # fmt: skip
    sh = Shadow(InProcessBoard(emu, faults=faults),
                ShadowConfig(false_alarm_hours=10.0, node_every_s=0.25),
                rng=np.random.default_rng([seed, 3]), edges=result.edges,
                spread=result.spread)  # fmt: skip
    sh.detector.trace = []
    rows, done = [], 0.0
    while done < duration_s - 1e-9:
        done = min(done + every_s, duration_s)
        summary = sh.run(done)
        tracker = sh.watch.tracker
        rows.append({
            "board_s": done,
            "summary": _deterministic(summary),
            "gain": _deterministic(np.asarray(tracker.gain)) if tracker is not None else None,
            "drift": _deterministic(np.asarray(tracker.drift_v_per_s))
            if tracker is not None else None,
        })  # fmt: skip
    sh.close()
    c2 = time.process_time()
    out = {"rows": rows, "alarms": _deterministic(_alarms(sh)),
           "trace": _trace_digest(sh.detector.trace)}  # fmt: skip
    return out, c1 - c0, c2 - c1


def _differences(old: Any, new: Any, where: str = "") -> list[str]:
    """Every place ``new`` differs from ``old`` (exactly: floats bit for bit via JSON)."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = [f"{where}.{k}: only in one" for k in sorted(set(old) ^ set(new))]
        for k in sorted(set(old) & set(new)):
            out += _differences(old[k], new[k], f"{where}.{k}")
        return out
    if isinstance(old, list) and isinstance(new, list):
        if len(old) != len(new):
            return [f"{where}: length {len(old)} != {len(new)}"]
        return [d for i, (a, b) in enumerate(zip(old, new, strict=True))
                for d in _differences(a, b, f"{where}[{i}]")]  # fmt: skip
    return [] if old == new else [f"{where}: {old!r} != {new!r}"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--path", choices=("false_alarms", "long"), default="false_alarms")
    ap.add_argument("--seed", type=int, default=100)
    ap.add_argument("--variation", choices=("typical", "lab"), default="typical",
                    help="false_alarms path: the boards' hidden variation")  # fmt: skip
    ap.add_argument("--duration", type=float, default=120.0, help="board seconds shadowed")
    ap.add_argument("--every", type=float, default=60.0, help="long path: board s per piece")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--record", help="write the results (JSON) here")
    ap.add_argument("--compare", help="check the results against this recorded run")
    args = ap.parse_args(argv)
    load0 = os.getloadavg()[0]
    _warm_up(args.seed)
    shadow_cpu, calib_cpu, results = [], [], None
    for _ in range(max(args.repeats, 1)):
        if args.path == "long":
            res, cal, cpu = run_long(args.seed, args.duration, args.every)
        else:
            res, cal, cpu = run_false_alarms(args.seed, args.duration, args.variation)
        if results is not None and res != results:
            for d in _differences(results, res)[:20]:
                sys.stderr.write(f"repeats differ: {d}\n")
            return 1
        results = res
        shadow_cpu.append(cpu)
        calib_cpu.append(cal)
        sys.stderr.write(f"repeat: calibration {cal:.1f} CPU s, shadow {cpu:.1f} CPU s "
                         f"({cpu / args.duration:.4f} per board s)\n")  # fmt: skip
    assert results is not None
    med = statistics.median(shadow_cpu)
    report = {
        "path": args.path, "seed": args.seed, "duration_s": args.duration,
        "shadow_cpu_s": shadow_cpu, "calibration_cpu_s": calib_cpu,
        "shadow_cpu_per_board_s_median": med / args.duration,
        "load_1min": [load0, os.getloadavg()[0]],
        "trace": results["trace"], "alarms": len(results["alarms"]),
    }  # fmt: skip
    print(json.dumps(report))
    if args.record:
        with open(args.record, "w") as fh:
            json.dump(results, fh)
    if args.compare:
        with open(args.compare) as fh:
            old = json.load(fh)
        diffs = _differences(_deterministic(old), json.loads(json.dumps(results)))
        for d in diffs[:20]:
            sys.stderr.write(f"differs: {d}\n")
        print(json.dumps({"compared_with": args.compare, "differences": len(diffs)}))
        return 1 if diffs else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
