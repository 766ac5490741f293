"""Springs side by side with the public reference jandrejevic12/physical_learning: wall time to a
normalised target-strain error ``L / L0 <= 1e-3`` at N = 27, on the same networks and tasks.

The reference is NOT part of this repository: fetch it yourself, install its dependencies
(networkx, tqdm, vapory, cmocean, poisson-disc) in an environment of its own and pass the folder
that holds ``packing_utils.py`` with ``--peer``; this script imports it from there (its plotting
import of scikit-image is replaced by an empty module; nothing it plots is used).

Per task (``--tasks``, seeds 0, 1, ...):

1. network: the reference's own packing generator (``Packing(27, Rf=--rf)``; its default ``Rf``
   gives floppy contact networks at N = 27, ``Rf = 0.1`` rigid ones of about 78 bonds), open
   boundaries, optionally pruned by our ``prune_to_coordination`` to ``--z`` (rigidity kept);
   floppy packings are skipped; one network for both sides;
2. task: our ``allostery_strain_task`` on it (2 source bonds at strain +-0.2, 2 target bonds at
   +-0.05 or +-0.03, pins of ``--pin`` N/m); the reference gets the same bonds as source and
   target pairs (the bonds are kept, as ours; its ``add_sources`` would remove them), the same
   strains and pin stiffness;
3. ours: ``twin.learning.trainer`` (linear response, compiled), stiffnesses from 1 N/m, eta 1e-3,
   each learning rate of ``--alpha``, early stop at ``1e-3 L0`` (L0 at the initial stiffnesses),
   at most 5e5 updates; timed after one warm-up run of the same task;
4. reference: ``Allosteric.solve`` relaxes the free state (untimed), then trains stiffnesses by
   coupled learning (free, clamped and stiffness dynamics as one ODE, LSODA, its default
   tolerances and drag/dashpot), eta ``--peer-eta``, each learning rate of ``--peer-alpha``
   (its alpha is a rate per unit of its time). Its right-hand side is wrapped: the first
   evaluation (at a time beyond all earlier ones) whose free state has ``L <= 1e-3 L0`` stops
   the run, and the wall and CPU time to that evaluation are recorded (NaN past ``--cap-s``).
   Its numba functions are compiled by a warm-up run first.

Both sides' learning rates are scanned because each converges faster with a larger rate until it
fails; the summary compares each side's best rate (lowest median among those that reach 1e-3
on every task). The two sides differ in their physics: ours is the linear response about the
unstrained network (the fast path), the reference integrates the full nonlinear dynamics, so
the trained networks differ at strain 0.2 (README, springs section).

Run: ``PYTHONPATH=. nice -n 10 <peer-env>/bin/python benchmarks/bench_springs_peer.py --peer
/tmp/peer19/physical_learning``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import time
import types
from typing import Any

import numpy as np

from twin.learning.rules import LearningRule
from twin.learning.trainer import TrainConfig, Trainer, train
from twin.physics.springs.network import SpringNetwork, floppy_modes, prune_to_coordination
from twin.physics.springs.task import SpringTask, allostery_strain_task

N_NODES = 27


def _import_peer(path: str) -> tuple[Any, Any, Any]:
    sys.modules.setdefault("skimage", types.SimpleNamespace(filters=None))  # type: ignore[arg-type]
    sys.path.insert(0, path)
    import networkx as nx  # the reference's dependency
    from allosteric_utils import Allosteric
    from packing_utils import Packing

    return nx, Packing, Allosteric


def _network(packing_cls: Any, seed: int, rf: float, z: float) -> SpringNetwork | None:
    params = {"radial": 0.1, "rate": 0.0005, "drag": 0.05, "contact": 0.1, "Rf": rf, "Ri": None}
    pack = packing_cls(N_NODES, rfac=0.8, seed=seed, params=params)
    with contextlib.redirect_stderr(io.StringIO()):
        pack.generate()
    g = pack.graph
    pos = np.array([g.nodes[i]["pos"][:2] for i in range(g.number_of_nodes())])
    net = SpringNetwork(
        positions=pos,
        edges=np.array(list(g.edges()), dtype=np.int64),
        rest_lengths=np.linalg.norm(np.diff(pos[np.array(list(g.edges()))], axis=1)[:, 0], axis=1),
        name=f"peer-packing:{seed}",
    )
    if floppy_modes(net):
        return None
    return prune_to_coordination(net, z, np.random.default_rng(seed))


def _ours(task: SpringTask, alpha: float) -> tuple[float, float, int, bool]:
    rule = LearningRule(alpha=alpha, eta=1e-3)
    trainer = Trainer([task], TrainConfig(rule=rule))
    err0 = float(trainer.evaluate(trainer.k0)["error"][0])
    cfg = TrainConfig(steps=500_000, stop_tol=1e-3 * err0, n_records=2, rule=rule)
    train([task], cfg)  # warm-up (numba cache load)
    t0, c0 = time.perf_counter(), time.process_time()
    res = train([task], cfg)
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    return dt, dc, int(res.steps_done[0]), bool(res.error_final[0] <= 1e-3 * err0)


class _Peer:
    """The reference's Allosteric network on our network and task."""

    def __init__(self, nx: Any, allosteric_cls: Any, task: SpringTask, pin: float) -> None:
        self.nx, self.cls, self.task, self.pin = nx, allosteric_cls, task, pin

    def fresh(self) -> Any:
        net = self.task.network
        g = self.nx.Graph()
        for i, (x, y) in enumerate(net.positions):
            g.add_node(i, pos=np.array([x, y, 0.0]))
        for (i, j), rest in zip(net.edges, net.rest_lengths, strict=True):
            g.add_edge(int(i), int(j), stiffness=1.0, length=float(rest), trainable=True)
        params = {"rfac": 0.05, "drag": 0.01, "dashpot": 10.0, "stiffness": 1.0}
        allo = self.cls(g, dim=2, params=params)
        for kind, bonds in (("sources", self.task.sources), ("targets", self.task.targets)):
            for b in bonds:
                i, j = (int(v) for v in net.edges[b])
                pair = {"i": i, "j": j, "length": float(net.rest_lengths[b]), "phase": 1}
                getattr(allo, kind).append(pair)
        # relax the free state (sources strained, targets free: a zero strain applies no pin)
        allo.solve(duration=1e3, frames=1, T=0, applied_args=self._args(free=True), pbar=False)
        return allo

    def _args(self, free: bool = False) -> tuple[list[float], list[float], float]:
        src = self.task.source_strains[0].tolist()
        tgt = self.task.target_strains[0] * (0.0 if free else 1.0)
        return src, tgt.tolist(), self.pin

    def error(self, allo: Any, traj: np.ndarray) -> np.ndarray:
        """``L`` of each frame of a free-state trajectory ``(F, n, 3)``."""
        err = np.zeros(traj.shape[0])
        for t, want in zip(allo.targets, self.task.target_strains[0], strict=True):
            d = np.linalg.norm(traj[:, t["i"]] - traj[:, t["j"]], axis=1)
            err += ((d - t["length"]) / t["length"] - want) ** 2
        return err

    def run(self, allo: Any, duration: float, frames: int, alpha: float, eta: float) -> Any:
        return allo.solve(
            duration=duration, frames=frames, T=0, applied_args=self._args(), train=2,
            method="learning", eta=eta, alpha=alpha, vmin=1e-3, vmax=10.0, pbar=False,
        )  # fmt: skip


