"""Extract the lab's 4 x 4 regression cycle and its measured curves from its run files (issue 23).

Not part of the package and not run by the tests: it needs the MATLAB-object reader ``mat-io``
(``pip install mat-io`` in a throwaway venv, never in the project's) and the run files
``experiment_memorycyclewhole_A_06_*.mat`` of maguzj/imperfect-learning-physical-systems (MIT
licence; commit c909cb5, ``big network/Experiments.zip``). Writes the values the project needs:

- ``twin/data/clln/lab-regression-cycle.json``: the cycle's settings (nodes, the two training
  points' sources and targets on the 0-1 node scale, eta, step, the scalings), checked equal in
  every run file (a file without measurements is skipped, as the lab's code skips it);
- ``twin/data/clln/lab-regression-curves.csv``: one row per run file, the half period ``k`` in
  steps, tau, the error floor and the cycle span D (and the run's length in learning time),
  computed as the lab's
  ``big network/ExperimentGroup.m`` does for its ``makeFig1.m`` (``endvec = -40:-1``: the last
  40 measurements; pairs of measurements half a period apart starting on a multiple of the half
  period; ``DELTAERRTRAIN``, the mean of ``sum(TrainMSE) x NODEMULT^2`` over the pairs;
  ``DELTAG``, ``sqrt`` of the mean over pairs of the sum of ``dG^2`` over its gate map, in which
  ``Experiment2.capacitors`` writes every edge into two cells, so ``DELTAG = sqrt(2) x`` the norm
  over the 32 edges, also written).

``--gates`` also prints, per run, the gate voltages (mean of the last 40 measurements) and each
gate's share of D^2, and how much of D^2 the gates below 1.4 V or above 4.6 V carry.

Run (a venv with mat-io):
``/tmp/matvenv/bin/python benchmarks/extract_lab_regression_cycle.py DIR [--out twin/data/clln]``.
"""

from __future__ import annotations

import argparse
import csv
import json
import pathlib

import numpy as np

STEM = "experiment_memorycyclewhole_A_06_"
LAST = 40  # makeFig1.m: endvec = -40:-1 for this cycle


def _props(path: pathlib.Path) -> dict:
    from matio import load_from_mat  # only in the throwaway venv

    return load_from_mat(str(path))["experiment"].properties


def _scalar(p: dict, key: str) -> float:
    return float(np.asarray(p[key]).ravel()[0])


def _gates_v(p: dict) -> np.ndarray:
    """Gate voltages per measurement, (MES, 32): 16 horizontal then 16 vertical, V."""
    h = np.asarray(p["HorizontalCapacitors"], dtype=float)
    v = np.asarray(p["VerticalCapacitors"], dtype=float)
    mes = h.shape[2]
    return _scalar(p, "GATEMULT") * np.concatenate([h.reshape(16, mes), v.reshape(16, mes)]).T


def cycle_numbers(p: dict) -> dict:
    """The lab's floor and span of one run (ExperimentGroup.m, its regression branch)."""
    trainidx = np.asarray(p["TRAINIDX"], dtype=float).ravel()
    if len(np.unique(trainidx)) != 1 or trainidx[0] >= 0:
        raise ValueError("not a fixed alternation")
    half = int(-trainidx[0])  # TAU in ExperimentGroup.m: steps per half period (GRU 1)
    dotest = np.asarray(p["DOTEST"], dtype=float).ravel()
    mes = int(_scalar(p, "MES"))
    err = np.asarray(p["TrainMSE"], dtype=float).sum(axis=0) * _scalar(p, "NODEMULT") ** 2
    gates = _gates_v(p)
    avg = np.arange(mes - LAST, mes)  # 0-based of MATLAB's MES + (-40:-1)
    steps = dotest[avg] - 1
    avg = avg[steps == np.round(steps / half) * half]
    used: set[int] = set()
    d2, errs, edges = [], [], []
    for ks in avg:
        hit = np.flatnonzero(dotest == dotest[ks] + half)
        if hit.size == 0:
            continue
        pair = (int(hit[0]), int(ks)) if dotest[ks] % (2 * half) == 1 else (int(ks), int(hit[0]))
        if pair[0] in used or pair[1] in used:
            continue
        used.update(pair)
        edges.append((gates[pair[1]] - gates[pair[0]]) ** 2)
        d2.append(float(np.sum(edges[-1])))
        errs.append(float(err[list(pair)].sum() / 2))
    if not d2:
        raise ValueError("no pair half a period apart in the last 40 measurements")
    step_s = _scalar(p, "ALF") * _scalar(p, "DUP") / 1e6
    norm = float(np.sqrt(np.mean(d2)))
    return {
        "half_period_steps": half,
        "tau_s": 2 * half * step_s,
        "floor_v2": float(np.mean(errs)),
        "span_d_v": float(np.sqrt(2) * norm),
        "span_norm_v": norm,
        "pairs": len(d2),
        "measurements": mes,
        "run_s": float(dotest[-1] * step_s),
        # --gates: where the span lives (gates within 0.4 V of the ends of the observed range)
        "gates_v": gates[-LAST:].mean(axis=0),
        "edge_d2_v2": np.mean(edges, axis=0),  # steps learned in the whole run (DOTEST's last)
    }


