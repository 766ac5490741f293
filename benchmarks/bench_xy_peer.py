"""XY EP epochs side by side with the predecessor's JAX code (chaganbajala/XY_EqProp), this CPU.

The predecessor is NOT part of this repository and the project never imports JAX: fetch the
peer yourself (a checkout of chaganbajala/XY_EqProp; measured at commit b250627), make a JAX
environment of its own (``python3 -m venv /tmp/jaxenv && /tmp/jaxenv/bin/pip install jax jaxlib
numpy diffrax``) and pass its Python and the checkout. ``benchmarks/xy_peer_worker.py`` runs in
that environment as a subprocess (one per solver), executes the peer's own code from the
checkout and times its epochs; see its docstring for exactly what a peer epoch is.

Cases, with the same settings on both sides (beta 0.1, Euler dt 0.1, 1,000 steps per phase):
XOR (the 4 examples, one random start each) on all:6 and on lattice:5x5 (inputs at (0, 0) and
(0, 1), output (4, 4), as the peer's lattice), and one batch of 20 random examples on a layered
[784, 10] network (the compute of one MNIST batch of 20; MNIST is not shipped).

Rows per case: ours with a fixed 1,000 steps per phase (``tol`` 1e-300: the peer's fixed-step
equivalent) and with convergence detection (``tol`` 1e-6, at most 1,000 steps: our default);
the peer with Euler (1,000 steps of 0.1, through its diffrax call) and, with ``--tsit5``, with
its own adaptive Tsit5 (its notebook's and main.py's tolerances). An epoch is what each side's
training loop does per step: random starts, free and nudged phases, the EP gradient, the
update (ours: Adam; the peer: its notebook's update for that network); ours run as
``train_xy`` runs them, up to 100 epochs per call of the compiled epoch kernel. JIT compile
time is excluded on both sides (warm-up epochs first).

Both sides run the same epochs (``--epochs`` per block, the training going on from block to
block): our time per epoch depends on the training state (so does the peer's Tsit5's; its
Euler's does not). On XOR at lr 0.1, after about 7,000 epochs the couplings grow to |w| ~
10-30, Euler steps of 0.1 turn phases by more than ``SMALL_ANGLE`` (cos and sin recomputed) and
an epoch costs 3-7x more (measured: 0.15 ms at epochs 0-6,000, 0.5-1.1 ms at 9,000-20,000 on
all:6); blocks that ran on for a fixed CPU time had measured that regime against the peer's
first hundreds of epochs.

The machine is shared (other jobs load both cores), so: the sides are interleaved (per case
and repeat: ours fixed, peer Euler, ours tol, peer Tsit5), the time is process CPU time (all
threads of the process; XLA may use both cores), wall time is shown too, and the figures are
medians over ``--repeats`` with [min, max]. Ratios: the peer's CPU median (Euler; Tsit5) over
the row's.

    PYTHONPATH=. nice -n 10 python benchmarks/bench_xy_peer.py \\
        --peer-python /tmp/jaxenv/bin/python --peer-dir /tmp/xypeer/XY_EqProp [--tsit5]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from twin.learning.ep import EPConfig
from twin.learning.ep_train import XYTrainConfig
from twin.learning.xy_epochs import XYEpochs
from twin.physics.xy.energy import init_params
from twin.physics.xy.graph import XYGraph
from twin.physics.xy.relax import RelaxConfig
from twin.physics.xy.spec import graph_from_spec
from twin.physics.xy.tasks import XYTask, xor

WORKER = Path(__file__).with_name("xy_peer_worker.py")


class _Ours:
    """Our epochs of one case, as ``train_xy`` runs them: the compiled epochs of
    :class:`~twin.learning.xy_epochs.XYEpochs` (random starts drawn per call, free and nudged
    phases, the EP estimate and the Adam update), up to 100 epochs per call."""

    def __init__(self, spec: str, n_in: int, n_out: int, x: np.ndarray, y: np.ndarray,
                 labels: np.ndarray, tol: float) -> None:  # fmt: skip
        graph: XYGraph = graph_from_spec(spec, n_in, n_out)
        self.rng = np.random.default_rng(0)
        task = XYTask(name=spec, x_train=x, y_train=y, labels_train=labels, x_test=x, y_test=y,
                      labels_test=labels)  # fmt: skip
        ep = EPConfig(beta=0.1, relax=RelaxConfig(dt=0.1, max_steps=1000, tol=tol))
        cfg = XYTrainConfig(ep=ep, lr=0.1)
        self.state = XYEpochs(graph, task, cfg, init_params(graph, self.rng))
        self.epochs(1)  # warm-up: load the compiled kernel

    def epochs(self, n: int) -> None:
        while n > 0:
            k = min(n, self.state.chunk)
            self.state.run(np.zeros(k, dtype=bool), self.rng)
            n -= k

    def time(self, epochs: int, min_cpu_s: float) -> dict[str, float]:
        cpu0, wall0, n = time.process_time(), time.perf_counter(), 0
        while n < epochs or time.process_time() - cpu0 < min_cpu_s:
            self.epochs(epochs)
            n += epochs
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        return {"cpu_ms": cpu / n * 1e3, "wall_ms": wall / n * 1e3}


class _Peer:
    """One worker process (one solver) in the peer's JAX environment."""

    def __init__(self, python: str, peer_dir: str, solver: str) -> None:
        cmd = [python, str(WORKER), "--peer-dir", peer_dir, "--solver", solver]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)  # fmt: skip

    def time(self, case: str, epochs: int) -> dict[str, Any]:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"case": case, "epochs": epochs}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"peer worker ({case}) ended without an answer; see its stderr")
        return dict(json.loads(line))

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def _stats(values: list[float]) -> tuple[float, float, float]:
    return float(np.median(values)), float(min(values)), float(max(values))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer-python", required=True, help="Python of the JAX environment")
    parser.add_argument("--peer-dir", required=True, help="checkout of chaganbajala/XY_EqProp")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=100, help="XOR epochs per timed block")
    parser.add_argument("--big-epochs", type=int, default=2, help="784 epochs per peer block")
    parser.add_argument("--min-cpu-s", type=float, default=0.0,
                        help="our blocks run on (whole blocks) until this much CPU time "
                             "(default 0: the same epochs as the peer)")  # fmt: skip
    parser.add_argument("--tsit5", action="store_true", help="also the peer's Tsit5")
    parser.add_argument("--cases", default="all6,lattice5,layered784")
    parser.add_argument("--json", type=Path, help="write every timed block here")
    args = parser.parse_args()

    task = xor()
    rng = np.random.default_rng(1)
    x784 = rng.uniform(-np.pi / 2, np.pi / 2, (20, 784))
    lab = rng.integers(0, 10, 20)
    y784 = np.where(np.arange(10) == lab[:, None], np.pi / 2, -np.pi / 2)
    xor_data = (task.x_train, task.y_train, task.labels_train)
    cases = {
        "all6": ("all:6 XOR", "all:6", 2, 1, xor_data, args.epochs),
        "lattice5": ("lattice:5x5 XOR", "lattice:5x5", 2, 1, xor_data, args.epochs),
        "layered784": ("layered:784,10 batch 20", "layered:784,10", 784, 10,
                       (x784, y784, lab), args.big_epochs),
    }  # fmt: skip
    solvers = ["euler", "tsit5"] if args.tsit5 else ["euler"]
    peers = {s: _Peer(args.peer_python, args.peer_dir, s) for s in solvers}
    blocks: list[dict[str, Any]] = []
    rows = []
    try:
        for key in args.cases.split(","):
            name, spec, n_in, n_out, (x, y, labels), epochs = cases[key]
            ours = {label: _Ours(spec, n_in, n_out, x, y, labels, tol)
                    for label, tol in (("fixed 1000", 1e-300), ("tol 1e-6", 1e-6))}  # fmt: skip
            got: dict[str, list[dict[str, Any]]] = {}
            for r in range(args.repeats):
                order = [("ours", "fixed 1000"), ("peer", "euler"), ("ours", "tol 1e-6"),
                         ("peer", "tsit5")]  # fmt: skip
                for side, label in order:
                    if side == "ours":
                        res: dict[str, Any] = ours[label].time(epochs, args.min_cpu_s)
                    elif label in peers:
                        res = peers[label].time(key, epochs)
                    else:
                        continue
                    res.update(case=key, side=side, relaxation=label, repeat=r)
                    blocks.append(res)
                    got.setdefault(f"{side} {label}", []).append(res)
                    print(
                        f"  {name} r{r} {side} {label}: cpu {res['cpu_ms']:.3f} ms, "
                        f"wall {res['wall_ms']:.3f} ms",
                        file=sys.stderr,
                        flush=True,
                    )
            peer_cpu = {s: _stats([b["cpu_ms"] for b in got[f"peer {s}"]])[0] for s in solvers}
            for row, res_list in got.items():
                cpu = _stats([b["cpu_ms"] for b in res_list])
                wall = _stats([b["wall_ms"] for b in res_list])
                rows.append((name, row, cpu, wall, [peer_cpu[s] / cpu[0] for s in solvers]))
    finally:
        for peer in peers.values():
            peer.close()
    heads = "".join(f" {'peer ' + s + ' / row':>17s}" for s in solvers)
    print(f"{'case':24s} {'side / relaxation':18s} {'CPU ms/epoch median [min, max]':>34s} "
          f"{'wall ms/epoch':>14s}{heads}")  # fmt: skip
    for name, row, cpu, wall, ratios in rows:
        span = f"{cpu[0]:.3f} [{cpu[1]:.3f}, {cpu[2]:.3f}]"
        cols = "".join(f" {r:16.1f}x" for r in ratios)
        print(f"{name:24s} {row:18s} {span:>34s} {wall[0]:14.3f}{cols}")
    if args.json:
        args.json.write_text(json.dumps(blocks, indent=1))


if __name__ == "__main__":
    main()
