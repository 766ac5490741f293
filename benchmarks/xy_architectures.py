"""Seed 003's comparison: which XY architectures learn XOR by equilibrium propagation, and why.

For each network spec and seed: train (XOR, beta 0.1, Adam lr 0.1, 1,000 epochs of the 4 examples,
one random start each, Euler dt 0.1 up to 1,000 steps: the predecessor's baseline), then evaluate
8 random starts per example. Also measured, at the initial and the trained parameters: the output's
linear response to the inputs (``twin.physics.xy.response``; median over examples and starts).
One JSON line per run goes to ``--out``; a table of medians and spreads to stdout.

Usage (run by hand, ~minutes; numbers quoted in the closing notes)::

    PYTHONPATH=. nice -n 10 python benchmarks/xy_architectures.py --seeds 10 --out xy_arch.jsonl
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from twin.learning.ep import EPConfig, free_phase, random_starts
from twin.learning.ep_train import XYTrainConfig, train_xy
from twin.physics.xy.energy import XYParams, init_params
from twin.physics.xy.graph import XYGraph
from twin.physics.xy.relax import RelaxConfig
from twin.physics.xy.response import hop_distance, input_response
from twin.physics.xy.spec import graph_from_spec
from twin.physics.xy.tasks import XYTask, xor

SPECS = [
    "all:6",
    "layered:2,4,1",
    "lattice:5x5",
    "lattice:5x5:skip=2",
    "lattice:5x5:skip=3",
    "lattice:5x5:skip=4",
    "lattice:5x5:tri",
    "lattice:5x5:io=sides",
    "lattice:3x3",
    "lattice:4x4",
    "lattice:3x3:io=sides",
    "lattice:4x4:io=sides",
]


def _response(
    graph: XYGraph, p: XYParams, task: XYTask, rng: np.random.Generator
) -> tuple[float, float]:
    """Median output response over the examples and 8 random starts, and the output's spread
    over the starts (circular standard deviation of its phase, radians, mean over examples):
    how much the equilibrium the output ends in depends on the start (multistability)."""
    starts = 8
    batch = random_starts(graph, task.x_train, task.y_train, task.labels_train, starts, rng)
    free = free_phase(graph, p, batch.phi0, EPConfig())
    chi = input_response(graph, p, free.phi)[:, graph.outputs]
    out = free.phi[:, graph.outputs[0]].reshape(starts, -1)  # (starts, examples)
    resultant = np.abs(np.exp(1j * out).mean(axis=0))
    spread = np.sqrt(-2 * np.log(np.clip(resultant, 1e-12, 1)))
    return float(np.median(np.linalg.norm(chi, axis=1))), float(spread.mean())


def run_one(spec: str, seed: int, epochs: int, symmetric: bool, max_steps: int = 1000) -> dict:
    task = xor()
    graph = graph_from_spec(spec, task.n_in, task.n_out)
    rng = np.random.default_rng(seed)
    p0 = init_params(graph, rng)
    chi0, spread0 = _response(graph, p0, task, np.random.default_rng(seed + 1000))
    relax = RelaxConfig(max_steps=max_steps)
    config = XYTrainConfig(epochs=epochs, ep=EPConfig(symmetric=symmetric, relax=relax))
    cpu0 = time.process_time()
    result = train_xy(graph, task, config, rng, params0=p0)
    cpu_s = time.process_time() - cpu0
    chi1, spread1 = _response(graph, result.params, task, np.random.default_rng(seed + 2000))
    return {
        "spec": spec,
        "seed": seed,
        "symmetric": symmetric,
        "max_steps": max_steps,
        "converged_train": float(np.mean(result.history.get("converged_fraction", [np.nan]))),
        "couplings": graph.n_edges,
        "out_hops": int(hop_distance(graph)[graph.outputs].min()),
        "accuracy": result.test.accuracy,
        "loss": result.test.loss,
        "loss_first": result.history["loss"][0] if epochs else None,
        "chi_out_init": chi0,
        "chi_out_trained": chi1,
        "spread_out_init": spread0,
        "spread_out_trained": spread1,
        "cpu_ms_per_epoch": 1e3 * cpu_s / max(epochs, 1),
        "converged": result.test.converged,
    }


def _table(rows: list[dict]) -> None:
    specs = list(dict.fromkeys((r["spec"], r["symmetric"], r.get("max_steps", 1000))
                               for r in rows))  # fmt: skip
    print(f"{'network':26s} {'sym':>3s} {'steps':>5s} {'conv':>4s} {'E':>4s} {'hops':>4s} "
          f"{'acc med [min,max]':>20s} "
          f"{'learned':>8s} {'chi_out init->trained':>22s} {'spread init->trained':>21s} "
          f"{'ms/ep':>6s}")  # fmt: skip
    for spec, sym, steps in specs:
        rs = [r for r in rows if (r["spec"], r["symmetric"], r.get("max_steps", 1000))
              == (spec, sym, steps)]  # fmt: skip
        acc = np.array([r["accuracy"] for r in rs])
        learned = int((acc >= 0.95).sum())
        chi0 = np.median([r["chi_out_init"] for r in rs])
        chi1 = np.median([r["chi_out_trained"] for r in rs])
        ms = np.median([r["cpu_ms_per_epoch"] for r in rs])
        sp0 = np.median([r.get("spread_out_init", np.nan) for r in rs])
        sp1 = np.median([r.get("spread_out_trained", np.nan) for r in rs])
        conv = np.median([r.get("converged_train", np.nan) for r in rs])
        print(f"{spec:26s} {'y' if sym else 'n':>3s} {steps:5d} {conv:4.2f} "
              f"{rs[0]['couplings']:4d} "
              f"{rs[0]['out_hops']:4d} {np.median(acc):8.3f} [{acc.min():.2f},{acc.max():.2f}] "
              f"{learned:4d}/{len(rs):<3d} {chi0:10.2e}->{chi1:9.2e} {sp0:10.2f}->{sp1:9.2f} "
              f"{ms:6.2f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--seed0", type=int, default=0, help="first seed")
    parser.add_argument("--epochs", type=int, default=1000)
    parser.add_argument("--specs", nargs="*", default=SPECS)
    parser.add_argument("--symmetric", action="store_true")
    parser.add_argument("--max-steps", type=int, default=1000, help="Euler steps per phase")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--table-only", action="store_true", help="tabulate --out, run nothing")
    args = parser.parse_args()
    if args.table_only and args.out is not None:
        _table([json.loads(line) for line in args.out.read_text().splitlines()])
        return
    rows = []
    total = len(args.specs) * args.seeds
    t0 = time.perf_counter()
    for spec in args.specs:
        for seed in range(args.seed0, args.seed0 + args.seeds):
            row = run_one(spec, seed, args.epochs, args.symmetric, args.max_steps)
            rows.append(row)
            if args.out is not None:
                with args.out.open("a") as fh:
                    fh.write(json.dumps(row) + "\n")
            done = len(rows)
            eta = (time.perf_counter() - t0) / done * (total - done)
            print(f"[{done}/{total}] {spec} seed {seed}: accuracy {row['accuracy']:.2f} "
                  f"(ETA {eta:.0f} s)", flush=True)  # fmt: skip
    _table(rows)


if __name__ == "__main__":
    main()
