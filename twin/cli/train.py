"""``twin train``: synchronous coupled learning of one or many realizations."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import click

from ..physics.estimate import MAX_EDGE_STEPS, Estimate, NetworkSize
from . import cli
from ._common import (
    announce_compilation,
    announce_estimate,
    artifact_options,
    check_request,
    emit_json,
    print_summary,
    progress_bar,
    request_size,
    spring_tasks_from_options,
    tasks_from_options,
)
from ._ledger import check_finite, ledger_options, recorded_dispatch
from ._train_options import MAX_REALIZATIONS, MAX_STEPS, train_options
from ._view import view_options
from .train_xy import refuse_foreign, run_xy, xy_options

__all__ = ["MAX_EDGE_STEPS", "MAX_REALIZATIONS", "MAX_STEPS", "train_cmd"]


def _check_physics_options(
    physics: str,
    task: str,
    alpha: float,
    spring_solver: str,
    prune: float | None,
    save: Path | None,
) -> None:
    """Options that belong to one substrate, refused on the other with the option named."""
    springs = physics == "springs"
    if springs and task != "allostery-strain":
        raise click.BadParameter(f"springs have the task allostery-strain, got {task!r}",
                                 param_hint="--task")  # fmt: skip
    if not springs and task == "allostery-strain":
        raise click.BadParameter("allostery-strain needs --physics springs", param_hint="--task")
    if not springs and alpha > 1:
        raise click.BadParameter(f"at most 1 for resistors, got {alpha:g}", param_hint="--alpha")
    if not springs and (spring_solver != "linear" or prune is not None):
        hint = "--prune" if prune is not None else "--spring-solver"
        raise click.BadParameter("needs --physics springs", param_hint=hint)
    if springs and save is not None:
        raise click.BadParameter("not available with --physics springs", param_hint="--save")


def _physics(tasks: list[Any], spring_solver: str) -> Any:
    from ..physics.springs.physics import SpringPhysics

    return SpringPhysics(tasks, spring_solver)


def _check_train(
    size: NetworkSize, realizations: int, steps: int, solver: str, force: bool, shared: int = 1
) -> Estimate:
    """Refuse a training request from its estimated memory, time and edge-steps (steps x
    realizations x edges, :data:`MAX_EDGE_STEPS`); the estimate. ``shared``: realizations per
    circuit run in lanes (:func:`twin.physics.estimate.shared_circuits`)."""
    from ..physics.estimate import train_estimate

    threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    estimate = train_estimate(size, realizations=realizations, steps=steps, solver=solver,
                              threads=threads, shared=shared)  # fmt: skip
    edge_steps = float(steps) * realizations * size.edges
    work = (edge_steps, MAX_EDGE_STEPS, "edge-steps (steps x realizations x edges)")
    check_request("train", estimate, force, quiet=True, work=work)
    return estimate


@cli.command("train")
@train_options
@artifact_options("Save the trained network (realization 0) as JSON.")
@ledger_options
@xy_options
@view_options
@click.pass_context
def train_cmd(
    ctx: click.Context,
    network: str | None,
    task: str | None,
    physics: str,
    spring_solver: str,
    prune: float | None,
    lam: float,
    label_noise: float,
    control_tol: float | None,
    rho: float | None,
    p_exp: float | None,
    lam0: float | None,
    stop_tol: float | None,
    eta: float,
    alpha: float | None,
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
    view: bool,
    port: int,
    **xy: Any,
) -> None:
    """Train networks with coupled learning (lambda = 0) or power-minimising coupled learning,
    or XY oscillator networks by equilibrium propagation (--physics xy; --view: a live page of
    the phases, couplings and loss)."""
    refuse_foreign(ctx, physics)
    if physics == "xy":
        run_xy(network=network, task="xor" if task is None else task, seed=seed, force=force,
               out=out, plot=plot, save=save, as_json=as_json, db=db, no_db=no_db, view=view,
               port=port, **xy)  # fmt: skip
        return
    if view or port:
        raise click.UsageError("--view: twin train's live page shows XY networks (--physics xy); "
                               "for a circuit's live page use twin simulate --view")  # fmt: skip
    if kmin is not None and kmax is not None and kmin >= kmax:
        raise click.BadParameter(f"must be > --kmin ({kmin:g}), got {kmax:g}", param_hint="--kmax")
    for name, value in (("--rho", rho), ("--p", p_exp), ("--lam0", lam0)):
        if value is not None and control_tol is None:
            raise click.BadParameter(
                "needs --control-tol (dynamic lambda control)", param_hint=name
            )
    springs = physics == "springs"
    if task is None:  # an empty --task is a bad spec, not the default
        task = "allostery-strain" if springs else "allostery"
    alpha = alpha if alpha is not None else (10.0 if springs else 0.5)
    _check_physics_options(physics, task, alpha, spring_solver, prune, save)
    size = request_size(task, network if network or not springs else "jammed:27")
    if size is not None:  # refuse before generating anything
        estimate = _check_train(size, realizations, steps, solver, force)
        announce_estimate("train", estimate)
    if springs:
        tasks: list[Any] = spring_tasks_from_options(
            task, network, seed=seed, realizations=realizations, prune=prune,
            progress=not as_json,
        )  # fmt: skip
    else:
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
        from ..physics.estimate import shared_circuits

        net = tasks[0].network
        estimate = _check_train(NetworkSize(nodes=net.n_nodes, edges=net.n_edges), realizations,
                                steps, solver, force, shared_circuits(tasks))  # fmt: skip
        announce_estimate("train", estimate)
    # the trainer loads numba: imported once the request is accepted (a refusal takes ms)
    from ..learning.rules import LambdaControl, LearningRule
    from ..learning.trainer import TrainConfig, Trainer
    from ..physics.network_io import save_network

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
        "physics": physics,
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
    if springs:
        params |= {"spring_solver": spring_solver, "prune": prune}
    trainer = Trainer(tasks, config, physics=_physics(tasks, spring_solver) if springs else None)
    with recorded_dispatch(out, db, no_db, params=params) as dispatch:
        # once the trainer and the ledger accepted the request: a refusal before is one line
        announce_compilation("train")
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
    from ..learning.energy_floor import floor_summary

    summary = result.summary() | floor_summary(result, tasks, kappa)
    summary |= {"wall_s": wall_s, "run": result.run_uid}
    check_finite(summary, "summary", params)
    if as_json:
        emit_json(summary)
    else:
        print_summary("twin train", summary)