class _Stop(Exception):
    pass


def _peer_time(
    peer: _Peer, alpha: float, eta: float, cap_s: float, max_duration: float
) -> tuple[float, float]:
    """Wall and CPU seconds until the reference's free state first has ``L <= 1e-3 L0``; NaN if not
    within ``cap_s`` s of wall time or ``max_duration`` of its time.

    The reference's right-hand side is wrapped: at every evaluation that advances its time, the
    free state's target strains give ``L``; the first at or below ``1e-3 L0`` stops the run.
    """
    allo = peer.fresh()
    err0 = float(peer.error(allo, allo.pts[None])[0])
    n = allo.n
    inner = allo._ff
    state = {"t": -1.0, "hit": float("nan"), "cpu": float("nan")}
    t0, c0 = time.perf_counter(), time.process_time()

    def ff(t: float, q: np.ndarray, *args: Any) -> np.ndarray:
        if t > state["t"]:
            state["t"] = t
            if peer.error(allo, q[: 3 * n].reshape(1, n, 3))[0] <= 1e-3 * err0:
                state["hit"] = time.perf_counter() - t0
                state["cpu"] = time.process_time() - c0
                raise _Stop
        if time.perf_counter() - t0 > cap_s:
            raise _Stop
        return inner(t, q, *args)

    allo._ff = ff
    t0, c0 = time.perf_counter(), time.process_time()
    with contextlib.suppress(_Stop):
        peer.run(allo, max_duration, 1, alpha, eta)
    return state["hit"], state["cpu"]


