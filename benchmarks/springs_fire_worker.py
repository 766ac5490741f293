"""Worker of ``bench_springs_peer_fire.py``: times laltman2/LearningNetworks (FIRE relaxation) on
a spring task sent as JSON.

Run ONLY by the Python of a separate environment (``bench_springs_peer_fire.py --peer-python``;
it needs jax, numba and pandas), never imported by the project. Nothing of the peer's code is in
this file: ``Elastic02.Elastic`` and ``EdgeTask.EdgeTask`` are imported at run time from the
folder that holds the ``LearningNetworks`` checkout (``--peer-dir``; measured at commit 89eb48c).
Its plotting import (matplotlib) is an empty module: nothing it plots is used.

The peer's ``utils/optimize.py`` decorates its FIRE loop ``@numba.jit()`` and passes it jax
functions, which numba >= 0.59 refuses ("Cannot determine Numba type of PjitFunction": nopython
is the only mode since 0.59); older numba fell back to object mode, i.e. ran it as Python. The
caller therefore sets ``NUMBA_DISABLE_JIT=1``, which runs the same functions as Python.

Protocol: one JSON request per line on stdin; one JSON line answers each:

``{"network": {...}, "task": {...}, "alpha": a, "eta": e, "updates": n, "stop_ratio": r,
"cap_s": c, "clip": [lo, hi]}`` builds ``Elastic`` on the network's positions and bonds (open
plane), sets its rest lengths to the network's (unstrained: its equilibrium is the given
positions) and stiffnesses to 1, adds one ``EdgeTask`` (source and target bonds, their strains),
then calls ``learning_step(rule="KS", clip=clip)`` up to ``n`` times (eta and alpha set on the
object), and answers the wall and process CPU seconds of the steps, the loss of each step (the
peer's: squared target-strain error of the free state that step relaxed) and the first step whose
loss is at most ``stop_ratio`` times the first (``null`` if none; the run stops there, or after
``cap_s`` seconds of process CPU time).
"""

from __future__ import annotations

import json
import sys
import time
import types
from typing import Any

import numpy as np


def _import_peer(peer_dir: str) -> tuple[Any, Any]:
    plt = types.ModuleType("matplotlib.pyplot")
    mpl = types.ModuleType("matplotlib")
    mpl.pyplot = plt  # type: ignore[attr-defined]
    sys.modules.setdefault("matplotlib", mpl)
    sys.modules.setdefault("matplotlib.pyplot", plt)
    sys.path.insert(0, peer_dir)
    from LearningNetworks.EdgeTask import EdgeTask
    from LearningNetworks.Elastic02 import Elastic

    return Elastic, EdgeTask


def run(elastic_cls: Any, edge_task_cls: Any, req: dict[str, Any]) -> dict[str, Any]:
    net, task = req["network"], req["task"]
    pos = np.array(net["positions"], dtype=float)
    edges = np.array(net["edges"], dtype=np.int64)
    rest = np.array(net["rest_lengths"], dtype=float)
    t0 = time.perf_counter()
    pair = (list(task["source_strains"]), list(task["target_strains"]))
    et = edge_task_cls(sourceedges=list(task["sources"]), targetedges=list(task["targets"]),
                       IOpairs=[pair])  # fmt: skip
    e = elastic_cls(nodes=pos, edges=edges, tasks=[et])  # relaxes once at its default rest 1
    # unstrained network: rest lengths = lengths (the peer's dtype), equilibrium = the positions
    e._RLS = rest.astype(np.float32)
    e.x0 = pos.ravel().copy()
    e.eta, e.alpha = float(req["eta"]), float(req["alpha"])
    build_s = time.perf_counter() - t0
    losses: list[float] = []
    hit = None
    w0, c0 = time.perf_counter(), time.process_time()
    for i in range(int(req["updates"])):
        e.learning_step(0, 0, rule="KS", clip=req["clip"])
        loss = float(e.history.loc[e.currentstep, "loss"])
        losses.append(loss)
        if req.get("stop_ratio") and loss <= req["stop_ratio"] * losses[0]:
            hit = i
            break
        if e.stop_train or time.process_time() - c0 > req["cap_s"]:
            break
    return {
        "wall_s": time.perf_counter() - w0,
        "cpu_s": time.process_time() - c0,
        "updates": len(losses),
        "hit": hit,
        "losses": losses,
        "nan": bool(e.stop_train),
        "build_s": build_s,
    }


def main() -> None:
    peer_dir = sys.argv[1]
    elastic_cls, edge_task_cls = _import_peer(peer_dir)
    for line in sys.stdin:
        if not line.strip():
            continue
        out = run(elastic_cls, edge_task_cls, json.loads(line))
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
