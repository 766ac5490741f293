"""``twin train``: synchronous coupled learning of one or many realizations."""

from __future__ import annotations

import os
import time
from pathlib import Path

import click

from ..learning.rules import CONTROL_RANGES
from ..physics.estimate import MAX_EDGE_STEPS, PCG_MIN_EDGES, Estimate, NetworkSize
from . import cli
from ._common import (
    SEED,
    FiniteRange,
    announce_compilation,
    announce_estimate,
    artifact_options,
    check_request,
    emit_json,
    print_summary,
    progress_bar,
    request_size,
    tasks_from_options,
)
from ._ledger import check_finite, ledger_options, recorded_dispatch

__all__ = ["MAX_EDGE_STEPS", "MAX_REALIZATIONS", "MAX_STEPS", "train_cmd"]

#: Largest --steps and --realizations.
MAX_STEPS = 10**9
MAX_REALIZATIONS = 10**9  # the memory and time estimate refuses far below
#: Conductances (kappa, bounds) in siemens, as in schemas/network.schema.json.
CONDUCTANCE_S = FiniteRange(0, 1e6, min_open=True)
#: Error tolerances in V^2 (target voltages are at most 1000 V: schemas/task.schema.json).
ERROR_V2 = FiniteRange(0, 1e6, min_open=True)


def _check_train(
    size: NetworkSize, realizations: int, steps: int, solver: str, force: bool
) -> Estimate:
    """Refuse a training request from its estimated memory, time and edge-steps (steps x
    realizations x edges, :data:`MAX_EDGE_STEPS`); the estimate."""
    from ..physics.estimate import train_estimate

    threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    estimate = train_estimate(size, realizations=realizations, steps=steps, solver=solver,
                              threads=threads)  # fmt: skip
    edge_steps = float(steps) * realizations * size.edges
    work = (edge_steps, MAX_EDGE_STEPS, "edge-steps (steps x realizations x edges)")
    check_request("train", estimate, force, quiet=True, work=work)
    return estimate