def _gate_text(gates_v: np.ndarray, edge_d2_v2: np.ndarray) -> str:
    pairs = sorted(zip(gates_v, edge_d2_v2, strict=True))
    return " ".join(f"{g:.2f}: {d * 1e6:.0f}" for g, d in pairs)


def cycle_settings(p: dict) -> dict:
    """The settings the project copies, on the 0-1 node scale (NODEMULT V per unit)."""
    train = np.asarray(p["TRAIN"], dtype=float)
    sor = int(_scalar(p, "SOR"))
    size = np.asarray(p["NSIZE"], dtype=float).ravel().astype(int)
    sloc = np.asarray(p["SLOC"], dtype=int).reshape(-1, 2)
    tloc = np.asarray(p["TLOC"], dtype=int).reshape(-1, 2)
    return {
        "network": f"{size[0]}x{size[1]}",
        "periodic": [bool(x) for x in np.asarray(p["ISPERIODIC"]).ravel()],
        "source_rc": sloc.tolist(),
        "target_rc": tloc.tolist(),
        "source_nodes": (sloc[:, 0] * size[1] + sloc[:, 1]).tolist(),
        "target_nodes": (tloc[:, 0] * size[1] + tloc[:, 1]).tolist(),
        "points_sources": np.round(train[:sor].T, 6).tolist(),
        "points_targets": np.round(train[sor:].T, 6).tolist(),
        "outputs_as_difference": bool(_scalar(p, "DEL") > 0),
        "eta": _scalar(p, "ETA"),
        "step_us": _scalar(p, "ALF") * _scalar(p, "DUP"),
        "node_full_scale_v": _scalar(p, "NODEMULT"),
        "gate_full_scale_v": _scalar(p, "GATEMULT"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", type=pathlib.Path)
    ap.add_argument("--out", type=pathlib.Path, default=pathlib.Path("twin/data/clln"))
    ap.add_argument("--gates", action="store_true", help="print where each run's span lives")
    args = ap.parse_args()
    files = sorted(args.dir.glob(STEM + "*.mat"))
    rows, settings = [], None
    skipped = []
    for f in files:
        p = _props(f)
        if np.size(p["TrainMSE"]) == 0:  # ExperimentGroup.m skips an empty run the same way
            skipped.append(f.name)
            continue
        s = cycle_settings(p)
        if settings is None:
            settings = s
        elif s != settings:
            raise SystemExit(f"{f.name}: settings differ from the first file's")
        numbers = cycle_numbers(p)
        gates, edge_d2 = numbers.pop("gates_v"), numbers.pop("edge_d2_v2")
        rows.append({"file_date": f.stem.removeprefix(STEM), **numbers})
        print(f.name, rows[-1])
        if args.gates:
            near = (gates < 1.4) | (gates > 4.6)
            print(
                f"  tau {numbers['tau_s']:g} s: {near.sum()} of {gates.size} gates below 1.4 V or "
                f"above 4.6 V, carrying {edge_d2[near].sum() / edge_d2.sum():.2f} of D^2; gates "
                f"(V: mean dG^2 in mV^2) {_gate_text(gates, edge_d2)}"
            )
    if settings is None:
        raise SystemExit(f"no {STEM}*.mat in {args.dir}")
    rows.sort(key=lambda r: (r["half_period_steps"], r["file_date"]))
    seen: dict[int, int] = {}
    for r in rows:
        r["replicate"] = seen[r["half_period_steps"]] = seen.get(r["half_period_steps"], 0) + 1
    settings["source"] = (
        f"maguzj/imperfect-learning-physical-systems c909cb5, {len(files)} files {STEM}*.mat"
    )
    settings["skipped_files_without_data"] = skipped
    (args.out / "lab-regression-cycle.json").write_text(json.dumps(settings, indent=1) + "\n")
    cols = [
        "half_period_steps",
        "tau_s",
        "replicate",
        "floor_v2",
        "span_d_v",
        "span_norm_v",
        "pairs",
        "measurements",
        "run_s",
        "file_date",
    ]
    with open(args.out / "lab-regression-curves.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({c: (f"{r[c]:.6g}" if isinstance(r[c], float) else r[c]) for c in cols})


if __name__ == "__main__":
    main()
