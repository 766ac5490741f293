"""``twin train``: synchronous coupled learning of one or many realizations."""

from __future__ import annotations

import time
from pathlib import Path

import click

from . import cli
from ._common import (
    announce_compilation,
    artifact_options,
    check_positive,
    emit_json,
    print_summary,
    progress_bar,
    tasks_from_options,
)
from ._ledger import check_finite, ledger_options, recorded_dispatch

__all__ = ["train_cmd"]


@cli.command("train")
@click.option(
    "--network",
    "network",
    default=None,
    help="lattice:WxH[:periodic], jammed:N[:seed=S] or file:PATH.",
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
    type=float,
    default=0.0,
    show_default=True,
    help="Power-minimisation weight lambda (>= 0).",
)
@click.option(
    "--control-tol",
    type=float,
    default=None,
    callback=check_positive,
    help="Dynamic lambda control to this error tolerance (V^2).",
)
@click.option(
    "--stop-tol",
    type=float,
    default=None,
    callback=check_positive,
    help="Early stopping: stop at this training error (V^2).",
)
@click.option(
    "--eta",
    type=float,
    default=1e-3,
    show_default=True,
    callback=check_positive,
    help="Nudge amplitude.",
)
@click.option(
    "--alpha",
    type=float,
    default=0.5,
    show_default=True,
    callback=check_positive,
    help="Learning rate per step.",
)
@click.option(
    "--kappa",
    type=float,
    default=1.0,
    show_default=True,
    callback=check_positive,
    help="Initial conductance, S.",
)
@click.option(
    "--kmin",
    type=float,
    default=None,
    callback=check_positive,
    help="Lower conductance bound, S (default: network's, 1e-3).",
)
@click.option(
    "--kmax",
    type=float,
    default=None,
    callback=check_positive,
    help="Upper conductance bound, S (default: network's, 1e1).",
)
@click.option(
    "--steps", type=click.IntRange(min=0), default=10_000, show_default=True, help="Learning steps."
)
@click.option(
    "--step-s",
    type=float,
    default=1e-4,
    show_default=True,
    callback=check_positive,
    help="Duration of one step, s.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of networks and tasks.")
@click.option("--realizations", type=click.IntRange(min=1), default=1, show_default=True)
@artifact_options("Save the trained network (realization 0) as JSON.")
@ledger_options
def train_cmd(
    network: str | None,
    task: str,
    lam: float,
    control_tol: float | None,
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
    out: Path | None,
    plot: Path | None,
    save: Path | None,
    as_json: bool,
    db: str | None,
    no_db: bool,
) -> None:
    """Train networks with coupled learning (lambda = 0) or power-minimising coupled learning."""
    from ..learning.rules import LambdaControl, LearningRule
    from ..learning.trainer import TrainConfig, Trainer
    from ..physics.network_io import save_network

    if lam < 0:
        raise click.BadParameter(f"must be >= 0, got {lam}", param_hint="--lam")
    tasks = tasks_from_options(task, network, seed=seed, realizations=realizations)
    announce_compilation("train")
    config = TrainConfig(
        rule=LearningRule(alpha=alpha, eta=eta, lam=lam),
        kappa=kappa,
        k_min=kmin,
        k_max=kmax,
        steps=steps,
        step_s=step_s,
        stop_tol=stop_tol,
        control=LambdaControl(tol=control_tol, lam0=lam or 1e-8)
        if control_tol is not None
        else None,
    )
    params = {
        "network": network,
        "task": task,
        "lam": lam,
        "control_tol": control_tol,
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
