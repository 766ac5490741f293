"""Worker of ``bench_xy_peer.py``: times epochs of the predecessor's JAX code on this CPU.

Run ONLY by the Python of a separate JAX environment (``bench_xy_peer.py --peer-python``), never
imported by the project: the project does not depend on JAX. Nothing of the predecessor's code
is in this file: it is loaded at run time from ``--peer-dir``, a checkout of
chaganbajala/XY_EqProp (measured at commit b250627): the code cells 4, 7, 8 and 9 of
``paper/exps.ipynb`` (all-to-all and square-lattice XOR) are executed as they are, and
``MNIST_study_epoch/model.py`` and ``method.py`` imported (the [784, 10] network).

The solver: the peer calls ``diffrax.Tsit5()`` with a ``PIDController``. With ``--solver euler``
a stand-in ``diffrax`` module makes those calls ``diffrax.Euler()`` with a constant step ``dt``
(``--dt``, default 0.1) over the same ``t1`` (the XOR cells' ``N_ev * dt`` = 100: 1,000 steps);
with ``--solver tsit5`` the peer's own solver and tolerances run (XOR cells: rtol = atol = 1e-8,
t1 = 100; MNIST main.py: rtol 1e-3, atol 1e-6, runtime 300). Two shims for today's JAX:
``jax.tree_map`` (removed) is ``jax.tree_util.tree_map``; ``jaxopt`` (imported, unused on these
paths) is an empty module.

Protocol: one JSON request per line on stdin, ``{"case": "all6" | "lattice5" | "layered784",
"epochs": n}``; the first request of a case builds it and runs two warm-up epochs (the JIT
compile, excluded, reported as ``compile_s``); each request answers one JSON line with the
process CPU time (all threads) and the wall time per epoch, in milliseconds.

Epochs, as the peer runs them (float64, as the notebook sets ``jax_enable_x64``):

- ``all6``: notebook cell 13: ``jax_init_phase`` + ``EP_param_gradient`` (jitted) +
  ``gradient_descent_update`` of W and bias; 4 XOR examples, 1 random start (batch_size 1).
- ``lattice5``: cell 18: ``lattice_jax_init_phase`` + ``SquareLattice_EP_param_gradient`` + two
  ``Adam_update``; 5 x 5 lattice, inputs at (0, 0), (0, 1), output (4, 4); 1 start.
- ``layered784``: ``EP_grad_vmap.full_gradient`` (main.py's method) on one batch of 20 random
  examples (784 input phases in [-pi/2, pi/2], one-hot targets +-pi/2) with
  ``layered_general_XY_network`` [784, 10] (main.py's coupling, bias and cost functions), then
  ``moment_gradient_descent.optimize_step``'s update (r = 0.9, lr 1e-4).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import types
from pathlib import Path
from typing import Any

import diffrax
import jax
import jax.numpy as jnp
import numpy as np

BETA, LR = 0.1, 0.1


def _shim_diffrax(solver: str, dt: float) -> types.ModuleType:
    """A module that is diffrax, except that Tsit5 + PIDController become Euler + constant dt."""
    shim = types.ModuleType("diffrax")
    for name in dir(diffrax):
        if not name.startswith("__"):
            setattr(shim, name, getattr(diffrax, name))
    if solver == "euler":
        shim.Tsit5 = diffrax.Euler  # type: ignore[attr-defined]
        shim.PIDController = lambda **_: diffrax.ConstantStepSize()  # type: ignore[attr-defined]

        def diffeqsolve(*args, **kwargs):
            kwargs["dt0"] = dt
            return diffrax.diffeqsolve(*args, **kwargs)

        shim.diffeqsolve = diffeqsolve  # type: ignore[attr-defined]
    return shim


def _load_peer(peer_dir: Path, solver: str, dt: float) -> tuple[dict, Any, Any]:
    jax.tree_map = jax.tree_util.tree_map  # type: ignore[attr-defined]
    sys.modules["diffrax"] = _shim_diffrax(solver, dt)
    sys.modules.setdefault("jaxopt", types.ModuleType("jaxopt"))
    nb = json.loads((peer_dir / "paper" / "exps.ipynb").read_text())
    ns: dict = {"np": np, "jax": jax, "jnp": jnp, "diffrax": sys.modules["diffrax"]}
    for k in (4, 7, 8, 9):
        cell = nb["cells"][k]
        if cell["cell_type"] != "code":
            raise SystemExit(f"{peer_dir}/paper/exps.ipynb: cell {k} is not code (other commit?)")
        exec(compile("".join(cell["source"]), f"exps.ipynb[{k}]", "exec"), ns)
    sys.path.insert(0, str(peer_dir / "MNIST_study_epoch"))
    import method  # type: ignore[import-not-found]
    import model  # type: ignore[import-not-found]

    return ns, model, method


def _block(tree) -> None:
    for leaf in jax.tree_util.tree_leaves(tree):
        if hasattr(leaf, "block_until_ready"):
            leaf.block_until_ready()


XOR_X = np.pi / 2 * np.array([[-1, -1], [-1, 1], [1, -1], [1, 1]], dtype=float)
XOR_Y = np.pi / 2 * np.array([[-1], [1], [1], [-1]], dtype=float)


class All6:
    def __init__(self, ns: dict, n_ev: int, dt: float) -> None:
        self.ns = ns
        rng = np.random.default_rng(0)
        n = 6
        w = rng.standard_normal((n, n))  # as SP_XY_Network.random_state_initiation
        np.fill_diagonal(w, 0)
        self.W = jnp.asarray((w + w.T) / 2)
        b = rng.random((2, n))
        b[0] -= 0.5
        b[1] = 2 * np.pi * (b[1] - 0.5)
        self.bias = jnp.asarray(b)
        self.input_index = jnp.asarray([0, 1])
        output_index = jnp.asarray([n - 1])
        self.model_paras = n_ev, dt, self.input_index, jnp.arange(2, n), output_index
        self.phase_form = jnp.zeros([4, n])
        self.batch_form = jnp.zeros(1)
        self.x, self.y = jnp.asarray(XOR_X), jnp.asarray(XOR_Y)
        self.k = 0

    def epoch(self) -> None:
        ns, k = self.ns, self.k
        phase_0 = ns["jax_init_phase"](
            self.phase_form, self.input_index, self.x, self.batch_form, k, False
        )
        gW, gh, cost, _ = ns["EP_param_gradient"](
            self.W, self.bias, phase_0, self.y, (BETA, LR), self.model_paras
        )
        self.W = ns["gradient_descent_update"](self.W, gW, LR, k)
        self.bias = ns["gradient_descent_update"](self.bias, gh, LR, k)
        _block((self.W, self.bias, cost))
        self.k += 1


class Lattice5:
    def __init__(self, ns: dict, n_ev: int, dt: float) -> None:
        self.ns = ns
        rng = np.random.default_rng(0)
        dim = [5, 5]  # as SP_XY_SquareLattice_Network.random_state_initiation
        w0 = rng.standard_normal((dim[0] - 1, dim[1]))
        w1 = rng.standard_normal((dim[0], dim[1] - 1))
        zr, zc = np.zeros([1, dim[1]]), np.zeros([dim[0], 1])
        self.W = jnp.asarray(
            [
                np.concatenate((w0, zr), 0),
                np.concatenate((zr, w0), 0),
                np.concatenate((w1, zc), 1),
                np.concatenate((zc, w1), 1),
            ]
        )
        b = np.zeros([2, *dim])
        b[0] = rng.standard_normal(dim)
        b[1] = 2 * np.pi * (rng.random(dim) - 0.5)
        self.bias = jnp.asarray(b)
        n = dim[0] * dim[1]
        self.input_index = np.arange(0, 2)
        self.model_paras = (
            n_ev,
            dt,
            jnp.zeros(dim),
            self.input_index,
            np.arange(2, n),
            np.arange(n - 1, n),
        )
        self.phase_form = jnp.zeros([4, *dim])
        self.batch_form = jnp.zeros(1)
        self.x, self.y = jnp.asarray(XOR_X), jnp.asarray(XOR_Y)
        self.sW, self.rW = 0 * self.W, 0 * self.W
        self.sh, self.rh = 0 * self.bias, 0 * self.bias
        self.k = 0

    def epoch(self) -> None:
        ns, k = self.ns, self.k
        phase_0 = ns["lattice_jax_init_phase"](
            self.phase_form, self.input_index, self.x, self.batch_form, k**2, False
        )
        gW, gh, cost, _ = ns["SquareLattice_EP_param_gradient"](
            self.W, self.bias, phase_0, self.y, (BETA, LR), self.model_paras
        )
        self.W, self.sW, self.rW = ns["Adam_update"](self.W, gW, LR, k, self.sW, self.rW)
        self.bias, self.sh, self.rh = ns["Adam_update"](self.bias, gh, LR, k, self.sh, self.rh)
        _block((self.W, self.bias, cost))
        self.k += 1


class Layered784:
    def __init__(self, model, method, solver: str, n_ev: int, dt: float) -> None:
        np.random.seed(0)  # noqa: NPY002  (the peer draws its parameters and starts from it)
        sizes = [784, 10]
        n = sum(sizes)
        structure = n, np.arange(0, sizes[0]), np.arange(n - sizes[-1], n), sizes

        def coup(x, y):  # main.py's coup_func, bias_func, cost_func
            return -jnp.cos(x - y)

        def bias_f(x, bias):
            return -jnp.cos(x - bias)

        def cost_f(y, target):
            return -jnp.log(1.0 + 1e-5 + jnp.cos(y - target))

        self.nn = model.layered_general_XY_network(structure, coup, bias_f, cost_f)
        self.params = self.nn.get_initial_params()
        runtime = n_ev * dt if solver == "euler" else 300
        self.grad = method.EP_grad_vmap((BETA, runtime, 1e-3, 1e-6), ("full", 20, 1))
        rng = np.random.default_rng(1)
        self.x = rng.uniform(-np.pi / 2, np.pi / 2, (20, sizes[0]))
        lab = rng.integers(0, 10, 20)
        self.y = np.where(np.arange(10) == lab[:, None], np.pi / 2, -np.pi / 2)
        self.last = jax.tree_util.tree_map(lambda p: 0.0 * p, self.params)

    def epoch(self) -> None:
        cost, g = self.grad.full_gradient(self.x, self.y, self.nn, self.params)
        new = jax.tree_util.tree_map(lambda gx, lgx: gx + 0.9 * lgx, g, self.last)
        self.params = jax.tree_util.tree_map(lambda x, gx: x - gx * 1e-4, self.params, new)
        self.last = new
        _block((self.params, cost))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer-dir", type=Path, required=True)
    parser.add_argument("--solver", choices=("euler", "tsit5"), default="euler")
    parser.add_argument("--dt", type=float, default=0.1)
    parser.add_argument("--steps", type=int, default=1000)
    args = parser.parse_args()
    ns, model, method = _load_peer(args.peer_dir, args.solver, args.dt)
    if not jax.config.jax_enable_x64:
        raise SystemExit("the notebook's cell 4 should have enabled float64")
    builders = {
        "all6": lambda: All6(ns, args.steps, args.dt),
        "lattice5": lambda: Lattice5(ns, args.steps, args.dt),
        "layered784": lambda: Layered784(model, method, args.solver, args.steps, args.dt),
    }
    built: dict = {}
    for line in sys.stdin:
        req = json.loads(line)
        case, compile_s = req["case"], 0.0
        if case not in built:
            t0 = time.perf_counter()
            built[case] = builders[case]()
            built[case].epoch()  # warm-up: JIT compile
            built[case].epoch()
            compile_s = time.perf_counter() - t0
        c, n = built[case], int(req["epochs"])
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for _ in range(n):
            c.epoch()
        cpu, wall = (time.process_time() - cpu0) / n, (time.perf_counter() - wall0) / n
        print(
            json.dumps(
                {
                    "cpu_ms": cpu * 1e3,
                    "wall_ms": wall * 1e3,
                    "compile_s": compile_s,
                    "jax": jax.__version__,
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