def _summary(name: str, vals: list[float]) -> np.ndarray:
    v = np.array(vals)
    if np.any(np.isfinite(v)):
        print(f"{name}: median {np.nanmedian(v):.4f} s, range {np.nanmin(v):.4f}-"
              f"{np.nanmax(v):.4f}, reached {np.sum(np.isfinite(v))}/{v.size}")  # fmt: skip
    else:
        print(f"{name}: reached 0/{v.size}")
    return v


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer", required=True, help="folder with the reference's modules")
    parser.add_argument("--tasks", type=int, default=5)
    parser.add_argument("--rf", type=float, default=0.1, help="final shell radius of the packing")
    parser.add_argument("--z", type=float, default=99.0, help="prune to this coordination")
    parser.add_argument("--pin", type=float, default=1e2, help="pinning stiffness, N/m")
    parser.add_argument("--alpha", type=float, nargs="+", default=[10.0, 100.0, 1000.0])
    parser.add_argument("--peer-alpha", type=float, nargs="+", default=[1e5, 1e6, 1e7])
    parser.add_argument("--peer-eta", type=float, default=1e-1)
    parser.add_argument("--max-duration", type=float, default=1e9, help="reference sim. time")
    parser.add_argument("--cap-s", type=float, default=60.0, help="reference wall-time cap")
    args = parser.parse_args()
    nx, packing_cls, allosteric_cls = _import_peer(args.peer)
    ours: dict[float, list[float]] = {a: [] for a in args.alpha}
    peers: dict[float, list[float]] = {a: [] for a in args.peer_alpha}
    ours_cpu: dict[float, list[float]] = {a: [] for a in args.alpha}
    peers_cpu: dict[float, list[float]] = {a: [] for a in args.peer_alpha}
    seed, done, warm = 0, 0, False
    while done < args.tasks:
        net = _network(packing_cls, seed, args.rf, args.z)
        seed += 1
        if net is None:
            print(f"seed {seed - 1}: floppy packing, skipped", flush=True)
            continue
        task = allostery_strain_task(net, rng=np.random.default_rng(seed), pin_stiffness=args.pin)
        line = f"seed {seed - 1} (E={net.n_edges})"
        for a in args.alpha:
            dt, dc, steps, ok = _ours(task, a)
            ours[a].append(dt if ok else np.nan)
            ours_cpu[a].append(dc if ok else np.nan)
            miss = "" if ok else ", NOT reached"
            line += f"; ours alpha {a:g}: {dt:.4f} s ({steps} updates{miss})"
        peer = _Peer(nx, allosteric_cls, task, args.pin)
        if not warm:  # the reference's numba functions compile on first use
            peer.run(peer.fresh(), 1.0, 1, args.peer_alpha[0], args.peer_eta)
            warm = True
        for a in args.peer_alpha:
            pt, pc = _peer_time(peer, a, args.peer_eta, args.cap_s, args.max_duration)
            peers[a].append(pt)
            peers_cpu[a].append(pc)
            line += f"; peer alpha {a:g}: {pt:.3f} s"
        print(line, flush=True)
        done += 1
    for kind, o_vals, p_vals in (("wall", ours, peers), ("CPU", ours_cpu, peers_cpu)):
        print(f"-- {kind} time to L/L0 <= 1e-3")
        best_o = min((_summary(f"ours alpha {a:g}", v) for a, v in o_vals.items()), key=_score)
        best_p = min((_summary(f"peer alpha {a:g}", v) for a, v in p_vals.items()), key=_score)
        print(f"best vs best ({kind}; each side's learning rate with the lowest median among "
              f"those reaching 1e-3 on every task): per-task ratio peer/ours median "
              f"{np.median(best_p / best_o):.0f}x (range {np.min(best_p / best_o):.0f}-"
              f"{np.max(best_p / best_o):.0f}x); ratio of medians "
              f"{np.median(best_p) / np.median(best_o):.0f}x")  # fmt: skip


def _score(v: np.ndarray) -> float:
    return float(np.median(v)) if np.all(np.isfinite(v)) else float("inf")


if __name__ == "__main__":
    main()