@cli.command("train")
@click.option(
    "--network",
    "network",
    default=None,
    help="lattice:WxH[:periodic], jammed:N[:seed=S], ref:N[:i=K] or file:PATH. ref:N gives "
    "realization r the paper authors' N-disk network number r (mod 50; folder "
    "$TWIN_REFERENCE_DIR, default shared/reference/jammed beside the repository).",
)
@click.option(
    "--task",
    "task",
    default="allostery",
    show_default=True,
    help="regression, allostery, iris or file:PATH.",
)
@click.option(
    "--lam",
    type=FiniteRange(0, 1),
    default=0.0,
    show_default=True,
    help="Power-minimisation weight lambda (the rule weighs the free state by 1 - lambda).",
)
@click.option(
    "--label-noise",
    type=FiniteRange(0, 1),
    default=0.0,
    show_default=True,
    help="Gaussian noise (std, V) on the desired training outputs of a generated regression or "
    "iris task (seed App. C: 1e-3).",
)
@click.option(
    "--control-tol",
    type=ERROR_V2,
    default=None,
    help="Dynamic lambda control to this error tolerance, V^2.",
)
@click.option(
    "--rho",
    type=FiniteRange(*CONTROL_RANGES["rho"], min_open=True),
    default=None,
    help="Lambda control rate, per 1/alpha epoch (default 1, the seed's; needs --control-tol).",
)
@click.option(
    "--p",
    "p_exp",
    type=FiniteRange(*CONTROL_RANGES["p"], min_open=True),
    default=None,
    help="Lambda control exponent: d lam/dt = rho lam ((tol/L)^p - 1) (default 0.02, the seed's; "
    "needs --control-tol).",
)
@click.option(
    "--lam0",
    type=FiniteRange(*CONTROL_RANGES["lam0"], min_open=True),
    default=None,
    help="Lambda the control starts from (default --lam if > 0, else 1e-8; needs --control-tol).",
)
@click.option(
    "--stop-tol",
    type=ERROR_V2,
    default=None,
    help="Early stopping: stop at this training error, V^2.",
)
@click.option(
    "--eta",
    type=FiniteRange(0, 1, min_open=True),
    default=1e-3,
    show_default=True,
    help="Nudge amplitude: fraction of the way the clamped targets move toward the desired values.",
)
@click.option(
    "--alpha",
    type=FiniteRange(0, 1, min_open=True),
    default=0.5,
    show_default=True,
    help="Learning rate per step.",
)
@click.option(
    "--kappa",
    type=CONDUCTANCE_S,
    default=1.0,
    show_default=True,
    help="Initial conductance, S.",
)
@click.option(
    "--kmin",
    type=CONDUCTANCE_S,
    default=None,
    help="Lower conductance bound, S (default: the network's; 1e-3 for generated, ref: and "
    "file: networks without bounds, as in the seed text; the authors' code uses 1e-4).",
)
@click.option(
    "--kmax",
    type=CONDUCTANCE_S,
    default=None,
    help="Upper conductance bound, S (default: the network's; 10 for generated, ref: and "
    "file: networks without bounds, as in the seed text; the authors' code uses 1e6). The "
    "summary reports the bounds used (k_min_siemens, k_max_siemens).",
)
@click.option(
    "--steps",
    type=click.IntRange(0, MAX_STEPS),
    default=10_000,
    show_default=True,
    help="Learning steps (steps x realizations x edges at most 1e10 without --force).",
)
@click.option(
    "--step-s",
    type=FiniteRange(0, 3600, min_open=True),
    default=1e-4,
    show_default=True,
    help="Duration of one step, s (the board's: 1e-4).",
)
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed of networks and tasks.")
@click.option(
    "--realizations", type=click.IntRange(1, MAX_REALIZATIONS), default=1, show_default=True
)
@click.option(
    "--solver",
    type=click.Choice(["auto", "direct", "pcg"]),
    default="auto",
    show_default=True,
    help="Circuit solver per update: direct (one sparse Cholesky factorization, exact to "
    "rounding: the reference), pcg (conjugate gradients warm-started from the last updates and "
    f"preconditioned by a recent factorization, to --solver-tol), auto: pcg for networks of >= "
    f"{PCG_MIN_EDGES} edges, direct below.",
)
@click.option(
    "--solver-tol",
    type=FiniteRange(0, 1, min_open=True, max_open=True),
    default=1e-6,
    show_default=True,
    help="pcg: bound on the relative energy-norm error of each update's node voltages.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Run even when the estimated memory, time or work exceeds its limit.",
)
@artifact_options("Save the trained network (realization 0) as JSON.")
@ledger_options
def train_cmd(
    network: str | None,
    task: str,
    lam: float,
    label_noise: float,
    control_tol: float | None,
    rho: float | None,
    p_exp: float | None,
    lam0: float | None,
    stop_tol: float | None,
    eta: float,
    alpha: float,
    kappa: float,
    kmin: float | None,
    kmax: float | None,
    steps: int,
    step_s: float,
    seed: int,
    realizations: int,
    solver: str,
    solver_tol: float,
    force: bool,
    out: Path | None,
    plot: Path | None,
    save: Path | None,
    as_json: bool,
    db: str | None,
    no_db: bool,
) -> None:
    """Train networks with coupled learning (lambda = 0) or power-minimising coupled learning."""
    if kmin is not None and kmax is not None and kmin >= kmax:
        raise click.BadParameter(f"must be > --kmin ({kmin:g}), got {kmax:g}", param_hint="--kmax")
    for name, value in (("--rho", rho), ("--p", p_exp), ("--lam0", lam0)):
        if value is not None and control_tol is None:
            raise click.BadParameter(
                "needs --control-tol (dynamic lambda control)", param_hint=name
            )
    size = request_size(task, network)
    if size is not None:  # refuse before generating anything
        estimate = _check_train(size, realizations, steps, solver, force)
        announce_estimate("train", estimate)
    tasks = tasks_from_options(
        task,
        network,
        seed=seed,
        realizations=realizations,
        progress=not as_json,
        estimate_s=estimate.seconds("network") if size is not None else 0.0,
        label_noise=label_noise,
    )
    if size is None:  # a task file: its network is known now
        net = tasks[0].network
        estimate = _check_train(NetworkSize(nodes=net.n_nodes, edges=net.n_edges), realizations,
                                steps, solver, force)  # fmt: skip
        announce_estimate("train", estimate)
    # the trainer loads numba: imported once the request is accepted (a refusal takes ms)
    from ..learning.rules import LambdaControl, LearningRule
    from ..learning.trainer import TrainConfig, Trainer
    from ..physics.network_io import save_network

    announce_compilation("train")
    control = None
    if control_tol is not None:
        control = LambdaControl(
            tol=control_tol,
            rho=1.0 if rho is None else rho,
            p=0.02 if p_exp is None else p_exp,
            lam0=lam0 if lam0 is not None else (lam or 1e-8),
        )
    config = TrainConfig(
        rule=LearningRule(alpha=alpha, eta=eta, lam=lam),
        kappa=kappa,
        k_min=kmin,
        k_max=kmax,
        steps=steps,
        step_s=step_s,
        stop_tol=stop_tol,
        control=control,
        solver=solver,  # type: ignore[arg-type]
        solver_tol=solver_tol,
    )
    params = {
        "network": network,
        "task": task,
        "lam": lam,
        "label_noise": label_noise,
        "control_tol": control_tol,
        "rho": rho,
        "p": p_exp,
        "lam0": lam0,
        "stop_tol": stop_tol,
        "eta": eta,
        "alpha": alpha,
        "kappa": kappa,
        "kmin": kmin,
        "kmax": kmax,
        "steps": steps,
        "step_s": step_s,
        "seed": seed,
        "realizations": realizations,
        "solver": solver,
        "solver_tol": solver_tol,
    }
    trainer = Trainer(tasks, config)
    with recorded_dispatch(out, db, no_db, params=params) as dispatch:
        t0 = time.perf_counter()
        with progress_bar("training", steps, enabled=not as_json) as update:
            result = trainer.run(
                emit=dispatch if dispatch else None, progress=update, params=params
            )
    wall_s = time.perf_counter() - t0
    if save is not None:
        n_e = tasks[0].network.n_edges
        save_network(tasks[0].network.with_conductance(result.k[0, :n_e]), save)
    if plot is not None:
        from ..plots import plot_history

        plot_history(result.history, plot, title=f"twin train --task {task}")
    summary = result.summary() | {"wall_s": wall_s, "run": result.run_uid}
    check_finite(summary, "summary", params)
    if as_json:
        emit_json(summary)
    else:
        print_summary("twin train", summary)
