"""Calibration bias against an emulated board's hidden truth, over seeds.

For each seed an emulated board with typical hidden variation (5 % gains, 20 mV thresholds,
10 % capacitors, 20-200 s leaks, comparator offsets) is recorded and calibrated
(:func:`twin.shadow.session.calibrate_emulator`: 6 one-second training episodes from random
gates, the last 2 held out). Reported per seed and as mean +- sd over seeds:

- gain bias: mean over fitted edges of ``fit / hidden - 1`` of ``a / C`` (what the gate sees),
  free and clamped channels, and its RMS;
- threshold bias: mean of ``fit - hidden`` (V) and RMS;
- drift bias: the constant gate drift at 3 V, ``(v_rest - 3) / tau`` (V/s), fitted minus hidden;
- held-out gate prediction RMS (V) of the nominal, calibrated and hidden-parameter twins.

Run: ``nice -n 10 python benchmarks/bench_calibration.py --seeds 10 [--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from twin.shadow.session import EmulationSpec, calibrate_emulator, make_emulator

V_REF = 3.0


def _drift(tau_s: np.ndarray, v_rest_v: np.ndarray) -> np.ndarray:
    tau = np.asarray(tau_s, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(np.isfinite(tau), (np.asarray(v_rest_v) - V_REF) / tau, 0.0)


def one(seed: int) -> dict[str, float]:
    emu = make_emulator(EmulationSpec(seed=seed))
    n = emu.task.network.n_edges
    truth = emu.edges.columns(n)
    hidden = emu.hidden
    result, report = calibrate_emulator(emu, seed=seed)
    fit = result.fitted
    ok = np.asarray(fit["dynamics_fitted"], dtype=bool)
    nominal_c = 2.2e-6
    out: dict[str, float] = {"seed": float(seed), "edges_fitted": float(ok.sum())}
    for key, name in (("a_free_per_v", "free"), ("a_clamp_per_v", "clamp")):
        rel = (fit[key][ok] / nominal_c) / (hidden[key][ok] / hidden["c_gate_f"][ok]) - 1.0
        out[f"gain_{name}_bias"] = float(np.mean(rel))
        out[f"gain_{name}_rms"] = float(np.sqrt(np.mean(rel**2)))
        out[f"gain_{name}_worst"] = float(rel[np.argmax(np.abs(rel))])
    dvt = fit["v_t_v"] - hidden["v_t_v"]
    out["threshold_bias_v"] = float(np.mean(dvt))
    out["threshold_rms_v"] = float(np.sqrt(np.mean(dvt**2)))
    d_fit = _drift(fit["tau_leak_s"], fit["v_rest_v"])[ok]
    d_true = _drift(truth["tau_leak_s"], truth["v_rest_v"])[ok]
    out["drift_bias_v_per_s"] = float(np.mean(d_fit - d_true))
    out["drift_rms_v_per_s"] = float(np.sqrt(np.mean((d_fit - d_true) ** 2)))
    out["drift_true_rms_v_per_s"] = float(np.sqrt(np.mean(d_true**2)))
    out["tau_min_fitted_s"] = float(np.min(fit["tau_leak_s"]))
    for twin in ("nominal", "calibrated", "hidden"):
        out[f"pred_gate_rms_{twin}_v"] = report["prediction"][twin]["gate_rms_v"]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--json", default=None, help="write per-seed rows and the summary here")
    args = ap.parse_args(argv)
    rows = []
    t0 = time.perf_counter()
    for i, seed in enumerate(range(args.first_seed, args.first_seed + args.seeds)):
        rows.append(one(seed))
        done = time.perf_counter() - t0
        eta = done / (i + 1) * (args.seeds - i - 1)
        sys.stderr.write(f"seed {seed}: done {i + 1}/{args.seeds}, ETA {eta:.0f} s\n")
    keys = [k for k in rows[0] if k != "seed"]
    summary = {
        k: {"mean": float(np.mean([r[k] for r in rows])), "sd": float(np.std([r[k] for r in rows]))}
        for k in keys
    }
    for k, v in summary.items():
        sys.stdout.write(f"{k:28s} {v['mean']:+.4g} +- {v['sd']:.2g}\n")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"rows": rows, "summary": summary}, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
